"""The prepare_dataset stage: crop/resize an image source into an LMDB store + manifest (DESIGN.md Contracts).

Outputs in ``out_dir``: ``images.lmdb`` (:class:`~ganprint.data.store.ImageStoreWriter`), ``manifest.csv``,
``samples.png`` (a grid of the first images, for people to look at) and ``report.json`` (what was read,
written and skipped, and why). Every output is a function of the source and the params only: no timestamps, no
timings, and the same bytes whatever the number of worker processes (results come back in input order).
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ganprint.config import DatasetCfg, PrepareDatasetCfg
from ganprint.data.images import SKIP_REASONS
from ganprint.data.sources import IMAGE_EXTENSIONS, Processor, list_items, make_processor
from ganprint.data.store import ImageStoreWriter
from ganprint.errors import StageError
from ganprint.io import write_json
from ganprint.report.figures import save_grid

log = logging.getLogger("ganprint")

STORE_NAME = "images.lmdb"
MANIFEST_NAME = "manifest.csv"
SAMPLES_NAME = "samples.png"
REPORT_NAME = "report.json"
OUTPUTS = (STORE_NAME, MANIFEST_NAME, SAMPLES_NAME, REPORT_NAME)

_MAX_CHUNK = 64  # items per pool task: large enough to amortise IPC, small enough to stop soon after `limit`
_EXAMPLES = 5  # skipped names kept per reason (report and error message)

_ADVICE = {
    "empty": "zero-byte files: re-copy or delete them",
    "not_an_image": "files with an image extension that are not images: delete or rename them",
    "corrupt": "truncated or damaged files: re-download or delete them",
    "unreadable": "files the OS refused (permissions, broken links): fix or delete them",
    "too_large": "images over PIL's decompression-bomb limit: shrink them first",
    "unsupported_mode": "pixel formats PIL cannot turn into RGB: convert them first",
    "too_small": "sources smaller than prepare_dataset.min_source_size (0 = the resolution) after cropping: "
    "lower datasets.<name>.resolution or prepare_dataset.min_source_size",
}


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one, e.g. under SLURM or taskset)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def _results(process: Processor, items: Iterable, workers: int, chunksize: int) -> Iterator[Iterable]:
    """``process`` over ``items`` in input order: in this process (workers == 1) or on a process pool."""
    if workers <= 1:
        yield map(process, items)
        return
    # fork on Linux: workers start in milliseconds and inherit the imported modules; spawn elsewhere and for
    # LMDB sources (an open LMDB environment must not cross a fork, and py-lmdb's guard would refuse it).
    fork = sys.platform.startswith("linux") and process.fork_safe
    ctx = multiprocessing.get_context("fork" if fork else "spawn")
    with ctx.Pool(workers) as pool:  # leaving the block terminates the pool (also after `limit` or an error)
        yield pool.imap(process, items, chunksize)


def _progress(results: Iterable, total: int) -> Iterator:
    """A tqdm bar when a person watches (stderr is a TTY), else an INFO line about every 10 %."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        yield from tqdm(results, total=total, unit="img", desc="prepare_dataset", leave=False)
        return
    every = max(total // 10, 1000)
    for n, r in enumerate(results, 1):
        if n % every == 0:
            log.info("prepare_dataset: %d/%d items read", n, total)
        yield r


def _skip_summary(counts: dict[str, int], examples: dict[str, list[str]]) -> str:
    parts = []
    for reason, n in counts.items():
        if n:
            eg = ", ".join(examples[reason][:3])
            parts.append(f"{reason} {n} (e.g. {eg})")
    return "; ".join(parts)


def _advice(counts: dict[str, int]) -> str:
    return " ".join(f"[{r}] {_ADVICE[r]}." for r, n in counts.items() if n and r in _ADVICE)


def prepare_dataset(cfg: DatasetCfg, prep: PrepareDatasetCfg, out_dir: str | Path, *, dataset_name: str) -> dict:
    """Crop and resize the source of ``cfg`` into ``out_dir`` (store, manifest, sample grid, report).

    Args:
        cfg: the dataset (``params.datasets[dataset_name]``).
        prep: the ``prepare_dataset`` params section.
        out_dir: output folder (created); gets images.lmdb, manifest.csv, samples.png, report.json.
        dataset_name: the dataset's name in params.yaml; the manifest's label.

    Returns:
        The report (also written as report.json).

    Raises:
        StageError: no usable image, or more than ``prep.max_skipped_fraction`` of the files skipped; nothing
            is written under the final names then.
        FileNotFoundError: the source folder / LMDB does not exist.
    """
    out_dir = Path(out_dir)
    embedded = cfg.source == "embedded"
    try:
        listing = list_items(cfg)
        process = make_processor(cfg, resize_filter=prep.resize_filter, min_side=prep.min_source_size)
    except StageError as e:
        raise StageError(f"datasets.{dataset_name}: {e}") from None
    except FileNotFoundError as e:
        raise FileNotFoundError(f"datasets.{dataset_name}: {e}") from None
    if listing.count == 0:
        what = "entries" if cfg.source == "lsun" else f"image files ({' '.join(IMAGE_EXTENSIONS)})"
        raise StageError(
            f"datasets.{dataset_name}: no {what} in {cfg.path}; point datasets.{dataset_name}.path at the "
            "images (hidden files and linked folders are not read)"
        )

    limit = 0 if embedded else cfg.limit
    expected = min(listing.count, limit) if limit else listing.count
    workers = prep.workers or cpu_count()
    chunksize = max(1, min(_MAX_CHUNK, expected // (workers * 8)))
    workers = max(1, min(workers, math.ceil(listing.count / chunksize)))
    res = cfg.resolution
    log.info(
        "prepare_dataset %s: %s source %s, %d items%s → %d px (%s), %d worker(s)",
        dataset_name,
        cfg.source,
        cfg.path,
        listing.count,
        f", limit {limit}" if limit else "",
        res,
        prep.resize_filter,
        workers,
    )

    counts = {r: 0 for r in SKIP_REASONS}
    examples: dict[str, list[str]] = {r: [] for r in SKIP_REASONS}
    grid: list[np.ndarray] = []
    seen = 0
    seed = cfg.seed if embedded else ""
    out_dir.mkdir(parents=True, exist_ok=True)
    with ImageStoreWriter(out_dir / STORE_NAME, out_dir / MANIFEST_NAME) as writer:
        with _results(process, listing.items, workers, chunksize) as results:
            for data, reason, name in _progress(results, expected):
                seen += 1
                if data is None:
                    counts[reason] = counts.get(reason, 0) + 1
                    ex = examples.setdefault(reason, [])
                    if len(ex) < _EXAMPLES:
                        ex.append(name)
                    continue
                img = np.frombuffer(data, dtype=np.uint8).reshape(res, res, 3)
                writer.add(img, source=name, label=dataset_name, seed=seed)
                if len(grid) < prep.grid_images:
                    grid.append(img)
                if limit and len(writer) >= limit:
                    break
        written = len(writer)
        skipped = seen - written
        fraction = skipped / seen if seen else 0.0
        # Raised inside the writer's block, so no store or manifest appears under its final name.
        if written == 0:
            raise StageError(
                f"datasets.{dataset_name}: no usable image in {cfg.path}: all {seen} files were skipped "
                f"({_skip_summary(counts, examples)}). {_advice(counts)}"
            )
        if fraction > prep.max_skipped_fraction:
            raise StageError(
                f"datasets.{dataset_name}: {skipped} of {seen} files skipped ({fraction:.1%}), more than "
                f"prepare_dataset.max_skipped_fraction = {prep.max_skipped_fraction:g}: "
                f"{_skip_summary(counts, examples)}. {_advice(counts)} Or, to accept the losses, raise "
                "prepare_dataset.max_skipped_fraction in params.yaml."
            )

    save_grid(np.stack(grid), out_dir / SAMPLES_NAME)
    report = {
        "dataset": dataset_name,
        "source": cfg.source,
        "path": cfg.path,
        "resolution": res,
        "resize_filter": prep.resize_filter,
        "min_source_size": prep.min_source_size or res,
        "limit": limit,
        "listed": listing.count,
        "seen": seen,
        "written": written,
        "skipped": skipped,
        "skipped_fraction": fraction,
        "skipped_by_reason": counts,
        "skipped_examples": {r: ex for r, ex in examples.items() if ex},
        "ignored": dict(listing.ignored),
        "grid_images": len(grid),
    }
    if embedded:
        report.update(num_images=cfg.num_images, crop_scale=list(cfg.crop_scale), seed=cfg.seed)
    if cfg.source == "celeba":
        report["celeba_crop"] = cfg.celeba_crop
    write_json(out_dir / REPORT_NAME, report)
    log.info(
        "prepare_dataset %s: %d images written, %d of %d skipped%s",
        dataset_name,
        written,
        skipped,
        seen,
        f" ({_skip_summary(counts, examples)})" if skipped else "",
    )
    return report
