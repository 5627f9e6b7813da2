"""Train an attribution method on the train part of a protocol's split (postpool, gandct, knn, prnu, ...)."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import StageError, add_device, make_parser, pick_device, resolved_config, run
from ganprint.io import write_json

EXAMPLE = """
ganprint train-classifier --params params.yaml --protocol closed_set --method postpool \\
    --split results/splits/closed_set.csv --out results/models/classifier/closed_set/postpool \\
    --metrics results/metrics/train_classifier/closed_set/postpool.json
"""


def check_job(params, protocol: str, method: str) -> None:
    """``--protocol`` and ``--method`` must be a job of the attribution grid (so their sections exist)."""
    grid = params.attribution
    if protocol not in grid.protocols:
        raise StageError(f"--protocol {protocol!r} is not in attribution.protocols {grid.protocols}")
    if method not in grid.methods:
        raise StageError(f"--method {method!r} is not in attribution.methods {grid.methods}")


def main(argv: list[str] | None = None) -> int:
    p = make_parser("train-classifier", __doc__, EXAMPLE)
    add_device(p)
    p.add_argument("--protocol", required=True, help="protocol name (a key of params.protocols)")
    p.add_argument("--method", required=True, help="attribution method (attribution.methods)")
    p.add_argument("--split", type=Path, required=True, help="split manifest (build_split)")
    p.add_argument("--out", type=Path, required=True, help="output dir: model.pt, stats.jsonl, resolved_config.json")
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON (training loss/accuracy)")

    def body(args, params):
        from ganprint.attribution.splits import read_split
        from ganprint.attribution.train import train_classifier

        check_job(params, args.protocol, args.method)
        metrics = train_classifier(
            read_split(args.split),
            params.train_classifier,
            params.method_hparams(args.method),
            args.method,
            args.out / "model.pt",
            args.out / "stats.jsonl",
            protocol=args.protocol,
            device=pick_device(args),
            workers=params.loader.workers,
            memory_budget_mb=params.loader.memory_budget_mb,
            open_set_tpr=params.evaluate_attribution.open_set_tpr,
            open_set_score=params.evaluate_attribution.open_set_score,
        )
        write_json(args.metrics, metrics)
        write_json(
            args.out / "resolved_config.json",
            resolved_config(params, "train_classifier", protocol=args.protocol, method=args.method),
        )

    return run(p, argv, body)
