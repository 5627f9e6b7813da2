"""Shared CLI plumbing: the parser every stage starts from, logging, and the error → message contract."""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from ganprint.config import ConfigError, Params, load_params, lookup
from ganprint.errors import StageError  # noqa: F401 - re-exported for the stage CLIs

log = logging.getLogger("ganprint")


def make_parser(prog: str, description: str, example: str) -> argparse.ArgumentParser:
    """The parser every stage starts from: ``--params``, ``--device``, ``--log`` and an example in ``--help``."""
    p = argparse.ArgumentParser(
        prog=f"ganprint {prog}",
        description=description,
        epilog="example:\n" + textwrap.indent(example.strip(), "  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--params", default="params.yaml", type=Path, help="params file (default: params.yaml)")
    p.add_argument("--log", type=Path, default=None, help="also write the log to this file")
    return p


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="auto = a free GPU when one is visible, else the CPU (default); each process leases one GPU",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads for torch (default: $OMP_NUM_THREADS, which Snakemake sets to the rule's threads)",
    )


def setup_logging(log_file: Path | None) -> None:
    root = logging.getLogger("ganprint")
    root.setLevel(logging.INFO)
    for h in list(root.handlers):
        root.removeHandler(h)
    fmt = logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S")
    sh = logging.StreamHandler(sys.stderr)
    sh.setFormatter(fmt)
    root.addHandler(sh)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_file, mode="w", encoding="utf-8")
        fh.setFormatter(fmt)
        root.addHandler(fh)
    root.propagate = False


def run(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    body: Callable[[argparse.Namespace, Params], None],
    *,
    needs_params: bool = True,
) -> int:
    """Parse ``argv``, load and validate params, run ``body``; turn known failures into one clear line.

    Exit codes: 0 ok, 2 bad params / bad input / missing data (message on stderr), 130 interrupted.
    """
    args = parser.parse_args(argv)
    setup_logging(args.log)
    try:
        params = load_params(args.params) if needs_params else None
        body(args, params)
    except (ConfigError, StageError, FileNotFoundError) as e:
        log.error("%s: error: %s", parser.prog, e)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; no output was written under its final name", file=sys.stderr)
        return 130
    return 0


def resolved_config(params: Params, stage: str, **selectors) -> dict:
    """The params keys the stage depends on (its declaration's ``params``) plus its selectors, written beside
    its outputs: exactly what both front-ends track for this job."""
    from ganprint.stages import STAGES, job_selectors

    sel = job_selectors(params, selectors)
    out = {k.format(**sel): lookup(params, k.format(**sel)) for k in STAGES[stage].params}
    if selectors:
        out["selectors"] = selectors
    return out


def pick_device(args: argparse.Namespace):
    """The stage's device for its ``--device`` and ``--threads`` (see :mod:`ganprint.devices`)."""
    from ganprint.devices import acquire_device

    return acquire_device(args.device, threads=args.threads)


def add_gan_selectors(p: argparse.ArgumentParser) -> None:
    """The GAN selectors (one wildcard each in the workflow): dataset, arch, loss, variant, seed."""
    from pydantic import TypeAdapter

    from ganprint.config import GAN_ARCHS, GAN_LOSSES, VARIANTS, Variant

    def variant(v: str) -> str:
        try:
            return TypeAdapter(Variant).validate_python(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{v!r}: use {', '.join(VARIANTS)} or ft-<dataset>") from None

    p.add_argument("--dataset", required=True, help="dataset name (a key of params.datasets)")
    p.add_argument("--arch", required=True, choices=GAN_ARCHS)
    p.add_argument("--loss", required=True, choices=GAN_LOSSES)
    p.add_argument("--variant", required=True, type=variant, help=f"{', '.join(VARIANTS)} or ft-<dataset>")
    p.add_argument("--seed", required=True, type=int, help="training seed")


def check_dataset(params: Params, dataset: str) -> None:
    if dataset not in params.datasets:
        raise StageError(f"--dataset {dataset!r} is not in params.yaml datasets: {', '.join(params.datasets)}")


def gan_from_args(args: argparse.Namespace, params: Params):
    """The GAN the selectors name; it must be in the params grid (so its hyperparameter sections exist)."""
    from ganprint.config import gan_name

    check_dataset(params, args.dataset)
    name = gan_name(args.dataset, args.arch, args.loss, args.variant, args.seed)
    if name not in params.gan_list:
        raise StageError(f"GAN {name} is not in the params grid (gans); add it to a gans group in {args.params}")
    return params.gan_list[name]


def gan_label(args: argparse.Namespace) -> str:
    return f"{args.dataset}/{args.arch}/{args.loss}/{args.variant}/seed{args.seed}"
