"""Each pipeline stage declared once; the Snakemake rules read it and ``ganprint render-dvc`` writes dvc.yaml from it.

A declaration says what a stage iterates over (its wildcards and the params grid they come from), its inputs and
outputs (patterns from :mod:`ganprint.paths`), the params keys and library modules it depends on (per variant:
the arch's file, :data:`ARCH_MODULE`; per method: its files, :data:`METHOD_MODULES`), its resources and its
command. Both front-ends derive everything from here, so a stage is spelled once (DESIGN.md, "Each stage is
declared once").

Pattern syntax: ``{wildcard}`` for a wildcard, ``{input.NAME}`` / ``{output.NAME}`` for a declared path and
``{params_file}`` / ``{log}`` in commands — Snakemake's own spelling, so the rules use the strings as they are;
DVC gets ``${item.wildcard}`` (matrix stages). A matrix cannot map a name to a file, so the per-GAN stages get one
DVC definition per ``gans`` group and the attribution stages one per method (``train_classifier.<method>``, a
matrix over the protocols): each job depends on exactly its own method's files.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ganprint import paths as P
from ganprint.config import (
    FINETUNE_PREFIX,
    FINGERPRINT_PATTERN,
    TRAINED_VARIANT_PATTERN,
    is_fingerprint_variant,
)
from ganprint.registry import arch_module, method_modules

GAN_WILDCARDS = ("dataset", "arch", "loss", "variant", "seed")
# a GAN job's library module: the file of its arch's generator (registry.arch_module; sngan and mimicry share
# nets/sngan.py), resolved per job (Stage.job_modules) since it is not the arch name itself
ARCH_MODULE = "{arch_module}"
# an attribution job's method files: registry.method_modules(method) (impl, nets and helper modules), resolved per
# job (Stage.job_modules) and per DVC definition (one per method, render_dvc)
METHOD_MODULES = "{method_modules}"
# grid → the params keys DVC's matrix iterates ('gans' is per group: gans.<group>.<wildcard>)
GRIDS = {
    "datasets": {"dataset": "datasets"},
    "autoencoders": {"dataset": "autoencoders"},
    "fingerprints": {"dataset": "autoencoders", "variant": "fingerprints"},  # every dataset × every fingerprint
}
# the attribution grids: jobs enumerated from the protocols (each protocol names its methods and seeds; a protocol
# with ``classifier: X`` evaluates X's classifiers), see :func:`protocol_jobs`
PROTOCOL_GRIDS = ("protocols", "classifiers", "evaluations", "robustness", "interpretations")
# wildcards a job derives from params rather than from its paths (job_selectors)
DERIVED = ("train_protocol",)


@dataclass(frozen=True)
class Stage:
    name: str
    wildcards: tuple[str, ...]
    grid: str | None  # a key of GRIDS, "gans", or None (one job)
    args: str  # CLI arguments after `ganprint <name> --params {params_file}`
    outputs: dict[str, str]
    inputs: dict[str, str] = field(default_factory=dict)
    params: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()  # outputs that are DVC metrics (small JSON, git-tracked, cache: false)
    plots: tuple[str, ...] = ()  # outputs that are DVC plots (CSV with a 'step' column)
    plot_x: dict[str, str] = field(default_factory=dict)  # a plot's x column when it is not 'step'
    plot_y: dict[str, str] = field(default_factory=dict)  # a plot's y column, where DVC needs it (confusion)
    plot_template: dict[str, str] = field(default_factory=dict)  # a DVC plot template (confusion), default linear
    uncached: tuple[str, ...] = ()  # other outputs kept in git rather than the DVC cache
    # inputs only Snakemake can list (they depend on params values); DVC depends on these folders instead
    dynamic_inputs: Callable | None = None
    dvc_deps: tuple[str, ...] = ()
    gpu: int = 0
    # 0 = all cores. Small-image stages take 1 thread, so that Snakemake runs as many jobs at once as there are
    # cores (two 32 px GAN trainings side by side beat one on two threads); heavy per-image stages take more.
    threads: int = 1
    # grid "gans" only: which GANs it runs for: "all", "trained" (variants clean/fingerprinted), "finetuned"
    # (variants ft-<dataset>) or "fingerprinted" (config.is_fingerprint_variant); Snakemake tells the two
    # GAN-producing rules apart by ``constraints``
    gans: str = "all"
    constraints: dict[str, str] = field(default_factory=dict)  # per-rule Snakemake wildcard constraints
    directories: tuple[str, ...] = ()  # outputs that are folders (Snakemake: directory(); DVC: a folder out)
    cpu_torch: bool = False  # a CPU-only stage that runs torch (takes --threads like the GPU stages)
    # outputs shown in `snakemake --report`: output name → caption kind (ganprint.report.captions.CAPTIONS)
    report: dict[str, str] = field(default_factory=dict)

    @property
    def cli(self) -> str:
        return self.name.replace("_", "-")

    @property
    def job(self) -> str:
        """The job's id in log and benchmark file names."""
        return "-".join("seed{seed}" if w == "seed" else "{" + w + "}" for w in self.wildcards) or "all"

    @property
    def log(self) -> str:
        return P.LOGS.format(stage=self.name, job=self.job)

    @property
    def benchmark(self) -> str:
        return P.BENCHMARKS.format(stage=self.name, job=self.job)

    @property
    def module_files(self) -> list[str]:
        return [f"src/ganprint/cli/{self.name}.py", *self.modules]

    def job_modules(self, wildcards: dict) -> list[str]:
        """The module files of one job (its wildcards filled in, :data:`ARCH_MODULE` / :data:`METHOD_MODULES`
        resolved)."""
        out: list[str] = []
        for m in self.module_files:
            if m == ARCH_MODULE:
                out.append(arch_module(wildcards["arch"]))
            elif m == METHOD_MODULES:
                out += method_modules(wildcards["method"])
            else:
                out.append(m.format(**wildcards))
        return out

    @property
    def command(self) -> str:
        """The shell command in Snakemake's spelling (also what DVC runs, after :func:`to_dvc`).

        Stages that run torch get ``--threads <declared threads>`` (capped at the machine's cores by the stage):
        float results depend on the thread count, so both front-ends must run a job with the same count, and
        DVC sets no OMP_NUM_THREADS."""
        threads = f" --threads {self.threads}" if (self.gpu or self.cpu_torch) and self.threads else ""
        return f"ganprint {self.cli} --params {{params_file}} {self.args}{threads} --log {{log}}"


