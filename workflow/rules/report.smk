# make_tables: results/tables/<table>.csv + .md from the metrics, the papers' numbers beside ours.


rule make_tables:
    input:
        modules("make_tables"),
        **STAGES["make_tables"].inputs,
        metrics=dynamic_inputs("make_tables"),
    output:
        **outputs("make_tables"),
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


# make_figures: the paper figures (confusion matrices, robustness, training curves, sample grids per source).
rule make_figures:
    input:
        modules("make_figures"),
        metrics=dynamic_inputs("make_figures"),
    output:
        **outputs("make_figures"),
    log:
        STAGES["make_figures"].log,
    benchmark:
        STAGES["make_figures"].benchmark
    threads: threads("make_figures")
    resources:
        gpu=STAGES["make_figures"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("make_figures"),
    shell:
        command("make_figures")


# make_report: results/index.html, a static page with every table and figure (`snakemake --report` is the other).
rule make_report:
    input:
        modules("make_report"),
        **STAGES["make_report"].inputs,
        linked=dynamic_inputs("make_report"),
    output:
        **outputs("make_report"),
    log:
        STAGES["make_report"].log,
    benchmark:
        STAGES["make_report"].benchmark
    threads: threads("make_report")
    resources:
        gpu=STAGES["make_report"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("make_report"),
    shell:
        command("make_report")
