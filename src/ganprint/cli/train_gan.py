"""Train one GAN per {dataset, arch, loss, variant, seed} (the design card's GAN training per seed)."""

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
ganprint train-gan --params params.yaml --dataset skimage --arch dcgan --loss nonsat --variant clean --seed 0 \\
    --data data/clean/skimage/images.lmdb --out results/models/gan/skimage/dcgan/nonsat/clean/seed0
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("train-gan", __doc__, EXAMPLE)
    add_gan_selectors(p)
    add_device(p)
    p.add_argument("--data", type=Path, required=True, help="training image store (images.lmdb)")
    p.add_argument("--out", type=Path, required=True, help="output dir: G.pt, stats.jsonl, resolved_config.json")

    def body(args, params):
        from ganprint.train.gan import train_gan

        gan = gan_from_args(args, params)
        args.out.mkdir(parents=True, exist_ok=True)
        train_gan(
            args.data,
            params.train_gan,
            params.arch_hparams(gan.arch),
            gan,
            args.out / "G.pt",
            args.out / "stats.jsonl",
            device=pick_device(args),
            extra={"params": resolved_config(params, "train_gan", **gan.selectors())},
        )
        write_json(args.out / "resolved_config.json", resolved_config(params, "train_gan", **gan.selectors()))

    return run(p, argv, body)
