"""params.yaml → frozen pydantic v2 models; unknown keys, wrong types, out-of-range values and dangling names refused.

The one entry point is :func:`load_params`. Both front-ends call it before any job starts (the Snakefile at
parse time, every ``ganprint`` stage as its first step), so a bad params.yaml stops the pipeline with a
message that names the key and what it may be.

The file has two halves (DESIGN.md): the **grid** (what to build: ``datasets``, ``gans``, ``autoencoders``,
``protocols``, ``attribution``) and the **hyperparameters** (how: ``archs``, ``losses``, ``methods`` — one
section per registered name — and one section per stage). A job depends on its own hyperparameter sections
and on the grid entry that names it, never on a whole grid list, so adding one GAN, protocol, method or
dataset reruns exactly the jobs it feeds.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, Field, ValidationError, create_model, model_validator

from ganprint import registry
from ganprint.hparams import Section, did_you_mean


class ConfigError(ValueError):
    """params.yaml is wrong; the message names the key and the allowed values."""


SOURCES = ("embedded", "folder", "celeba", "lsun")
EMBEDDED_SETS = ("skimage", "sklearn")
CELEBA_CROPS = ("yu2019", "yu2021")
RESIZE_FILTERS = ("lanczos", "bicubic", "bilinear", "box", "nearest")
VARIANTS = ("clean", "fingerprinted")
# A fine-tuned GAN (cross-finetune protocol, PAPERS §4.4) is the variant ft-<dataset>: the clean GAN of the same
# dataset/arch/loss/seed, fine-tuned on data/clean/<dataset> by finetune_gan (a GAN like the others downstream).
FINETUNE_PREFIX = "ft-"
FID_RESIZES = ("tf_bilinear", "torch_bilinear_antialias")  # how images reach InceptionV3's 299 px (evaluate_gan.py)
# Several fingerprints per dataset (proactive attribution, issue 8 item 5): the grid's ``fingerprints`` maps a
# fingerprint's name to its seed; the name is also the variant of the GANs trained on data/<name>/<dataset>:
# ``fingerprinted`` (the paper's one fingerprint) or fp-<owner>.
FINGERPRINT_PREFIX = "fp-"
GAN_ARCHS = tuple(registry.ARCHS)
GAN_LOSSES = tuple(registry.LOSSES)
CLASSIFIER_METHODS = tuple(registry.METHODS)
# Paper results a protocol can be compared with (numbers in ganprint.report.paper_numbers); "" = none.
PAPER_REFERENCES = (
    "",
    "yu2019_table1",
    "yu2019_table2",
    "dnadet_closed",
    "dnadet_cross_seed",
    "dnadet_cross_loss",
    "dnadet_cross_finetune",
    "dnadet_cross_dataset",
    "generator_attribution",
)
# methods immunize_classifier can fine-tune on perturbed data (ganprint.attribution.robustness.IMMUNIZABLE: neural
# methods continue from their weights, knn / prnu refit); the others' fit starts over (pre-training, heads)
IMMUNIZABLE = ("postpool", "gandct", "knn", "prnu")
TTA_MODES = ("none", "flips", "rot_flips")  # ganprint.attribution.tta (which imports torch: not imported here)
TTA_VOTES = ("majority", "mean")
OPEN_SET_SCORES = ("msp", "energy", "feature_distance")  # ganprint.attribution.openset (imports torch)
UNKNOWN_CLASS = "unknown"  # open-set test class (ganprint.attribution.splits.UNKNOWN)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# what the variant wildcard may be (Snakemake's wildcard constraint): a training variant or ft-<dataset>
VARIANT_PATTERN = "|".join(VARIANTS) + "|" + FINETUNE_PREFIX + r"[A-Za-z0-9][A-Za-z0-9_.-]*"
FINGERPRINT_PATTERN = "fingerprinted|" + FINGERPRINT_PREFIX + r"[A-Za-z0-9][A-Za-z0-9_.-]*"  # embed's variants
VARIANT_PATTERN += "|" + FINGERPRINT_PREFIX + r"[A-Za-z0-9][A-Za-z0-9_.-]*"
TRAINED_VARIANT_PATTERN = "clean|" + FINGERPRINT_PATTERN  # train_gan's variants (finetune_gan: ft-<dataset>)


def _name(v: str) -> str:
    if not NAME_RE.match(v):
        raise ValueError(
            f"name {v!r} is not allowed; use letters, digits, '_', '-', '.' "
            "(it becomes part of file paths and stage names)"
        )
    return v


def _one_of(choices: tuple[str, ...]):
    def check(v: str) -> str:
        if v not in choices:
            raise ValueError(f"{v!r} is not allowed; allowed values: {', '.join(choices)}")
        return v

    return AfterValidator(check)


def _pow2(v: int) -> int:
    if v & (v - 1):
        raise ValueError(f"{v!r} must be a power of two (16, 32, 64, 128, …)")
    return v


Name = Annotated[str, AfterValidator(_name)]
ArchName = Annotated[str, _one_of(GAN_ARCHS)]
LossName = Annotated[str, _one_of(GAN_LOSSES)]
MethodName = Annotated[str, _one_of(CLASSIFIER_METHODS)]


def _variant(v: str) -> str:
    if v in VARIANTS or (v.startswith(FINETUNE_PREFIX) and NAME_RE.match(v[len(FINETUNE_PREFIX) :])):
        return v
    if v.startswith(FINGERPRINT_PREFIX) and NAME_RE.match(v[len(FINGERPRINT_PREFIX) :]):
        return v
    raise ValueError(
        f"{v!r} is not allowed; allowed values: {', '.join(VARIANTS)}, or {FINETUNE_PREFIX}<dataset> "
        f"(the clean GAN fine-tuned on that dataset), or {FINGERPRINT_PREFIX}<name> (trained on data carrying "
        "fingerprint <name> of 'fingerprints')"
    )


def is_fingerprint_variant(v: str) -> bool:
    """A variant trained on fingerprinted data: ``fingerprinted`` or fp-<name>."""
    return v == "fingerprinted" or v.startswith(FINGERPRINT_PREFIX)


def _fingerprint_name(v: str) -> str:
    if is_fingerprint_variant(v) and NAME_RE.match(v):
        return v
    raise ValueError(
        f"fingerprint name {v!r} is not allowed; use 'fingerprinted' or {FINGERPRINT_PREFIX}<name> (it is the "
        "variant of the GANs trained on it)"
    )


Variant = Annotated[str, AfterValidator(_variant)]


def _unique(v: list) -> list:
    dup = sorted({str(x) for x in v if v.count(x) > 1})
    if dup:
        raise ValueError(f"lists {', '.join(dup)} more than once")
    return v


def _nonempty_unique(v: list) -> list:
    if not v:
        raise ValueError("must list at least one value")
    return _unique(v)


def GridList(item):  # noqa: N802 - reads like a type
    return Annotated[list[item], AfterValidator(_nonempty_unique)]


# ============================================ the grid: what to build ============================================
class DatasetCfg(Section):
    source: Annotated[str, _one_of(SOURCES)]
    path: str
    resolution: Annotated[int, Field(ge=16, le=1024), AfterValidator(_pow2)] = 32
    limit: int = Field(0, ge=0)
    num_images: int = Field(2000, ge=1)
    crop_scale: list[float] = [0.08, 0.5]
    celeba_crop: Annotated[str, _one_of(CELEBA_CROPS)] = "yu2019"
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _check(self):
        if self.source == "embedded" and self.path not in EMBEDDED_SETS:
            raise ValueError(f"path: {self.path!r} is not an embedded set; allowed: {', '.join(EMBEDDED_SETS)}")
        cs = self.crop_scale
        if len(cs) != 2 or not (0 < cs[0] <= cs[1] <= 1):
            raise ValueError(f"crop_scale: {cs!r} must be two fractions [lo, hi] with 0 < lo <= hi <= 1")
        return self


class GanGroup(Section):
    """A compact block of GANs: every combination dataset × arch × loss × variant × seed (DVC's ``matrix``)."""

    dataset: GridList(Name)
    arch: GridList(ArchName)
    loss: GridList(LossName)
    variant: GridList(Variant) = ["clean"]
    seed: GridList(Annotated[int, Field(ge=0)])

    def expand(self) -> list[GanCfg]:
        """The group's GANs, in product order (the one place a group multiplies out)."""
        product = itertools.product(self.dataset, self.arch, self.loss, self.variant, self.seed)
        return [GanCfg(dataset=d, arch=a, loss=lo, variant=v, seed=s) for d, a, lo, v, s in product]


class GanCfg(Section):
    """One GAN of the grid; its name is ``<dataset>-<arch>-<loss>-<variant>-seed<seed>``."""

    dataset: str
    arch: ArchName = "dcgan"
    loss: LossName = "nonsat"
    variant: Variant = "clean"
    seed: int = Field(0, ge=0)

    @property
    def name(self) -> str:
        return gan_name(self.dataset, self.arch, self.loss, self.variant, self.seed)

    def selectors(self) -> dict:
        return self.model_dump()

    @property
    def finetune_dataset(self) -> str | None:
        """The dataset a fine-tuned GAN (variant ft-<dataset>) is fine-tuned on; None for a trained GAN."""
        return self.variant[len(FINETUNE_PREFIX) :] if self.variant.startswith(FINETUNE_PREFIX) else None

    @property
    def base(self) -> GanCfg | None:
        """The GAN a fine-tuned GAN starts from (the clean GAN of the same dataset/arch/loss/seed); None if trained."""
        return self.model_copy(update={"variant": "clean"}) if self.finetune_dataset is not None else None


def gan_name(dataset: str, arch: str, loss: str, variant: str, seed: int | str) -> str:
    return f"{dataset}-{arch}-{loss}-{variant}-seed{seed}"


class FingerprintCfg(Section):
    """One fingerprint (one model owner): its bits are drawn from ``seed`` and embedded in every dataset of
    ``autoencoders`` (data/<name>/<dataset>, by embed_fingerprints)."""

    seed: int = Field(42, ge=0, description="seed of the fingerprint bits (paper embed_fingerprints.py: 42)")


FingerprintName = Annotated[str, AfterValidator(_fingerprint_name)]


# perturbation kinds a robustness curve may use (ganprint.perturb.STRENGTHS; not imported: it pulls in scipy)
ROBUSTNESS_KINDS = ("noise", "blur", "jpeg", "double_jpeg", "median", "crop", "resize", "relight")


def _kinds(v: list) -> list:
    for k in v:
        if k not in ROBUSTNESS_KINDS:
            raise ValueError(f"{k!r} is not allowed; allowed values: {', '.join(ROBUSTNESS_KINDS)}")
    return v


class ProtocolImagesCfg(Section):
    """Images PER SOURCE of a protocol's split (train/val/test never overlap; real test images come from held-out
    photographs in the embedded demo, ganprint.attribution.splits)."""

    train: int = Field(400, ge=1, description="training images per source")
    val: int = Field(100, ge=0, description="validation images per source (open-set calibration, early stopping)")
    test: int = Field(200, ge=1, description="test images per source")


class ProtocolRobustnessCfg(Section):
    """Yu et al. 2019's attacks and immunization on a protocol (evaluate_robustness, immunize_classifier)."""

    perturbations: Annotated[list[str], AfterValidator(_unique), AfterValidator(_kinds)] = Field(
        [], description="perturbation kinds (ganprint.perturb): fixed strengths for the curves, random for training"
    )
    methods: Annotated[list[MethodName], AfterValidator(_unique)] = Field(
        [], description="methods of the protocol evaluated and immunized"
    )


class ProtocolCfg(Section):
    """A named split of sources into train, validation and test (DESIGN.md: protocols are data).

    Classes → sources; a source is ``real/<dataset>`` or ``gan/<gan name>``. ``test: {}`` = the train sources.
    ``classifier: X`` evaluates the classifiers trained for protocol X on this protocol's test sources (DNA-Det's
    cross-seed / cross-loss / cross-finetune / cross-dataset test sets of one closed-set model, PAPERS §4.4): it
    then has no train, methods or seeds of its own (X's are used)."""

    description: str = ""
    paper: Annotated[str, _one_of(PAPER_REFERENCES)] = ""
    methods: Annotated[list[MethodName], AfterValidator(_unique)] = []
    seeds: Annotated[list[Annotated[int, Field(ge=0)]], AfterValidator(_unique)] = [0]
    images: ProtocolImagesCfg = ProtocolImagesCfg()
    classifier: str = ""
    robustness: ProtocolRobustnessCfg = ProtocolRobustnessCfg()
    train: dict[Name, list[str]] = {}
    test: dict[Name, list[str]] = {}


class AttributionGrid(Section):
    protocols: GridList(Name)


# ======================================= hyperparameters: how to build it ========================================
def _registry_sections(name: str, entries: dict) -> type[Section]:
    """A model with one optional field per registered name (its hyperparameter model): registering adds a field."""
    fields = {k: (e.hparams | None, None) for k, e in entries.items()}
    return create_model(name, __base__=Section, **fields)


ArchSections = _registry_sections("ArchSections", registry.ARCHS)
LossSections = _registry_sections("LossSections", registry.LOSSES)
MethodSections = _registry_sections("MethodSections", registry.METHODS)


class LoaderCfg(Section):
    workers: int = Field(0, ge=0, description="DataLoader worker processes per job, 0 = load in the main process")
    memory_budget_mb: int = Field(512, ge=16, description="RAM a stage may hold in decoded images at once")


class PrepareDatasetCfg(Section):
    workers: int = Field(0, ge=0)
    resize_filter: Annotated[str, _one_of(RESIZE_FILTERS)] = "lanczos"
    min_source_size: int = Field(0, ge=0)
    max_skipped_fraction: float = Field(0.1, ge=0.0, le=1.0)
    grid_images: int = Field(64, ge=1, le=1024)


def _amp(v):
    if v is False or v == "bf16":
        return v
    raise ValueError(f"{v!r} is not allowed; allowed values: false, bf16")


class TrainGanCfg(Section):
    steps: int = Field(1500, ge=1)
    batch_size: int = Field(64, ge=1)
    log_every: int = Field(100, ge=1)
    data_seed: int | None = Field(None, ge=0, description="data-order seed; null = the GAN's training seed")
    checkpoint_every: int = Field(500, ge=0, description="write <out>/resume.pt every N steps, 0 = never")
    sample_every: int = Field(500, ge=0, description="write <out>/samples/stepNNNNNN.png every N steps, 0 = never")
    grid_images: int = Field(16, ge=1, le=1024, description="images in the sample grids")
    divergence_limit: float = Field(1e6, gt=0.0, description="stop when |loss| exceeds this")
    amp: Annotated[bool | str, AfterValidator(_amp)] = Field(False, description="false | bf16 (CUDA only)")
    compile: bool = Field(False, description="torch.compile G and D (CUDA only)")


class FinetuneGanCfg(Section):
    steps: int = Field(500, ge=1, description="G steps of fine-tuning (the other settings come from train_gan)")


class GenerateImagesCfg(Section):
    num_images: int = Field(1250, ge=1)
    seed: int = Field(1000, ge=0)
    batch_size: int = Field(250, ge=1)


class FidCfg(Section):
    """FID and KID of every GAN against its dataset (stages fid_stats and evaluate_gan, TF-FID InceptionV3)."""

    num_images: int = Field(
        250, ge=2, description="generated images scored per GAN, <= generate_images.num_images (paper FID: 50000)"
    )
    num_real: int = Field(
        500, ge=0, description="real images of the dataset in its statistics, 0 = all (paper: the whole dataset)"
    )
    batch_size: int = Field(50, ge=1, description="images per InceptionV3 forward pass; does not change the scores")
    kid_subset_size: int = Field(
        100, ge=2, description="images per KID subset, <= num_images and kid_max_real (paper KID: 1000)"
    )
    kid_subsets: int = Field(100, ge=1, description="KID subsets averaged into mean ± std (paper KID: 100)")
    kid_max_real: int = Field(
        500, ge=2, description="real feature rows kept for KID (StyleGAN2-ADA kid50k_full: 1000000)"
    )
    resize: Annotated[str, _one_of(FID_RESIZES)] = "tf_bilinear"
    seed: int = Field(0, ge=0, description="seed of KID's random subsets")


class TrainFingerprintAutoencoderCfg(Section):
    bits: int = Field(32, ge=1, le=4096)
    steps: int = Field(3000, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-4, ge=0.0)
    l2_weight: float = Field(10.0, ge=0.0)
    l2_await: int = Field(1000, ge=0)
    l2_ramp: int = Field(3000, ge=1)
    bce_weight: float = Field(1.0, ge=0.0)
    bit_acc_threshold: float = Field(0.9, ge=0.5, le=1.0)
    seed: int = Field(0, ge=0)
    log_every: int = Field(100, ge=1)
    schedule_scale: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="multiplies l2_await and l2_ramp (keep the paper's 1000/3000 and scale them to the data; paper: 1)",
    )
    checkpoint_every: int | None = Field(
        None,
        ge=0,
        description="write <out>/resume.pt every N steps (a rerun continues from it), 0 = never, null = once per "
        "epoch clipped to 100..5000 steps (paper: every 5000 steps)",
    )
    stuck_after: int = Field(
        500,
        ge=0,
        description="stop with an error when the mean batch bit accuracy of the last 50 steps is still < 0.6 at "
        "this step (chance is 0.5; ArtificialGANFingerprints issue #2), 0 = never",
    )


