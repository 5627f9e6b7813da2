# make_tables: results/tables/<table>.csv + .md from the metrics, the papers' numbers beside ours.


def table_inputs(wildcards):
    t = [P.METRICS_FP_AE.format(dataset=d) for d in PARAMS.train_fingerprint_autoencoder.datasets]
    t += [P.METRICS_EMBED.format(dataset=d) for d in PARAMS.train_fingerprint_autoencoder.datasets]
    t += expand_gans(P.METRICS_DETECT)
    t += [
        P.METRICS_ATTRIBUTION.format(protocol=p, method=m)
        for p in PARAMS.train_classifier.protocols
        for m in PARAMS.train_classifier.methods
    ]
    return t


rule make_tables:
    input:
        tables_cli.MODULES,
        metrics=table_inputs,
    output:
        P.table_files(),
    params:
        tracked=tracked(tables_cli),
    log:
        "results/logs/make_tables/all.log",
    benchmark:
        "results/benchmarks/make_tables/all.tsv"
    shell:
        "ganprint make-tables --params {PARAMS_FILE} --root . --out results/tables --log {log}"
