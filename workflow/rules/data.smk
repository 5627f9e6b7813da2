# prepare_dataset: crop/resize a source into data/clean/<dataset>/ (LMDB store + manifest + grid + report).


rule prepare_dataset:
    input:
        prepare_cli.MODULES,
    output:
        images=P.DATA_IMAGES.replace("{variant}", "clean"),
        manifest=P.DATA_MANIFEST.replace("{variant}", "clean"),
        samples=P.DATA_SAMPLES.replace("{variant}", "clean"),
        report=P.DATA_REPORT.replace("{variant}", "clean"),
    log:
        "results/logs/prepare_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_dataset/{dataset}.tsv"
    threads: workflow.cores
    params:
        file=PARAMS_FILE,
        tracked=tracked(prepare_cli),
    shell:
        "ganprint prepare-dataset --params {params.file} --dataset {wildcards.dataset}"
        " --out data/clean/{wildcards.dataset} --log {log}"