class EmbedFingerprintsCfg(Section):
    identical: bool = True
    batch_size: int = Field(64, ge=1)


class DetectFingerprintsCfg(Section):
    batch_size: int = Field(256, ge=1)
    target_fpr: float = Field(
        0.01,
        gt=0.0,
        lt=1.0,
        description="attribution threshold: the largest Hamming distance at which at most this share of the "
        "calibration images (real, clean-GAN samples) match a registered fingerprint (beyond the paper)",
    )


def _fractions(v: list) -> list:
    if any(not 0.0 < f <= 1.0 for f in v) or sorted(v) != v:
        raise ValueError(f"{v}: fractions must increase and lie in (0, 1] (0 = the GAN before fine-tuning)")
    return v


class FingerprintRobustnessCfg(Section):
    """Bit accuracy of a fingerprinted GAN's samples under image and model changes (Yu et al. 2021, PAPERS §2)."""

    kinds: Annotated[GridList(str), AfterValidator(_kinds)] = Field(
        ["noise", "blur", "jpeg", "crop"],
        description="image perturbations, each at the fixed strengths of ganprint.perturb.STRENGTHS "
        "(paper: noise, blur, JPEG, crop, relighting, combined)",
    )
    max_images: int = Field(200, ge=1, description="GAN samples scored per point (latents of generate_images.seed)")
    batch_size: int = Field(100, ge=1)
    seed: int = Field(0, ge=0, description="seed of the random perturbations (image i gets perturb.image_rng(seed, i))")
    quantize_bits: GridList(int) = Field(
        [8, 6, 4], description="weight bits of G's fake quantisation (per-tensor symmetric, dequantised)"
    )
    finetune_steps: int = Field(100, ge=0, description="G steps of fine-tuning on clean data, 0 = skip")
    finetune_fractions: Annotated[list[float], AfterValidator(_fractions)] = Field(
        [0.25, 0.5, 1.0], description="fine-tuning checkpoints scored, as fractions of finetune_steps"
    )


