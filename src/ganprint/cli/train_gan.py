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
from ganprint.errors import StageError
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
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output dir: G.pt, D.pt, stats.jsonl, loss_curves.csv, samples.png, samples/, resolved_config.json "
        "(and resume.pt while it runs: a rerun continues from it)",
    )

    def body(args, params):
        from ganprint.train.gan import train_gan

        gan = gan_from_args(args, params)
        if gan.finetune_dataset is not None:
            raise StageError(f"GAN {gan.name} is a fine-tuned variant; run `ganprint finetune-gan` for it")
        args.out.mkdir(parents=True, exist_ok=True)
        resolved = resolved_config(params, "train_gan", **gan.selectors())
        resolved["seeds"] = train_seeds(params.train_gan, gan)
        train_gan(
            args.data,
            params.train_gan,
            params.arch_hparams(gan.arch),
            gan,
            args.out,
            loss_cfg=params.loss_hparams(gan.loss),
            device=pick_device(args),
            extra={"params": resolved},
        )
        write_json(args.out / "resolved_config.json", resolved)

    return run(p, argv, body)


def train_seeds(cfg, gan) -> dict:
    """The seeds a GAN trains with (recorded in resolved_config.json; the checkpoints carry the same)."""
    data_seed = gan.seed if cfg.data_seed is None else cfg.data_seed
    return {"seed": gan.seed, "data_seed": data_seed, "latent_seed": gan.seed}
