# The built-in dataset, in Capture-24's layout; used when config source.kind is "synthetic".


rule synthesize_recording:
    output:
        f"{SOURCE}/{{participant}}.csv.gz",
    params:
        hours=config["synthetic"]["hours"],
        seed=config["synthetic"]["seed"],
    log:
        "logs/synthesize/{participant}.log",
    benchmark:
        "benchmarks/rules/synthesize/{participant}.tsv"
    resources:
        mem_mb=2000,
    script:
        "../scripts/synthesize_recording.py"


rule synthesize_metadata:
    output:
        metadata=f"{SOURCE}/metadata.csv",
        dictionary=f"{SOURCE}/annotation-label-dictionary.csv",
    params:
        participants=PARTICIPANTS,
        seed=config["synthetic"]["seed"],
    log:
        "logs/synthesize/metadata.log",
    benchmark:
        "benchmarks/rules/synthesize/metadata.tsv"
    resources:
        mem_mb=500,
    script:
        "../scripts/synthesize_metadata.py"
