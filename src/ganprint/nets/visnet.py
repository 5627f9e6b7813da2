"""Yu et al. 2019 visNet: the "learned fingerprint" auto-encoder classifier and its D_rec (PAPERS §1.5).

``classifier_visNet/networks.py::EG`` with ``latent_res=4, mode=postpool, switching_res=4``:

* Encoder: the postpool classifier's trunk (:mod:`ganprint.nets.postpool`): at each resolution r > 4, conv3 →
  nf(log2 r − 1), conv3 → nf(log2 r − 2), 2×2 average pool; at 4×4 two conv3 → nf(1). The latent stays spatial,
  nf(1)×4×4 (512×4×4 at fmap_base 1024).
* Decoder: at 4×4 two conv3 → nf(1); then per resolution 8 … R: nearest 2× upsample, two conv3 → nf(log2 r − 1);
  last a conv3 → 3 and tanh ("toRGB", He gain like every conv of the reference).
* Image fingerprint = input − reconstruction; logits = a VALID R×R convolution over it, K output channels,
  no bias, gain 1: its weight [K, 3, R, R] holds the K model fingerprints.
* Every layer has equalised LR (:mod:`ganprint.nets.layers`), reflect padding, LReLU 0.2, no pixel-norm.

``D_patch(latent_res=-1, mbstd_group_size=4)`` is the reconstruction discriminator: conv3, conv3, pool at every
resolution > 4, then minibatch-stddev, conv3 → nf(1), dense → nf(0), dense → 1 (gain 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganprint.nets.layers import EqualizedConv2d, EqualizedLinear, check_resolution

_SLOPE = 0.2  # LReLU slope of ProGAN / GANFingerprints


def _nf(fmap_base: int, fmap_max: int):
    def nf(stage: int) -> int:
        return min(int(fmap_base / 2.0**stage), fmap_max)

    return nf


def _conv_act(cin: int, cout: int) -> list[nn.Module]:
    return [EqualizedConv2d(cin, cout, 3), nn.LeakyReLU(_SLOPE)]


class VisNetEncoder(nn.Module):
    """(N, 3, R, R) in [-1, 1] → spatial latent (N, nf(1), 4, 4)."""

    def __init__(self, resolution: int, fmap_base: int = 1024, fmap_max: int = 512):
        super().__init__()
        log2_res = check_resolution(resolution, 8)
        nf = _nf(fmap_base, fmap_max)
        layers: list[nn.Module] = []
        channels = 3  # no fromRGB, as in C_patch
        for log2_r in range(log2_res, 2, -1):  # R, R/2, ..., 8: postpool with switching_res 4 = convs everywhere
            layers += _conv_act(channels, nf(log2_r - 1)) + _conv_act(nf(log2_r - 1), nf(log2_r - 2))
            layers.append(nn.AvgPool2d(2))
            channels = nf(log2_r - 2)
        layers += _conv_act(channels, nf(1))  # 4×4 'Conv0'
        layers += _conv_act(nf(1), nf(1))  # 4×4 'Conv1' (latent_res=4)
        self.body = nn.Sequential(*layers)
        self.latent_channels = nf(1)

    @property
    def latent_conv(self) -> nn.Module:
        """The last 4×4 convolution (the spatial latent before its LReLU): the Grad-CAM layer."""
        return self.body[-2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class VisNetDecoder(nn.Module):
    """Spatial latent (N, nf(1), 4, 4) → reconstruction (N, 3, R, R) in (-1, 1) (nearest upsampling, tanh)."""

    def __init__(self, resolution: int, fmap_base: int = 1024, fmap_max: int = 512):
        super().__init__()
        log2_res = check_resolution(resolution, 8)
        nf = _nf(fmap_base, fmap_max)
        layers: list[nn.Module] = _conv_act(nf(1), nf(1)) + _conv_act(nf(1), nf(1))  # 4×4 Conv0, Conv1
        channels = nf(1)
        for log2_r in range(3, log2_res + 1):  # 8, 16, ..., R
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))  # ProGAN upscale2d: tile each pixel 2×2
            layers += _conv_act(channels, nf(log2_r - 1)) + _conv_act(nf(log2_r - 1), nf(log2_r - 1))
            channels = nf(log2_r - 1)
        layers += [EqualizedConv2d(channels, 3, 3), nn.Tanh()]  # Conv_toRGB keeps the default He gain
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z)


class FingerprintConv(nn.Module):
    """Bias-free VALID R×R convolution over the image fingerprint, gain 1, equalised LR (``Conv_fingerprints``).

    ``weight`` (K, 3, R, R) is stored N(0, 1) and scaled by ``1 / sqrt(3 R²)`` at run time; the reference
    visualises the stored (unscaled) variable, :meth:`model_fingerprints`.
    """

    def __init__(self, resolution: int, num_classes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_classes, 3, resolution, resolution))
        self.scale = 1.0 / (3 * resolution * resolution) ** 0.5  # gain 1 / sqrt(fan_in)

    def model_fingerprints(self) -> torch.Tensor:
        """(K, 3, R, R): the stored kernel slices, as the reference's visualisation reads them."""
        return self.weight

    def forward(self, fingerprint: torch.Tensor) -> torch.Tensor:
        return F.conv2d(fingerprint, self.weight * self.scale).flatten(1)  # (N, K, 1, 1) → (N, K) logits


