"""Figures: PNG sample grids (deterministic bytes: no timestamps or software tags in the file)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from ganprint.io import atomic_path


def grid_image(images: np.ndarray, pad: int = 2) -> np.ndarray:
    """(N, H, W, 3) uint8 → one (rows·(H+pad)+pad, cols·(W+pad)+pad, 3) uint8 mosaic, near-square."""
    n, h, w, c = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        r, q = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        out[y : y + h, x : x + w] = img
    return out


def save_grid(images: np.ndarray, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(grid_image(images)).save(tmp, format="PNG")