class TrainClassifierCfg(Section):
    """How every classifier trains; its seed (init + data order) comes from the protocol's ``seeds``."""

    epochs: int = Field(4, ge=1)
    batch_size: int = Field(32, ge=1)


class ImmunizeClassifierCfg(Section):
    """Yu et al. 2019's immunization: fine-tune a trained classifier on perturbed training images (PAPERS §1.6)."""

    epochs: int = Field(1, ge=1, description="passes over the perturbed training images")
    batch_size: int = Field(32, ge=1)
    p: float = Field(0.5, ge=0.0, le=1.0, description="share of images attacked, each at a random strength")
    seed: int = Field(0, ge=0, description="seed of the attacks: image i of epoch e draws from its own generator")


class EvaluateRobustnessCfg(Section):
    """Accuracy under each perturbation at fixed strengths (the curve) and at random strengths, plain vs immunized."""

    batch_size: int = Field(250, ge=1)
    seed: int = Field(0, ge=0, description="seed of the random attacks on the test images")


class EvaluateAttributionCfg(Section):
    batch_size: int = Field(250, ge=1)
    tta: Annotated[str, _one_of(TTA_MODES)] = Field(
        "none", description="test-time augmentation: none | flips (4) | rot_flips (the 8 dihedral transforms)"
    )
    tta_vote: Annotated[str, _one_of(TTA_VOTES)] = Field(
        "majority", description="combine the TTA predictions: majority vote of argmaxes (ties: mean score) | mean"
    )
    open_set_tpr: float = Field(
        0.95, gt=0.0, le=1.0, description="open-set rejection threshold: this TPR on the known val images"
    )
    open_set_score: Annotated[str, _one_of(OPEN_SET_SCORES)] = Field(
        "msp",
        description="open-set rejection score: msp (max softmax / sigmoid) | energy (logsumexp of the logits) | "
        "feature_distance (scaled distance of the features to the nearest training class mean)",
    )


