"""Every artifact path pattern of the pipeline, in one place (STYLE.md: one wildcard per path component).

The Snakemake rules format these patterns; dvc.yaml spells the same paths with ``${item.*}``/``${key}``
(tests/workflow checks that both front-ends name the same files).
"""

from __future__ import annotations

from ganprint.config import Params

# data/: inputs and image stores --------------------------------------------------------------------------
DATA = "data/{variant}/{dataset}"  # variant: clean (prepare_dataset) | fingerprinted (embed_fingerprints)
DATA_IMAGES = DATA + "/images.lmdb"
DATA_MANIFEST = DATA + "/manifest.csv"
DATA_SAMPLES = DATA + "/samples.png"
DATA_REPORT = DATA + "/report.json"
EMBEDDED_FINGERPRINTS = DATA + "/embedded_fingerprints.txt"

# results/: models, samples, metrics, tables -------------------------------------------------------------
GAN = "{dataset}/{arch}/{loss}/{variant}/seed{seed}"
GAN_DIR = "results/models/gan/" + GAN
GAN_MODEL = GAN_DIR + "/G.pt"
GAN_STATS = GAN_DIR + "/stats.jsonl"
SAMPLES_DIR = "results/samples/" + GAN
SAMPLES_IMAGES = SAMPLES_DIR + "/images.lmdb"
SAMPLES_MANIFEST = SAMPLES_DIR + "/manifest.csv"
SAMPLES_GRID = SAMPLES_DIR + "/samples.png"
FP_DIR = "results/models/fingerprint/{dataset}"
FP_ENCODER = FP_DIR + "/encoder.pt"
FP_DECODER = FP_DIR + "/decoder.pt"
FP_STATS = FP_DIR + "/stats.jsonl"
DETECTED_DIR = "results/fingerprints/" + GAN
DETECTED_FINGERPRINTS = DETECTED_DIR + "/detected_fingerprints.txt"
CLASSIFIER_DIR = "results/models/classifier/{protocol}/{method}"
CLASSIFIER_MODEL = CLASSIFIER_DIR + "/model.pt"
PREDICTIONS = "results/predictions/{protocol}/{method}.csv"

METRICS = "results/metrics"
METRICS_FP_AE = METRICS + "/train_fingerprint_autoencoder/{dataset}.json"
METRICS_EMBED = METRICS + "/embed_fingerprints/{dataset}.json"
METRICS_DETECT = METRICS + "/detect_fingerprints/" + GAN + ".json"
METRICS_CLASSIFIER = METRICS + "/train_classifier/{protocol}/{method}.json"
METRICS_ATTRIBUTION = METRICS + "/evaluate_attribution/{protocol}/{method}.json"
TABLES = "results/tables"
TABLE_NAMES = ("attribution", "fingerprints")
# Logs (results/logs/<stage>/<job>.log) and Snakemake benchmark files (results/benchmarks/<stage>/<job>.tsv)
# are named in the rules: they are not artifacts (DVC does not track them).


def gan_fields(params: Params, name: str) -> dict:
    g = params.gans[name]
    return {"dataset": g.dataset, "arch": g.arch, "loss": g.loss, "variant": g.variant, "seed": g.seed}


def source_store(params: Params, source: str) -> str:
    """Image store of a protocol source string (``real/<dataset>`` or ``gan/<gan name>``)."""
    kind, _, ref = source.partition("/")
    if kind == "real":
        return DATA_IMAGES.format(variant="clean", dataset=ref)
    return SAMPLES_IMAGES.format(**gan_fields(params, ref))


def table_files() -> list[str]:
    return [f"{TABLES}/{t}.{ext}" for t in TABLE_NAMES for ext in ("csv", "md")]
