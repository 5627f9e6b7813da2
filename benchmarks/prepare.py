"""Throughput of prepare_dataset on CelebA-shaped JPEGs against a plain single-process PIL loop.

Makes N synthetic-but-photographic 178×218 JPEGs (crops of scikit-image's photos, resized, plus noise, quality
90) in a temp dir, then times, in the same run and on the same (page-cached) files:

* ganprint: ``prepare_dataset`` with source celeba, the yu2019 crop (128 px box at (89, 121), PAPERS §1.2) at
  resolution 128 (no resize), workers = all cores — end to end: listing, decoding, LMDB store, manifest,
  sample grid and report;
* baseline: one process, ``Image.open → convert('RGB') → crop → tobytes`` per file, nothing written.

Writes benchmarks/results/prepare.json. Never part of the test pass/fail (DESIGN.md).

    .venv/bin/python benchmarks/prepare.py [--images 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _machine import machine, version, write_result  # benchmarks/_machine.py (the script's folder is on sys.path)
from PIL import Image

from ganprint.config import DatasetCfg, PrepareDatasetCfg
from ganprint.data.prepare import cpu_count, prepare_dataset
from ganprint.data.sources import embedded_photos

RESULTS = Path(__file__).resolve().parent / "results" / "prepare.json"
W, H = 178, 218
BOX = (25, 57, 153, 185)  # (left, top, right, bottom): rows 57:185, cols 25:153


def make_faces(folder: Path, n: int, seed: int = 0) -> None:
    """``n`` photographic 178×218 JPEGs: random crops of the skimage photos, resized, with mild noise."""
    rng = np.random.default_rng(seed)
    photos = [Image.open(p).convert("RGB") for p in embedded_photos("skimage")]
    for i in range(n):
        ph = photos[int(rng.integers(len(photos)))]
        pw, phh = ph.size
        ch = int(rng.integers(min(phh, 120), phh + 1))
        cw = min(pw, int(ch * W / H))
        left, top = int(rng.integers(0, pw - cw + 1)), int(rng.integers(0, phh - ch + 1))
        im = ph.resize((W, H), Image.Resampling.BILINEAR, box=(left, top, left + cw, top + ch))
        a = np.asarray(im, dtype=np.int16) + rng.normal(0, 4, (H, W, 3)).astype(np.int16)
        Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(folder / f"{i + 1:06d}.jpg", quality=90)


def baseline(folder: Path) -> int:
    n = 0
    for name in sorted(os.listdir(folder)):
        im = Image.open(folder / name)
        im = im.convert("RGB")
        im.crop(BOX).tobytes()
        n += 1
    return n


def ganprint(folder: Path, out: Path, workers: int) -> int:
    cfg = DatasetCfg(source="celeba", path=str(folder), resolution=128, celeba_crop="yu2019")
    rep = prepare_dataset(cfg, PrepareDatasetCfg(workers=workers), out, dataset_name="bench")
    return rep["written"]


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=5000, help="number of JPEGs (default 5000)")
    p.add_argument("--workers", type=int, default=0, help="prepare_dataset workers, 0 = all cores (default)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each; the median is reported")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    workers = args.workers or cpu_count()

    load_before = _loadavg()
    with tempfile.TemporaryDirectory(prefix="ganprint-bench-") as tmp:
        folder = Path(tmp) / "faces"
        folder.mkdir()
        t = time.perf_counter()
        make_faces(folder, args.images)
        print(f"made {args.images} JPEGs in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        baseline(folder)  # warm the page cache
        base_s, gp_s = [], []
        for r in range(args.repeats):
            t = time.perf_counter()
            assert baseline(folder) == args.images
            base_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            assert ganprint(folder, Path(tmp) / f"out{r}", workers) == args.images
            gp_s.append(time.perf_counter() - t)
            print(f"run {r}: baseline {base_s[-1]:.3f} s, ganprint {gp_s[-1]:.3f} s", file=sys.stderr)

    baseline_img_s = args.images / statistics.median(base_s)
    ganprint_img_s = args.images / statistics.median(gp_s)
    result = {
        "benchmark": "prepare_dataset celeba yu2019 → 128 px (no resize), 178×218 JPEG q90",
        "images": args.images,
        "workers": workers,
        "cores": cpu_count(),
        "repeats": args.repeats,
        "ganprint_img_s": round(ganprint_img_s, 1),
        "baseline_img_s": round(baseline_img_s, 1),
        "ratio": round(ganprint_img_s / baseline_img_s, 3),
        "ganprint_seconds": [round(s, 4) for s in gp_s],
        "baseline_seconds": [round(s, 4) for s in base_s],
        "python": platform.pythonversion(),
        "torch": version("torch"),
        "PIL": version("pillow"),
        "numpy": version("numpy"),
        "machine": machine(),
        # other work on the machine skews both figures: the 1-minute load average before this script started
        "loadavg_1min_before": load_before,
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