CAM_KINDS = ("auto", "cam", "gradcam")


class InterpretAttributionCfg(Section):
    cam_images: int = Field(8, ge=1, le=64, description="test images per class in the heat-map grid, 1..64")
    cam_kind: Annotated[str, _one_of(CAM_KINDS)] = Field(
        "auto", description="auto (CAM where the method ends in GAP + linear, else Grad-CAM) | cam | gradcam"
    )
    tsne_images: int = Field(500, ge=3, description="test images in the t-SNE at most, split evenly over the classes")
    perplexity: float = Field(30.0, gt=0.0, description="t-SNE perplexity (clipped to (N - 1) / 3 for small N)")
    seed: int = Field(0, ge=0, description="t-SNE random state")
    batch_size: int = Field(64, ge=1)


class MakeTablesCfg(Section):
    decimals: int = Field(2, ge=0, le=6)


# ================================================== the whole file ==================================================
class Params(Section):
    # grid
    datasets: dict[Name, DatasetCfg]
    gans: dict[Name, GanGroup]
    autoencoders: GridList(Name)
    fingerprints: dict[FingerprintName, FingerprintCfg]
    protocols: dict[Name, ProtocolCfg]
    attribution: AttributionGrid
    # hyperparameters
    archs: ArchSections
    losses: LossSections
    methods: MethodSections
    loader: LoaderCfg
    prepare_dataset: PrepareDatasetCfg
    train_gan: TrainGanCfg
    finetune_gan: FinetuneGanCfg
    generate_images: GenerateImagesCfg
    fid: FidCfg
    train_fingerprint_autoencoder: TrainFingerprintAutoencoderCfg
    embed_fingerprints: EmbedFingerprintsCfg
    detect_fingerprints: DetectFingerprintsCfg
    fingerprint_robustness: FingerprintRobustnessCfg
    train_classifier: TrainClassifierCfg
    immunize_classifier: ImmunizeClassifierCfg
    evaluate_attribution: EvaluateAttributionCfg
    evaluate_robustness: EvaluateRobustnessCfg
    interpret_attribution: InterpretAttributionCfg
    make_tables: MakeTablesCfg

    # -- derived views used by both front-ends ------------------------------------------------------------------
    @functools.cached_property
    def gan_list(self) -> dict[str, GanCfg]:
        """Every GAN of the grid by name, groups expanded in declaration order."""
        return {g.name: g for group in self.gans.values() for g in group.expand()}

    def gan_group(self, gan: str) -> str:
        """The ``gans`` group that declares GAN ``gan`` (it names the DVC stage)."""
        for name, grp in self.gans.items():
            if gan in {g.name for g in grp.expand()}:
                return name
        raise KeyError(gan)

    @functools.cached_property
    def as_plain(self) -> dict:
        """The whole file as plain data (cached: the workflow looks keys up once per job)."""
        return plain(self)

    def arch_hparams(self, arch: str):
        return getattr(self.archs, arch)

    def loss_hparams(self, loss: str):
        return getattr(self.losses, loss)

    def method_hparams(self, method: str):
        return getattr(self.methods, method)

    def train_protocol(self, protocol: str) -> str:
        """The protocol whose classifiers ``protocol`` evaluates: itself, or its ``classifier``."""
        return self.protocols[protocol].classifier or protocol

    def protocol_methods(self, protocol: str) -> list[str]:
        """The methods evaluated on ``protocol`` (those of the protocol that trains its classifiers)."""
        return list(self.protocols[self.train_protocol(protocol)].methods)

    def protocol_seeds(self, protocol: str) -> list[int]:
        """The classifier seeds evaluated on ``protocol`` (those of the protocol that trains its classifiers)."""
        return list(self.protocols[self.train_protocol(protocol)].seeds)

    def protocol_images(self, protocol: str) -> ProtocolImagesCfg:
        """Images per source: those of the protocol that trains the classifiers (so a protocol evaluating them
        gets the same train / val rows, the same validation images for the open-set threshold)."""
        return self.protocols[self.train_protocol(protocol)].images

    def protocol_sources(self, protocol: str, split: str) -> dict[str, list[str]]:
        """Class name → source strings for ``split`` ('train' or 'test'); an empty test means 'as train'. The
        train classes of a protocol with ``classifier: X`` are X's."""
        p = self.protocols[protocol]
        if split == "test" and p.test:
            return dict(p.test)
        return dict(self.protocols[self.train_protocol(protocol)].train)