# What every attribution job depends on besides its method's own files (METHOD_MODULES): the base class, the input
# transforms and the layers the networks build on.
ATTRIBUTION_METHOD_MODULES = (
    "src/ganprint/attribution/methods/base.py",
    "src/ganprint/attribution/inputs.py",
    "src/ganprint/nets/layers.py",
)


def _gan_args(extra: str) -> str:
    return "--dataset {dataset} --arch {arch} --loss {loss} --variant {variant} --seed {seed} " + extra


def _protocol_manifests(params, wildcards) -> list[str]:
    return [s.replace(P.IMAGES, P.MANIFEST) for s in P.protocol_stores(params, wildcards["protocol"])]


def _finetune_data(params, wildcards) -> list[str]:
    """The store a fine-tuned GAN trains on: data/clean/<dataset of its variant ft-<dataset>>."""
    return [P.DATA_IMAGES.format(variant="clean", dataset=wildcards["variant"][len(FINETUNE_PREFIX) :])]


_GAN_OUTPUTS = {
    "model": P.GAN_MODEL,
    "discriminator": P.GAN_DISCRIMINATOR,
    "stats": P.GAN_STATS,
    "curves": P.GAN_CURVES,
    "samples": P.GAN_GRID,
    "resolved": P.GAN_DIR + P.RESOLVED,
}
_GAN_MODULES = (
    "src/ganprint/train/gan.py",
    "src/ganprint/train/common.py",
    ARCH_MODULE,
    "src/ganprint/nets/layers.py",  # the layers every family builds on
    "src/ganprint/losses.py",
)


def _detect_inputs(params, wildcards) -> list[str]:
    """What a dataset's detect job reads: every fingerprint's embedded file and every GAN's samples and model
    (the model stands for the training-time sample grids samples/stepNNNNNN.png, which are not outputs)."""
    ds = wildcards["dataset"]
    out = [P.EMBEDDED_FINGERPRINTS.format(variant=v, dataset=ds) for v in params.fingerprints]
    for g in params.gan_list.values():
        if g.dataset == ds:
            out += [P.SAMPLES_IMAGES.format(**g.selectors()), P.GAN_MODEL.format(**g.selectors())]
    return out


def _figure_inputs(params, wildcards) -> list[str]:
    from ganprint.report.paper_figures import figure_inputs

    return figure_inputs(params)


def _report_inputs(params, wildcards) -> list[str]:
    from ganprint.report.index_page import report_inputs

    return [f for f in report_inputs(params) if not f.startswith(P.FIGURES_PAPER + "/")]


# make_figures writes one folder per figure kind (ganprint.report.paper_figures.FIGURE_KINDS), each with a caption
FIGURE_KIND_CAPTIONS = {
    "confusion": "confusion",
    "robustness": "robustness",
    "training": "training",
    "gans": "gan_training",
    "sources": "samples",
}


def _table_inputs(params, wildcards) -> list[str]:
    t = [P.METRICS_FP_AE.format(dataset=d) for d in params.autoencoders]
    t += [P.METRICS_EMBED.format(variant=v, dataset=d) for d in params.autoencoders for v in params.fingerprints]
    t += [P.METRICS_DETECT.format(dataset=d) for d in params.autoencoders]
    t += [P.METRICS_GAN.format(**g.selectors()) for g in params.gan_list.values()]  # the zoo table: every GAN
    t += [P.METRICS_ATTRIBUTION.format(**w) for w in protocol_jobs("evaluations", params)]
    t += [P.METRICS_ROBUSTNESS_ATTR.format(**w) for w in protocol_jobs("robustness", params)]
    return t


