"""Train an attribution classifier on a protocol's training split (Yu et al. 2019 postpool by default)."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import StageError, add_device, make_parser, pick_device, resolved_config, run
from ganprint.io import write_json

MODULES = [
    "src/ganprint/cli/train_classifier.py",
    "src/ganprint/attribution/train.py",
    "src/ganprint/attribution/splits.py",
    "src/ganprint/nets/postpool.py",
    "src/ganprint/nets/layers.py",
]

# params.yaml keys this stage reads ({…} = its selectors); both front-ends track exactly these.
PARAMS = ["train_classifier", "protocols.{protocol}"]

EXAMPLE = """
ganprint train-classifier --params params.yaml --protocol closed_set --method postpool \\
    --out results/models/classifier/closed_set/postpool \\
    --metrics results/metrics/train_classifier/closed_set/postpool.json
"""


def checked_split(params, protocol: str, method: str, split: str):
    """The ``split`` of ``--protocol`` after checking that protocol and ``--method`` are in params.yaml."""
    from ganprint.attribution.splits import protocol_split

    if protocol not in params.protocols:
        raise StageError(f"--protocol {protocol!r} is not in params.yaml protocols: {', '.join(params.protocols)}")
    if method not in params.train_classifier.methods:
        raise StageError(f"--method {method!r} is not in train_classifier.methods {params.train_classifier.methods}")
    return protocol_split(params, protocol, split)


def main(argv: list[str] | None = None) -> int:
    p = make_parser("train-classifier", __doc__, EXAMPLE)
    add_device(p)
    p.add_argument("--protocol", required=True, help="protocol name (a key of params.protocols)")
    p.add_argument("--method", required=True, help="classifier method (train_classifier.methods)")
    p.add_argument("--out", type=Path, required=True, help="output dir: model.pt, stats.jsonl")
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON (training loss/accuracy)")

    def body(args, params):
        from ganprint.attribution.train import train_classifier

        split = checked_split(params, args.protocol, args.method, "train")
        metrics = train_classifier(
            split,
            params.train_classifier,
            args.method,
            args.out / "model.pt",
            args.out / "stats.jsonl",
            protocol=args.protocol,
            device=pick_device(args.device),
        )
        write_json(args.metrics, metrics)
        write_json(
            args.out / "resolved_config.json",
            resolved_config(params, "train_classifier", protocol=args.protocol, method=args.method)
            | {"protocol": resolved_config(params, "protocols")["protocols"][args.protocol]},
        )

    return run(p, argv, body)
