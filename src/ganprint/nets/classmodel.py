"""Generator_Attribution class-modelling networks (arXiv 2203.09777; ``classifier/models.py``; PAPERS §3.2).

Primary (detection) module, "PatchGAN-inspired", strided convolutions instead of pooling, BN after every conv
but the first:

    Conv1 3×3 s1 → 3, ReLU | Conv2 4×4 s2 → 8 | Conv3 3×3 s1 → 16 | Conv4 4×4 s2 → 16 = mid features (¼ res)
    | Conv5 3×3 s1 → 32 | Conv6 4×4 s2 → 32 = detection features (⅛ res) → GAP → Dense(1)  (sigmoid = P(fake))

Secondary (attribution) module, one per source, branching from the mid features:
``conv3 s1 → 32, BN, ReLU, conv4 s2 → 32, BN, ReLU → GAP → Dense(1)`` (sigmoid = P(this source)).

Pixel inputs use the GAP head (the class-activation-map topology); DCT inputs (1 channel) a flatten head.
Keras "same" padding is 1 on each side for both the 3×3 stride-1 and the 4×4 stride-2 convolutions of an
even-sized input; Keras BatchNormalization defaults are momentum 0.99 (PyTorch 0.01, settable: short CPU runs
need faster running statistics) and ε 1e-3. Weights are
N(0, 0.02) (``RandomNormal(stddev=0.02)``), biases 0, BN scale 1 and shift 0. At 3 input channels and the GAP
head the modules have 27,053 and 21,217 parameters (Keras counts 27,261 and 21,345: it adds the BN running
statistics), the paper's "about 27k + 21k".
"""

from __future__ import annotations

import torch
from torch import nn

KERAS_BN_MOMENTUM = 0.01  # Keras BatchNormalization(momentum=0.99) in PyTorch's convention
_BN_EPS = 1e-3  # Keras BatchNormalization default


def _block(cin: int, cout: int, kernel: int, stride: int, bn_momentum: float) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, kernel, stride, padding=1),
        nn.BatchNorm2d(cout, eps=_BN_EPS, momentum=bn_momentum),
        nn.ReLU(),
    ]


def init_weights_(module: nn.Module, std: float, generator: torch.Generator | None = None) -> None:
    """Keras ``RandomNormal(stddev=std)`` kernels, zero biases, BN scale 1 and shift 0 (the Keras defaults)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, std, generator=generator)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class _Decision(nn.Module):
    """GAP → Dense(1) (pixel inputs) or Flatten → Dense(1) (DCT inputs); returns the logit (N,)."""

    def __init__(self, channels: int, head: str, spatial: int):
        super().__init__()
        if head not in ("gap", "flatten"):
            raise ValueError(f"head must be 'gap' or 'flatten', got {head!r}")
        self.head = head
        self.fc = nn.Linear(channels if head == "gap" else channels * spatial * spatial, 1)

    def pool(self, h: torch.Tensor) -> torch.Tensor:
        return h.mean((2, 3)) if self.head == "gap" else h.flatten(1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(h)).squeeze(1)


class ClassModelDetector(nn.Module):
    """Primary module: image (N, C, R, R) → (P(fake) logit (N,), mid features (N, 16, R/4, R/4),
    detection features (N, 32, R/8, R/8)).

    Args:
        resolution: input side R, a multiple of 8.
        in_channels: 3 for RGB pixels, 1 for the DCT input.
        head: "gap" (pixel inputs, CAM topology) or "flatten" (DCT inputs).
        bn_momentum: PyTorch BN momentum of the running statistics (Keras: 0.01).
    """

    def __init__(
        self, resolution: int, in_channels: int = 3, head: str = "gap", bn_momentum: float = KERAS_BN_MOMENTUM
    ):
        super().__init__()
        if resolution < 8 or resolution % 8:
            raise ValueError(f"resolution must be a multiple of 8, got {resolution}")
        self.resolution, self.in_channels, self.head_kind = resolution, in_channels, head
        self.bn_momentum = bn_momentum
        m = bn_momentum
        # Conv1 has no BN; Conv2-4 end at the mid features the attribution heads branch from
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 3, 3, 1, padding=1),
            nn.ReLU(),
            *_block(3, 8, 4, 2, m),
            *_block(8, 16, 3, 1, m),
            *_block(16, 16, 4, 2, m),
        )
        self.trunk = nn.Sequential(*_block(16, 32, 3, 1, m), *_block(32, 32, 4, 2, m))
        self.decision = _Decision(32, head, resolution // 8)

    @property
    def mid_layer(self) -> nn.Module:
        """The ReLU whose output is the mid features (Grad-CAM layer shared by the detector and every head)."""
        return self.stem[-1]

    @property
    def feature_layer(self) -> nn.Module:
        """The ReLU whose output is the detection features (the detector's CAM layer)."""
        return self.trunk[-1]

    def model_args(self) -> dict:
        return {
            "resolution": self.resolution,
            "in_channels": self.in_channels,
            "head": self.head_kind,
            "bn_momentum": self.bn_momentum,
        }

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mid = self.stem(x)
        feats = self.trunk(mid)
        return self.decision(feats), mid, feats


class ClassModelHead(nn.Module):
    """Secondary module (one source): mid features (N, 16, R/4, R/4) → (P(source) logit (N,), its features
    (N, 32, R/8, R/8))."""

    def __init__(self, resolution: int, head: str = "gap", channels: int = 32, bn_momentum: float = KERAS_BN_MOMENTUM):
        super().__init__()
        if resolution < 8 or resolution % 8:
            raise ValueError(f"resolution must be a multiple of 8, got {resolution}")
        self.resolution, self.head_kind, self.channels, self.bn_momentum = resolution, head, channels, bn_momentum
        self.body = nn.Sequential(
            *_block(16, channels, 3, 1, bn_momentum), *_block(channels, channels, 4, 2, bn_momentum)
        )
        self.decision = _Decision(channels, head, resolution // 8)

    @property
    def feature_layer(self) -> nn.Module:
        return self.body[-1]

    def model_args(self) -> dict:
        return {
            "resolution": self.resolution,
            "head": self.head_kind,
            "channels": self.channels,
            "bn_momentum": self.bn_momentum,
        }

    def forward(self, mid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.body(mid)
        return self.decision(feats), feats