STAGES: dict[str, Stage] = {
    s.name: s
    for s in [
        Stage(
            "prepare_dataset",
            ("dataset",),
            "datasets",
            "--dataset {dataset} --out " + P.CLEAN,
            outputs={
                "images": P.CLEAN + P.IMAGES,
                "manifest": P.CLEAN + P.MANIFEST,
                "samples": P.CLEAN + P.SAMPLES,
                "report": P.CLEAN + "/report.json",
                "resolved": P.CLEAN + P.RESOLVED,
            },
            params=("prepare_dataset", "datasets.{dataset}"),
            modules=(
                "src/ganprint/data/prepare.py",
                "src/ganprint/data/sources.py",
                "src/ganprint/data/images.py",
                "src/ganprint/data/store.py",
            ),
            threads=0,
            report={"samples": "samples"},
        ),
        Stage(
            "train_fingerprint_autoencoder",
            ("dataset",),
            "autoencoders",
            "--dataset {dataset} --data {input.data} --out " + P.FP_DIR + " --metrics {output.metrics}",
            inputs={"data": P.CLEAN + P.IMAGES},
            outputs={
                "encoder": P.FP_ENCODER,
                "decoder": P.FP_DECODER,
                "stats": P.FP_STATS,
                "curves": P.FP_CURVES,
                "resolved": P.FP_DIR + P.RESOLVED,
                "metrics": P.METRICS_FP_AE,
            },
            metrics=("metrics",),
            plots=("curves",),
            params=("train_fingerprint_autoencoder",),
            modules=(
                "src/ganprint/fingerprints/train.py",
                "src/ganprint/fingerprints/common.py",
                "src/ganprint/nets/stegastamp.py",
                "src/ganprint/train/gan.py",  # the resume and curve helpers
            ),
            gpu=1,
            threads=1,
        ),
        Stage(
            "embed_fingerprints",
            ("dataset", "variant"),
            "fingerprints",
            "--dataset {dataset} --fingerprint {variant} --data {input.data} --encoder {input.encoder}"
            " --decoder {input.decoder} --out " + P.FINGERPRINTED + " --metrics {output.metrics}",
            inputs={"data": P.CLEAN + P.IMAGES, "encoder": P.FP_ENCODER, "decoder": P.FP_DECODER},
            outputs={
                "images": P.FINGERPRINTED + P.IMAGES,
                "manifest": P.FINGERPRINTED + P.MANIFEST,
                "samples": P.FINGERPRINTED + P.SAMPLES,
                "embedded": P.EMBEDDED_FINGERPRINTS,
                "resolved": P.FINGERPRINTED + P.RESOLVED,
                "metrics": P.METRICS_EMBED,
            },
            metrics=("metrics",),
            params=("embed_fingerprints", "fingerprints.{variant}"),
            modules=(
                "src/ganprint/fingerprints/embed.py",
                "src/ganprint/fingerprints/common.py",
                "src/ganprint/nets/stegastamp.py",
                "src/ganprint/data/store.py",
            ),
            gpu=1,
            threads=1,
            # data/clean/<dataset> is prepare_dataset's: the variant here is a fingerprint's name
            constraints={"variant": FINGERPRINT_PATTERN},
            report={"samples": "samples"},
        ),
        Stage(
            "train_gan",
            GAN_WILDCARDS,
            "gans",
            _gan_args("--data {input.data} --out " + P.GAN_DIR),
            inputs={"data": P.DATA_IMAGES},
            outputs=_GAN_OUTPUTS,
            plots=("curves",),
            params=("train_gan", "archs.{arch}", "losses.{loss}"),
            modules=_GAN_MODULES,
            gpu=1,
            threads=1,
            gans="trained",
            constraints={"variant": TRAINED_VARIANT_PATTERN},
        ),
        Stage(
            "finetune_gan",
            GAN_WILDCARDS,
            "gans",
            _gan_args(
                "--base-model {input.base_model} --base-discriminator {input.base_discriminator} --out " + P.GAN_DIR
            ),
            inputs={
                "base_model": P.GAN_BASE_DIR + "/G.pt",
                "base_discriminator": P.GAN_BASE_DIR + "/D.pt",
            },
            outputs=_GAN_OUTPUTS,
            plots=("curves",),
            params=("finetune_gan", "train_gan", "archs.{arch}", "losses.{loss}"),
            modules=_GAN_MODULES,
            # Snakemake lists the store of the variant's dataset; DVC cannot derive it from ft-<dataset>, so it
            # depends on the folder of clean stores (the CLI finds the store from the variant)
            dynamic_inputs=_finetune_data,
            dvc_deps=("data/clean",),
            gpu=1,
            threads=1,
            gans="finetuned",
            constraints={"variant": FINETUNE_PREFIX + r"[A-Za-z0-9][A-Za-z0-9_.-]*"},
        ),
        Stage(
            "generate_images",
            GAN_WILDCARDS,
            "gans",
            _gan_args("--model {input.model} --out " + P.SAMPLES_DIR),
            inputs={"model": P.GAN_MODEL},
            outputs={
                "images": P.SAMPLES_IMAGES,
                "manifest": P.SAMPLES_MANIFEST,
                "samples": P.SAMPLES_GRID,
                "resolved": P.SAMPLES_DIR + P.RESOLVED,
            },
            params=("generate_images", "prepare_dataset.grid_images"),
            modules=(
                "src/ganprint/generate.py",
                ARCH_MODULE,
                "src/ganprint/nets/layers.py",
                "src/ganprint/data/store.py",
            ),
            gpu=1,
            threads=1,
            report={"samples": "samples"},
        ),
        Stage(
            "fid_stats",
            ("dataset",),
            "datasets",
            "--dataset {dataset} --data {input.data} --out " + P.FID_DIR,
            inputs={"data": P.CLEAN + P.IMAGES},
            outputs={"stats": P.FID_STATS, "resolved": P.FID_DIR + P.RESOLVED},
            # not fid.num_images / kid_subset_size / kid_subsets / seed: the GANs' side only (real stats stay)
            params=("fid.num_real", "fid.batch_size", "fid.kid_max_real", "fid.resize"),
            modules=("src/ganprint/evaluate_gan.py", "src/ganprint/data/store.py"),
            gpu=1,
            threads=1,
        ),
        Stage(
            "evaluate_gan",
            GAN_WILDCARDS,
            "gans",
            _gan_args("--images {input.images} --real-stats {input.stats} --metrics {output.metrics}"),
            inputs={"images": P.SAMPLES_IMAGES, "stats": P.FID_STATS},
            outputs={"metrics": P.METRICS_GAN},
            metrics=("metrics",),
            params=("fid",),
            modules=("src/ganprint/evaluate_gan.py", "src/ganprint/data/store.py"),
            gpu=1,
            threads=1,
        ),
        Stage(
            "detect_fingerprints",
            ("dataset",),
            "autoencoders",
            "--dataset {dataset} --decoder {input.decoder} --real {input.real} --out "
            + P.DETECTED_ROOT
            + " --registry {output.registry} --by-step {output.by_step} --metrics {output.metrics}",
            # one job per dataset (its real images and all of its GANs): each embedded file is read once, and
            # the attribution threshold is calibrated on the real and clean-GAN images of the same decoder
            inputs={"decoder": P.FP_DECODER, "real": P.CLEAN + P.IMAGES},
            outputs={
                "detected": P.DETECTED_ROOT,
                "registry": P.FP_REGISTRY,
                "by_step": P.FP_BY_STEP,
                "metrics": P.METRICS_DETECT,
            },
            metrics=("metrics",),
            plots=("by_step",),
            directories=("detected",),
            params=(
                "detect_fingerprints",
                "fingerprints",
                "gans",
                "embed_fingerprints.identical",
                "train_gan.grid_images",
            ),
            modules=(
                "src/ganprint/fingerprints/detect.py",
                "src/ganprint/fingerprints/registry.py",
                "src/ganprint/fingerprints/compat.py",
                "src/ganprint/fingerprints/common.py",
                "src/ganprint/nets/stegastamp.py",
            ),
            # Snakemake lists the exact files; DVC cannot template a per-dataset list of GANs and fingerprints,
            # so it depends on their folders (the embed metrics carry each fingerprint: they change with it)
            dynamic_inputs=_detect_inputs,
            dvc_deps=("results/metrics/embed_fingerprints", "results/samples", "results/models/gan"),
            gpu=1,
            threads=1,
        ),
        Stage(
            "fingerprint_robustness",
            GAN_WILDCARDS,
            "gans",
            _gan_args(
                "--model {input.model} --decoder {input.decoder} --embedded {input.embedded} --data {input.data}"
                " --out " + P.ROBUSTNESS_DIR + " --metrics {output.metrics}"
            ),
            inputs={
                "model": P.GAN_MODEL,
                "discriminator": P.GAN_DISCRIMINATOR,  # fine-tuning continues G and D
                "decoder": P.FP_DECODER,
                "embedded": P.GAN_EMBEDDED_FINGERPRINTS,
                "data": P.CLEAN + P.IMAGES,  # the clean data it is fine-tuned on
            },
            outputs={"curves": P.ROBUSTNESS_CURVES, "figure": P.ROBUSTNESS_FIGURE, "metrics": P.METRICS_ROBUSTNESS},
            metrics=("metrics",),
            plots=("curves",),
            plot_x={"curves": "strength"},
            params=("fingerprint_robustness", "generate_images.seed", "train_gan", "archs.{arch}", "losses.{loss}"),
            modules=(
                "src/ganprint/fingerprints/robustness.py",
                "src/ganprint/fingerprints/common.py",
                "src/ganprint/nets/stegastamp.py",
                "src/ganprint/perturb.py",
                "src/ganprint/generate.py",
                *_GAN_MODULES,
            ),
            gpu=1,
            threads=1,
            gans="fingerprinted",
            constraints={"variant": FINGERPRINT_PATTERN},
            report={"figure": "fingerprint_robustness"},
        ),
        Stage(
            "build_split",
            ("protocol",),
            "protocols",
            "--protocol {protocol} --out {output.split} --metrics {output.metrics}",
            outputs={"split": P.SPLIT, "metrics": P.METRICS_SPLIT},
            metrics=("metrics",),
            # its own section, and that of the protocol whose classifiers it evaluates (their train/val images)
            params=("protocols.{protocol}", "protocols.{train_protocol}"),
            modules=("src/ganprint/attribution/splits.py", "src/ganprint/data/store.py"),
            # Snakemake lists the exact store manifests a protocol reads; DVC cannot template a list of deps,
            # so it depends on the two folders of manifests (a new GAN re-runs every split: seconds, and a
            # byte-identical manifest leaves the classifiers alone).
            dynamic_inputs=_protocol_manifests,
            dvc_deps=("data/clean", "results/samples"),
        ),
        Stage(
            "train_classifier",
            ("protocol", "method", "seed"),
            "classifiers",
            "--protocol {protocol} --method {method} --seed {seed} --split {input.split} --out "
            + P.CLASSIFIER_DIR
            + " --metrics {output.metrics}",
            inputs={"split": P.SPLIT},
            outputs={
                "model": P.CLASSIFIER_MODEL,
                "stats": P.CLASSIFIER_STATS,
                "resolved": P.CLASSIFIER_DIR + P.RESOLVED,
                "metrics": P.METRICS_CLASSIFIER,
            },
            metrics=("metrics",),
            params=(
                "train_classifier",
                "methods.{method}",
                "loader",
                "evaluate_attribution.open_set_tpr",
                "evaluate_attribution.open_set_score",
            ),
            modules=(
                "src/ganprint/attribution/train.py",
                "src/ganprint/attribution/splits.py",
                "src/ganprint/data/dataset.py",
                METHOD_MODULES,
                *ATTRIBUTION_METHOD_MODULES,
            ),
            gpu=1,
            threads=1,
        ),
        Stage(
            "immunize_classifier",
            ("protocol", "method", "seed", "perturbation"),
            "robustness",
            "--protocol {protocol} --method {method} --seed {seed} --perturbation {perturbation} --split {input.split}"
            " --model {input.model} --out " + P.IMMUNIZED_DIR + " --metrics {output.metrics}",
            inputs={"split": P.SPLIT, "model": P.CLASSIFIER_MODEL},
            outputs={
                "model": P.IMMUNIZED_MODEL,
                "stats": P.IMMUNIZED_DIR + "/stats.jsonl",
                "resolved": P.IMMUNIZED_DIR + P.RESOLVED,
                "metrics": P.METRICS_IMMUNIZE,
            },
            metrics=("metrics",),
            params=("immunize_classifier", "methods.{method}", "loader"),
            modules=(
                "src/ganprint/attribution/robustness.py",
                "src/ganprint/attribution/train.py",
                "src/ganprint/perturb.py",
                "src/ganprint/data/dataset.py",
                METHOD_MODULES,
                *ATTRIBUTION_METHOD_MODULES,
            ),
            gpu=1,
            threads=1,
        ),
        Stage(
            "evaluate_attribution",
            ("protocol", "method", "seed"),
            "evaluations",
            "--protocol {protocol} --method {method} --seed {seed} --split {input.split} --model {input.model}"
            " --predictions {output.predictions} --metrics {output.metrics}",
            # a protocol with `classifier: X` evaluates X's model (the train_protocol of the job)
            inputs={"split": P.SPLIT, "model": P.CLASSIFIER_MODEL.replace("{protocol}", "{train_protocol}")},
            outputs={"predictions": P.PREDICTIONS, "metrics": P.METRICS_ATTRIBUTION},
            metrics=("metrics",),
            # the predictions are DVC's confusion-matrix plot (true label × predicted)
            plots=("predictions",),
            plot_x={"predictions": "predicted"},
            plot_y={"predictions": "label"},
            plot_template={"predictions": "confusion"},
            params=("evaluate_attribution", "loader"),
            modules=(
                "src/ganprint/attribution/evaluate.py",
                "src/ganprint/attribution/splits.py",
                "src/ganprint/data/dataset.py",
                METHOD_MODULES,
                *ATTRIBUTION_METHOD_MODULES,
                "src/ganprint/attribution/tta.py",
                "src/ganprint/attribution/openset.py",
            ),
            gpu=1,
            threads=1,
        ),
        Stage(
            "evaluate_robustness",
            ("protocol", "method", "seed", "perturbation"),
            "robustness",
            "--protocol {protocol} --method {method} --seed {seed} --perturbation {perturbation} --split {input.split}"
            " --model {input.model} --immunized {input.immunized} --curve {output.curve} --metrics {output.metrics}",
            inputs={"split": P.SPLIT, "model": P.CLASSIFIER_MODEL, "immunized": P.IMMUNIZED_MODEL},
            outputs={"curve": P.ROBUSTNESS_ATTR_CURVE, "metrics": P.METRICS_ROBUSTNESS_ATTR},
            metrics=("metrics",),
            plots=("curve",),
            plot_x={"curve": "level"},
            params=("evaluate_robustness", "loader"),
            modules=(
                "src/ganprint/attribution/robustness.py",
                "src/ganprint/attribution/splits.py",
                "src/ganprint/perturb.py",
                "src/ganprint/data/dataset.py",
                METHOD_MODULES,
                *ATTRIBUTION_METHOD_MODULES,
            ),
            gpu=1,
            threads=1,
        ),
        Stage(
            "interpret_attribution",
            ("protocol", "method", "seed"),
            "interpretations",
            "--protocol {protocol} --method {method} --seed {seed} --split {input.split} --model {input.model}"
            " --metrics {input.metrics} --out " + P.FIGURES_ATTRIBUTION + " --device cpu",
            inputs={"split": P.SPLIT, "model": P.CLASSIFIER_MODEL, "metrics": P.METRICS_ATTRIBUTION},
            # the same files for every method (a DVC matrix): a figure that does not apply is a PNG saying why
            outputs={
                "cam": P.FIGURES_ATTRIBUTION + "/cam.png",
                "tsne": P.FIGURES_ATTRIBUTION + "/tsne.png",
                "fingerprints": P.FIGURES_ATTRIBUTION + "/fingerprints.png",
                "summary": P.FIGURES_ATTRIBUTION + "/interpret.json",
            },
            params=("interpret_attribution", "loader"),
            modules=(
                "src/ganprint/report/attribution_figures.py",
                "src/ganprint/report/interpret.py",
                "src/ganprint/report/fingerprints_figure.py",
                "src/ganprint/attribution/splits.py",
                "src/ganprint/data/dataset.py",
                METHOD_MODULES,
                *ATTRIBUTION_METHOD_MODULES,
            ),
            # on the CPU (figures of a few hundred images; the same bytes on every machine): no GPU lease
            cpu_torch=True,
            threads=1,
            report={"cam": "cam", "tsne": "tsne", "fingerprints": "fingerprints"},
        ),
        Stage(
            "make_tables",
            (),
            None,
            "--root . --out " + P.TABLES,
            outputs={f"{t}_{e}": f"{P.TABLES}/{t}.{e}" for t in P.TABLE_NAMES for e in P.TABLE_EXTS},
            uncached=tuple(f"{t}_{e}" for t in P.TABLE_NAMES for e in P.TABLE_EXTS),
            params=("make_tables", "datasets", "gans", "autoencoders", "fingerprints", "protocols", "attribution"),
            modules=("src/ganprint/report/tables.py", "src/ganprint/report/paper_numbers.py"),
            dynamic_inputs=_table_inputs,
            dvc_deps=(
                "results/metrics/train_fingerprint_autoencoder",
                "results/metrics/embed_fingerprints",
                "results/metrics/detect_fingerprints",
                "results/metrics/evaluate_attribution",
                "results/metrics/evaluate_robustness",
                "results/metrics/gan",
            ),
            report={f"{t}_csv": "table" for t in P.TABLE_NAMES},
        ),
        Stage(
            "make_figures",
            (),
            None,
            "--root . --out " + P.FIGURES_PAPER,
            outputs={kind: f"{P.FIGURES_PAPER}/{kind}" for kind in FIGURE_KIND_CAPTIONS},
            directories=tuple(FIGURE_KIND_CAPTIONS),
            report=FIGURE_KIND_CAPTIONS,
            params=("attribution", "protocols", "gans"),
            modules=(
                "src/ganprint/report/paper_figures.py",
                "src/ganprint/report/figures.py",
                "src/ganprint/report/attribution_figures.py",  # note_png
            ),
            dynamic_inputs=_figure_inputs,
            # what the figures read: metrics, classifier stats, sample grids, GAN loss curves (DVC cannot template
            # the per-params list of files, so it depends on their folders)
            dvc_deps=(
                "results/metrics/evaluate_attribution",
                "results/metrics/evaluate_robustness",
                "results/models/classifier",
                "results/models/gan",
                "results/samples",
                "data/clean",
            ),
        ),
        Stage(
            "make_report",
            (),
            None,
            "--root . --out {output.index}",
            inputs={f"{t}_md": f"{P.TABLES}/{t}.md" for t in P.TABLE_NAMES}
            | {f"{t}_csv": f"{P.TABLES}/{t}.csv" for t in P.TABLE_NAMES}
            | {"figures": P.FIGURES_PAPER + "/confusion"},
            outputs={"index": P.INDEX},
            params=("attribution", "protocols", "gans", "datasets", "autoencoders", "fingerprints"),
            modules=("src/ganprint/report/index_page.py", "src/ganprint/report/html.py"),
            dynamic_inputs=_report_inputs,
            # the page embeds the tables and links the figures: it depends on the figure folders for their listing
            dvc_deps=("results/figures/attribution", "results/fingerprint_robustness", "results/samples", "data"),
        ),
    ]
}


