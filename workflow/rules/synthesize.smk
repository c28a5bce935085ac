# The built-in dataset, in Capture-24's layout; used when config source.kind is "synthetic". With
# synthetic.format cwa each recording is a .cwa device file, its annotated intervals gathered
# into the folder's annotations.csv.

DEVICE_FILES = SETTINGS.synthetic.format != "csv"
INTERVALS = "results/synthetic/intervals/{participant}.csv"


rule synthesize_recording:
    output:
        **({"intervals": temp(INTERVALS)} if DEVICE_FILES else {}),
        recording=SOURCE.inputs(SETTINGS, "{participant}")["recording"],
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


if DEVICE_FILES:

    rule synthesize_annotations:
        input:
            expand(INTERVALS, participant=PARTICIPANTS),
        output:
            f"{SETTINGS.source.path}/{annotations.ANNOTATIONS}",
        log:
            "logs/synthesize/annotations.log",
        benchmark:
            "logs/benchmarks/synthesize/annotations.tsv"
        resources:
            mem_mb=500,
        script:
            "../scripts/synthesize_annotations.py"
