"""Interpretability figures of a trained attributor: Grad-CAM/CAM heat-maps, a t-SNE of features, visNet's figure."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import add_device, make_parser, pick_device, resolved_config, run
from ganprint.cli.train_classifier import add_job_args, check_job

EXAMPLE = """
ganprint interpret-attribution --params params.yaml --protocol closed_set --method postpool --seed 0 \\
    --split results/splits/closed_set.csv --model results/models/classifier/closed_set/postpool/seed0/model.pt \\
    --metrics results/metrics/evaluate_attribution/closed_set/postpool/seed0.json \\
    --out results/figures/attribution/closed_set/postpool/seed0
"""


def main(argv: list[str] | None = None) -> int:
    p = make_parser("interpret-attribution", __doc__, EXAMPLE)
    add_device(p)
    add_job_args(p, "the classifier seed the figures explain (the protocol's first)")
    p.add_argument("--split", type=Path, required=True, help="split manifest (build_split)")
    p.add_argument("--model", type=Path, required=True, help="classifier checkpoint (model.pt)")
    p.add_argument("--metrics", type=Path, default=None, help="evaluate_attribution metrics JSON (test accuracy)")
    p.add_argument("--out", type=Path, required=True, help="output dir: cam.png, tsne.png, fingerprints.png, "
                   "interpret.json")  # fmt: skip

    def body(args, params):
        from ganprint.attribution.splits import read_split
        from ganprint.report.attribution_figures import interpret_attribution

        check_job(params, args.protocol, args.method, args.seed)
        interpret_attribution(
            read_split(args.split),
            args.model,
            args.out,
            params.interpret_attribution,
            method_name=args.method,
            protocol=args.protocol,
            metrics_path=args.metrics,
            device=pick_device(args),
            workers=params.loader.workers,
            memory_budget_mb=params.loader.memory_budget_mb,
            extra={
                "resolved_config": resolved_config(
                    params, "interpret_attribution", protocol=args.protocol, method=args.method, seed=args.seed
                )
            },
        )

    return run(p, argv, body)
