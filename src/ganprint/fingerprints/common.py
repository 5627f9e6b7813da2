"""Fingerprint bits, bit accuracy, PSNR and the reference text format (``<stem>.png <bits>`` per line)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganprint.io import atomic_path


def bit_accuracy(logits: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Per-image share of bits read correctly: 1 − mean |bits − (logits > 0)| (Yu et al. 2021 train.py)."""
    return 1.0 - (bits - (logits > 0).float()).abs().mean(dim=1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of images in [0, 1], (N, 3, H, W)."""
    mse = ((a - b) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return 10.0 * torch.log10(1.0 / mse)


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM of images in [0, 1], (N, 3, H, W): torchmetrics' StructuralSimilarityIndexMeasure with its
    defaults (Gaussian window 11, sigma 1.5, K = (0.01, 0.03)), data range 1."""
    from torchmetrics.image import StructuralSimilarityIndexMeasure

    metric = StructuralSimilarityIndexMeasure(data_range=1.0, reduction="none").to(a.device)
    return metric(a.float(), b.float()).reshape(-1)


def fingerprint_bits(bits: int, seed: int, count: int = 1) -> torch.Tensor:
    """``count`` fingerprints of ``bits`` uniform {0,1} bits from ``seed`` as float (count, bits)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (count, bits), generator=g).float()


def bits_to_str(b: torch.Tensor | np.ndarray) -> str:
    return "".join("1" if v > 0.5 else "0" for v in np.asarray(b).ravel())


def str_to_bits(s: str) -> torch.Tensor:
    if not s or set(s) - {"0", "1"}:
        raise ValueError(f"not a fingerprint bit string: {s!r}")
    return torch.tensor([float(c) for c in s])


def write_fingerprint_file(path: str | Path, names: list[str], bit_rows) -> None:
    """The reference format: one ``<name>.png <bitstring>`` line per image."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            for name, b in zip(names, bit_rows, strict=True):
                fh.write(f"{name}.png {bits_to_str(b)}\n")


def read_fingerprint_file(path: str | Path) -> dict[str, torch.Tensor]:
    out = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            name, bits = line.split()
            out[name.removesuffix(".png")] = str_to_bits(bits)
        except ValueError:
            raise ValueError(f"{path}:{n}: expected '<name>.png <bits>', got {line!r}") from None
    return out
