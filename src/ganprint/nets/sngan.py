"""SNGAN ResNet generator and SN-ResNet discriminator (Miyato et al. 2018; PAPERS §1.3, §4.4) for the GAN zoo.

One module serves two zoo archs that differ only in G's upsampling operator (PAPERS §4.4):

* ``sngan``: pfnet-research/sngan_projection, nearest "unpooling" 2× upsampling;
* ``mimicry``: kwotsin/mimicry's SNGAN-style ResNet (the architecture of InfoMax-GAN and SSGAN), bilinear
  ``F.interpolate(scale_factor=2, align_corners=False)`` upsampling;
* ``deconv`` (an ablation of the same layout): a 4×4 stride-2 transposed conv replaces "upsample + conv3" in each
  block's first conv and "upsample + 1×1 conv" in its shortcut.

G: z (N(0, I)) → linear to ``ch(4)`` × 4 × 4 → one up-block per doubling (BN → ReLU → upsample → conv3 → BN → ReLU
→ conv3, plus upsample → 1×1 conv shortcut) → BN → ReLU → conv3 → tanh. Widths: the map at side r has
``width * min(16, R / r)`` channels (pfnet at 128 px, ch 64: 1024, 1024, 512, 256, 128, 64).
D: OptimizedBlock (conv3 → ReLU → conv3 → avg-pool, shortcut avg-pool → 1×1 conv) to R/2, then down-blocks
(ReLU → conv3 → ReLU → conv3 → avg-pool; shortcut 1×1 conv → avg-pool) to 4×4, then one block without
downsampling, ReLU, global SUM pool, SN-linear to one logit; widths ``width * min(16, R / (2 r))`` at side r. Spectral
norm (``torch.nn.utils.parametrizations.spectral_norm``, one power iteration per training forward) on every D
conv and linear. Glorot-uniform init as both references: gain sqrt(2) on the residual convs, 1 on shortcuts, the
linear layers and G's last conv.

``forward_features`` gives the summed features (N, C_last) and, as ``local``, the output of the block that ends
at 8×8 (the map mimicry's InfoMax-GAN D hands its local critic; for R = 16 the OptimizedBlock's).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganprint.nets.layers import check_resolution

MIN_RESOLUTION = 16
MAX_RESOLUTION = 1024
UPSAMPLE_MODES = ("nearest", "bilinear", "deconv")
LOCAL_SIDE = 8  # side of the local feature map (InfoMax-GAN's local critic)


def _glorot(module: nn.Module, gain: float) -> nn.Module:
    nn.init.xavier_uniform_(module.weight, gain)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return module


def _upsample(x: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "bilinear":
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    return F.interpolate(x, scale_factor=2, mode="nearest")


class GBlock(nn.Module):
    """Residual up-block: BN → ReLU → up → conv3 → BN → ReLU → conv3, plus up → 1×1 conv (or 4×4 deconvs)."""

    def __init__(self, cin: int, cout: int, upsample: str):
        super().__init__()
        self.upsample = upsample
        self.b1 = nn.BatchNorm2d(cin)
        self.b2 = nn.BatchNorm2d(cout)
        g = math.sqrt(2.0)
        if upsample == "deconv":
            self.c1 = _glorot(nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1), g)
            self.c_sc = _glorot(nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1), 1.0)
        else:
            self.c1 = _glorot(nn.Conv2d(cin, cout, 3, padding=1), g)
            self.c_sc = _glorot(nn.Conv2d(cin, cout, 1), 1.0)
        self.c2 = _glorot(nn.Conv2d(cout, cout, 3, padding=1), g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.b1(x))
        if self.upsample == "deconv":
            h, sc = self.c1(h), self.c_sc(x)
        else:
            h, sc = self.c1(_upsample(h, self.upsample)), self.c_sc(_upsample(x, self.upsample))
        h = self.c2(F.relu(self.b2(h)))
        return h + sc


class SNGANGenerator(nn.Module):
    """z (N, z_dim) ~ N(0, I) → image (N, 3, R, R) in [-1, 1] (tanh).

    Args:
        resolution: output side R, a power of two in [16, 1024]; ``log2(R) - 2`` up-blocks from 4×4.
        z_dim: latent size (paper: 128).
        width: ``ch``; the map at side r has ``width * min(16, R / r)`` channels (pfnet 128 px: 64).
        upsample: "nearest" (sngan, pfnet), "bilinear" (mimicry) or "deconv" (4×4 stride-2 transposed convs).
    """

    latent = "normal"

    def __init__(self, resolution: int, z_dim: int = 128, width: int = 64, upsample: str = "nearest"):
        super().__init__()
        log2_res = check_resolution(resolution, MIN_RESOLUTION, MAX_RESOLUTION)
        if z_dim < 1 or width < 1:
            raise ValueError(f"z_dim and width must be positive, got z_dim={z_dim}, width={width}")
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {', '.join(UPSAMPLE_MODES)}, got {upsample!r}")
        self.resolution, self.z_dim, self.width, self.upsample = resolution, z_dim, width, upsample

        def ch(r: int) -> int:
            return width * min(16, resolution // r)

        self.c0 = ch(4)
        self.l1 = _glorot(nn.Linear(z_dim, self.c0 * 16), 1.0)
        self.blocks = nn.Sequential(*[GBlock(ch(2**k), ch(2 ** (k + 1)), upsample) for k in range(2, log2_res)])
        self.b_out = nn.BatchNorm2d(ch(resolution))
        self.c_out = _glorot(nn.Conv2d(ch(resolution), 3, 3, padding=1), 1.0)

    def model_args(self) -> dict:
        return {"resolution": self.resolution, "z_dim": self.z_dim, "width": self.width, "upsample": self.upsample}

    def set_step(self, step: int, total_steps: int) -> None:
        """No-op: SNGAN does not grow."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.l1(z).view(z.shape[0], self.c0, 4, 4)
        h = self.blocks(h)
        return torch.tanh(self.c_out(F.relu(self.b_out(h))))  # (N, 3, R, R) in [-1, 1]


