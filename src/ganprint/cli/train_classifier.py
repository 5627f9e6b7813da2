"""Train an attribution method on the train part of a protocol's split (postpool, gandct, knn, prnu, ...)."""

from __future__ import annotations

from pathlib import Path

from ganprint.cli._common import StageError, add_device, make_parser, pick_device, resolved_config, run
from ganprint.io import write_json

EXAMPLE = """
ganprint train-classifier --params params.yaml --protocol closed_set --method postpool --seed 0 \\
    --split results/splits/closed_set.csv --out results/models/classifier/closed_set/postpool/seed0 \\
    --metrics results/metrics/train_classifier/closed_set/postpool/seed0.json
"""


def check_job(params, protocol: str, method: str, seed: int | None = None) -> None:
    """``--protocol``, ``--method`` and ``--seed`` must be a job of the attribution grid (so their sections exist):
    the method and seed among those of the protocol that trains the classifiers ``protocol`` uses."""
    grid = params.attribution
    if protocol not in grid.protocols:
        raise StageError(f"--protocol {protocol!r} is not in attribution.protocols {grid.protocols}")
    x = params.train_protocol(protocol)
    if method not in params.protocol_methods(protocol):
        raise StageError(f"--method {method!r} is not in protocols.{x}.methods {params.protocol_methods(protocol)}")
    if seed is not None and seed not in params.protocol_seeds(protocol):
        raise StageError(f"--seed {seed} is not in protocols.{x}.seeds {params.protocol_seeds(protocol)}")


def add_job_args(p, seed_help: str = "classifier seed (one of the protocol's seeds)") -> None:
    """The selectors of an attribution job: protocol, method, seed."""
    p.add_argument("--protocol", required=True, help="protocol name (a key of params.protocols)")
    p.add_argument("--method", required=True, help="attribution method (one of the protocol's methods)")
    p.add_argument("--seed", required=True, type=int, help=seed_help)


def main(argv: list[str] | None = None) -> int:
    p = make_parser("train-classifier", __doc__, EXAMPLE)
    add_device(p)
    add_job_args(p)
    p.add_argument("--split", type=Path, required=True, help="split manifest (build_split)")
    p.add_argument("--out", type=Path, required=True, help="output dir: model.pt, stats.jsonl, resolved_config.json")
    p.add_argument("--metrics", type=Path, required=True, help="metrics JSON (training loss/accuracy)")

    def body(args, params):
        from ganprint.attribution.splits import read_split
        from ganprint.attribution.train import TrainSettings, train_classifier

        check_job(params, args.protocol, args.method, args.seed)
        if params.protocols[args.protocol].classifier:
            raise StageError(
                f"protocol {args.protocol!r} evaluates the classifiers of "
                f"{params.protocols[args.protocol].classifier!r}; train those instead"
            )
        cfg = params.train_classifier
        metrics = train_classifier(
            read_split(args.split),
            TrainSettings(cfg.epochs, cfg.batch_size, args.seed),
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
        write_json(args.metrics, metrics | {"protocol": args.protocol, "method": args.method, "seed": args.seed})
        write_json(
            args.out / "resolved_config.json",
            resolved_config(params, "train_classifier", protocol=args.protocol, method=args.method, seed=args.seed),
        )

    return run(p, argv, body)
