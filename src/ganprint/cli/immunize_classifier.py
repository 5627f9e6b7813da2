"""Immunize a trained attributor: fine-tune it on training images attacked by one perturbation (Yu et al. 2019)."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import StageError, add_device, make_parser, pick_device, resolved_config, run
from ganprint.cli.train_classifier import add_job_args, check_job
from ganprint.io import write_json

EXAMPLE = """
ganprint immunize-classifier --params params.yaml --protocol closed_set --method postpool --seed 0 \\
    --perturbation jpeg --split results/splits/closed_set.csv \\
    --model results/models/classifier/closed_set/postpool/seed0/model.pt \\
    --out results/models/immunized/closed_set/postpool/seed0/jpeg \\
    --metrics results/metrics/immunize_classifier/closed_set/postpool/seed0/jpeg.json
"""


def check_robustness_job(params, protocol: str, method: str, seed: int, perturbation: str) -> None:
    """The job must be one of the protocol's robustness jobs (its methods × perturbations, first seed)."""
    check_job(params, protocol, method, seed)
    rob = params.protocols[protocol].robustness
    if method not in rob.methods or perturbation not in rob.perturbations:
        raise StageError(
            f"protocols.{protocol}.robustness covers methods {rob.methods} × perturbations {rob.perturbations}; "
            f"got --method {method} --perturbation {perturbation}"
        )


def main(argv: list[str] | None = None) -> int:
    p = make_parser("immunize-classifier", __doc__, EXAMPLE)
    add_device(p)
    add_job_args(p)
    p.add_argument("--perturbation", required=True, help="perturbation kind (protocols.<p>.robustness.perturbations)")
    p.add_argument("--split", type=Path, required=True, help="split manifest (build_split)")
    p.add_argument("--model", type=Path, required=True, help="the trained classifier (train_classifier's model.pt)")
    p.add_argument("--out", type=Path, required=True, help="output dir: model.pt, stats.jsonl, resolved_config.json")
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON (fine-tuning loss/accuracy)")

    def body(args, params):
        from ganprint.attribution.robustness import immunize_classifier
        from ganprint.attribution.splits import read_split

        check_robustness_job(params, args.protocol, args.method, args.seed, args.perturbation)
        cfg = params.immunize_classifier
        metrics = immunize_classifier(
            read_split(args.split),
            cfg,
            args.model,
            args.perturbation,
            args.out / "model.pt",
            args.out / "stats.jsonl",
            p=cfg.p,
            protocol=args.protocol,
            device=pick_device(args),
            workers=params.loader.workers,
            memory_budget_mb=params.loader.memory_budget_mb,
        )
        sel = {"protocol": args.protocol, "method": args.method, "seed": args.seed, "perturbation": args.perturbation}
        write_json(args.metrics, metrics | sel)
        write_json(args.out / "resolved_config.json", resolved_config(params, "immunize_classifier", **sel))

    return run(p, argv, body)
