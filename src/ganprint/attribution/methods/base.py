"""The attribution-method contract (minimal form; the attr-core branch owns the full base and the generic stages).

Every method is an :class:`AttributionMethod`: built from its hyperparameter section, the SORTED class names
(label i = classes[i], PAPERS §6.1) and the image resolution; ``fit`` on a :class:`TrainData`; ``scores`` per
class (higher = more likely); ``state()`` / ``load_state()`` of tensors and plain python only (they go into a
``weights_only`` checkpoint).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import nn


class TrainData:
    """Images + labels a method trains on: ``loader(batch_size, shuffle, seed)`` → iterable of
    ``(uint8 (N, 3, H, W), int64 (N,))`` batches (one pass = one epoch), ``len()``, per-row ``sources``."""

    sources: Sequence[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def loader(self, batch_size: int, shuffle: bool, seed: int, *, drop_last: bool = False) -> Iterable:
        raise NotImplementedError


class AttributionMethod:
    """An attribution method: images → per-class scores."""

    input: str = "pixel"  # "pixel" or "dct" where a method supports the switch (hparam ``input``)

    def __init__(self, hps, classes: list[str], resolution: int, device="cpu"):
        if list(classes) != sorted(classes) or len(set(classes)) != len(classes):
            raise ValueError(f"classes must be sorted and unique (PAPERS §6.1), got {list(classes)}")
        self.hps = hps
        self.classes = list(classes)
        self.resolution = int(resolution)
        self.device = torch.device(device)
        self.input = getattr(hps, "input", type(self).input)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def fit(self, train: TrainData, val: TrainData | None, train_cfg, stats) -> dict:
        """Train (``train_cfg``: epochs, batch_size, seed; ``stats``: a StatsWriter); returns metrics."""
        raise NotImplementedError

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, R, R) float in [-1, 1] → (N, K) per-class scores, higher = more likely."""
        raise NotImplementedError

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.scores(x).argmax(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, R, R) in [-1, 1] → (N, D) penultimate features (t-SNE, open-set)."""
        raise NotImplementedError

    def cam_layer(self) -> nn.Module | None:
        """The conv layer Grad-CAM hooks into; None for non-neural methods."""
        return None

    def state(self) -> dict:
        raise NotImplementedError

    def load_state(self, state: dict) -> None:
        raise NotImplementedError
