# build_split per protocol; train_classifier per {protocol, method, seed}; immunize_classifier and
# evaluate_robustness per {protocol, method, seed, perturbation}; evaluate_attribution per {protocol, method, seed}
# (a protocol with `classifier: X` evaluates X's models); interpret_attribution per {protocol, method, first seed}.
# Protocols are data: the jobs come from params.yaml (ganprint.stages.protocol_jobs).


rule build_split:
    input:
        modules("build_split"),
        **inputs("build_split"),
        stores=dynamic_inputs("build_split"),
    output:
        **outputs("build_split"),
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
        **inputs("train_classifier"),
    output:
        **outputs("train_classifier"),
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


rule immunize_classifier:
    input:
        modules("immunize_classifier"),
        **inputs("immunize_classifier"),
    output:
        **outputs("immunize_classifier"),
    log:
        STAGES["immunize_classifier"].log,
    benchmark:
        STAGES["immunize_classifier"].benchmark
    threads: threads("immunize_classifier")
    resources:
        gpu=STAGES["immunize_classifier"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("immunize_classifier"),
    shell:
        command("immunize_classifier")


rule evaluate_attribution:
    input:
        modules("evaluate_attribution"),
        **inputs("evaluate_attribution"),
    output:
        **outputs("evaluate_attribution"),
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


rule evaluate_robustness:
    input:
        modules("evaluate_robustness"),
        **inputs("evaluate_robustness"),
    output:
        **outputs("evaluate_robustness"),
    log:
        STAGES["evaluate_robustness"].log,
    benchmark:
        STAGES["evaluate_robustness"].benchmark
    threads: threads("evaluate_robustness")
    resources:
        gpu=STAGES["evaluate_robustness"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("evaluate_robustness"),
    shell:
        command("evaluate_robustness")


rule interpret_attribution:
    input:
        modules("interpret_attribution"),
        **inputs("interpret_attribution"),
    output:
        **outputs("interpret_attribution"),
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
