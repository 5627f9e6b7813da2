"""Training and inference throughput (img/s) of every registered attribution method, fp32 vs the optimised path.

For each method of ganprint.registry.METHODS (default hyperparameters; 3 classes of random uint8 images held
in memory, so the store reads are not part of it) at 32 and 128 px:

* ``train``: one ``fit`` over N images (batch 32; for knn / prnu: the one streaming pass that is their fit);
* ``infer``: ``scores`` over M images in batches of 250 (the evaluate_attribution default).

Networks (methods built on ``NeuralMethod``) are timed twice in the same process: fp32, and the optimised path
= bf16 autocast + channels_last + ``torch.compile`` — compile only on CUDA (on CPU it needs a C++ toolchain
and its warm-up would dominate these short runs; the JSON records which parts applied). The ratio is
optimised / fp32. A warm-up ``fit`` / ``scores`` on a few images runs first (compile, allocator, imports).

Writes benchmarks/results/attribution.json (or attribution_cuda.json on a GPU). Never part of the test
pass/fail (DESIGN.md).

    .venv/bin/python benchmarks/attribution.py [--quick] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from _machine import machine, version, write_result  # benchmarks/_machine.py (the script's folder is on sys.path)

from ganprint.attribution.methods import NeuralMethod, TensorTrainData, build_method
from ganprint.registry import METHODS
from ganprint.train.common import StatsWriter

RESULTS = Path(__file__).resolve().parent / "results"
CLASSES = ["a", "b", "c"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _data(n: int, res: int, seed: int) -> TensorTrainData:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, res, res), dtype=torch.uint8, generator=g)
    return TensorTrainData(images, torch.arange(n) % len(CLASSES))


def _build(name: str, res: int, device, optimised: bool):
    torch.manual_seed(0)
    m = build_method(name, None, CLASSES, res, device)
    applied = {}
    if optimised and isinstance(m, NeuralMethod):
        m.autocast_dtype = torch.bfloat16
        applied["bf16_autocast"] = True
        m.net = m.net.to(memory_format=torch.channels_last)
        m.channels_last = True
        applied["channels_last"] = True
        if m.device.type == "cuda":
            m.compiled = torch.compile(m.net)
            applied["torch_compile"] = True
        else:
            applied["torch_compile"] = "skipped on CPU"
    return m, applied


def _time_fit(m, data: TensorTrainData) -> float:
    cfg = SimpleNamespace(epochs=1, batch_size=32, seed=0)
    _sync(m.device)
    t = time.perf_counter()
    m.fit(data, None, cfg, StatsWriter(None, 1, "bench"))
    _sync(m.device)
    return time.perf_counter() - t


@torch.no_grad()
def _time_infer(m, data: TensorTrainData, batch: int = 250) -> float:
    x = data.images.float().div(127.5).sub(1.0).to(m.device)
    _sync(m.device)
    t = time.perf_counter()
    for i in range(0, len(x), batch):
        m.scores(x[i : i + batch])
    _sync(m.device)
    return time.perf_counter() - t


def bench(name: str, res: int, n_train: int, n_infer: int, device, optimised: bool) -> dict:
    m, applied = _build(name, res, device, optimised)
    _time_fit(m, _data(64, res, 1))  # warm-up: imports, allocator, compile
    _time_infer(m, _data(64, res, 2))
    m, _ = _build(name, res, device, optimised)
    if optimised and m.compiled is not None:  # compile once more for the fresh net (not timed)
        _time_fit(m, _data(64, res, 1))
    fit_s = _time_fit(m, _data(n_train, res, 3))
    infer_s = _time_infer(m, _data(n_infer, res, 4))
    return {
        "train_img_s": round(n_train / fit_s, 1),
        "infer_img_s": round(n_infer / infer_s, 1),
        "train_seconds": round(fit_s, 4),
        "infer_seconds": round(infer_s, 4),
        "applied": applied,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few images (a smoke run, minutes on 2 CPU cores)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--methods", nargs="*", default=list(METHODS), help="default: every registered method")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    out = args.out or RESULTS / ("attribution.json" if device.type == "cpu" else f"attribution_{device.type}.json")
    sizes = {32: (256, 500), 128: (64, 128)} if args.quick else {32: (4096, 10000), 128: (1024, 2500)}
    if device.type == "cuda":
        sizes = {r: (n * 8, m * 8) for r, (n, m) in sizes.items()}
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rows = {}
    for name in args.methods:
        for res, (n_train, n_infer) in sizes.items():
            probe = build_method(name, None, CLASSES, res, device)
            neural = isinstance(probe, NeuralMethod)
            entry = {"neural": neural, "train_images": n_train, "infer_images": n_infer}
            entry["fp32"] = bench(name, res, n_train, n_infer, device, optimised=False)
            if neural:
                entry["optimised"] = bench(name, res, n_train, n_infer, device, optimised=True)
                for k in ("train_img_s", "infer_img_s"):
                    entry[f"ratio_{k.split('_')[0]}"] = round(entry["optimised"][k] / entry["fp32"][k], 3)
            rows[f"{name}@{res}"] = entry
            print(f"{name} {res}px: {json.dumps(entry)}", file=sys.stderr)
    result = {
        "benchmark": "attribution methods: fit and scores throughput, fp32 vs bf16 + channels_last (+ compile)",
        "quick": args.quick,
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch_threads": torch.get_num_threads(),
        "results": rows,
        "python": platform.python_version(),
        "torch": version("torch"),
        "numpy": version("numpy"),
        "scikit-learn": version("scikit-learn"),
        "scipy": version("scipy"),
        "machine": machine(),
        "loadavg_1min_before": load_before,
    }
    write_result(out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
