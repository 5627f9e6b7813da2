# fid_stats once per dataset (data/clean/{dataset}) and evaluate_gan once per GAN: FID and KID of its samples.


rule fid_stats:
    input:
        modules("fid_stats"),
        **STAGES["fid_stats"].inputs,
    output:
        **outputs("fid_stats"),
    log:
        STAGES["fid_stats"].log,
    benchmark:
        STAGES["fid_stats"].benchmark
    threads: threads("fid_stats")
    resources:
        gpu=STAGES["fid_stats"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("fid_stats"),
    shell:
        command("fid_stats")


rule evaluate_gan:
    input:
        modules("evaluate_gan"),
        **STAGES["evaluate_gan"].inputs,
    output:
        **outputs("evaluate_gan"),
    log:
        STAGES["evaluate_gan"].log,
    benchmark:
        STAGES["evaluate_gan"].benchmark
    threads: threads("evaluate_gan")
    resources:
        gpu=STAGES["evaluate_gan"].gpu,
    params:
        file=PARAMS_FILE,
        tracked=tracked("evaluate_gan"),
    shell:
        command("evaluate_gan")