def _check_references(p: Params) -> None:
    """Cross-section checks: every name used somewhere is defined somewhere (message: key: problem)."""

    def err(msg):
        raise ConfigError(msg)

    defined = ", ".join(p.datasets)
    if not p.fingerprints:
        err("fingerprints: declare at least one fingerprint (e.g. 'fingerprinted: {seed: 42}')")
    for ds in p.autoencoders:
        if ds not in p.datasets:
            err(f"autoencoders: unknown dataset {ds!r}; defined: {defined}")
        if p.datasets[ds].resolution < 32:
            err(
                f"autoencoders: {ds!r} has resolution {p.datasets[ds].resolution}; "
                "the fingerprint autoencoder needs ≥ 32"
            )
    seen: dict[str, str] = {}
    for group, grp in p.gans.items():
        for ds in grp.dataset:
            if ds not in p.datasets:
                err(f"gans.{group}.dataset: unknown dataset {ds!r}; defined: {defined}")
            if ds not in p.autoencoders and any(is_fingerprint_variant(v) for v in grp.variant):
                err(
                    f"gans.{group}.dataset: {ds!r} must be listed in autoencoders "
                    "(its fingerprinted GANs train on data embedded by that dataset's autoencoder)"
                )
        finetuned = [v for v in grp.variant if v.startswith(FINETUNE_PREFIX)]
        if finetuned and len(finetuned) != len(grp.variant):
            err(
                f"gans.{group}.variant: lists fine-tuned variants ({', '.join(finetuned)}) beside trained ones; "
                "declare fine-tuned GANs in a gans group of their own (train_gan and finetune_gan run per group)"
            )
        for v in finetuned:
            if v[len(FINETUNE_PREFIX) :] not in p.datasets:
                err(f"gans.{group}.variant: {v!r} fine-tunes on an unknown dataset; defined: {defined}")
        for v in grp.variant:
            if is_fingerprint_variant(v) and v not in p.fingerprints:
                err(
                    f"gans.{group}.variant: {v!r} trains on fingerprint {v!r}, which 'fingerprints' does not "
                    f"declare; declared: {', '.join(p.fingerprints) or '(none)'}"
                )
        for a in grp.arch:
            for lo in grp.loss:
                why = incompatibility(a, lo)
                if why:
                    err(f"gans.{group}: {why}; pick a loss that arch supports")
        for g in grp.expand():
            if g.name in seen:
                err(f"gans.{group} and gans.{seen[g.name]} both declare the GAN {g.name}; declare it once")
            seen[g.name] = group
    for group, grp in p.gans.items():
        for g in grp.expand():
            if g.base is not None and g.base.name not in seen:
                err(
                    f"gans.{group}: {g.name} fine-tunes {g.base.name}, which no gans group declares; "
                    "add it (variant clean) to a gans group"
                )
    for kind, key, used, section in (
        ("arch", "archs", {g.arch for g in p.gan_list.values()}, p.archs),
        ("loss", "losses", {g.loss for g in p.gan_list.values()}, p.losses),
        (
            "method",
            "methods",
            # (a protocol whose classifier names an unknown protocol is refused by _check_protocol below)
            {
                m
                for x in p.attribution.protocols
                if x in p.protocols and p.train_protocol(x) in p.protocols
                for m in p.protocol_methods(x)
            },
            p.methods,
        ),  # fmt: skip
    ):
        for name in sorted(used):
            if getattr(section, name) is None:
                err(
                    f"{key}.{name}: missing section; the grid uses {kind} {name!r}, so its hyperparameters "
                    f"must be written in params.yaml (dvc.yaml reads them); "
                    f"'{key}: {{{name}: {{}}}}' takes the defaults"
                )
    gans = p.gan_list
    for name, proto in p.protocols.items():
        _check_protocol(p, name, proto, err)
        for split in ("train", "test"):
            for cls, sources in getattr(proto, split).items():
                if not sources:
                    err(f"protocols.{name}.{split}.{cls}: empty source list")
                for s in sources:
                    kind, _, ref = s.partition("/")
                    if (kind == "real" and ref in p.datasets) or (kind == "gan" and ref in gans):
                        continue
                    hint = did_you_mean(ref, gans) if kind == "gan" else ""
                    err(
                        f"protocols.{name}.{split}.{cls}: source {s!r} must be 'real/<dataset>' "
                        f"(datasets: {defined}) or 'gan/<gan>'{hint} (GAN names are "
                        "<dataset>-<arch>-<loss>-<variant>-seed<seed>; `ganprint check-params` lists them)"
                    )
    fid, gen = p.fid, p.generate_images
    if fid.num_images > gen.num_images:
        err(
            f"fid.num_images: {fid.num_images} > generate_images.num_images {gen.num_images}; score at most the "
            "images each GAN generates"
        )
    if fid.kid_subset_size > min(fid.num_images, fid.kid_max_real):
        err(
            f"fid.kid_subset_size: {fid.kid_subset_size} must be <= fid.num_images ({fid.num_images}) and "
            f"fid.kid_max_real ({fid.kid_max_real}): a KID subset draws that many fake and real images"
        )
    if 0 < fid.num_real < fid.kid_max_real:
        err(
            f"fid.kid_max_real: {fid.kid_max_real} > fid.num_real {fid.num_real}; KID keeps at most the real "
            "images whose features are computed"
        )
    for proto in p.attribution.protocols:
        if proto not in p.protocols:
            err(
                f"attribution.protocols: unknown protocol {proto!r}{did_you_mean(proto, p.protocols)}; "
                f"defined: {', '.join(p.protocols)}"
            )
        x = p.protocols[proto].classifier
        if x and x not in p.attribution.protocols:
            err(f"attribution.protocols: {proto!r} evaluates the classifiers of {x!r}, which is not listed; add it")


