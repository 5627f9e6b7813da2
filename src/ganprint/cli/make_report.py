"""Write results/index.html: every results table and figure on one static page (works offline, from file://)."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import make_parser, run
from ganprint.paths import TABLES
from ganprint.report.index_page import INDEX, report_inputs  # noqa: F401 - report_inputs: for stages.py
from ganprint.report.paper_figures import FIGURES_PAPER

EXAMPLE = """
ganprint make-report --params params.yaml --root . --out results/index.html
python -m ganprint.report.browser results/index.html --screenshot index.png   # check it in headless Chromium
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("make-report", __doc__, EXAMPLE)
    p.add_argument("--root", type=Path, default=Path("."), help="project root holding results/ and data/ (default: .)")
    p.add_argument("--out", type=Path, default=Path(INDEX), help=f"the HTML page (default: {INDEX})")
    p.add_argument("--tables", default=TABLES, help=f"tables folder under --root (default: {TABLES})")
    p.add_argument(
        "--figures", default=FIGURES_PAPER, help=f"make-figures' output under --root (default: {FIGURES_PAPER})"
    )
    p.add_argument("--allow-missing", action="store_true", help="leave out missing figures (warned) instead of failing")

    def body(args, params):
        from ganprint.report.index_page import make_report

        print(make_report(params, args.out, args.root, tables_dir=args.tables, figures_dir=args.figures,
                          allow_missing=args.allow_missing))  # fmt: skip

    return run(p, argv, body)
