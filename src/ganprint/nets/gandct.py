"""Frank et al. 2020's "simple CNN" (gandct-conv; GANDCTAnalysis ``src/models.py::build_simple_cnn``, PAPERS §3.2).

conv3 → 3, ReLU; conv3 → 8, ReLU; avgpool 2; conv3 → 16, ReLU; avgpool 2; conv3 → 32, ReLU; flatten
(32 · (R/4)²); dense → num_classes (softmax in the loss). All convs 'same' zero padding; Keras's default
initialisation (glorot-uniform kernels, zero biases). About 39 k parameters at 128 px with one output (PAPERS
§3.2): the dense layer has 32 · (R/4)² · K weights; ~15 MMAC per 128² image (PAPERS §7).
"""

from __future__ import annotations

import torch
from torch import nn


class GanDCTConv(nn.Module):
    """(N, in_channels, R, R) → (N, num_classes) logits; R divisible by 4."""

    def __init__(self, resolution: int, num_classes: int, in_channels: int = 1):
        super().__init__()
        if resolution < 4 or resolution % 4:
            raise ValueError(f"resolution must be a multiple of 4, got {resolution}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.resolution, self.num_classes, self.in_channels = resolution, num_classes, in_channels
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 3, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.feature_dim = 32 * (resolution // 4) ** 2
        self.head = nn.Linear(self.feature_dim, num_classes)
        for m in self.modules():  # Keras defaults: glorot_uniform kernels, zero biases
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def model_args(self) -> dict:
        return {"resolution": self.resolution, "num_classes": self.num_classes, "in_channels": self.in_channels}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # (N, 32 · (R/4)²), after the last ReLU

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
