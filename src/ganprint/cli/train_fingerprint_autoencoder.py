"""Train the StegaStamp-style fingerprint encoder/decoder on a dataset (Yu et al. 2021)."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import StageError, add_device, make_parser, pick_device, resolved_config, run
from ganprint.io import write_json

EXAMPLE = """
ganprint train-fingerprint-autoencoder --params params.yaml --dataset skimage \\
    --data data/clean/skimage/images.lmdb --out results/models/fingerprint/skimage \\
    --metrics results/metrics/train_fingerprint_autoencoder/skimage.json
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("train-fingerprint-autoencoder", __doc__, EXAMPLE)
    add_device(p)
    p.add_argument("--dataset", required=True, help="dataset name (listed in params.yaml autoencoders)")
    p.add_argument("--data", type=Path, required=True, help="training image store (images.lmdb)")
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output dir: encoder.pt, decoder.pt, stats.jsonl, curves.csv (resume.pt while running)",
    )
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON (bit accuracy, PSNR)")

    def body(args, params):
        from ganprint.fingerprints.train import train_fingerprint_autoencoder

        cfg = params.train_fingerprint_autoencoder
        if args.dataset not in params.autoencoders:
            raise StageError(f"--dataset {args.dataset!r} is not in params.yaml autoencoders {params.autoencoders}")
        metrics = train_fingerprint_autoencoder(
            args.data,
            cfg,
            args.out / "encoder.pt",
            args.out / "decoder.pt",
            args.out / "stats.jsonl",
            out_curves=args.out / "curves.csv",
            device=pick_device(args),
        )
        write_json(args.metrics, metrics)
        write_json(
            args.out / "resolved_config.json",
            resolved_config(params, "train_fingerprint_autoencoder", dataset=args.dataset),
        )

    return run(p, argv, body)