class OptimizedDBlock(nn.Module):
    """D's first block (pfnet ``OptimizedBlock``): conv3 → ReLU → conv3 → pool, shortcut pool → 1×1 conv."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        g = math.sqrt(2.0)
        self.c1 = spectral_norm(_glorot(nn.Conv2d(cin, cout, 3, padding=1), g))
        self.c2 = spectral_norm(_glorot(nn.Conv2d(cout, cout, 3, padding=1), g))
        self.c_sc = spectral_norm(_glorot(nn.Conv2d(cin, cout, 1), 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(self.c2(F.relu(self.c1(x))), 2)
        return h + self.c_sc(F.avg_pool2d(x, 2))


class DBlock(nn.Module):
    """ReLU → conv3 → ReLU → conv3 (→ pool), shortcut 1×1 conv (→ pool) when shapes change."""

    def __init__(self, cin: int, cout: int, downsample: bool):
        super().__init__()
        g = math.sqrt(2.0)
        self.downsample = downsample
        self.c1 = spectral_norm(_glorot(nn.Conv2d(cin, cout, 3, padding=1), g))
        self.c2 = spectral_norm(_glorot(nn.Conv2d(cout, cout, 3, padding=1), g))
        self.learnable_sc = cin != cout or downsample
        if self.learnable_sc:
            self.c_sc = spectral_norm(_glorot(nn.Conv2d(cin, cout, 1), 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c2(F.relu(self.c1(F.relu(x))))
        sc = self.c_sc(x) if self.learnable_sc else x
        if self.downsample:
            h, sc = F.avg_pool2d(h, 2), F.avg_pool2d(sc, 2)
        return h + sc


class SNGANDiscriminator(nn.Module):
    """Image (N, 3, R, R) in [-1, 1] → logits (N,), SN-ResNet (pfnet ``SNResNetProjectionDiscriminator``, 1 class).

    ``forward_features`` returns ``(logits (N,), features (N, feature_dim) = global sum of ReLU(last block),
    local (N, local_dim, 8, 8))``.

    Args:
        resolution: input side R, a power of two in [16, 1024].
        width: ``ch``; the map at side r has ``width * min(16, R / (2 r))`` channels (pfnet 128 px: 64).
    """

    def __init__(self, resolution: int, width: int = 64):
        super().__init__()
        log2_res = check_resolution(resolution, MIN_RESOLUTION, MAX_RESOLUTION)
        if width < 1:
            raise ValueError(f"width must be positive, got {width}")
        self.resolution, self.width = resolution, width

        def ch(r: int) -> int:
            return width * min(16, resolution // (2 * r))

        blocks: list[nn.Module] = [OptimizedDBlock(3, ch(resolution // 2))]
        for k in range(log2_res - 1, 2, -1):  # side 2^k → 2^(k-1), down to 4×4
            blocks.append(DBlock(ch(2**k), ch(2 ** (k - 1)), downsample=True))
        blocks.append(DBlock(ch(4), ch(4), downsample=False))
        self.blocks = nn.ModuleList(blocks)
        self.local_index = log2_res - 1 - int(math.log2(LOCAL_SIDE))  # the block whose output is 8×8
        self.l_out = spectral_norm(_glorot(nn.Linear(ch(4), 1), 1.0))
        self.feature_dim, self.local_dim, self.out_dim = ch(4), ch(LOCAL_SIDE), 1

    def model_args(self) -> dict:
        return {"resolution": self.resolution, "width": self.width}

    def set_step(self, step: int, total_steps: int) -> None:
        """No-op: SNGAN does not grow."""

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h, local = x, None
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == self.local_index:
                local = h  # (N, local_dim, 8, 8)
        feat = F.relu(h).sum(dim=(2, 3))  # global sum pool (N, feature_dim)
        return self.l_out(feat).squeeze(1), feat, local

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[0]  # (N,) logits
