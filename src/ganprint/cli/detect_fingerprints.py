"""Detect fingerprints in a dataset's real images and GAN samples; registry, calibrated attribution (Yu et al. 2021)."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import add_device, check_dataset, make_parser, pick_device, run

EXAMPLE = """
ganprint detect-fingerprints --params params.yaml --dataset skimage \\
    --decoder results/models/fingerprint/skimage/decoder.pt --real data/clean/skimage/images.lmdb \\
    --out results/fingerprints/skimage --registry results/fingerprint_attribution/skimage/registry.csv \\
    --by-step results/fingerprint_attribution/skimage/bit_accuracy_by_step.csv \\
    --metrics results/metrics/detect_fingerprints/skimage.json
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("detect-fingerprints", __doc__, EXAMPLE)
    add_device(p)
    p.add_argument("--dataset", required=True, help="dataset name (listed in params.yaml autoencoders)")
    p.add_argument("--decoder", type=Path, required=True, help="decoder.pt, or the authors' decoder state_dict")
    p.add_argument("--real", type=Path, required=True, help="the dataset's clean image store (calibration)")
    p.add_argument("--out", type=Path, required=True, help="output folder of the detected_fingerprints.txt files")
    p.add_argument("--registry", type=Path, required=True, help="registry CSV: fingerprint → bits → models")
    p.add_argument("--by-step", type=Path, required=True, help="CSV: bit accuracy of the sample grids by step")
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON")

    def body(args, params):
        from ganprint import paths as P
        from ganprint.errors import StageError
        from ganprint.fingerprints.detect import detect_dataset
        from ganprint.io import write_json

        check_dataset(params, args.dataset)
        if args.dataset not in params.autoencoders:
            raise StageError(f"--dataset {args.dataset!r} is not in params.yaml autoencoders {params.autoencoders}")
        gans = [
            {
                "name": g.name,
                "variant": g.variant,
                "images": P.SAMPLES_IMAGES.format(**g.selectors()),
                "subdir": str(
                    Path(P.DETECTED_DIR.format(**g.selectors())).relative_to(P.DETECTED_ROOT.format(dataset=g.dataset))
                ),
                "samples_dir": Path(P.GAN_DIR.format(**g.selectors())) / "samples",
            }
            for g in params.gan_list.values()
            if g.dataset == args.dataset
        ]
        fingerprints = {
            name: {"embedded": P.EMBEDDED_FINGERPRINTS.format(variant=name, dataset=args.dataset), "seed": f.seed}
            for name, f in params.fingerprints.items()
        }
        metrics = detect_dataset(
            args.dataset,
            args.decoder,
            args.real,
            gans,
            fingerprints,
            params.detect_fingerprints,
            args.out,
            args.registry,
            args.by_step,
            grid_images=params.train_gan.grid_images,
            device=pick_device(args),
        )
        write_json(args.metrics, metrics)

    return run(p, argv, body)
