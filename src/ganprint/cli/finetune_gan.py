"""Fine-tune a trained GAN on another dataset (variant ft-<dataset>; the cross-finetune protocol, PAPERS §4.4)."""

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
from ganprint.cli.train_gan import train_seeds
from ganprint.errors import StageError
from ganprint.io import write_json

EXAMPLE = """
ganprint finetune-gan --params params.yaml --dataset skimage --arch dcgan --loss nonsat --variant ft-sklearn \\
    --seed 0 --base-model results/models/gan/skimage/dcgan/nonsat/clean/seed0/G.pt \\
    --base-discriminator results/models/gan/skimage/dcgan/nonsat/clean/seed0/D.pt \\
    --out results/models/gan/skimage/dcgan/nonsat/ft-sklearn/seed0
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("finetune-gan", __doc__, EXAMPLE)
    add_gan_selectors(p)
    add_device(p)
    p.add_argument("--base-model", type=Path, required=True, help="the base GAN's G.pt (variant clean)")
    p.add_argument("--base-discriminator", type=Path, required=True, help="the base GAN's D.pt (same folder)")
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="fine-tuning image store (default: data/clean/<dataset of the variant>/images.lmdb)",
    )
    p.add_argument("--out", type=Path, required=True, help="output dir: the outputs of train-gan")

    def body(args, params):
        from ganprint import paths
        from ganprint.train.gan import finetune_gan

        gan = gan_from_args(args, params)
        if gan.finetune_dataset is None:
            raise StageError(f"GAN {gan.name} is not a fine-tuned variant (ft-<dataset>); run `ganprint train-gan`")
        if args.base_discriminator.parent != args.base_model.parent:
            raise StageError("--base-model and --base-discriminator must be the G.pt and D.pt of one GAN folder")
        data = args.data or Path(paths.DATA_IMAGES.format(variant="clean", dataset=gan.finetune_dataset))
        args.out.mkdir(parents=True, exist_ok=True)
        resolved = resolved_config(params, "finetune_gan", **gan.selectors())
        resolved["seeds"] = train_seeds(params.train_gan, gan)
        resolved["base"] = gan.base.name
        finetune_gan(
            data,
            params.train_gan,
            params.finetune_gan.steps,
            params.arch_hparams(gan.arch),
            gan,
            args.base_model.parent,
            args.out,
            loss_cfg=params.loss_hparams(gan.loss),
            device=pick_device(args),
            extra={"params": resolved},
        )
        write_json(args.out / "resolved_config.json", resolved)

    return run(p, argv, body)
