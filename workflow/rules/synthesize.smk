# The built-in dataset, in Capture-24's layout; used when config source.kind is "synthetic".


rule synthesize_recording:
    output:
        SOURCE.inputs(SETTINGS.source, "{participant}")["recording"],
    params:
        synthetic=config["synthetic"],
    log:
        "logs/synthesize/{participant}.log",
    benchmark:
        "logs/benchmarks/synthesize/{participant}.tsv"
    resources:
        mem_mb=2000,
    script:
        "../scripts/synthesize_recording.py"


rule synthesize_metadata:
    output:
        metadata=settings.metadata(SETTINGS),
        dictionary=f"{SETTINGS.source.path}/{labels.DICTIONARY}",
    params:
        participants=PARTICIPANTS,
        synthetic=config["synthetic"],
    log:
        "logs/synthesize/metadata.log",
    benchmark:
        "logs/benchmarks/synthesize/metadata.tsv"
    resources:
        mem_mb=500,
    script:
        "../scripts/synthesize_metadata.py"
