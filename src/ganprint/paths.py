"""Every artifact path pattern of the pipeline, in one place (STYLE.md: one wildcard per path component).

The stage declarations (:mod:`ganprint.stages`) build both front-ends from these patterns: Snakemake fills
``{wildcard}``s itself, ``ganprint render-dvc`` turns them into DVC's ``${item.wildcard}``.
"""

from __future__ import annotations

# data/: inputs and image stores --------------------------------------------------------------------------
DATA = "data/{variant}/{dataset}"  # variant: clean (prepare_dataset) | fingerprinted, fp-<name> (embed_fingerprints)
CLEAN = "data/clean/{dataset}"
FINGERPRINTED = DATA  # variant: a fingerprint's name (params fingerprints): fingerprinted | fp-<name>
IMAGES = "/images.lmdb"
MANIFEST = "/manifest.csv"
SAMPLES = "/samples.png"
RESOLVED = "/resolved_config.json"  # the params a stage used, beside its outputs (a DVC output too)
DATA_IMAGES = DATA + IMAGES
EMBEDDED_FINGERPRINTS = FINGERPRINTED + "/embedded_fingerprints.txt"
# the fingerprint in a GAN's training data (variant fingerprinted: EMBEDDED_FINGERPRINTS)
GAN_EMBEDDED_FINGERPRINTS = DATA + "/embedded_fingerprints.txt"

# results/: models, samples, splits, metrics, tables ------------------------------------------------------
GAN = "{dataset}/{arch}/{loss}/{variant}/seed{seed}"
GAN_DIR = "results/models/gan/" + GAN
GAN_MODEL = GAN_DIR + "/G.pt"
GAN_STATS = GAN_DIR + "/stats.jsonl"
GAN_DISCRIMINATOR = GAN_DIR + "/D.pt"
GAN_CURVES = GAN_DIR + "/loss_curves.csv"  # the DVC plot of the losses (DVC plots read CSV, not JSON lines)
GAN_GRID = GAN_DIR + SAMPLES  # the final sample grid (samples/stepNNNNNN.png beside it are not outputs)
# the trained GAN a fine-tuned one (variant ft-<dataset>) starts from: same selectors, variant clean
GAN_BASE_DIR = "results/models/gan/{dataset}/{arch}/{loss}/clean/seed{seed}"
SAMPLES_DIR = "results/samples/" + GAN
SAMPLES_IMAGES = SAMPLES_DIR + IMAGES
SAMPLES_MANIFEST = SAMPLES_DIR + MANIFEST
SAMPLES_GRID = SAMPLES_DIR + SAMPLES
FP_DIR = "results/models/fingerprint/{dataset}"
FP_ENCODER = FP_DIR + "/encoder.pt"
FP_DECODER = FP_DIR + "/decoder.pt"
FP_STATS = FP_DIR + "/stats.jsonl"
FP_CURVES = FP_DIR + "/curves.csv"  # the DVC plot: bit accuracy, PSNR, SSIM, losses, w_L2 per logged step
# detect_fingerprints runs once per dataset over the real images and every GAN of it: one folder (a directory
# output) holding real/detected_fingerprints.txt and <arch>/<loss>/<variant>/seed<seed>/detected_fingerprints.txt
DETECTED_ROOT = "results/fingerprints/{dataset}"
DETECTED_DIR = "results/fingerprints/" + GAN
DETECTED_FINGERPRINTS = DETECTED_DIR + "/detected_fingerprints.txt"
DETECTED_REAL = DETECTED_ROOT + "/real/detected_fingerprints.txt"
FP_ATTRIBUTION_DIR = "results/fingerprint_attribution/{dataset}"
FP_REGISTRY = FP_ATTRIBUTION_DIR + "/registry.csv"  # fingerprint → bits → the GANs trained on it
FP_BY_STEP = FP_ATTRIBUTION_DIR + "/bit_accuracy_by_step.csv"  # the DVC plot: step × fingerprinted GAN
ROBUSTNESS_DIR = "results/fingerprint_robustness/" + GAN  # bit accuracy under image and model changes
ROBUSTNESS_CURVES = ROBUSTNESS_DIR + "/bit_accuracy.csv"  # DVC plot: kind, strength, bit_accuracy
ROBUSTNESS_FIGURE = ROBUSTNESS_DIR + "/curves.png"
SPLIT = "results/splits/{protocol}.csv"
CLASSIFIER_DIR = "results/models/classifier/{protocol}/{method}/seed{seed}"
CLASSIFIER_MODEL = CLASSIFIER_DIR + "/model.pt"
CLASSIFIER_STATS = CLASSIFIER_DIR + "/stats.jsonl"
# Yu et al. 2019's immunization: the classifier fine-tuned on training images attacked by {perturbation}
IMMUNIZED_DIR = "results/models/immunized/{protocol}/{method}/seed{seed}/{perturbation}"
IMMUNIZED_MODEL = IMMUNIZED_DIR + "/model.pt"
PREDICTIONS = "results/predictions/{protocol}/{method}/seed{seed}.csv"  # also DVC's confusion-matrix plot
# accuracy against attack strength, plain vs immunized (the DVC plot, x = level)
ROBUSTNESS_ATTR_CURVE = "results/robustness/{protocol}/{method}/seed{seed}/{perturbation}.csv"
FID_DIR = "results/fid/{dataset}"
FID_STATS = FID_DIR + "/real_stats.pt"  # a dataset's real InceptionV3 statistics, shared by all of its GANs
GAN_NAME = "{dataset}-{arch}-{loss}-{variant}-seed{seed}"  # ganprint.config.gan_name
FIGURES_ATTRIBUTION = "results/figures/attribution/{protocol}/{method}/seed{seed}"  # interpret_attribution's