# ----------------------------------------------------------------------------------------------------------
# Targets and per-job views shared by the Snakefile (and tests)
def expand(stage: Stage, params) -> list[dict]:
    """Every job of ``stage`` under ``params`` as a wildcards dict, in grid order (DVC's matrix order)."""
    if stage.grid is None:
        return [{}]
    if stage.grid == "gans":
        return [g.selectors() for g in params.gan_list.values() if _runs_for(stage, g.variant)]
    if stage.grid in PROTOCOL_GRIDS:
        return protocol_jobs(stage.grid, params)
    from ganprint.config import lookup

    keys = GRIDS[stage.grid]  # wildcard → the params list (or mapping: its names) DVC's matrix iterates
    values = [list(lookup(params, k)) for k in keys.values()]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def protocol_jobs(grid: str, params) -> list[dict]:
    """The jobs of an attribution grid, protocol by protocol in ``attribution.protocols`` order:

    * ``protocols``: one per protocol (build_split);
    * ``classifiers``: protocol × its methods × its seeds, for protocols that train (train_classifier);
    * ``evaluations``: every protocol × the methods × seeds of the protocol that trains its classifiers;
    * ``robustness``: protocol × robustness methods × first seed × perturbations (immunize, evaluate_robustness);
    * ``interpretations``: protocol × methods × first seed, for protocols that train (interpret_attribution).
    """
    out: list[dict] = []
    for p in params.attribution.protocols:
        cfg = params.protocols[p]
        own = not cfg.classifier
        if grid == "protocols":
            out.append({"protocol": p})
        elif grid == "evaluations":
            out += [
                {"protocol": p, "method": m, "seed": s}
                for m in params.protocol_methods(p)
                for s in params.protocol_seeds(p)
            ]
        elif grid == "classifiers" and own:
            out += [{"protocol": p, "method": m, "seed": s} for m in cfg.methods for s in cfg.seeds]
        elif grid == "interpretations" and own:
            out += [{"protocol": p, "method": m, "seed": cfg.seeds[0]} for m in cfg.methods]
        elif grid == "robustness" and own:
            rob = cfg.robustness
            out += [
                {"protocol": p, "method": m, "seed": cfg.seeds[0], "perturbation": k}
                for m in rob.methods
                for k in rob.perturbations
            ]
    return out


