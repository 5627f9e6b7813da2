# Artificial fingerprints (Yu et al. 2021): the autoencoder per dataset, embedding of each fingerprint of params
# `fingerprints` into data/<fingerprint>/<dataset>, and one detection job per dataset over its real images and every
# GAN's samples (fingerprinted GANs and clean controls): registry, calibrated attribution, bit accuracy by step; the robustness of the fingerprint
# in the samples of GANs trained on fingerprinted data.


rule train_fingerprint_autoencoder:
    input:
        modules("train_fingerprint_autoencoder"),
        **STAGES["train_fingerprint_autoencoder"].inputs,
    output:
        **outputs("train_fingerprint_autoencoder"),
    log:
        STAGES["train_fingerprint_autoencoder"].log,
    benchmark:
        STAGES["train_fingerprint_autoencoder"].benchmark
    threads: threads("train_fingerprint_autoencoder")
    resources:
        gpu=STAGES["train_fingerprint_autoencoder"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("train_fingerprint_autoencoder"),
    shell:
        command("train_fingerprint_autoencoder")


rule embed_fingerprints:
    input:
        modules("embed_fingerprints"),
        **STAGES["embed_fingerprints"].inputs,
    output:
        **outputs("embed_fingerprints"),
    log:
        STAGES["embed_fingerprints"].log,
    benchmark:
        STAGES["embed_fingerprints"].benchmark
    wildcard_constraints:
        **STAGES["embed_fingerprints"].constraints,
    threads: threads("embed_fingerprints")
    resources:
        gpu=STAGES["embed_fingerprints"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("embed_fingerprints"),
    shell:
        command("embed_fingerprints")


rule detect_fingerprints:
    input:
        modules("detect_fingerprints"),
        **STAGES["detect_fingerprints"].inputs,
        stores=dynamic_inputs("detect_fingerprints"),
    output:
        **outputs("detect_fingerprints"),
    log:
        STAGES["detect_fingerprints"].log,
    benchmark:
        STAGES["detect_fingerprints"].benchmark
    threads: threads("detect_fingerprints")
    resources:
        gpu=STAGES["detect_fingerprints"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("detect_fingerprints"),
    shell:
        command("detect_fingerprints")


rule fingerprint_robustness:
    input:
        modules("fingerprint_robustness"),
        **STAGES["fingerprint_robustness"].inputs,
    output:
        **outputs("fingerprint_robustness"),
    log:
        STAGES["fingerprint_robustness"].log,
    benchmark:
        STAGES["fingerprint_robustness"].benchmark
    wildcard_constraints:
        **STAGES["fingerprint_robustness"].constraints,
    threads: threads("fingerprint_robustness")
    resources:
        gpu=STAGES["fingerprint_robustness"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("fingerprint_robustness"),
    shell:
        command("fingerprint_robustness")
