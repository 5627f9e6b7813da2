# build_split per protocol, train_classifier, evaluate_attribution and interpret_attribution per {protocol, method}
# (protocols are data).


rule build_split:
    input:
        modules("build_split"),
        **STAGES["build_split"].inputs,
        stores=dynamic_inputs("build_split"),
    output:
        **STAGES["build_split"].outputs,
    log:
        STAGES["build_split"].log,
    benchmark:
        STAGES["build_split"].benchmark
    threads: threads("build_split")
    resources:
        gpu=STAGES["build_split"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("build_split"),
    shell:
        command("build_split")


rule train_classifier:
    input:
        modules("train_classifier"),
        **STAGES["train_classifier"].inputs,
    output:
        **STAGES["train_classifier"].outputs,
    log:
        STAGES["train_classifier"].log,
    benchmark:
        STAGES["train_classifier"].benchmark
    threads: threads("train_classifier")
    resources:
        gpu=STAGES["train_classifier"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("train_classifier"),
    shell:
        command("train_classifier")


rule evaluate_attribution:
    input:
        modules("evaluate_attribution"),
        **STAGES["evaluate_attribution"].inputs,
    output:
        **STAGES["evaluate_attribution"].outputs,
    log:
        STAGES["evaluate_attribution"].log,
    benchmark:
        STAGES["evaluate_attribution"].benchmark
    threads: threads("evaluate_attribution")
    resources:
        gpu=STAGES["evaluate_attribution"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("evaluate_attribution"),
    shell:
        command("evaluate_attribution")


rule interpret_attribution:
    input:
        modules("interpret_attribution"),
        **STAGES["interpret_attribution"].inputs,
    output:
        **STAGES["interpret_attribution"].outputs,
    log:
        STAGES["interpret_attribution"].log,
    benchmark:
        STAGES["interpret_attribution"].benchmark
    threads: threads("interpret_attribution")
    resources:
        gpu=STAGES["interpret_attribution"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("interpret_attribution"),
    shell:
        command("interpret_attribution")
