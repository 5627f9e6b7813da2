"""Write dvc.yaml from the stage declarations (src/ganprint/stages.py) and the gans groups of params.yaml."""

from __future__ import annotations

import sys
from pathlib import Path

from ganprint.cli._common import StageError, make_parser, run

EXAMPLE = """
ganprint render-dvc              # rewrite dvc.yaml
ganprint render-dvc --check      # exit 2 when the committed dvc.yaml is stale (CI runs this)
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("render-dvc", __doc__, EXAMPLE)
    p.add_argument("--out", type=Path, default=Path("dvc.yaml"), help="file to write or check (default: dvc.yaml)")
    p.add_argument("--check", action="store_true", help="only check that --out is up to date")

    def body(args, params):
        from ganprint.io import write_text
        from ganprint.stages import render_dvc

        text = render_dvc(params)
        if not args.check:
            write_text(args.out, text)
            print(f"{args.out}: rendered")
            return
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is stale: run `ganprint render-dvc` and commit it", file=sys.stderr)
            raise StageError(f"{args.out} differs from the stage declarations and {args.params}")
        print(f"{args.out}: up to date")

    return run(p, argv, body)
