# ganprint: the Snakemake front-end (executor: parallel jobs, GPUs, clusters).
# params.yaml is the only config; it is validated before any job starts (workflow/rules/common.smk).
# Each rule reads its paths, params keys, modules, resources and command from src/ganprint/stages.py.


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/fingerprint.smk"
include: "workflow/rules/gan.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/attribution.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(PARAMS),


onsuccess:
    record_in_dvc()
