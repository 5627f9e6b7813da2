"""Write the JSON schema of params.yaml for editors (workflow/schemas/params.schema.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ganprint.cli._common import StageError, make_parser, run

SCHEMA = Path("workflow/schemas/params.schema.json")
EXAMPLE = """
ganprint schema            # rewrite workflow/schemas/params.schema.json
ganprint schema --check    # exit 2 when it is stale
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("schema", __doc__, EXAMPLE)
    p.add_argument("--out", type=Path, default=SCHEMA)
    p.add_argument("--check", action="store_true", help="only check that --out is up to date")
    p.set_defaults(params=None)

    def body(args, _params):
        from ganprint.config import json_schema
        from ganprint.io import write_text

        text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
        if args.check:
            if not args.out.is_file() or args.out.read_text(encoding="utf-8") != text:
                print(f"{args.out} is stale: run `ganprint schema`", file=sys.stderr)
                raise StageError(f"{args.out} differs from the params models")
            return
        write_text(args.out, text)
        print(f"{args.out}: written")

    return run(p, argv, body, needs_params=False)
