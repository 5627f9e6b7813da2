"""PRNU-style baseline (Marra et al. 2019, "Do GANs leave artificial fingerprints?"; Yu et al. 2019 Table 1,
PAPERS §1.7 and §7.1 item 2): a denoiser residual averaged per class into a fingerprint, scored by correlation.

* Residual: grey (BT.601 luma) image in [-1, 1] minus its Gaussian-filtered self (``scipy.ndimage.gaussian_filter``,
  sigma ``hps.sigma``, mode "reflect"). Marra et al. use a wavelet / non-local denoiser; PyWavelets is not
  installed here and the Gaussian high-pass keeps exactly the high-frequency content GAN fingerprints live in.
* Fingerprint of class k: mean residual over class k's training images (streamed once, float64 sums).
* Score of an image for class k: normalised (Pearson) correlation of its residual with fingerprint k, i.e.
  both zero-meaned and scaled to unit norm. ``hps.scores``: ``softmax`` = softmax(corr / temperature) (rows sum
  to 1), ``correlation`` = the raw correlations in [-1, 1].
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from ganprint.train.common import from_uint8

from ..inputs import grey
from .base import AttributionMethod


def residual(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, 3, R, R) in [-1, 1] → (N, R·R) float64 noise residual ``grey − gaussian(grey)``."""
    g = grey(x.detach().to(torch.float64)).cpu().numpy()[:, 0]
    smooth = gaussian_filter(g, sigma=(0.0, sigma, sigma), mode="reflect")
    return torch.from_numpy(g - smooth).flatten(1)


def _normalise(v: torch.Tensor) -> torch.Tensor:
    v = v - v.mean(1, keepdim=True)
    return v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)


class PRNUMethod(AttributionMethod):
    def __init__(self, hps, classes, resolution, device="cpu"):
        super().__init__(hps, classes, resolution, device)
        self.fingerprints: torch.Tensor | None = None  # (K, R·R) float64

    def fit(self, train, val, train_cfg, stats) -> dict:
        k, d = self.num_classes, self.resolution**2
        total = torch.zeros(k, d, dtype=torch.float64)
        count = torch.zeros(k, dtype=torch.float64)
        for images, labels in train.loader(train_cfg.batch_size, False, train_cfg.seed):
            total.index_add_(0, labels, residual(from_uint8(images, "cpu"), self.hps.sigma))
            count += torch.bincount(labels, minlength=k).to(torch.float64)
        empty = [c for c, n in zip(self.classes, count.tolist(), strict=True) if n == 0]
        if empty:
            raise ValueError(f"prnu: classes {empty} have no training image to average a fingerprint from")
        self.fingerprints = total / count[:, None]
        stats.total = 1
        stats.add(1, images=float(count.sum()))
        return {"steps": 0, "images_per_class": dict(zip(self.classes, count.int().tolist(), strict=True))}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, K) normalised correlations with the K fingerprints."""
        if self.fingerprints is None:
            raise RuntimeError("prnu: fit or load_state first")
        r = _normalise(residual(x, self.hps.sigma))
        return (r @ _normalise(self.fingerprints).T).float().to(x.device)

    @torch.no_grad()
    def scores(self, x: torch.Tensor) -> torch.Tensor:
        corr = self.features(x)
        if self.hps.scores == "correlation":
            return corr
        return torch.softmax(corr / self.hps.temperature, 1)

    def state(self) -> dict:
        return {"fingerprints": self.fingerprints.clone()}

    def load_state(self, state: dict) -> None:
        self.fingerprints = state["fingerprints"].to(torch.float64)

    def fingerprint_images(self) -> np.ndarray:
        """(K, R, R) float64 fingerprints, e.g. to show them."""
        return self.fingerprints.reshape(self.num_classes, self.resolution, self.resolution).numpy()