def _check_protocol(p: Params, name: str, proto: ProtocolCfg, err) -> None:
    """One protocol: its classes, methods, seeds and robustness (sources are checked by the caller)."""
    key = f"protocols.{name}"
    if proto.classifier:
        x = p.protocols.get(proto.classifier)
        if x is None:
            err(f"{key}.classifier: unknown protocol {proto.classifier!r}{did_you_mean(proto.classifier, p.protocols)}")
        if x.classifier:
            err(f"{key}.classifier: {proto.classifier!r} evaluates another protocol's classifiers itself; name the "
                f"protocol that trains them ({x.classifier!r})")  # fmt: skip
        for field in ("train", "methods", "seeds", "images", "robustness"):
            if field in proto.model_fields_set:
                err(f"{key}.{field}: a protocol with 'classifier: {proto.classifier}' uses that protocol's {field}; "
                    "remove it here")  # fmt: skip
        if not proto.test:
            err(f"{key}.test: a protocol with 'classifier' must list its own test sources")
        train = x.train
    else:
        train = proto.train
        if not proto.methods:
            err(f"{key}.methods: list the attribution methods to train on this protocol (e.g. [postpool])")
        if not proto.seeds:
            err(f"{key}.seeds: list at least one classifier seed (e.g. [0])")
        rob = proto.robustness
        for m in rob.methods:
            if m not in proto.methods:
                err(f"{key}.robustness.methods: {m!r} is not one of the protocol's methods {proto.methods}")
            if m not in IMMUNIZABLE:
                err(f"{key}.robustness.methods: {m!r} cannot be immunized (its training starts over); "
                    f"allowed: {', '.join(IMMUNIZABLE)}")  # fmt: skip
        if bool(rob.methods) != bool(rob.perturbations):
            err(f"{key}.robustness: give both 'perturbations' and 'methods', or neither")
    if len(train) < 2:
        err(f"{key}.train: needs at least two classes, got {list(train)}")
    if UNKNOWN_CLASS in train:
        err(f"{key}.train: {UNKNOWN_CLASS!r} is reserved for open-set test sources; rename the class")
    extra = sorted(set(proto.test) - {UNKNOWN_CLASS} - set(train))
    if extra:
        err(
            f"{key}.test: classes {extra} are not train classes {sorted(train)}; a test class must be a train class "
            f"(or {UNKNOWN_CLASS!r} for open-set sources absent from training), or leave test empty to test on the "
            "train sources"
        )