def job_selectors(params, wildcards: dict) -> dict:
    """A job's wildcards plus what it derives from params (:data:`DERIVED`): ``train_protocol``, the protocol
    whose classifiers a protocol's jobs use (itself, or its ``classifier``)."""
    out = dict(wildcards)
    if "protocol" in out:
        out["train_protocol"] = params.train_protocol(out["protocol"])
    return out


def job_inputs(stage: Stage, params, wildcards: dict) -> dict[str, str]:
    """The declared inputs of one job, derived selectors filled in (Snakemake fills the plain wildcards itself)."""
    sel = job_selectors(params, wildcards)
    return {k: v.format(**sel) for k, v in stage.inputs.items()}


def _runs_for(stage: Stage, variant: str) -> bool:
    if stage.gans == "fingerprinted":
        return is_fingerprint_variant(variant)
    finetuned = variant.startswith(FINETUNE_PREFIX)
    return stage.gans == "all" or (stage.gans == "finetuned") == finetuned


def gan_groups(stage: Stage, params) -> list[str]:
    """The ``gans`` groups a per-GAN stage has a DVC definition for (a group is all trained or all fine-tuned)."""
    return [name for name, grp in params.gans.items() if all(_runs_for(stage, v) for v in grp.variant)]


def _partial_groups(stage: Stage, params) -> dict[str, list[str]]:
    """The ``gans`` groups where ``stage`` runs for some variants but not all: group → those variants."""
    out = {}
    for name, grp in params.gans.items():
        runs = [v for v in grp.variant if _runs_for(stage, v)]
        if runs and len(runs) < len(grp.variant):
            out[name] = runs
    return out


