"""Accuracy of an attributor under one perturbation (fixed strengths and random ones), plain vs immunized."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import add_device, make_parser, pick_device, run
from ganprint.cli.immunize_classifier import check_robustness_job
from ganprint.cli.train_classifier import add_job_args
from ganprint.io import atomic_path, write_json

EXAMPLE = """
ganprint evaluate-robustness --params params.yaml --protocol closed_set --method postpool --seed 0 \\
    --perturbation jpeg --split results/splits/closed_set.csv \\
    --model results/models/classifier/closed_set/postpool/seed0/model.pt \\
    --immunized results/models/immunized/closed_set/postpool/seed0/jpeg/model.pt \\
    --curve results/robustness/closed_set/postpool/seed0/jpeg.csv \\
    --metrics results/metrics/evaluate_robustness/closed_set/postpool/seed0/jpeg.json
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("evaluate-robustness", __doc__, EXAMPLE)
    add_device(p)
    add_job_args(p)
    p.add_argument("--perturbation", required=True, help="perturbation kind (protocols.<p>.robustness.perturbations)")
    p.add_argument("--split", type=Path, required=True, help="split manifest (build_split)")
    p.add_argument("--model", type=Path, required=True, help="the trained classifier (train_classifier's model.pt)")
    p.add_argument("--immunized", type=Path, required=True, help="the immunized one (immunize_classifier's model.pt)")
    p.add_argument("--curve", type=Path, required=True, help="CSV: accuracy per strength level (a DVC plot)")
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON (curve, random strengths)")

    def body(args, params):
        from ganprint.attribution.robustness import evaluate_robustness
        from ganprint.attribution.splits import read_split

        check_robustness_job(params, args.protocol, args.method, args.seed, args.perturbation)
        cfg = params.evaluate_robustness
        metrics, curve = evaluate_robustness(
            read_split(args.split),
            args.model,
            args.immunized,
            args.perturbation,
            batch_size=cfg.batch_size,
            device=pick_device(args),
            seed=cfg.seed,
            workers=params.loader.workers,
            memory_budget_mb=params.loader.memory_budget_mb,
        )
        with atomic_path(args.curve) as tmp:
            curve.to_csv(tmp, index=False, lineterminator="\n")
        sel = {"protocol": args.protocol, "method": args.method, "seed": args.seed, "perturbation": args.perturbation}
        write_json(args.metrics, metrics | sel)

    return run(p, argv, body)
