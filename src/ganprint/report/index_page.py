"""The make_report stage: ``results/index.html``, one page that links every results table and figure (issue 9 §6).

What it shows, from ``params`` (:func:`report_figures`) and ``results/tables`` (:func:`report_tables`):

* every table in ``results/tables`` (``<name>.md``/``.csv``; the paper tables first, in the papers' order);
* the make_figures figures (:func:`ganprint.report.paper_figures.figure_plan`);
* interpret_attribution's ``cam.png``, ``tsne.png`` and ``fingerprints.png`` of every protocol × method it ran for;
* fingerprint_robustness's ``curves.png`` of every fingerprinted GAN;
* the sample grids (``samples.png``) of every dataset, fingerprinted dataset and GAN.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ganprint import paths as P
from ganprint.config import is_fingerprint_variant

from .html import TABLE_SUFFIXES, write_index
from .paper_figures import DATA_GRID, FIGURES_PAPER, figure_plan, trained_grid
from .tables import classifier_protocol

log = logging.getLogger("ganprint")

INDEX = P.INDEX
# the paper tables first (make_tables' order), then any other table alphabetically
TABLE_ORDER = P.TABLE_NAMES
INTERPRET_FIGURES = {
    "cam.png": "Grad-CAM / CAM heat-maps",
    "tsne.png": "t-SNE of the features",
    "fingerprints.png": "Fingerprint visualisation",
}


def report_tables(tables_dir: str | Path) -> list[Path]:
    """One path per table in ``tables_dir`` (its ``.md``, else its ``.csv``), in :data:`TABLE_ORDER` then by name."""
    tables_dir = Path(tables_dir)
    stems = {f.stem for f in tables_dir.glob("*") if f.suffix in (".md", ".csv") and f.is_file()}
    order = {name: i for i, name in enumerate(TABLE_ORDER)}
    out = []
    for stem in sorted(stems, key=lambda s: (order.get(s, len(order)), s)):
        md = tables_dir / f"{stem}.md"
        out.append(md if md.exists() else tables_dir / f"{stem}.csv")
    return out


def interpret_protocols(params) -> list[str]:
    """The protocols interpret_attribution makes figures for: those that train their classifiers (first seed)."""
    return [p for p in params.attribution.protocols if classifier_protocol(params, p) == p]


def report_figures(params, figures_dir: str | Path = FIGURES_PAPER) -> list[tuple[str, str]]:
    """Every figure of the results page as ``(path relative to the project root, caption)``, page order (the page
    puts each in the section :func:`ganprint.report.html.figure_section` names)."""
    out: list[tuple[str, str]] = []
    for job in figure_plan(params, figures_dir):
        out.append((job.path, job.caption))
    for p in interpret_protocols(params):
        methods, seeds = trained_grid(params, p)
        for m in methods:
            base = P.FIGURES_ATTRIBUTION.format(protocol=p, method=m, seed=seeds[0])
            out += [(f"{base}/{f}", f"{what}: {p} / {m}") for f, what in INTERPRET_FIGURES.items()]
    for name, g in params.gan_list.items():
        if is_fingerprint_variant(g.variant):
            out.append((P.ROBUSTNESS_FIGURE.format(**g.selectors()), f"Fingerprint robustness: {name}"))
    for ds in params.datasets:
        out.append((DATA_GRID.format(variant="clean", dataset=ds), f"Samples: real images of {ds}"))
    for ds in params.autoencoders:
        for v in params.fingerprints:
            out.append((DATA_GRID.format(variant=v, dataset=ds), f"Samples: {ds} with fingerprint {v}"))
    for name, g in params.gan_list.items():
        out.append((P.SAMPLES_GRID.format(**g.selectors()), f"Samples: GAN {name}"))
    return out


def report_inputs(params, figures_dir: str | Path = FIGURES_PAPER) -> list[str]:
    """The figures make_report links (for the stage declaration's inputs; the tables are make_tables' outputs)."""
    return [f for f, _ in report_figures(params, figures_dir)]


def make_report(
    params,
    out: str | Path = INDEX,
    root: str | Path = ".",
    *,
    tables_dir: str | Path = P.TABLES,
    figures_dir: str | Path = FIGURES_PAPER,
    allow_missing: bool = False,
) -> Path:
    """Write the results page ``out`` linking every table under ``root/tables_dir`` and every figure of
    :func:`report_figures` (paths under ``root``).

    Raises:
        FileNotFoundError: a figure is missing (unless ``allow_missing``: then it is left out, with a warning).
    """
    root = Path(root)
    tables = report_tables(root / tables_dir)
    figures = []
    for f, caption in report_figures(params, figures_dir):
        if not (root / f).is_file():
            if not allow_missing:
                raise FileNotFoundError(f"{root / f}: figure missing (build it first, or pass --allow-missing)")
            log.warning("left out (missing): %s", root / f)
            continue
        figures.append((Path(f), caption))
    if not tables:
        log.warning("no table in %s (%s)", root / tables_dir, "/".join(TABLE_SUFFIXES))
    write_index(root, Path(out), tables, figures)
    return Path(out)
