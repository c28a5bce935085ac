# The built-in dataset, in Capture-24's layout; used when config source.kind is "synthetic".


rule synthesize_recording:
    output:
        SOURCE.inputs(SETTINGS.source, "{participant}")["recording"],
    log:
        "logs/synthesize/{participant}.log",
    benchmark:
        "logs/benchmarks/synthesize/{participant}.tsv"
    resources:
        mem_mb=2000,
    params:
        synthetic=config["synthetic"],
    script:
        "../scripts/synthesize_recording.py"


rule synthesize_metadata:
    output:
        metadata=settings.metadata(SETTINGS),
        dictionary=f"{SETTINGS.source.path}/{labels.DICTIONARY}",
    log:
        "logs/synthesize/metadata.log",
    benchmark:
        "logs/benchmarks/synthesize/metadata.tsv"
    resources:
        mem_mb=500,
    params:
        participants=PARTICIPANTS,
        synthetic=config["synthetic"],
    script:
        "../scripts/synthesize_metadata.py"
