"""Equalised-LR layers of ProGAN (Karras et al. 2018, §4.1) used by Yu et al. 2019's classifier (PAPERS §1.4).

Weights are stored as N(0, 1) draws and multiplied at run time by the He constant ``gain / sqrt(fan_in)``
(``get_weight(use_wscale=True)`` in GANFingerprints ``classifier/networks.py``), so Adam sees every weight
on the same scale. Biases start at zero and are not scaled.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

HE_GAIN = math.sqrt(2.0)  # the default gain for layers followed by (leaky) ReLU


def check_resolution(resolution: int, lo: int, hi: int | None = None) -> int:
    """Return ``log2(resolution)``; raise ValueError unless it is a power of two in ``[lo, hi]``."""
    if (
        not isinstance(resolution, int)
        or resolution < lo
        or (hi is not None and resolution > hi)
        or resolution & (resolution - 1)
    ):
        upper = f" and <= {hi}" if hi is not None else ""
        raise ValueError(f"resolution must be a power of two >= {lo}{upper}, got {resolution!r}")
    return resolution.bit_length() - 1


class EqualizedConv2d(nn.Module):
    """Stride-1 ``kernel``×``kernel`` convolution with equalised LR and 'same' padding (reflect by default).

    GANFingerprints pads with ``tf.pad(mode='REFLECT')`` by ``kernel // 2`` before a VALID convolution.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        gain: float = HE_GAIN,
        bias: bool = True,
        padding_mode: str = "reflect",
    ):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if padding_mode not in ("reflect", "zeros"):
            raise ValueError(f"padding_mode must be 'reflect' or 'zeros', got {padding_mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.padding = kernel_size // 2
        self.padding_mode = padding_mode
        self.gain = gain
        self.fan_in = in_channels * kernel_size * kernel_size
        self.scale = gain / math.sqrt(self.fan_in)  # He constant, applied at run time
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def effective_weight(self) -> torch.Tensor:
        return self.weight * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding and self.padding_mode == "reflect":
            x = F.pad(x, (self.padding,) * 4, mode="reflect")
            return F.conv2d(x, self.effective_weight(), self.bias)
        return F.conv2d(x, self.effective_weight(), self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"gain={self.gain:.4g}, padding_mode={self.padding_mode!r}, bias={self.bias is not None}"
        )


class EqualizedLinear(nn.Module):
    """Fully-connected layer with equalised LR: ``y = x @ (w * gain / sqrt(in_features)).T + b``."""

    def __init__(self, in_features: int, out_features: int, *, gain: float = HE_GAIN, bias: bool = True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.gain = gain
        self.fan_in = in_features
        self.scale = gain / math.sqrt(self.fan_in)
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def effective_weight(self) -> torch.Tensor:
        return self.weight * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.effective_weight(), self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, gain={self.gain:.4g}, "
            f"bias={self.bias is not None}"
        )


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """ProGAN pixelwise feature normalisation (Karras et al. 2018, §4.2): ``x / sqrt(mean_c(x²) + eps)``.

    Works on (N, C) latents and (N, C, H, W) feature maps (normalises over dim 1).
    """
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append ProGAN's minibatch-standard-deviation feature map (Karras et al. 2018, §3): (N, C, H, W) → (N, C+1, H, W).

    The batch is split into groups of ``group_size`` consecutive images (``tf.reshape`` in
    ``networks.py::minibatch_stddev_layer``); per group, the std over its members of every feature, averaged over
    features and pixels, is one scalar broadcast to an extra channel for each member. The reference requires N to
    be a multiple of the group size; here the group shrinks to the largest divisor of N that is ≤ ``group_size``
    (so a batch of 1 gets a zero map rather than an error).
    """
    n, _, h, w = x.shape
    g = min(group_size, n)
    while n % g:
        g -= 1
    y = x.reshape(g, n // g, *x.shape[1:]).float()  # (G, M, C, H, W): member j of group m is row j * M + m
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (M, C, H, W)
    y = y.mean(dim=(1, 2, 3)).to(x.dtype)  # (M,)
    y = y.repeat(g).view(n, 1, 1, 1).expand(n, 1, h, w)
    return torch.cat([x, y], dim=1)