def all_targets(params) -> list[str]:
    """Every output of every job: what `rule all` asks for."""
    return [out.format(**w) for st in STAGES.values() for w in expand(st, params) for out in st.outputs.values()]


def tracked_params(stage: Stage, params, wildcards: dict) -> str:
    """The values of the stage's params keys for one job (Snakemake's params trigger; DVC tracks the same keys)."""
    from ganprint.config import tracked_values

    return tracked_values(params, list(stage.params), **job_selectors(params, wildcards))


def snakemake_shell(stage: Stage) -> str:
    """The rule's shell string: the declared command with Snakemake's ``{wildcards.x}`` and ``{params.file}``."""
    cmd = stage.command.replace("{params_file}", "{params.file}")
    names = "|".join(stage.wildcards or ("_",))
    return re.sub(r"\{(" + names + r")\}", r"{wildcards.\1}", cmd)


# ----------------------------------------------------------------------------------------------------------
# dvc.yaml
_WILDCARD = re.compile(r"\{(\w+)\}")


def _dvc_path(pattern: str, fixed: dict | None = None) -> str:
    """``{w}`` → ``${item.w}``, except the wildcards ``fixed`` gives a value (a per-method definition's method)."""
    fixed = fixed or {}
    return _WILDCARD.sub(lambda m: str(fixed.get(m.group(1), "${item." + m.group(1) + "}")), pattern)


