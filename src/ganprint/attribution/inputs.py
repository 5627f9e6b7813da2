"""Input transforms of the attribution methods: pixels as they are, or Frank et al. 2020's log-DCT (PAPERS §7.1 item 3).

``dct``: grey (ITU-R BT.601 luma, Y = 0.299 R + 0.587 G + 0.114 B), orthonormal 2-D DCT-II, ``log(|c| + 1e-12)``,
then standardised per coefficient with the mean and std of the training images (Frank et al.'s
``GANDCTAnalysis``: ``scipy.fftpack.dct(..., norm='ortho')`` on both axes, ``log(abs(x) + 1e-12)``, then
``(x - mean) / std`` with the training set's per-coefficient statistics).

Why scipy: torch has no DCT, and scipy.fft.dctn(type=2, norm="ortho") is the exact orthonormal transform of the
reference implementation (scipy.fftpack's successor; same values), computed in float64 on the CPU. A method
on a GPU moves its (small, grey) batch to the CPU and back for it; the stats are streamed once over the
training data (float64 sums), so memory does not grow with the number of training images.

A transform is built from a method's ``input`` hyperparameter; its ``state()`` (the DCT statistics) goes into
the method's checkpoint.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import torch

from ganprint.train.common import from_uint8

INPUTS = ("pixel", "dct")
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as PIL's convert("L")
LOG_EPS = 1e-12  # Frank et al.: log(|c| + 1e-12)


def grey(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) → (N, 1, H, W), BT.601 luma (same range as the input)."""
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def log_dct(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) float in [-1, 1] → (N, 1, H, W) float32 ``log(|DCT-II_ortho(grey(x))| + 1e-12)``."""
    g = grey(x.detach().to(torch.float64)).cpu().numpy()
    c = scipy.fft.dctn(g, type=2, norm="ortho", axes=(-2, -1))
    return torch.from_numpy(np.log(np.abs(c) + LOG_EPS)).to(device=x.device, dtype=torch.float32)


class InputTransform:
    """What a method's network sees: ``pixel`` = the image in [-1, 1] (3 channels), ``dct`` = standardised log-DCT
    (1 channel). ``fit`` computes the DCT statistics from the training data (no-op for pixels)."""

    def __init__(self, kind: str = "pixel"):
        if kind not in INPUTS:
            raise ValueError(f"input must be one of {INPUTS}, got {kind!r}")
        self.kind = kind
        self.mean: torch.Tensor | None = None  # (1, H, W) float32, dct only
        self.std: torch.Tensor | None = None

    @property
    def channels(self) -> int:
        return 3 if self.kind == "pixel" else 1

    def fit(self, train, batch_size: int = 256, device="cpu") -> None:
        """Per-coefficient mean and std over ``train`` (a TrainData), streamed once in float64."""
        if self.kind == "pixel":
            return
        total, total_sq, n = None, None, 0
        for images, _ in train.loader(batch_size, shuffle=False, seed=0):
            c = log_dct(from_uint8(images, "cpu")).to(torch.float64)
            s, s2 = c.sum(0), c.square().sum(0)
            total = s if total is None else total + s
            total_sq = s2 if total_sq is None else total_sq + s2
            n += len(c)
        if n == 0:
            raise ValueError("no training images to compute the DCT statistics from")
        mean = total / n
        var = (total_sq / n - mean.square()).clamp_min(0.0)  # population std, as numpy's np.std
        self.mean = mean.float()
        self.std = var.sqrt().float().clamp_min(1e-8)  # a constant coefficient would divide by 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] → the network input."""
        if self.kind == "pixel":
            return x
        if self.mean is None:
            raise RuntimeError("the DCT input transform has no statistics; call fit(train) first")
        return (log_dct(x) - self.mean.to(x.device)) / self.std.to(x.device)

    def state(self) -> dict:
        out: dict = {"kind": self.kind}
        if self.mean is not None:
            out |= {"mean": self.mean.clone(), "std": self.std.clone()}
        return out

    def load_state(self, state: dict) -> None:
        self.kind = state["kind"]
        self.mean = state.get("mean")
        self.std = state.get("std")
