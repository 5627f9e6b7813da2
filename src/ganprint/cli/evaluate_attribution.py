"""Evaluate a trained attributor on the clean test part of a protocol's split (closed-set, cross-seed, ...)."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import add_device, make_parser, pick_device, run
from ganprint.cli.train_classifier import add_job_args, check_job
from ganprint.io import write_json

EXAMPLE = """
ganprint evaluate-attribution --params params.yaml --protocol cross_seed --method postpool --seed 0 \\
    --split results/splits/cross_seed.csv --model results/models/classifier/arch_closed/postpool/seed0/model.pt \\
    --predictions results/predictions/cross_seed/postpool/seed0.csv \\
    --metrics results/metrics/evaluate_attribution/cross_seed/postpool/seed0.json
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("evaluate-attribution", __doc__, EXAMPLE)
    add_device(p)
    add_job_args(p)
    p.add_argument("--split", type=Path, required=True, help="split manifest (build_split)")
    p.add_argument("--model", type=Path, required=True, help="classifier checkpoint (model.pt)")
    p.add_argument("--predictions", type=Path, required=True, help="per-image predictions CSV (store, key, scores)")
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON (accuracy, macro-F1, confusion)")

    def body(args, params):
        from ganprint.attribution.evaluate import evaluate_attribution
        from ganprint.attribution.splits import read_split

        check_job(params, args.protocol, args.method, args.seed)
        metrics = evaluate_attribution(
            read_split(args.split),
            args.model,
            args.predictions,
            batch_size=params.evaluate_attribution.batch_size,
            device=pick_device(args),
            workers=params.loader.workers,
            memory_budget_mb=params.loader.memory_budget_mb,
            tta=params.evaluate_attribution.tta,
            tta_vote=params.evaluate_attribution.tta_vote,
            open_set_tpr=params.evaluate_attribution.open_set_tpr,
            open_set_score=params.evaluate_attribution.open_set_score,
        )
        metrics |= {"protocol": args.protocol, "method": args.method, "seed": args.seed, "perturbation": "none"}
        write_json(args.metrics, metrics)

    return run(p, argv, body)
