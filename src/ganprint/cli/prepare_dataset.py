"""Crop and resize an image source into an LMDB store + manifest (the design card's dataset cropping).

Reads ``datasets.<name>`` and ``prepare_dataset`` from params.yaml and writes, in ``--out``: images.lmdb,
manifest.csv, samples.png, report.json and resolved_config.json. Crops: PAPERS.md §1.2 (CelebA 128 px box at
(89, 121); LSUN centre square + resize) and §2.2 (CelebA CenterCrop 148).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ganprint.cli._common import StageError, make_parser, resolved_config, run
from ganprint.config import Params
from ganprint.io import write_json

EXAMPLE = "ganprint prepare-dataset --params params.yaml --dataset skimage --out data/clean/skimage"


def _body(args: argparse.Namespace, params: Params) -> None:
    from ganprint.data.prepare import prepare_dataset

    if args.dataset not in params.datasets:
        defined = ", ".join(params.datasets) or "(none)"
        raise StageError(f"--dataset {args.dataset!r} is not in params.yaml 'datasets'; defined: {defined}")
    cfg = params.datasets[args.dataset]
    prepare_dataset(cfg, params.prepare_dataset, args.out, dataset_name=args.dataset)
    write_json(args.out / "resolved_config.json", resolved_config(params, "prepare_dataset", dataset=args.dataset))


def main(argv: list[str] | None = None) -> int:
    parser = make_parser("prepare-dataset", (__doc__ or "").strip().splitlines()[0], EXAMPLE)
    parser.add_argument("--dataset", required=True, metavar="NAME", help="a key of params.yaml 'datasets'")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    return run(parser, argv, _body)


if __name__ == "__main__":
    raise SystemExit(main())
