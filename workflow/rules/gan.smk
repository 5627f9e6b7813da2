# train_gan and generate_images, once per GAN of params.yaml gans ({dataset}/{arch}/{loss}/{variant}/seed{seed});
# finetune_gan instead of train_gan for the fine-tuned variants ft-<dataset> (the two rules write the same paths and
# are told apart by their variant constraints).


rule train_gan:
    input:
        modules("train_gan"),
        **STAGES["train_gan"].inputs,
    output:
        **outputs("train_gan"),
    log:
        STAGES["train_gan"].log,
    benchmark:
        STAGES["train_gan"].benchmark
    wildcard_constraints:
        **STAGES["train_gan"].constraints,
    threads: threads("train_gan")
    resources:
        gpu=STAGES["train_gan"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("train_gan"),
    shell:
        command("train_gan")


rule finetune_gan:
    input:
        modules("finetune_gan"),
        **STAGES["finetune_gan"].inputs,
        stores=dynamic_inputs("finetune_gan"),
    output:
        **outputs("finetune_gan"),
    log:
        STAGES["finetune_gan"].log,
    benchmark:
        STAGES["finetune_gan"].benchmark
    wildcard_constraints:
        **STAGES["finetune_gan"].constraints,
    threads: threads("finetune_gan")
    resources:
        gpu=STAGES["finetune_gan"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("finetune_gan"),
    shell:
        command("finetune_gan")


rule generate_images:
    input:
        modules("generate_images"),
        **STAGES["generate_images"].inputs,
    output:
        **outputs("generate_images"),
    log:
        STAGES["generate_images"].log,
    benchmark:
        STAGES["generate_images"].benchmark
    threads: threads("generate_images")
    resources:
        gpu=STAGES["generate_images"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("generate_images"),
    shell:
        command("generate_images")
