# Train each model family of spectrohar.models.FAMILIES (a rule train_<family> each) on the
# training participants from its stores; select the model on the validation ones. The test
# participants are never read here.


for family in FAMILIES.values():

    rule:
        name:
            f"train_{family.name}"
        input:
            stores=STORES[family.name],
            split="results/split.csv",
            dictionary=DICTIONARY,
        output:
            model=MODEL_FILES[family.name],
            history=f"results/{family.name}/history.csv",
        log:
            f"logs/train/{family.name}.log",
        benchmark:
            f"logs/benchmarks/train/{family.name}.tsv"
        threads: THREADS
        resources:
            # For the CNN, training.CACHE_FRACTION of it holds the training and validation
            # splits in memory while they fit; larger ones are streamed from the cache by chunks.
            mem_mb=8000,
        params:
            family=family.name,
            # The family's own section and those its training depends on, and nothing else: a
            # new train.learning_rate retrains the CNN, not the forest. The split settings, to
            # check the split table against.
            sections={
                section: config[section]
                for section in (family.name, *family.sections, "labels", "split")
            },
        script:
            "../scripts/train.py"
