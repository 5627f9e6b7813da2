# prepare_dataset: crop/resize a source into data/clean/<dataset>/ (LMDB store + manifest + grid + report).


rule prepare_dataset:
    input:
        modules("prepare_dataset"),
    output:
        **outputs("prepare_dataset"),
    log:
        STAGES["prepare_dataset"].log,
    benchmark:
        STAGES["prepare_dataset"].benchmark
    threads: threads("prepare_dataset")
    params:
        file=PARAMS_FILE,
        tracked=tracked("prepare_dataset"),
    shell:
        command("prepare_dataset")
