"""Sample a trained GAN into an image store; image i depends only on (generation seed, i)."""

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
ganprint generate-images --params params.yaml --dataset skimage --arch dcgan --loss nonsat --variant clean \\
    --seed 0 --model results/models/gan/skimage/dcgan/nonsat/clean/seed0/G.pt \\
    --out results/samples/skimage/dcgan/nonsat/clean/seed0
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("generate-images", __doc__, EXAMPLE)
    add_gan_selectors(p)
    add_device(p)
    p.add_argument("--model", type=Path, required=True, help="generator checkpoint (G.pt)")
    p.add_argument("--out", type=Path, required=True, help="output dir: images.lmdb, manifest.csv, samples.png")

    def body(args, params):
        from ganprint.generate import generate_images

        gan = gan_from_args(args, params)
        cfg = params.generate_images
        generate_images(
            args.model,
            args.out / "images.lmdb",
            args.out / "manifest.csv",
            args.out / "samples.png",
            num_images=cfg.num_images,
            seed=cfg.seed,
            batch_size=cfg.batch_size,
            grid_images=params.prepare_dataset.grid_images,
            label=gan.name,  # the manifest names the GAN: <dataset>-<arch>-<loss>-<variant>-seed<seed>
            device=pick_device(args),
        )
        write_json(args.out / "resolved_config.json", resolved_config(params, "generate_images", **gan.selectors()))

    return run(p, argv, body)