METRICS = "results/metrics"
METRICS_FP_AE = METRICS + "/train_fingerprint_autoencoder/{dataset}.json"
METRICS_EMBED = METRICS + "/embed_fingerprints/{variant}/{dataset}.json"
METRICS_DETECT = METRICS + "/detect_fingerprints/{dataset}.json"  # per image set, threshold, FPR, attribution
METRICS_ROBUSTNESS = METRICS + "/fingerprint_robustness/" + GAN + ".json"
METRICS_SPLIT = METRICS + "/build_split/{protocol}.json"
METRICS_CLASSIFIER = METRICS + "/train_classifier/{protocol}/{method}/seed{seed}.json"
METRICS_IMMUNIZE = METRICS + "/immunize_classifier/{protocol}/{method}/seed{seed}/{perturbation}.json"
METRICS_ATTRIBUTION = METRICS + "/evaluate_attribution/{protocol}/{method}/seed{seed}.json"
METRICS_ROBUSTNESS_ATTR = METRICS + "/evaluate_robustness/{protocol}/{method}/seed{seed}/{perturbation}.json"
METRICS_GAN = METRICS + "/gan/" + GAN_NAME + ".json"  # FID and KID of one GAN (evaluate_gan)
TABLES = "results/tables"
TABLE_NAMES = (
    "yu2019_table1",
    "yu2019_table2",
    "dnadet_cross",
    "robustness",
    "generator_attribution",
    "fingerprints",
    "gans",
)
TABLE_EXTS = ("csv", "md", "tex")
TABLE_FILES = tuple(f"{TABLES}/{t}.{ext}" for t in TABLE_NAMES for ext in TABLE_EXTS)
FIGURES_PAPER = "results/figures/paper"  # make_figures: one folder per figure kind (confusion, robustness, ...)
INDEX = "results/index.html"  # make_report: the static page linking every table and figure
LOGS = "results/logs/{stage}/{job}.log"  # one log per job (not artifacts: DVC does not track them)
BENCHMARKS = "results/benchmarks/{stage}/{job}.tsv"  # Snakemake's benchmark: files


def source_store(params, source: str) -> str:
    """Image store of a protocol source string (``real/<dataset>`` or ``gan/<gan name>``)."""
    kind, _, ref = source.partition("/")
    if kind == "real":
        return DATA_IMAGES.format(variant="clean", dataset=ref)
    return SAMPLES_IMAGES.format(**params.gan_list[ref].selectors())


def protocol_stores(params, protocol: str) -> list[str]:
    """Every store a protocol reads (train and test sources), sorted."""
    out = {
        source_store(params, s)
        for split in ("train", "test")
        for srcs in params.protocol_sources(protocol, split).values()
        for s in srcs
    }
    return sorted(out)
