"""The make_figures stage: the paper figures of every attribution protocol (issue 9 §5), from the metrics, training
statistics and sample grids the other stages wrote.

For each protocol of ``params.attribution.protocols`` (``p``), with the methods and seeds of the protocol whose
classifiers it uses (its own, or ``params.protocols[p].classifier``'s), under ``out`` (``results/figures/paper``):

* ``confusion_<p>_<method>.png``: the confusion matrix of the first seed (Yu et al. 2019 Fig. 4);
* ``robustness_<p>_<method>.png``: for each method of ``protocols[p].robustness.methods`` (when it has
  perturbations): accuracy under each perturbation, plain vs. immunized model (Yu et al. 2019 Fig. 6);
* ``training_<p>.png``: the classifier training curves of the first seed (protocols that train their own);
* ``sources_<p>.png``: the sample grid of each of its sources;

and once ``gans_training.png``: the losses of every GAN of the zoo. :func:`figure_plan` lists them with their inputs
(the stage declaration's outputs and inputs); same inputs ⇒ same bytes.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ganprint import paths as P

from .tables import classifier_protocol, metrics_path, protocol_methods, protocol_seeds

FIGURES_PAPER = P.FIGURES_PAPER
DATA_GRID = P.DATA + P.SAMPLES  # data/{variant}/{dataset}/samples.png (prepare_dataset, embed_fingerprints)
# the figure kinds, one folder each under FIGURES_PAPER (one Snakemake report caption each)
FIGURE_KINDS = ("confusion", "robustness", "training", "gans", "sources")


@dataclass(frozen=True)
class FigureJob:
    """One figure: its file, what draws it (``kind``: confusion, robustness, training, gans, sources), its inputs
    (label → path relative to the project root, in drawing order) and a caption for the results page."""

    name: str  # file stem: confusion_closed_set_postpool
    path: str
    kind: str
    inputs: dict[str, str] = field(default_factory=dict)
    caption: str = ""


def trained_grid(params, protocol: str) -> tuple[list[str], list[int]]:
    """(methods, seeds) of the classifiers ``protocol`` is evaluated with."""
    return protocol_methods(params, protocol), protocol_seeds(params, protocol)


def protocol_sources(params, protocol: str) -> list[str]:
    """Every source of a protocol (train, then test-only ones), each once, in declaration order."""
    cfg = params.protocols[protocol]
    out: dict[str, None] = {}
    for split in (cfg.train, cfg.test or {}):
        for srcs in split.values():
            out.update(dict.fromkeys(srcs))
    return list(out)


def source_grid(params, source: str) -> str:
    """The sample grid of a protocol source: ``real/<dataset>`` → the dataset's grid; ``gan/<name>`` → the grid of
    its generated images (generate_images)."""
    kind, _, ref = source.partition("/")
    if kind == "real":
        return DATA_GRID.format(variant="clean", dataset=ref)
    return P.SAMPLES_GRID.format(**params.gan_list[ref].selectors())


def figure_plan(params, out: str | Path = FIGURES_PAPER) -> list[FigureJob]:
    """Every figure make_figures writes under ``out`` for ``params``, in writing order."""
    out = Path(out).as_posix()
    jobs: list[FigureJob] = []

    def add(name: str, kind: str, inputs: dict[str, str], caption: str) -> None:
        jobs.append(FigureJob(name, f"{out}/{kind}/{name}.png", kind, inputs, caption))

    for p in params.attribution.protocols:
        methods, seeds = trained_grid(params, p)
        seed = seeds[0]
        for m in methods:
            metrics = metrics_path(p, m, seed)
            add(f"confusion_{p}_{m}", "confusion", {m: metrics}, f"Confusion matrix: {p} / {m} (seed {seed})")
        rob = getattr(params.protocols[p], "robustness", None)
        kinds = list(getattr(rob, "perturbations", None) or [])
        for m in list(getattr(rob, "methods", None) or []) if kinds else []:
            inputs = {k: metrics_path(p, m, seed, k) for k in kinds}
            add(f"robustness_{p}_{m}", "robustness", inputs,
                f"Robustness: {p} / {m} (seed {seed}), plain vs. immunized, {', '.join(kinds)}")  # fmt: skip
        if classifier_protocol(params, p) == p:
            stats = {m: P.CLASSIFIER_STATS.format(protocol=p, method=m, seed=seed) for m in methods}
            add(f"training_{p}", "training", stats, f"Classifier training curves: {p} (seed {seed})")
        grids = {s: source_grid(params, s) for s in protocol_sources(params, p)}
        add(f"sources_{p}", "sources", grids, f"Samples of every source of {p}")
    gans = {name: P.GAN_CURVES.format(**g.selectors()) for name, g in params.gan_list.items()}
    if gans:
        add("gans_training", "gans", gans, "GAN training losses (D and G) of the zoo")
    return jobs


def figure_paths(params, out: str | Path = FIGURES_PAPER) -> dict[str, str]:
    """Figure name (file stem) → path, for the stage declaration's outputs."""
    return {j.name: j.path for j in figure_plan(params, out)}


def figure_inputs(params) -> list[str]:
    """Every file make_figures reads (sorted, each once), for the stage declaration's inputs."""
    return sorted({p for j in figure_plan(params) for p in j.inputs.values()})


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def draw(job: FigureJob, root: str | Path = ".", path: str | Path | None = None) -> None:
    """Draw one figure from its inputs under ``root`` into ``path`` (default ``job.path``)."""
    from . import figures as F

    root = Path(root)
    dest = Path(path) if path is not None else Path(job.path)
    inputs = {label: root / p for label, p in job.inputs.items()}
    missing = [str(p) for p in inputs.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{job.name}: missing input(s) {', '.join(missing)}")
    if job.kind == "confusion":
        F.confusion_figure(_read_json(next(iter(inputs.values()))), dest)
    elif job.kind == "robustness":
        F.robustness_figure({k: _read_json(p) for k, p in inputs.items()}, dest)
    elif job.kind == "training":
        F.training_curves_figure(inputs, dest)
    elif job.kind == "gans":
        F.gan_curves_figure(inputs, dest)
    elif job.kind == "sources":
        F.source_grid_figure(inputs, dest)
    else:
        raise ValueError(f"{job.name}: unknown figure kind {job.kind!r}")


def make_figures(params, out: str | Path = FIGURES_PAPER, root: str | Path = ".") -> list[str]:
    """Write every figure of :func:`figure_plan` into ``out/<kind>/``, reading the inputs under ``root``; a kind
    with no figure for these params gets a ``none.png`` saying why (every kind folder is an output). The figures
    are drawn into a temporary folder that replaces ``out`` only once all are written. Returns the paths."""
    from .attribution_figures import note_png

    jobs = figure_plan(params, out)
    missing = [f"{j.name}: {root / p}" for j in jobs for p in j.inputs.values() if not (Path(root) / p).is_file()]
    if missing:  # checked before drawing anything: no half-written set of figures
        raise FileNotFoundError(f"missing input(s) of {len(missing)} figure(s):\n  " + "\n  ".join(missing))
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for kind in FIGURE_KINDS:
        (tmp / kind).mkdir(parents=True)
    for job in jobs:
        draw(job, root, tmp / Path(job.path).relative_to(out))
    for kind in FIGURE_KINDS:
        if not any(j.kind == kind for j in jobs):
            note_png(tmp / kind / "none.png", f"no {kind} figure", f"no protocol of these params has {kind} results")
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return [j.path for j in jobs]
