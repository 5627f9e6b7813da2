"""Evaluate a trained attributor on a protocol's test split (closed-set, cross-seed, ...)."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import add_device, make_parser, pick_device, run
from ganprint.cli.train_classifier import checked_split
from ganprint.io import write_json

MODULES = [
    "src/ganprint/cli/evaluate_attribution.py",
    "src/ganprint/attribution/evaluate.py",
    "src/ganprint/attribution/splits.py",
]

# params.yaml keys this stage reads ({…} = its selectors); both front-ends track exactly these.
PARAMS = ["evaluate_attribution", "train_classifier.images_per_class", "protocols.{protocol}"]

EXAMPLE = """
ganprint evaluate-attribution --params params.yaml --protocol cross_seed --method postpool \\
    --model results/models/classifier/cross_seed/postpool/model.pt \\
    --predictions results/predictions/cross_seed/postpool.csv \\
    --metrics results/metrics/evaluate_attribution/cross_seed/postpool.json
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("evaluate-attribution", __doc__, EXAMPLE)
    add_device(p)
    p.add_argument("--protocol", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--model", type=Path, required=True, help="classifier checkpoint (model.pt)")
    p.add_argument("--predictions", type=Path, required=True, help="per-image predictions CSV")
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON (accuracy, macro-F1, confusion)")

    def body(args, params):
        from ganprint.attribution.evaluate import evaluate_attribution

        split = checked_split(params, args.protocol, args.method, "test")
        metrics = evaluate_attribution(
            split,
            args.model,
            args.predictions,
            batch_size=params.evaluate_attribution.batch_size,
            device=pick_device(args.device),
        )
        metrics |= {"protocol": args.protocol, "method": args.method}
        write_json(args.metrics, metrics)

    return run(p, argv, body)
