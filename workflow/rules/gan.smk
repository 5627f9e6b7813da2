# train_gan and generate_images, once per entry of params.yaml `gans` ({dataset}/{arch}/{loss}/{variant}/seed{seed}).


rule train_gan:
    input:
        gan_cli.MODULES,
        data=P.DATA_IMAGES,
    output:
        model=P.GAN_MODEL,
        stats=P.GAN_STATS,
    log:
        "results/logs/train_gan/{dataset}-{arch}-{loss}-{variant}-seed{seed}.log",
    benchmark:
        "results/benchmarks/train_gan/{dataset}-{arch}-{loss}-{variant}-seed{seed}.tsv"
    threads: 4
    resources:
        gpu=1,
    params:
        file=PARAMS_FILE,
        tracked=tracked(gan_cli),
    shell:
        "ganprint train-gan --params {params.file} --dataset {wildcards.dataset} --arch {wildcards.arch}"
        " --loss {wildcards.loss} --variant {wildcards.variant} --seed {wildcards.seed}"
        " --data {input.data} --out results/models/gan/{wildcards.dataset}/{wildcards.arch}/{wildcards.loss}/{wildcards.variant}/seed{wildcards.seed}"
        " --log {log}"


rule generate_images:
    input:
        generate_cli.MODULES,
        model=P.GAN_MODEL,
    output:
        images=P.SAMPLES_IMAGES,
        manifest=P.SAMPLES_MANIFEST,
        samples=P.SAMPLES_GRID,
    log:
        "results/logs/generate_images/{dataset}-{arch}-{loss}-{variant}-seed{seed}.log",
    benchmark:
        "results/benchmarks/generate_images/{dataset}-{arch}-{loss}-{variant}-seed{seed}.tsv"
    threads: 4
    resources:
        gpu=1,
    params:
        file=PARAMS_FILE,
        tracked=tracked(generate_cli),
    shell:
        "ganprint generate-images --params {params.file} --dataset {wildcards.dataset} --arch {wildcards.arch}"
        " --loss {wildcards.loss} --variant {wildcards.variant} --seed {wildcards.seed}"
        " --model {input.model} --out results/samples/{wildcards.dataset}/{wildcards.arch}/{wildcards.loss}/{wildcards.variant}/seed{wildcards.seed}"
        " --log {log}"
