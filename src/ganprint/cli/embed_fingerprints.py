"""Embed one fingerprint of params `fingerprints` into a copy of a dataset with a trained encoder (Yu et al. 2021)."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import (
    StageError,
    add_device,
    check_dataset,
    make_parser,
    pick_device,
    resolved_config,
    run,
)
from ganprint.io import write_json

EXAMPLE = """
ganprint embed-fingerprints --params params.yaml --dataset skimage --fingerprint fingerprinted \\
    --data data/clean/skimage/images.lmdb \\
    --encoder results/models/fingerprint/skimage/encoder.pt --decoder results/models/fingerprint/skimage/decoder.pt \\
    --out data/fingerprinted/skimage --metrics results/metrics/embed_fingerprints/fingerprinted/skimage.json
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("embed-fingerprints", __doc__, EXAMPLE)
    add_device(p)
    p.add_argument("--dataset", required=True)
    p.add_argument(
        "--fingerprint",
        default="fingerprinted",
        help="a fingerprint's name in params fingerprints (the variant of the GANs trained on it)",
    )
    p.add_argument("--data", type=Path, required=True, help="clean image store (images.lmdb)")
    p.add_argument("--encoder", type=Path, required=True)
    p.add_argument("--decoder", type=Path, required=True, help="decoder, to check the embedded bits read back")
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output dir: images.lmdb, manifest.csv, embedded_fingerprints.txt, samples.png",
    )
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON (PSNR, SSIM, bit accuracy, the bits)")

    def body(args, params):
        from ganprint.fingerprints.embed import embed_fingerprints

        check_dataset(params, args.dataset)
        if args.fingerprint not in params.fingerprints:
            raise StageError(
                f"--fingerprint {args.fingerprint!r} is not in params.yaml fingerprints: "
                f"{', '.join(params.fingerprints)}"
            )
        metrics = embed_fingerprints(
            args.data,
            args.encoder,
            args.decoder,
            params.embed_fingerprints,
            args.out,
            seed=params.fingerprints[args.fingerprint].seed,
            label=f"{args.dataset}/{args.fingerprint}",
            device=pick_device(args),
        )
        write_json(args.metrics, metrics)
        write_json(
            args.out / "resolved_config.json",
            resolved_config(params, "embed_fingerprints", dataset=args.dataset, variant=args.fingerprint),
        )

    return run(p, argv, body)
