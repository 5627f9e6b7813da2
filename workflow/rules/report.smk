# make_tables: results/tables/<table>.csv + .md from the metrics, the papers' numbers beside ours.


rule make_tables:
    input:
        modules("make_tables"),
        **STAGES["make_tables"].inputs,
        metrics=dynamic_inputs("make_tables"),
    output:
        **STAGES["make_tables"].outputs,
    log:
        STAGES["make_tables"].log,
    benchmark:
        STAGES["make_tables"].benchmark
    threads: threads("make_tables")
    resources:
        gpu=STAGES["make_tables"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("make_tables"),
    shell:
        command("make_tables")