def dvc_command(stage: Stage, fixed: dict | None = None) -> str:
    cmd = stage.command.replace("{params_file}", "params.yaml").replace("{log}", stage.log)
    cmd = re.sub(r"\{input\.(\w+)\}", lambda m: stage.inputs[m.group(1)], cmd)
    cmd = re.sub(r"\{output\.(\w+)\}", lambda m: stage.outputs[m.group(1)], cmd)
    return _dvc_path(cmd, fixed)


def _dvc_arch_modules(archs: list[str]) -> list[str]:
    """DVC deps standing for :data:`ARCH_MODULE` in a gans group over ``archs``.

    ``nets/${item.arch}.py`` when every arch's file is named after it (then ``dvc exp run -S`` may change the
    arch list); otherwise the group's distinct arch files (a matrix cannot map a name to a file), so a job also
    depends on the files of the group's other archs.
    """
    files = [arch_module(a) for a in archs]
    if all(f == f"src/ganprint/nets/{a}.py" for a, f in zip(archs, files, strict=True)):
        return [_dvc_path("src/ganprint/nets/{arch}.py")]
    return sorted(set(files))


def dvc_stage(stage: Stage, matrix: dict | None, archs: list[str] | None = None, fixed: dict | None = None) -> dict:
    """One DVC definition of ``stage``: ``matrix`` over its other wildcards; ``archs`` = a gans group's archs;
    ``fixed`` = wildcards this definition fixes (``{"method": m}``: the per-method definitions)."""
    out: dict = {}
    if matrix:
        out["matrix"] = matrix
    out["cmd"] = dvc_command(stage, fixed)
    modules = []
    for p in stage.module_files:
        if p == ARCH_MODULE:
            modules += _dvc_arch_modules(archs)
        elif p == METHOD_MODULES:
            modules += method_modules(fixed["method"])
        else:
            modules.append(p)
    out["deps"] = [_dvc_path(p, fixed) for p in (*modules, *stage.inputs.values(), *stage.dvc_deps)]
    out["params"] = list(dict.fromkeys(_dvc_path(k, fixed) for k in stage.params))
    # persist: DVC must not delete the previous outputs before the command runs (a failed run would lose them);
    # every stage writes its outputs atomically, so old files stay until new ones are complete.
    outs, metrics, plots = [], [], []
    for name, pattern in stage.outputs.items():
        opts: dict = {"persist": True}
        if name in stage.metrics or name in stage.uncached:
            opts["cache"] = False
        if name in stage.plots:
            opts["x"] = stage.plot_x.get(name, "step")
            if name in stage.plot_y:
                opts["y"] = stage.plot_y[name]
            if name in stage.plot_template:
                opts["template"] = stage.plot_template[name]
        (metrics if name in stage.metrics else plots if name in stage.plots else outs).append(
            {_dvc_path(pattern, fixed): opts}
        )
    out["outs"] = outs
    if metrics:
        out["metrics"] = metrics
    if plots:
        out["plots"] = plots
    return out


