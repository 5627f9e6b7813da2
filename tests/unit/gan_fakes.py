"""Tiny stand-ins for the GAN-zoo nets (the contract of gan_contract.md) shared by the loss and training tests."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FakeD(nn.Module):
    """A two-conv discriminator offering everything a loss may need: logit (or an embedding), features, local map.

    ``embedding`` > 0: ``out`` is an (N, embedding) critic embedding instead of (N,) logits (mmdgan style).
    """

    def __init__(self, resolution: int = 16, width: int = 8, embedding: int = 0, batchnorm: bool = False):
        super().__init__()
        self.resolution, self.width, self.embedding = resolution, width, embedding
        self.local_dim, self.feature_dim = width, 2 * width
        self.out_dim = embedding or 1
        self.conv1 = nn.Conv2d(3, width, 4, 2, 1)
        self.conv2 = nn.Conv2d(width, 2 * width, 4, 2, 1)
        self.bn = nn.BatchNorm2d(2 * width) if batchnorm else nn.Identity()
        self.head = nn.Linear(2 * width, self.out_dim)
        self.steps: list[tuple[int, int]] = []

    def model_args(self) -> dict:
        return {"resolution": self.resolution, "width": self.width, "embedding": self.embedding}

    def set_step(self, step: int, total: int) -> None:
        self.steps.append((step, total))

    def forward_features(self, x):
        local = F.leaky_relu(self.conv1(x), 0.2)  # (N, width, R/2, R/2)
        h = F.leaky_relu(self.bn(self.conv2(local)), 0.2)
        feat = h.sum((2, 3))  # (N, 2·width)
        out = self.head(feat)
        return (out if self.embedding else out.squeeze(1)), feat, local

    def forward(self, x):
        return self.forward_features(x)[0]


class FakeG(nn.Module):
    """z → linear → tanh image (N, 3, R, R)."""

    latent = "normal"

    def __init__(self, resolution: int = 16, z_dim: int = 8, width: int = 8):
        super().__init__()
        self.resolution, self.z_dim, self.width = resolution, z_dim, width
        self.fc = nn.Linear(z_dim, 3 * resolution * resolution)

    def model_args(self) -> dict:
        return {"resolution": self.resolution, "z_dim": self.z_dim, "width": self.width}

    def set_step(self, step: int, total: int) -> None:
        pass

    def forward(self, z):
        return torch.tanh(self.fc(z)).view(z.shape[0], 3, self.resolution, self.resolution)
