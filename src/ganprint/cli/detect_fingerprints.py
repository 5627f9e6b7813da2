"""Detect fingerprints in a GAN's samples and score them against the embedded fingerprint (Yu et al. 2021)."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import add_device, add_gan_selectors, gan_from_args, make_parser, pick_device, run

EXAMPLE = """
ganprint detect-fingerprints --params params.yaml --dataset skimage --arch dcgan --loss nonsat \\
    --variant fingerprinted --seed 0 \\
    --images results/samples/skimage/dcgan/nonsat/fingerprinted/seed0/images.lmdb \\
    --decoder results/models/fingerprint/skimage/decoder.pt \\
    --embedded data/fingerprinted/skimage/embedded_fingerprints.txt \\
    --out results/fingerprints/skimage/dcgan/nonsat/fingerprinted/seed0 \\
    --metrics results/metrics/detect_fingerprints/skimage/dcgan/nonsat/fingerprinted/seed0.json
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("detect-fingerprints", __doc__, EXAMPLE)
    add_gan_selectors(p)
    add_device(p)
    p.add_argument("--images", type=Path, required=True, help="image store to read (images.lmdb)")
    p.add_argument("--decoder", type=Path, required=True)
    p.add_argument("--embedded", type=Path, required=True, help="embedded_fingerprints.txt of the dataset")
    p.add_argument("--out", type=Path, required=True, help="output dir: detected_fingerprints.txt")
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON (bit accuracy)")

    def body(args, params):
        from ganprint.fingerprints.detect import detect_fingerprints
        from ganprint.io import write_json

        gan_from_args(args, params)  # refuses an unknown --dataset
        metrics = detect_fingerprints(
            args.images,
            args.decoder,
            args.embedded,
            params.detect_fingerprints,
            args.out / "detected_fingerprints.txt",
            device=pick_device(args),
        )
        metrics["variant"] = args.variant
        write_json(args.metrics, metrics)

    return run(p, argv, body)
