"""Captions and categories of the artifacts in Snakemake's report (``snakemake --report results/report.html``).

:data:`CAPTIONS` maps an artifact kind to its caption (a reStructuredText file under ``workflow/report/``, relative to
the repository root) and its report category; the rules wrap their outputs in
``report(path, caption=..., category=...)``. Snakemake resolves a caption path against the folder of the rule's
Snakefile, hence :func:`caption_from`.
"""

from __future__ import annotations

import os
from pathlib import Path

REPORT_DIR = "workflow/report"
WORKFLOW_DESCRIPTION = REPORT_DIR + "/workflow.rst"  # the Snakefile's ``report:`` directive

CAPTIONS: dict[str, tuple[str, str]] = {
    "table": (REPORT_DIR + "/table.rst", "Tables"),
    "confusion": (REPORT_DIR + "/confusion.rst", "Confusion matrices"),
    "robustness": (REPORT_DIR + "/robustness.rst", "Robustness"),
    "training": (REPORT_DIR + "/training.rst", "Training curves"),
    "gan_training": (REPORT_DIR + "/gan_training.rst", "Training curves"),
    "samples": (REPORT_DIR + "/samples.rst", "Sample grids"),
    "tsne": (REPORT_DIR + "/tsne.rst", "Interpretability"),
    "cam": (REPORT_DIR + "/cam.rst", "Interpretability"),
    "fingerprints": (REPORT_DIR + "/fingerprints.rst", "Interpretability"),
    "fingerprint_robustness": (REPORT_DIR + "/fingerprint_robustness.rst", "Fingerprints"),
}


def caption_from(kind: str, basedir: str | Path) -> str:
    """The caption path of ``kind`` relative to ``basedir`` (a rule file's folder, e.g. ``workflow/rules`` →
    ``../report/<kind>.rst``), as Snakemake's ``report(caption=...)`` wants it. Both relative to the repo root."""
    return Path(os.path.relpath(CAPTIONS[kind][0], basedir)).as_posix()
