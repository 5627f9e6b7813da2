# make_tables: results/tables/<table>.csv + .md from the metrics, the papers' numbers beside ours.


rule make_tables:
    input:
        tables_cli.MODULES,
        metrics=table_inputs,
    output:
        P.table_files(),
    log:
        "results/logs/make_tables/all.log",
    benchmark:
        "results/benchmarks/make_tables/all.tsv"
    params:
        file=PARAMS_FILE,
        tracked=tracked(tables_cli),
    shell:
        "ganprint make-tables --params {params.file} --root . --out results/tables --log {log}"