def _dvc_protocol_stages(stage: Stage, params) -> dict:
    """The DVC definitions of an attribution stage: one per protocol (and method), so each job depends on exactly
    its protocol's params and its method's files. Seeds and perturbations are templated from params.yaml, so
    ``dvc exp run -S protocols.closed_set.seeds=[0,1,2,3]`` grows the grid without a render; a new protocol or
    method needs one (``ganprint render-dvc``)."""
    out: dict = {}
    jobs = protocol_jobs(stage.grid, params)
    keys = list(dict.fromkeys((j["protocol"], j.get("method")) for j in jobs))
    for protocol, method in keys:
        x = params.train_protocol(protocol)
        fixed = {"protocol": protocol, "train_protocol": x} | ({"method": method} if method else {})
        matrix = {}
        if "seed" in stage.wildcards:
            if stage.grid in ("classifiers", "evaluations"):
                matrix["seed"] = f"${{protocols.{x}.seeds}}"
            else:  # robustness and figures: the first seed only
                matrix["seed"] = [params.protocols[x].seeds[0]]
        if "perturbation" in stage.wildcards:
            matrix["perturbation"] = f"${{protocols.{protocol}.robustness.perturbations}}"
        name = ".".join([stage.name, protocol, *([method] if method else [])])
        out[name] = dvc_stage(stage, matrix or None, fixed=fixed)
    return out


def render_dvc(params) -> str:
    """dvc.yaml: every stage, matrix-templated from params.yaml (one definition per ``gans`` group for the per-GAN
    stages, per method of ``attribution.methods`` for the attribution stages, so each depends on its own files)."""
    import yaml

    stages: dict = {}
    for st in STAGES.values():
        if st.grid is None:
            stages[st.name] = dvc_stage(st, None)
        elif st.grid == "gans":
            partial = _partial_groups(st, params)
            for group in params.gans:
                if group not in partial and group not in gan_groups(st, params):
                    continue
                matrix = {w: f"${{gans.{group}.{w}}}" for w in st.wildcards}
                if group in partial:
                    # the stage runs for some of the group's variants only (fingerprint_robustness in a group of
                    # clean and fingerprinted GANs): the matrix lists those
                    matrix["variant"] = partial[group]
                stages[f"{st.name}.{group}"] = dvc_stage(st, matrix, list(params.gans[group].arch))
        elif st.grid in PROTOCOL_GRIDS:
            stages.update(_dvc_protocol_stages(st, params))
        else:
            stages[st.name] = dvc_stage(st, {w: f"${{{k}}}" for w, k in GRIDS[st.grid].items()})
    header = (
        "# ganprint: the DVC front-end (ledger: lock, cache, remote, experiments).\n"
        "# GENERATED by `ganprint render-dvc` from the stage declarations in src/ganprint/stages.py, the `gans`\n"
        "# groups and the protocols of params.yaml: do not edit; `ganprint render-dvc --check` (run by CI) fails\n"
        "# when stale. Matrix stages expand from params.yaml, so `dvc exp run -S` grows or shrinks a group, the\n"
        "# datasets or a protocol's seeds / perturbations without a render (a new gans group, protocol or method\n"
        "# needs one).\n"
    )
    return header + yaml.safe_dump({"stages": stages}, sort_keys=False, width=120)
