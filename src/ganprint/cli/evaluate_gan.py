"""Score a GAN's samples: FID and KID against its dataset's real statistics (TF-FID InceptionV3)."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import (
    add_device,
    add_gan_selectors,
    gan_from_args,
    make_parser,
    pick_device,
    resolved_config,
    run,
)
from ganprint.io import write_json

EXAMPLE = """
ganprint evaluate-gan --params params.yaml --dataset skimage --arch dcgan --loss nonsat --variant clean --seed 0 \\
    --images results/samples/skimage/dcgan/nonsat/clean/seed0/images.lmdb \\
    --real-stats results/fid/skimage/real_stats.pt \\
    --metrics results/metrics/gan/skimage-dcgan-nonsat-clean-seed0.json
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("evaluate-gan", __doc__, EXAMPLE)
    add_gan_selectors(p)
    add_device(p)
    p.add_argument("--images", type=Path, required=True, help="the GAN's generated store (images.lmdb)")
    p.add_argument("--real-stats", type=Path, required=True, help="the dataset's real_stats.pt (fid-stats)")
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON (FID, KID, counts, weights, resize)")

    def body(args, params):
        from ganprint.evaluate_gan import evaluate_gan, keep_freed_memory

        keep_freed_memory()  # this process only: the network's activations reuse the heap
        gan = gan_from_args(args, params)
        metrics = evaluate_gan(args.images, args.real_stats, params.fid, device=pick_device(args))
        metrics["gan"] = gan.name
        metrics["params"] = resolved_config(params, "evaluate_gan", **gan.selectors())
        write_json(args.metrics, metrics)

    return run(p, argv, body)
