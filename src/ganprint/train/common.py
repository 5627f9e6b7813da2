"""Pieces every training loop shares: image batches from a store, progress lines and stats.jsonl."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ganprint.errors import StageError
from ganprint.io import atomic_path

log = logging.getLogger("ganprint")


def to_tensor(images: np.ndarray, device, value_range: str = "pm1") -> torch.Tensor:
    """(N, H, W, 3) uint8 → (N, 3, H, W) float32 in [-1, 1] (``pm1``) or [0, 1] (``01``)."""
    x = torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0 if value_range == "pm1" else x / 255.0


def from_uint8(x: torch.Tensor, device, value_range: str = "pm1") -> torch.Tensor:
    """A DataLoader batch (N, 3, H, W) uint8 → float32 on ``device``, the same values as :func:`to_tensor`.

    The uint8 batch crosses to the device (4× fewer bytes than float32) and is converted there.
    """
    x = x.to(device, non_blocking=True).float()
    return x / 127.5 - 1.0 if value_range == "pm1" else x / 255.0


def to_uint8(x: torch.Tensor, value_range: str = "pm1") -> np.ndarray:
    """(N, 3, H, W) float in [-1, 1] or [0, 1] → (N, H, W, 3) uint8, rounded and clipped."""
    scale = (x + 1.0) * 127.5 if value_range == "pm1" else x * 255.0
    return scale.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


class EpochSampler:
    """Random batches of indices, reshuffled each epoch by a numpy Generator (data order = f(seed))."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size = n, batch_size
        self.rng = np.random.default_rng(seed)
        self._perm = np.empty(0, dtype=np.int64)

    def next(self) -> np.ndarray:
        if len(self._perm) < self.batch_size:
            self._perm = np.concatenate([self._perm, self.rng.permutation(self.n)])
        idx, self._perm = self._perm[: self.batch_size], self._perm[self.batch_size :]
        return np.sort(idx)


class StatsWriter:
    """Fixed-width progress lines on the log and a deterministic stats.jsonl (no wall times inside).

    ``stream=False`` (default): stats.jsonl is written atomically on :meth:`close`. ``stream=True``: each row is
    appended and flushed as it comes, so a killed job keeps its log; ``rows`` given (a resumed run) rewrites the
    file with those rows first. ``progress=True`` shows a tqdm bar instead of the log lines when stderr is a TTY.
    """

    def __init__(
        self,
        path: str | Path | None,
        total: int,
        what: str,
        *,
        stream: bool = False,
        rows: list[dict] | None = None,
        progress: bool = False,
    ):
        self.path, self.total, self.what, self.stream = path, total, what, stream
        self.rows: list[dict] = list(rows or [])
        self.t0 = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.start = self.rows[-1]["step"] if self.rows else 0
        self._fh = None
        if stream and path is not None:
            with atomic_path(path) as tmp:  # a resumed run keeps exactly the rows of its checkpoint
                tmp.write_text("".join(_jsonl(r) for r in self.rows), encoding="utf-8")
            self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._bar = None
        if progress and self.tty:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=self.start, desc=what, unit="step", dynamic_ncols=True)

    def add(self, step: int, **values: float) -> None:
        row = {"step": step, **{k: round(float(v), 6) for k, v in values.items()}}
        self.rows.append(row)
        if self._fh is not None:
            self._fh.write(_jsonl(row))
            self._fh.flush()
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k != "step"}, refresh=False)
            return
        rate = (step - self.start) / max(time.perf_counter() - self.t0, 1e-9)
        vals = " ".join(f"{k}={v:9.4f}" for k, v in values.items())
        log.info("%s step %7d/%-7d %s  (%.1f steps/s)", self.what, step, self.total, vals, rate)

    def tick(self, step: int) -> None:
        """Move the progress bar to ``step`` (no-op without a bar)."""
        if self._bar is not None:
            self._bar.update(step - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            return
        if self.path is None or self.stream:
            return
        with atomic_path(self.path) as tmp:
            tmp.write_text("".join(_jsonl(r) for r in self.rows), encoding="utf-8")


def _jsonl(row: dict) -> str:
    return json.dumps(row, sort_keys=True) + "\n"


def check_finite(value: torch.Tensor, what: str, step: int) -> None:
    if not torch.isfinite(value):
        raise StageError(
            f"{what}: loss became {value.item()} at step {step}; training diverged. "
            "Lower the learning rate or change the seed; no model was written."
        )
