"""Yu et al. 2019 attribution classifier, ``C_patch`` in mode 'postpool' (PAPERS §1.4).

Channel plan (ProGAN-style, widths tied to absolute resolution): the block at resolution ``2**L`` runs
conv3 → nf(L-1), conv3 → nf(L-2), each followed by LReLU(0.2), then a 2×2 average pool, with
``nf(stage) = min(int(fmap_base / 2**stage), fmap_max)``. At 4×4: conv3 → nf(1), flatten, dense → nf(1)
(``max(nf(1), num_classes)``), dense → num_classes with gain 1. At R = 128, fmap_base 1024 this is the table
3→16→32 | 32→32→64 | 64→64→128 | 128→128→256 | 256→256→512 | 512, flatten 8192, dense 512.
Convs use reflect padding and every layer equalised LR; there is no normalisation, no fromRGB and no
minibatch-stddev.
"""

from __future__ import annotations

import torch
from torch import nn

from ganprint.nets.layers import EqualizedConv2d, EqualizedLinear, check_resolution

_SLOPE = 0.2  # LReLU slope of ProGAN / GANFingerprints


class YuPostpoolClassifier(nn.Module):
    """Image → source logits. Input (N, in_channels, R, R): pixels in [-1, 1]; output (N, num_classes) logits.

    Args:
        resolution: input side R, a power of two >= 8.
        num_classes: number of sources (softmax classes).
        fmap_base: overall width multiplier (1024 in the paper; 256 for the 32² miniature of PAPERS §7.1).
        fmap_max: cap on any layer's width.
        switching_res: convolutions run at resolutions > switching_res; below it (down to 4×4) there is only
            average pooling, which bounds the receptive field (the 'patch' experiment). 4 = the paper default.
        in_channels: 3 for RGB pixels (the paper); 1 for the grey log-DCT input (ganprint.attribution.inputs).
    """

    def __init__(
        self,
        resolution: int,
        num_classes: int,
        fmap_base: int = 1024,
        fmap_max: int = 512,
        switching_res: int = 4,
        in_channels: int = 3,
    ):
        super().__init__()
        log2_res = check_resolution(resolution, 8)
        log2_switch = check_resolution(switching_res, 4)
        if switching_res >= resolution:
            raise ValueError(f"switching_res ({switching_res}) must be below resolution ({resolution})")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.resolution = resolution
        self.num_classes = num_classes
        self.fmap_base = fmap_base
        self.fmap_max = fmap_max
        self.switching_res = switching_res
        self.in_channels = in_channels

        def nf(stage: int) -> int:
            return min(int(fmap_base / 2.0**stage), fmap_max)

        layers: list[nn.Module] = []
        channels = in_channels  # no fromRGB: the first conv sees the image itself
        for log2_r in range(log2_res, 2, -1):  # R, R/2, ..., 8
            if log2_r > log2_switch:
                layers += [
                    EqualizedConv2d(channels, nf(log2_r - 1), 3),
                    nn.LeakyReLU(_SLOPE),
                    EqualizedConv2d(nf(log2_r - 1), nf(log2_r - 2), 3),
                    nn.LeakyReLU(_SLOPE),
                ]
                channels = nf(log2_r - 2)
            layers.append(nn.AvgPool2d(2))  # ProGAN downscale2d: 2×2 box filter
        layers += [EqualizedConv2d(channels, nf(1), 3), nn.LeakyReLU(_SLOPE), nn.Flatten()]
        self.body = nn.Sequential(*layers)  # (N, 3, R, R) → (N, nf(1) * 16)
        self.feature_dim = max(nf(1), num_classes)
        self.dense = nn.Sequential(EqualizedLinear(nf(1) * 16, self.feature_dim), nn.LeakyReLU(_SLOPE))
        self.head = EqualizedLinear(self.feature_dim, num_classes, gain=1.0)  # logits: gain 1, no activation

    def model_args(self) -> dict:
        return {
            "resolution": self.resolution,
            "num_classes": self.num_classes,
            "fmap_base": self.fmap_base,
            "fmap_max": self.fmap_max,
            "switching_res": self.switching_res,
            "in_channels": self.in_channels,
        }

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (N, feature_dim), after the LReLU, e.g. for t-SNE."""
        return self.dense(self.body(x))  # x: (N, 3, R, R) in [-1, 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (N, num_classes) logits
