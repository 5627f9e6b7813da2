# Load and validate params.yaml, the stage declarations, target lists, wildcard constraints. No stage logic here:
# every rule reads its inputs, outputs, params keys, modules, resources and command from src/ganprint/stages.py.
import os
import sys
import time

from ganprint import registry
from ganprint.report.captions import CAPTIONS, caption_from
from ganprint.config import ROBUSTNESS_KINDS, VARIANT_PATTERN, ConfigError, load_params
from ganprint.stages import (
    STAGES,
    all_targets,
    job_inputs,
    render_dvc,
    snakemake_shell,
    tracked_params,
)

RUN_START = (
    time.time()
)  # the ledger records in dvc.lock the stages whose outputs this run wrote
PARAMS_FILE = config.get("params", "params.yaml")
try:
    PARAMS = load_params(PARAMS_FILE)
except ConfigError as e:
    sys.stderr.write(
        f"ganprint: {e}\nNo job was started. Fix params.yaml and run again.\n"
    )
    raise SystemExit(1)


wildcard_constraints:
    dataset=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    protocol=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    perturbation="|".join(ROBUSTNESS_KINDS),
    method="|".join(registry.METHODS),
    arch="|".join(registry.ARCHS),
    loss="|".join(registry.LOSSES),
    variant=VARIANT_PATTERN,
    seed=r"\d+",


def modules(name):
    """The CLI and library modules of a job (per variant: its arch's file); editing one reruns its jobs."""
    return lambda wildcards: STAGES[name].job_modules(dict(wildcards.items()))


def tracked(name):
    """Params trigger: the values of exactly the params keys the stage declares (DVC tracks the same keys)."""
    return lambda wildcards: tracked_params(
        STAGES[name], PARAMS, dict(wildcards.items())
    )


def dynamic_inputs(name):
    """Inputs that depend on params values (a protocol's stores, the tables' metrics)."""
    return lambda wildcards: STAGES[name].dynamic_inputs(
        PARAMS, dict(wildcards.items())
    )


def inputs(name):
    """The declared inputs, each a function of the job: a path may name a derived selector ({train_protocol})."""
    return {
        k: (
            lambda wildcards, k=k: job_inputs(
                STAGES[name], PARAMS, dict(wildcards.items())
            )[k]
        )
        for k in STAGES[name].inputs
    }


def outputs(name):
    """The stage's outputs: folders wrapped in directory(), and those the report shows in report() with their
    caption and category (src/ganprint/report/captions.py; captions are relative to this folder).
    """
    st = STAGES[name]
    out = {}
    for k, v in st.outputs.items():
        path = directory(v) if k in st.directories else v
        if k in st.report:
            kind = st.report[k]
            extra = {"patterns": ["{name}.png"]} if k in st.directories else {}
            path = report(
                path,
                caption=caption_from(kind, "workflow/rules"),
                category=CAPTIONS[kind][1],
                **extra,
            )
        out[k] = path
    return out


def threads(name):
    # 0 = all cores: the machine's count, which Snakemake caps at --cores (workflow.cores is unset under --report)
    return STAGES[name].threads or os.cpu_count() or 1


def command(name):
    return snakemake_shell(STAGES[name])


def check_dvc_yaml():
    """dvc.yaml has one definition per gans group and per protocol × method: warn when params.yaml grew one."""
    if PARAMS_FILE == "params.yaml" and os.path.isfile("dvc.yaml"):
        with open("dvc.yaml", encoding="utf-8") as fh:
            if fh.read() != render_dvc(PARAMS):
                sys.stderr.write(
                    "ganprint: warning: dvc.yaml does not match params.yaml's gans groups, protocols or the stage "
                    "declarations; run `ganprint render-dvc` so that DVC records what Snakemake builds\n"
                )


def record_in_dvc():
    """After a successful run: record in dvc.lock exactly the stages this run built (src/ganprint/ledger.py)."""
    if PARAMS_FILE == "params.yaml" and os.path.isdir(".dvc"):
        from ganprint.ledger import record

        record(RUN_START)


check_dvc_yaml()
