# Artificial fingerprints (Yu et al. 2021): train the autoencoder per dataset, embed into a copy of the data
# (data/fingerprinted/<dataset>), and detect in every GAN's samples (fingerprinted GANs and clean controls).


rule train_fingerprint_autoencoder:
    input:
        autoencoder_cli.MODULES,
        data=P.DATA_IMAGES.replace("{variant}", "clean"),
    output:
        encoder=P.FP_ENCODER,
        decoder=P.FP_DECODER,
        stats=P.FP_STATS,
        metrics=P.METRICS_FP_AE,
    log:
        "results/logs/train_fingerprint_autoencoder/{dataset}.log",
    benchmark:
        "results/benchmarks/train_fingerprint_autoencoder/{dataset}.tsv"
    threads: 4
    resources:
        gpu=1,
    params:
        file=PARAMS_FILE,
        tracked=tracked(autoencoder_cli),
    shell:
        "ganprint train-fingerprint-autoencoder --params {params.file} --dataset {wildcards.dataset}"
        " --data {input.data} --out results/models/fingerprint/{wildcards.dataset}"
        " --metrics {output.metrics} --log {log}"


rule embed_fingerprints:
    input:
        embed_cli.MODULES,
        data=P.DATA_IMAGES.replace("{variant}", "clean"),
        encoder=P.FP_ENCODER,
        decoder=P.FP_DECODER,
    output:
        images=P.DATA_IMAGES.replace("{variant}", "fingerprinted"),
        manifest=P.DATA_MANIFEST.replace("{variant}", "fingerprinted"),
        samples=P.DATA_SAMPLES.replace("{variant}", "fingerprinted"),
        embedded=P.EMBEDDED_FINGERPRINTS.replace("{variant}", "fingerprinted"),
        metrics=P.METRICS_EMBED,
    log:
        "results/logs/embed_fingerprints/{dataset}.log",
    benchmark:
        "results/benchmarks/embed_fingerprints/{dataset}.tsv"
    threads: 4
    resources:
        gpu=1,
    params:
        file=PARAMS_FILE,
        tracked=tracked(embed_cli),
    shell:
        "ganprint embed-fingerprints --params {params.file} --dataset {wildcards.dataset} --data {input.data}"
        " --encoder {input.encoder} --decoder {input.decoder} --out data/fingerprinted/{wildcards.dataset}"
        " --metrics {output.metrics} --log {log}"


rule detect_fingerprints:
    input:
        detect_cli.MODULES,
        images=P.SAMPLES_IMAGES,
        decoder=P.FP_DECODER,
        embedded=P.EMBEDDED_FINGERPRINTS.replace("{variant}", "fingerprinted"),
    output:
        detected=P.DETECTED_FINGERPRINTS,
        metrics=P.METRICS_DETECT,
    log:
        "results/logs/detect_fingerprints/{dataset}-{arch}-{loss}-{variant}-seed{seed}.log",
    benchmark:
        "results/benchmarks/detect_fingerprints/{dataset}-{arch}-{loss}-{variant}-seed{seed}.tsv"
    threads: 4
    resources:
        gpu=1,
    params:
        file=PARAMS_FILE,
        tracked=tracked(detect_cli),
    shell:
        "ganprint detect-fingerprints --params {params.file} --dataset {wildcards.dataset} --arch {wildcards.arch}"
        " --loss {wildcards.loss} --variant {wildcards.variant} --seed {wildcards.seed}"
        " --images {input.images} --decoder {input.decoder} --embedded {input.embedded}"
        " --out results/fingerprints/{wildcards.dataset}/{wildcards.arch}/{wildcards.loss}/{wildcards.variant}/seed{wildcards.seed}"
        " --metrics {output.metrics} --log {log}"
