"""Bit accuracy of a fingerprinted GAN's samples under noise, blur, JPEG, crop, weight quantisation and fine-tuning."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import add_device, add_gan_selectors, gan_from_args, make_parser, pick_device, run
from ganprint.errors import StageError

EXAMPLE = """
ganprint fingerprint-robustness --params params.yaml --dataset skimage --arch dcgan --loss nonsat \\
    --variant fingerprinted --seed 0 \\
    --model results/models/gan/skimage/dcgan/nonsat/fingerprinted/seed0/G.pt \\
    --decoder results/models/fingerprint/skimage/decoder.pt \\
    --embedded data/fingerprinted/skimage/embedded_fingerprints.txt \\
    --data data/clean/skimage/images.lmdb \\
    --out results/fingerprint_robustness/skimage/dcgan/nonsat/fingerprinted/seed0 \\
    --metrics results/metrics/fingerprint_robustness/skimage/dcgan/nonsat/fingerprinted/seed0.json
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("fingerprint-robustness", __doc__, EXAMPLE)
    add_gan_selectors(p)
    add_device(p)
    p.add_argument("--model", type=Path, required=True, help="the GAN's G.pt (D.pt beside it: fine-tuning)")
    p.add_argument("--decoder", type=Path, required=True, help="the dataset's fingerprint decoder.pt")
    p.add_argument("--embedded", type=Path, required=True, help="embedded_fingerprints.txt of the GAN's data")
    p.add_argument("--data", type=Path, required=True, help="clean image store to fine-tune on")
    p.add_argument("--out", type=Path, required=True, help="output dir: bit_accuracy.csv, curves.png")
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON")

    def body(args, params):
        from ganprint.config import is_fingerprint_variant
        from ganprint.fingerprints.robustness import fingerprint_robustness
        from ganprint.io import write_json

        gan = gan_from_args(args, params)
        if not is_fingerprint_variant(gan.variant):
            raise StageError(
                f"GAN {gan.name} was not trained on fingerprinted data (variant {gan.variant!r}); "
                "fingerprint robustness needs variant fingerprinted or fp-<name>"
            )
        if not (args.model.parent / "D.pt").is_file():
            raise FileNotFoundError(f"{args.model.parent / 'D.pt'}: fine-tuning needs the GAN's discriminator")
        args.out.mkdir(parents=True, exist_ok=True)
        metrics = fingerprint_robustness(
            model=args.model,
            decoder=args.decoder,
            embedded=args.embedded,
            clean_data=args.data,
            gan=gan,
            cfg=params.fingerprint_robustness,
            train_cfg=params.train_gan,
            arch_cfg=params.arch_hparams(gan.arch),
            loss_cfg=params.loss_hparams(gan.loss),
            generate_seed=params.generate_images.seed,
            out_csv=args.out / "bit_accuracy.csv",
            out_figure=args.out / "curves.png",
            device=pick_device(args),
        )
        metrics["variant"] = gan.variant
        write_json(args.metrics, metrics)

    return run(p, argv, body)
