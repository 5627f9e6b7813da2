# train_classifier and evaluate_attribution per {protocol, method} (protocols are data in params.yaml).


def protocol_stores(wildcards):
    from ganprint.attribution.splits import split_stores

    return split_stores(PARAMS, wildcards.protocol)


rule train_classifier:
    input:
        classifier_cli.MODULES,
        stores=protocol_stores,
    output:
        model=P.CLASSIFIER_MODEL,
        metrics=P.METRICS_CLASSIFIER,
    params:
        tracked=tracked(classifier_cli),
    log:
        "results/logs/train_classifier/{protocol}-{method}.log",
    benchmark:
        "results/benchmarks/train_classifier/{protocol}-{method}.tsv"
    threads: 4
    resources:
        gpu=1,
    shell:
        "ganprint train-classifier --params {PARAMS_FILE} --protocol {wildcards.protocol} --method {wildcards.method}"
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
    params:
        tracked=tracked(evaluate_cli),
    log:
        "results/logs/evaluate_attribution/{protocol}-{method}.log",
    benchmark:
        "results/benchmarks/evaluate_attribution/{protocol}-{method}.tsv"
    threads: 4
    resources:
        gpu=1,
    shell:
        "ganprint evaluate-attribution --params {PARAMS_FILE} --protocol {wildcards.protocol}"
        " --method {wildcards.method} --model {input.model} --predictions {output.predictions}"
        " --metrics {output.metrics} --log {log}"
