"""Synthetic attribution data for the method tests: three sources with obviously different fingerprints.

Every image is a random smooth brightness ramp (positive slopes, per-channel gain) plus a little i.i.d. noise
(σ = 2 grey levels); the sources add ``noise`` = one fixed Gaussian noise pattern (σ 25, a PRNU-like
fingerprint), ``periodic`` = a fixed ±30 checkerboard (the highest spatial frequency), ``smooth`` = nothing.
``unknown`` (for open-set tests) adds fixed ±40 vertical stripes of period 4, a fingerprint no class has.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

CLASSES = ["noise", "periodic", "smooth"]


def _pattern(kind: str, res: int) -> np.ndarray:
    ii, jj = np.mgrid[:res, :res]
    if kind == "noise":
        return np.random.default_rng(1234).normal(0, 25, (res, res, 1))
    if kind == "periodic":
        return np.where((ii + jj) % 2 == 0, 30.0, -30.0)[..., None]
    if kind == "unknown":
        return np.where(jj % 4 < 2, 40.0, -40.0)[..., None]
    return np.zeros((res, res, 1))


def images(kind: str, n: int, res: int, seed: int) -> np.ndarray:
    """(n, R, R, 3) uint8 images of source ``kind``."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, res)
    out = np.empty((n, res, res, 3), dtype=np.uint8)
    for i in range(n):
        a, b = rng.uniform(0, 40, 2)
        bg = 90 + rng.uniform(0, 60) + a * ramp[None, :, None] + b * ramp[:, None, None]
        img = bg * rng.uniform(0.8, 1.0, 3) + _pattern(kind, res) + rng.normal(0, 2, (res, res, 3))
        out[i] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return out


def tensors(n: int, res: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """uint8 (3n, 3, R, R) images of the three CLASSES (n each, in class order) and their labels."""
    x = np.concatenate([images(k, n, res, seed + 17 * i) for i, k in enumerate(CLASSES)])
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), np.repeat(np.arange(3), n)


def write_store(folder: Path, kind: str, n: int, res: int, seed: int) -> str:
    """An LMDB store (+ manifest.csv) of ``n`` images of ``kind``; returns the store path."""
    from ganprint.data.store import ImageStoreWriter

    with ImageStoreWriter(folder / "images.lmdb", folder / "manifest.csv") as w:
        for img in images(kind, n, res, seed):
            w.add(img)
    return str(folder / "images.lmdb")
