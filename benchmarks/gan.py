"""Training and generation throughput of every GAN-zoo arch, fp32 eager against the optimised path, per resolution.

For each registered arch (demo-default widths from its params.yaml section, PAPERS §7.1) and resolution:

* train img/s: one D step + one G step on a batch (Adam; the non-saturating loss written inline on D's logit,
  for the mmdgan critic on the mean of its embedding; random "real" images), images per second of real batch;
* generate img/s: G in eval mode under ``torch.no_grad``.

Two paths are timed in the same process, so their ratio is meaningful even on a busy machine:

* ``eager``: fp32, contiguous (NCHW) tensors, no compilation;
* ``optimised``: channels_last tensors and weights, ``torch.compile`` of G and D, and bf16 autocast on CUDA. On
  the CPU, bf16 is left out (no bf16 matrix units on the machines we run: it is slower than fp32) and compilation
  is tried only with ``--compile`` (inductor builds C++ per network, minutes on 2 cores); whatever is skipped or
  fails is recorded with the reason in the JSON (``optimised_path``).

Writes benchmarks/results/gan.json. Never part of the test pass/fail (DESIGN.md).

    .venv/bin/python benchmarks/gan.py [--quick] [--resolutions 32 128] [--batch 64] [--iters 5] [--compile]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from _machine import machine, version, write_result  # benchmarks/_machine.py (the script's folder is on sys.path)

from ganprint import registry
from ganprint.nets import DISCRIMINATORS, GENERATORS

RESULTS = Path(__file__).resolve().parent / "results" / "gan.json"


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def build(arch: str, resolution: int, device: torch.device, channels_last: bool):
    torch.manual_seed(0)
    hps = registry.ARCHS[arch].hparams()
    g = GENERATORS[arch](resolution=resolution, **hps.generator_kwargs()).to(device)
    d = DISCRIMINATORS[arch](resolution=resolution, **hps.discriminator_kwargs()).to(device)
    if channels_last:
        g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
    return g, d


def _score(out: torch.Tensor) -> torch.Tensor:
    """D's logit, or for a critic embedding (mmdgan) its mean."""
    return out.float() if out.ndim == 1 else out.float().mean(1)


def time_path(arch: str, res: int, batch: int, iters: int, warmup: int, device, optimised: bool, compile_: bool):
    """(train img/s, generate img/s) of one path."""
    cl = optimised
    g, d = build(arch, res, device, channels_last=cl)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.0, 0.99))
    g_run, d_run = g, d
    if compile_:
        g_run, d_run = torch.compile(g), torch.compile(d)
    amp = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if optimised and device.type == "cuda"
        else contextlib.nullcontext()
    )
    gen = torch.Generator(device="cpu").manual_seed(0)
    real = (torch.rand(batch, 3, res, res, generator=gen) * 2 - 1).to(device)
    if cl:
        real = real.contiguous(memory_format=torch.channels_last)

    def latents():
        if g.latent == "uniform":
            return (torch.rand(batch, g.z_dim, generator=gen) * 2 - 1).to(device)
        return torch.randn(batch, g.z_dim, generator=gen).to(device)

    def train_step():
        z = latents()
        with amp:
            fake = g_run(z)
            loss_d = F.softplus(-_score(d_run(real))).mean() + F.softplus(_score(d_run(fake.detach()))).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        with amp:
            loss_g = F.softplus(-_score(d_run(fake))).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

    def gen_step():
        with torch.no_grad(), amp:
            g_run(latents())

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    rates = []
    for fn, mode in ((train_step, "train"), (gen_step, "eval")):
        g.train(mode == "train")
        d.train(mode == "train")
        for _ in range(warmup):
            fn()
        sync()
        t = time.perf_counter()
        for _ in range(iters):
            fn()
        sync()
        rates.append(batch * iters / (time.perf_counter() - t))
    return rates


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short CPU run: batch 16, 2 timed iterations, 1 warm-up")
    p.add_argument("--resolutions", type=int, nargs="+", default=[32, 128])
    p.add_argument("--archs", nargs="+", default=list(registry.ARCHS), choices=list(registry.ARCHS))
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--iters", type=int, default=5, help="timed iterations per path")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--compile", action="store_true", help="also torch.compile on the CPU (always tried on CUDA)")
    p.add_argument("--threads", type=int, default=0, help="torch threads, 0 = torch's default")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.quick:
        args.batch, args.iters, args.warmup = 16, 2, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    want_compile = device.type == "cuda" or args.compile
    if want_compile:
        optimised_path = "channels_last + torch.compile" + (" + bf16 autocast" if device.type == "cuda" else "")
    else:
        optimised_path = (
            "channels_last only: torch.compile skipped on CPU (pass --compile; inductor builds C++ per network, "
            "minutes on 2 cores); bf16 autocast only on CUDA (slower than fp32 on CPUs without bf16 units)"
        )

    load_before = _loadavg()
    rows = []
    for res in args.resolutions:
        for arch in args.archs:
            row = {"arch": arch, "resolution": res, "batch": args.batch}
            eager = time_path(arch, res, args.batch, args.iters, args.warmup, device, False, False)
            row["eager_train_img_s"], row["eager_generate_img_s"] = (round(r, 1) for r in eager)
            try:
                opt = time_path(arch, res, args.batch, args.iters, args.warmup, device, True, want_compile)
                compiled = want_compile
            except Exception as e:  # a compile failure is a result, not a crash: record why, time without it
                row["compile_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
                opt = time_path(arch, res, args.batch, args.iters, args.warmup, device, True, False)
                compiled = False
            row["optimised_train_img_s"], row["optimised_generate_img_s"] = (round(r, 1) for r in opt)
            row["compiled"] = compiled
            row["train_ratio"] = round(opt[0] / eager[0], 3)
            row["generate_ratio"] = round(opt[1] / eager[1], 3)
            hps = registry.ARCHS[arch].hparams()
            g = GENERATORS[arch](resolution=res, **hps.generator_kwargs())
            d = DISCRIMINATORS[arch](resolution=res, **hps.discriminator_kwargs())
            row["g_params"] = sum(q.numel() for q in g.parameters())
            row["d_params"] = sum(q.numel() for q in d.parameters())
            rows.append(row)
            print(
                f"{arch:10s} {res:4d} px  train {row['eager_train_img_s']:8.1f} → {row['optimised_train_img_s']:8.1f}"
                f" img/s ({row['train_ratio']:.2f}x)  generate {row['eager_generate_img_s']:8.1f} →"
                f" {row['optimised_generate_img_s']:8.1f} img/s ({row['generate_ratio']:.2f}x)",
                file=sys.stderr,
            )

    result = {
        "benchmark": "GAN zoo: one D step + one G step (train) and G eval forward (generate), demo-default widths",
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "quick": args.quick,
        "batch": args.batch,
        "iters": args.iters,
        "warmup": args.warmup,
        "threads": torch.get_num_threads(),
        "optimised_path": optimised_path,
        "rows": rows,
        "python": platform.python_version(),
        "torch": version("torch"),
        "machine": machine(),
        # other work on the machine skews both paths: the 1-minute load average before this script started
        "loadavg_1min_before": load_before,
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