class VisNet(nn.Module):
    """EG of visNet: image → (reconstruction, image fingerprint, logits).

    Args:
        resolution: input side R, a power of two >= 8.
        num_classes: K, the number of sources (and of model fingerprints).
        fmap_base, fmap_max: the width rule nf(s) = min(fmap_base / 2^s, fmap_max) (paper: 1024, 512).
    """

    def __init__(self, resolution: int, num_classes: int, fmap_base: int = 1024, fmap_max: int = 512):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.resolution, self.num_classes = resolution, num_classes
        self.fmap_base, self.fmap_max = fmap_base, fmap_max
        self.encoder = VisNetEncoder(resolution, fmap_base, fmap_max)
        self.decoder = VisNetDecoder(resolution, fmap_base, fmap_max)
        self.fingerprints = FingerprintConv(resolution, num_classes)

    def model_args(self) -> dict:
        return {
            "resolution": self.resolution,
            "num_classes": self.num_classes,
            "fmap_base": self.fmap_base,
            "fmap_max": self.fmap_max,
        }

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rec = self.decoder(self.encoder(x))  # (N, 3, R, R) in (-1, 1)
        fingerprint = x - rec  # (N, 3, R, R) in (-2, 2)
        return rec, fingerprint, self.fingerprints(fingerprint)  # logits (N, K)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """ProGAN minibatch-stddev (Karras et al. 2018 §3): append the mean over-group std as one feature map.

    Groups are strided as in the reference (``reshape([G, -1, ...])``: image i is in group i mod M); a batch
    not divisible by the group size uses the largest divisor of N not above it.
    """
    n, c, h, w = x.shape
    g = min(group_size, n)
    while n % g:
        g -= 1
    y = x.reshape(g, -1, c, h, w)
    y = (y - y.mean(0, keepdim=True)).square().mean(0).add(1e-8).sqrt()  # (M, C, H, W) std over each group
    y = y.mean((1, 2, 3), keepdim=True)  # (M, 1, 1, 1)
    y = y.repeat(g, 1, h, w)  # (N, 1, H, W)
    return torch.cat([x, y], 1)


class VisNetPatchDiscriminator(nn.Module):
    """D_rec: image (N, 3, R, R) → WGAN critic score (N,). ProGAN ``D_patch`` with a dense head."""

    def __init__(self, resolution: int, fmap_base: int = 1024, fmap_max: int = 512, mbstd_group: int = 4):
        super().__init__()
        log2_res = check_resolution(resolution, 8)
        nf = _nf(fmap_base, fmap_max)
        self.resolution, self.fmap_base, self.fmap_max, self.mbstd_group = resolution, fmap_base, fmap_max, mbstd_group
        layers: list[nn.Module] = []
        channels = 3
        for log2_r in range(log2_res, 2, -1):
            layers += _conv_act(channels, nf(log2_r - 1)) + _conv_act(nf(log2_r - 1), nf(log2_r - 2))
            layers.append(nn.AvgPool2d(2))
            channels = nf(log2_r - 2)
        self.body = nn.Sequential(*layers)
        extra = 1 if mbstd_group > 1 else 0
        self.head = nn.Sequential(
            *_conv_act(channels + extra, nf(1)),
            nn.Flatten(),
            EqualizedLinear(nf(1) * 16, nf(0)),
            nn.LeakyReLU(_SLOPE),
            EqualizedLinear(nf(0), 1, gain=1.0),
        )

    def model_args(self) -> dict:
        return {
            "resolution": self.resolution,
            "fmap_base": self.fmap_base,
            "fmap_max": self.fmap_max,
            "mbstd_group": self.mbstd_group,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        if self.mbstd_group > 1:
            h = minibatch_stddev(h, self.mbstd_group)
        return self.head(h).squeeze(1)
