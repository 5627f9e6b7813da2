"""Compute a dataset's real InceptionV3 statistics for FID and KID once; every GAN of the dataset reuses them."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import add_device, check_dataset, make_parser, pick_device, resolved_config, run
from ganprint.io import write_json

EXAMPLE = """
ganprint fid-stats --params params.yaml --dataset skimage --data data/clean/skimage/images.lmdb \\
    --out results/fid/skimage
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("fid-stats", __doc__, EXAMPLE)
    add_device(p)
    p.add_argument("--dataset", required=True, help="dataset name (a key of params.datasets)")
    p.add_argument("--data", type=Path, required=True, help="the dataset's clean image store (images.lmdb)")
    p.add_argument("--out", type=Path, required=True, help="output dir: real_stats.pt, resolved_config.json")

    def body(args, params):
        from ganprint.evaluate_gan import compute_real_stats, keep_freed_memory

        keep_freed_memory()  # this process only: the network's activations reuse the heap
        check_dataset(params, args.dataset)
        compute_real_stats(args.data, params.fid, args.out / "real_stats.pt", device=pick_device(args))
        write_json(args.out / "resolved_config.json", resolved_config(params, "fid_stats", dataset=args.dataset))

    return run(p, argv, body)
