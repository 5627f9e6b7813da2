"""The attribution-method interface every method implements (the attribution-method contract).

A method is a plain python object: built from its hyperparameter section, the sorted class names (label i =
``classes[i]``, PAPERS.md §6.1) and the image resolution; trained by :meth:`fit`; asked for per-class scores
of images in [-1, 1]; checkpointed through :meth:`state` / :meth:`load_state` (tensors and plain python only,
loaded with ``weights_only=True``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn


class AttributionMethod:
    """Base class of the attribution methods; subclasses implement every method below."""

    input: str = "pixel"  # "pixel" or "dct", where a method supports the switch (hparam ``input``)

    def __init__(self, hps, classes: list[str], resolution: int, device) -> None:
        """Build the method for ``classes`` (sorted names) and ``resolution`` px images, on ``device``."""
        self.hps = hps
        self.classes = list(classes)
        self.resolution = resolution
        self.device = device

    def fit(self, train: Any, val: Any, train_cfg, stats) -> dict:
        """Train on ``train`` (a TrainData: ``loader(batch_size, shuffle, seed)`` of (uint8 (N,3,H,W), int64 (N,))
        batches, ``len()``, per-row ``sources``), optionally watching ``val``; ``train_cfg`` has ``epochs,
        batch_size, seed``; progress goes to ``stats`` (a StatsWriter). Returns a dict of training numbers."""
        raise NotImplementedError

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """(N, K) per-class scores for float images (N, 3, H, W) in [-1, 1]; higher = more likely."""
        raise NotImplementedError

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(N,) int64: the argmax of :meth:`scores`."""
        return self.scores(x).argmax(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D) penultimate features (t-SNE, open-set)."""
        raise NotImplementedError

    def cam_layer(self) -> nn.Module | None:
        """The conv layer Grad-CAM hooks into; None for non-neural methods."""
        raise NotImplementedError

    def state(self) -> dict:
        """Everything :meth:`load_state` needs, as tensors and plain python."""
        raise NotImplementedError

    def load_state(self, state: dict) -> None:
        """Restore what :meth:`state` returned."""
        raise NotImplementedError
