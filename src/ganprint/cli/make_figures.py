"""Draw the paper figures (confusion matrices, robustness, training curves, sample grids per source) as PNGs."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import make_parser, run
from ganprint.report.paper_figures import FIGURES_PAPER, figure_inputs, figure_paths  # noqa: F401 - for stages.py

EXAMPLE = """
ganprint make-figures --params params.yaml --root . --out results/figures/paper
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("make-figures", __doc__, EXAMPLE)
    p.add_argument("--root", type=Path, default=Path("."), help="project root holding results/ and data/ (default: .)")
    p.add_argument("--out", type=Path, default=Path(FIGURES_PAPER), help=f"output dir (default: {FIGURES_PAPER})")

    def body(args, params):
        from ganprint.report.paper_figures import make_figures

        for f in make_figures(params, args.out, args.root):
            print(f)

    return run(p, argv, body)
