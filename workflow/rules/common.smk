# Load and validate params.yaml, target lists, wildcard constraints. No stage logic lives here.
import json
import os
import shutil
import subprocess
import sys

from ganprint import paths as P
from ganprint.config import (
    ConfigError,
    GAN_ARCHS,
    GAN_LOSSES,
    VARIANTS,
    load_params,
    tracked_values,
)
from ganprint.cli import (
    detect_fingerprints as detect_cli,
    embed_fingerprints as embed_cli,
    evaluate_attribution as evaluate_cli,
    generate_images as generate_cli,
    make_tables as tables_cli,
    prepare_dataset as prepare_cli,
    train_classifier as classifier_cli,
    train_fingerprint_autoencoder as autoencoder_cli,
    train_gan as gan_cli,
)

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
    method=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    arch="|".join(GAN_ARCHS),
    loss="|".join(GAN_LOSSES),
    variant="|".join(VARIANTS),
    seed=r"\d+",


def tracked(cli):
    """Params trigger: the values of exactly the keys the stage's CLI declares (its PARAMS)."""
    return lambda wildcards: tracked_values(
        PARAMS, cli.PARAMS, **dict(wildcards.items())
    )


def gan_wildcards():
    return [P.gan_fields(PARAMS, name) for name in PARAMS.gans]


def expand_gans(pattern):
    return [pattern.format(**g) for g in gan_wildcards()]


def all_targets():
    t = [P.DATA_SAMPLES.format(variant="clean", dataset=d) for d in PARAMS.datasets]
    t += expand_gans(P.SAMPLES_GRID)
    t += P.table_files()
    return t


def record_in_dvc():
    """After a successful run, record the outputs in dvc.lock so `dvc status` is clean and `dvc repro` idle."""
    # dvc.yaml expands from params.yaml: a run on another params file (a preset) is not DVC's to record
    if PARAMS_FILE == "params.yaml" and os.path.isdir(".dvc") and shutil.which("dvc"):
        # --no-relink: keep the files Snakemake wrote (a relink would rewrite their times out of DAG order)
        r = subprocess.run(
            ["dvc", "commit", "--force", "--quiet", "--no-relink"],
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            sys.stderr.write(
                "ganprint: outputs not recorded in dvc.lock (dvc commit needs every stage's outputs; "
                "run the whole pipeline, or `dvc commit -f --no-relink <stage>`)\n"
            )


def protocol_stores(wildcards):
    from ganprint.attribution.splits import split_stores

    return split_stores(PARAMS, wildcards.protocol)


def table_inputs(wildcards):
    t = [
        P.METRICS_FP_AE.format(dataset=d)
        for d in PARAMS.train_fingerprint_autoencoder.datasets
    ]
    t += [
        P.METRICS_EMBED.format(dataset=d)
        for d in PARAMS.train_fingerprint_autoencoder.datasets
    ]
    t += expand_gans(P.METRICS_DETECT)
    t += [
        P.METRICS_ATTRIBUTION.format(protocol=p, method=m)
        for p in PARAMS.train_classifier.protocols
        for m in PARAMS.train_classifier.methods
    ]
    return t
