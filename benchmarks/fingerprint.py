"""Artificial-fingerprint throughput and the bit-accuracy / PSNR trade-off over the L2 weight (Yu et al. 2021, §2).

Two measurements:

* **throughput**: embed img/s (StegaStamp encoder forward on a batch of images + fingerprints, output rounded to
  uint8 as embed_fingerprints writes it) and detect img/s (decoder forward + thresholding), eval mode, no grad,
  at 32 and 128 px, on the CPU and, with ``--device cuda``, on a GPU. The networks are untrained (speed does not
  depend on the weights).
* **trade-off**: the autoencoder trained briefly on the embedded demo photographs (``ganprint.data.sources``,
  prepared at 32 px like the demo's ``skimage`` dataset) for several final L2 weights, everything else as
  params.yaml's schedule scaled down to the run's steps; reported: bit accuracy of the 8-bit fingerprinted images
  and their PSNR against the originals (``fingerprints.train.evaluate_autoencoder``). The paper uses 10.

Writes benchmarks/results/fingerprint.json (``fingerprint_cuda.json`` with ``--device cuda``). Never part of the
test pass/fail (DESIGN.md).

    .venv/bin/python benchmarks/fingerprint.py [--quick] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from _machine import machine, version, write_result  # benchmarks/_machine.py (the script's folder is on sys.path)

from ganprint.config import DatasetCfg, PrepareDatasetCfg, TrainFingerprintAutoencoderCfg
from ganprint.data.prepare import prepare_dataset
from ganprint.fingerprints.train import train_fingerprint_autoencoder
from ganprint.nets.stegastamp import StegaStampDecoder, StegaStampEncoder
from ganprint.train.common import to_uint8

RESULTS = Path(__file__).resolve().parent / "results"


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


@torch.no_grad()
def throughput(res: int, bits: int, batch: int, iters: int, warmup: int, device: torch.device) -> dict:
    """embed and detect img/s at ``res`` px."""
    torch.manual_seed(0)
    enc = StegaStampEncoder(resolution=res, bits=bits).to(device).eval()
    dec = StegaStampDecoder(resolution=res, bits=bits).to(device).eval()
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, res, res, generator=gen).to(device)
    b = torch.randint(0, 2, (batch, bits), generator=gen).float().to(device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def embed():
        return to_uint8(enc(x, b), "01")  # what embed_fingerprints writes: uint8 on the host

    def detect():
        return (dec(x) > 0).cpu()

    out = {"resolution": res, "batch": batch, "bits": bits}
    for name, fn in (("embed", embed), ("detect", detect)):
        for _ in range(warmup):
            fn()
        sync()
        t = time.perf_counter()
        for _ in range(iters):
            fn()
        sync()
        out[f"{name}_img_s"] = round(batch * iters / (time.perf_counter() - t), 1)
    out["encoder_params"] = sum(p.numel() for p in enc.parameters())
    out["decoder_params"] = sum(p.numel() for p in dec.parameters())
    return out


def tradeoff(weights: list[float], steps: int, images: int, device: torch.device, work: Path) -> dict:
    """Train the 32 px AE once per final L2 weight on the embedded photographs; bit accuracy and PSNR of each."""
    data = work / "skimage32"
    prepare_dataset(
        DatasetCfg(source="embedded", path="skimage", resolution=32, num_images=images, seed=0),
        PrepareDatasetCfg(workers=1, grid_images=16),
        data,
        dataset_name="skimage",
    )
    # params.yaml's demo schedule (bits 32, batch 32, lr 5e-4, await 200 / ramp 600 of 1500 steps), scaled to steps
    demo = TrainFingerprintAutoencoderCfg(bits=32, steps=1500, batch_size=32, lr=5e-4, l2_await=200, l2_ramp=600)
    scale = steps / demo.steps
    base = demo.model_copy(
        update={
            "steps": steps,
            "l2_await": max(0, round(demo.l2_await * scale)),
            "l2_ramp": max(1, round(demo.l2_ramp * scale)),
            "log_every": max(1, steps // 10),
        }
    )
    rows = []
    for w in weights:
        cfg = base.model_copy(update={"l2_weight": float(w)})
        t = time.perf_counter()
        m = train_fingerprint_autoencoder(
            data / "images.lmdb", cfg, work / f"w{w}" / "enc.pt", work / f"w{w}" / "dec.pt", device=device
        )
        seconds = time.perf_counter() - t
        rows.append(
            {
                "l2_weight": w,
                "bit_accuracy": round(m["bit_accuracy"], 4),
                "psnr_db": round(m["psnr_db"], 2),
                "bit_accuracy_clean_images": round(m["bit_accuracy_clean_images"], 4),
                "l2_schedule_started": m["l2_schedule_started"],
                "train_seconds": round(seconds, 1),
                "train_img_s": round(steps * cfg.batch_size / seconds, 1),
            }
        )
        print(
            f"L2 weight {w:6.2f}: bit accuracy {rows[-1]['bit_accuracy']:.4f}  PSNR {rows[-1]['psnr_db']:6.2f} dB"
            f"  ({seconds:.0f} s)",
            file=sys.stderr,
        )
    return {
        "data": f"embedded skimage photographs, {images} random crops at 32 px",
        "schedule": {k: v for k, v in base.model_dump().items() if k != "l2_weight"},
        "eval_images": min(512, images),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="about two minutes on 2 CPU cores")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--resolutions", type=int, nargs="+", default=[32, 128])
    p.add_argument("--bits", type=int, default=32, help="fingerprint bits (params.yaml demo: 32; paper: 100)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--l2-weights", type=float, nargs="+", default=[0.0, 1.0, 3.0, 10.0, 30.0])
    p.add_argument("--steps", type=int, default=1500, help="AE steps per L2 weight (params.yaml demo: 1500)")
    p.add_argument("--images", type=int, default=2000, help="demo photographs crops to train on")
    p.add_argument("--threads", type=int, default=0, help="torch threads, 0 = torch's default")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.iters, args.warmup, args.batch = 3, 1, 32
        args.l2_weights, args.steps, args.images = [0.0, 1.0, 10.0], 300, 512
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: no CUDA device visible", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    out = args.out or RESULTS / ("fingerprint.json" if device.type == "cpu" else "fingerprint_cuda.json")

    load_before = _loadavg()
    speed = []
    for res in args.resolutions:
        row = throughput(res, args.bits, args.batch, args.iters, args.warmup, device)
        speed.append(row)
        print(
            f"{res:4d} px: embed {row['embed_img_s']:9.1f} img/s  detect {row['detect_img_s']:9.1f} img/s",
            file=sys.stderr,
        )
    with tempfile.TemporaryDirectory(prefix="ganprint-bench-fp-") as work:
        trade = tradeoff(args.l2_weights, args.steps, args.images, device, Path(work))

    result = {
        "benchmark": "StegaStamp fingerprint embed/detect img/s; bit accuracy vs PSNR over the final L2 weight",
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "quick": args.quick,
        "iters": args.iters,
        "warmup": args.warmup,
        "threads": torch.get_num_threads(),
        "throughput": speed,
        "l2_tradeoff": trade,
        "python": platform.python_version(),
        "torch": version("torch"),
        "machine": machine(),
        # other work on the machine skews the timings: the 1-minute load average before this script started
        "loadavg_1min_before": load_before,
    }
    write_result(out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
