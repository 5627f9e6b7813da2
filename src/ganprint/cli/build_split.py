"""Write a protocol's split manifest: store, key, sha1, label and train/val/test membership of every image."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ganprint.cli._common import StageError, make_parser, run
from ganprint.io import write_json

EXAMPLE = """
ganprint build-split --params params.yaml --protocol closed_set \\
    --out results/splits/closed_set.csv --metrics results/metrics/build_split/closed_set.json
"""


def check_protocol(params, protocol: str) -> None:
    if protocol not in params.protocols:
        raise StageError(f"--protocol {protocol!r} is not in params.yaml protocols: {', '.join(params.protocols)}")


def main(argv: list[str] | None = None) -> int:
    p = make_parser("build-split", __doc__, EXAMPLE)
    p.add_argument("--protocol", required=True, help="protocol name (a key of params.protocols)")
    p.add_argument("--out", type=Path, required=True, help="split manifest CSV")
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON (images per split and class)")

    def body(args, params):
        from ganprint.attribution.splits import build_split, write_split
        from ganprint.paths import source_store

        check_protocol(params, args.protocol)

        def sources(split):
            return {
                cls: [(s, source_store(params, s)) for s in srcs]
                for cls, srcs in params.protocol_sources(args.protocol, split).items()
            }

        images = params.protocol_images(args.protocol).model_dump()
        df = build_split(sources("train"), images, sources("test"))
        write_split(df, args.out)
        per = Counter(zip(df["split"], df["label"], strict=True))
        write_json(
            args.metrics,
            {
                "protocol": args.protocol,
                "classifier_protocol": params.train_protocol(args.protocol),
                "images_per_source": images,
                "classes": sorted(df["label"].unique()),
                "images": {s: int((df["split"] == s).sum()) for s in ("train", "val", "test")},
                "images_per_class": {f"{s}/{c}": n for (s, c), n in sorted(per.items())},
            },
        )

    return run(p, argv, body)
