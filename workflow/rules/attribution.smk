# train_classifier and evaluate_attribution per {protocol, method} (protocols are data in params.yaml).


rule train_classifier:
    input:
        classifier_cli.MODULES,
        stores=protocol_stores,
    output:
        model=P.CLASSIFIER_MODEL,
        metrics=P.METRICS_CLASSIFIER,
    log:
        "results/logs/train_classifier/{protocol}-{method}.log",
    benchmark:
        "results/benchmarks/train_classifier/{protocol}-{method}.tsv"
    threads: 4
    resources:
        gpu=1,
    params:
        file=PARAMS_FILE,
        tracked=tracked(classifier_cli),
    shell:
        "ganprint train-classifier --params {params.file} --protocol {wildcards.protocol} --method {wildcards.method}"
        " --out results/models/classifier/{wildcards.protocol}/{wildcards.method}"
        " --metrics {output.metrics} --log {log}"


rule evaluate_attribution:
    input:
        evaluate_cli.MODULES,
        stores=protocol_stores,
        model=P.CLASSIFIER_MODEL,
    output:
        predictions=P.PREDICTIONS,
        metrics=P.METRICS_ATTRIBUTION,
    log:
        "results/logs/evaluate_attribution/{protocol}-{method}.log",
    benchmark:
        "results/benchmarks/evaluate_attribution/{protocol}-{method}.tsv"
    threads: 4
    resources:
        gpu=1,
    params:
        file=PARAMS_FILE,
        tracked=tracked(evaluate_cli),
    shell:
        "ganprint evaluate-attribution --params {params.file} --protocol {wildcards.protocol}"
        " --method {wildcards.method} --model {input.model} --predictions {output.predictions}"
        " --metrics {output.metrics} --log {log}"