def incompatibility(arch: str, loss: str) -> str | None:
    """Why loss ``loss`` cannot train arch ``arch``, or None: a pair works iff the loss's ``needs`` are among
    what the arch's discriminator ``provides`` (ganprint.registry)."""
    provides, needs = registry.ARCHS[arch].provides, registry.LOSSES[loss].needs
    missing = needs - provides
    if not missing:
        return None

    def order(xs):
        return sorted(xs, key=lambda x: (registry.CAPABILITIES.index(x) if x in registry.CAPABILITIES else 99, x))

    return (
        f"loss '{loss}' needs a discriminator that provides {', '.join(repr(m) for m in order(missing))}; "
        f"arch '{arch}' provides {', '.join(order(provides))}"
    )


def _loc(loc: tuple) -> str:
    parts: list[str] = []
    for i, x in enumerate(loc):
        if x == "[key]":
            parts.pop()  # the offending key itself is named in the message
        elif i + 1 < len(loc) and loc[i + 1] == "[key]":
            parts.append(str(x))  # a mapping key (a number written as a name, say), dropped just after
        elif isinstance(x, int):
            parts[-1] += f"[{x}]"
        else:
            parts.append(str(x))
    return ".".join(p for p in parts if p)


_TYPES = {
    "int_type": "int",
    "int_from_float": "int",
    "float_type": "float",
    "string_type": "str",
    "bool_type": "bool",
    "list_type": "a list",
    "dict_type": "a mapping of name → value",
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
}


