"""Write the paper tables (CSV + Markdown) from the metrics, the papers' numbers beside ours."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import make_parser, run

EXAMPLE = """
ganprint make-tables --params params.yaml --root . --out results/tables
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("make-tables", __doc__, EXAMPLE)
    p.add_argument("--root", type=Path, default=Path("."), help="project root holding results/metrics (default: .)")
    p.add_argument("--out", type=Path, required=True, help="output dir for <table>.csv and <table>.md")

    def body(args, params):
        from ganprint.report.tables import make_tables

        for f in make_tables(params, args.out, args.root):
            print(f)

    return run(p, argv, body)
