"""Export an image store as PNG files for people to look at (generated images as seed<index>.png)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ganprint.cli._common import make_parser, run

EXAMPLE = """
ganprint export results/samples/skimage/dcgan/nonsat/clean/seed0 --out exported/seed0 --limit 100
ganprint export data/clean/skimage/images.lmdb --out exported/skimage --overwrite
"""

NAMING = (
    "Names: an image of a generated store (manifest source seed<S>/<index>) is seed<index:06d>.png, its index in the "
    "generation, as in NVlabs' generate.py; any other store (real data, fingerprinted data, or a store without a "
    "manifest beside it) is image<index:06d>.png, its index in the store."
)


def main(argv: list[str] | None = None) -> int:
    p = make_parser("export", __doc__ + "\n\n" + NAMING, EXAMPLE)
    p.add_argument("store", type=Path, help="store folder (holding images.lmdb and manifest.csv) or an images.lmdb")
    p.add_argument("--out", type=Path, required=True, help="folder for the PNG files (created)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="export the first N images only (default: all)")
    p.add_argument("--overwrite", action="store_true", help="replace PNG files that already exist in --out")

    def body(args: argparse.Namespace, _params) -> None:
        from ganprint.export import export_pngs

        if args.limit is not None and args.limit < 1:
            p.error(f"--limit must be >= 1, got {args.limit}")
        export_pngs(args.store, args.out, limit=args.limit, overwrite=args.overwrite)

    return run(p, argv, body, needs_params=False)