def _message(e: dict) -> str:
    loc, kind, value = _loc(e["loc"]), e["type"], e.get("input")
    ctx = e.get("ctx") or {}
    if kind in _TYPES:
        msg = f"expected {_TYPES[kind]}, got {value!r} ({type(value).__name__})"
    elif kind == "missing":
        msg = "missing key; it must be written in params.yaml (dvc.yaml reads it)"
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = next(iter(ctx.values()))
        word = {"greater_than_equal": "≥", "less_than_equal": "≤", "greater_than": ">", "less_than": "<"}[kind]
        msg = f"{value!r} is out of range; allowed: {word} {bound}"
    elif kind == "value_error":
        msg = str(ctx.get("error", e["msg"]))
        if msg.startswith(("path: ", "crop_scale: ")):  # model-level checks name their own field
            field, _, msg = msg.partition(": ")
            loc = f"{loc}.{field}"
    else:
        msg = e["msg"]
    return f"{loc}: {msg}" if loc else msg


def parse_params(data: Any, src: str = "params.yaml") -> Params:
    """Validate a params mapping (as loaded from YAML) into :class:`Params`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{src}: expected a mapping of keys, got {data!r} ({type(data).__name__})")
    try:
        params = Params.model_validate(data)
        _check_references(params)
    except ValidationError as e:
        raise ConfigError(f"{src}: {_message(e.errors(include_url=False)[0])}") from None
    except ConfigError as e:
        raise ConfigError(f"{src}: {e}") from None
    return params


def load_params(path: str | Path = "params.yaml") -> Params:
    """Load and validate params.yaml; raises :class:`ConfigError` with a message naming the bad key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such params file; run from the project root or pass --params PATH")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    return parse_params(data, str(path))


def json_schema() -> dict:
    """The JSON schema of params.yaml, for editors (workflow/schemas/params.schema.json)."""
    return Params.model_json_schema()


# -------------------------------------------------------------------------------------------------------------------
def plain(obj: Any) -> Any:
    """Models → plain data (what DVC's ``params:`` sees for a key)."""
    if isinstance(obj, Section):
        # an unwritten arch/loss/method section is None and absent; a null value (train_gan.data_seed) stays
        optional = isinstance(obj, ArchSections | LossSections | MethodSections)
        return {k: plain(getattr(obj, k)) for k in type(obj).model_fields if not (optional and getattr(obj, k) is None)}
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [plain(v) for v in obj]
    return obj


def lookup(params: Params, dotted_key: str) -> Any:
    """The plain value of a dotted params key such as ``protocols.closed_set`` (as DVC's ``params:`` sees it)."""
    node: Any = params.as_plain
    for part in dotted_key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"params has no key {dotted_key!r}")
        node = node[part]
    return node


def tracked_values(params: Params, keys: list[str], **selectors: str) -> str:
    """JSON of the values of ``keys`` (``{selector}`` placeholders filled): the Snakemake params trigger."""
    return json.dumps({k.format(**selectors): lookup(params, k.format(**selectors)) for k in keys}, sort_keys=True)
