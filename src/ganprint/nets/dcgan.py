"""DCGAN generator and discriminator (Radford et al. 2016, §3) for the miniature GAN zoo (PAPERS §7.1).

Channel plan, mirrored between G and D: at feature resolution r the width is
``width * clamp(R / (2r), 1, 8)``, i.e. ``width * min(8, R/8)`` at 4×4 and ``width`` at R/2, as in the
original 64² DCGAN (512, 256, 128, 64 for width 64). G: z → linear → 4×4 → transposed-conv 4×4 stride 2
blocks (BatchNorm + ReLU) → the last transposed conv to 3 channels at R → tanh. D: strided conv 4×4 blocks
with LeakyReLU(0.2) (BatchNorm on all but the first) down to 4×4 → linear → one logit.
Initialisation follows the DCGAN paper: weights N(0, 0.02), BatchNorm scale N(1, 0.02), biases 0.
Zoo contract: latents N(0, I) (``latent = "normal"``), ``set_step`` a no-op, D's ``forward_features`` gives the
logits and the flattened 4×4 map as features (no local features).
"""

from __future__ import annotations

import torch
from torch import nn

from ganprint.nets.layers import check_resolution

MIN_RESOLUTION = 16
MAX_RESOLUTION = 1024


def _width_at(resolution: int, r: int, width: int) -> int:
    """Channels of the feature map at side ``r`` in a net whose image side is ``resolution``."""
    return width * min(8, max(1, resolution // (2 * r)))


def dcgan_init_(module: nn.Module) -> None:
    """DCGAN init (Radford et al. 2016, §4): weights N(0, 0.02), BN scale N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """z (N, z_dim) ~ N(0, I) → image (N, 3, R, R) in [-1, 1].

    Args:
        resolution: output side R, a power of two in [16, 1024].
        z_dim: latent size.
        width: channels of the last hidden map (at R/2); the 4×4 map has ``width * min(8, R/8)``.
    """

    latent = "normal"

    def __init__(self, resolution: int, z_dim: int = 64, width: int = 64):
        super().__init__()
        log2_res = check_resolution(resolution, MIN_RESOLUTION, MAX_RESOLUTION)
        if z_dim < 1 or width < 1:
            raise ValueError(f"z_dim and width must be positive, got z_dim={z_dim}, width={width}")
        self.resolution = resolution
        self.z_dim = z_dim
        self.width = width

        c0 = _width_at(resolution, 4, width)
        # bias-free where BatchNorm follows: its shift makes a bias redundant
        self.fc = nn.Linear(z_dim, c0 * 4 * 4, bias=False)
        self.fc_bn = nn.BatchNorm2d(c0)
        blocks: list[nn.Module] = []
        channels = c0
        for log2_r in range(3, log2_res):  # output sides 8 .. R/2
            out = _width_at(resolution, 2**log2_r, width)
            blocks += [
                nn.ConvTranspose2d(channels, out, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            channels = out
        blocks += [nn.ConvTranspose2d(channels, 3, 4, stride=2, padding=1), nn.Tanh()]  # R/2 → R
        self.blocks = nn.Sequential(*blocks)
        dcgan_init_(self)

    def model_args(self) -> dict:
        return {"resolution": self.resolution, "z_dim": self.z_dim, "width": self.width}

    def set_step(self, step: int, total_steps: int) -> None:
        """No-op: DCGAN does not grow."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).view(z.shape[0], -1, 4, 4)  # (N, c0, 4, 4)
        x = torch.relu(self.fc_bn(x))
        return self.blocks(x)  # (N, 3, R, R) in [-1, 1]


class DCGANDiscriminator(nn.Module):
    """Image (N, 3, R, R) in [-1, 1] → real/fake logits (N,).

    Args:
        resolution: input side R, a power of two in [16, 1024].
        width: channels after the first conv (at R/2); doubled per block up to ``width * 8``.
    """

    def __init__(self, resolution: int, width: int = 64):
        super().__init__()
        log2_res = check_resolution(resolution, MIN_RESOLUTION, MAX_RESOLUTION)
        if width < 1:
            raise ValueError(f"width must be positive, got {width}")
        self.resolution = resolution
        self.width = width

        layers: list[nn.Module] = []
        channels = 3
        for log2_r in range(log2_res - 1, 1, -1):  # output sides R/2 .. 4
            out = _width_at(resolution, 2**log2_r, width)
            first = channels == 3
            layers.append(nn.Conv2d(channels, out, 4, stride=2, padding=1, bias=first))
            if not first:  # DCGAN: no BatchNorm on D's input layer
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            channels = out
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(channels * 4 * 4, 1)
        dcgan_init_(self)
        self.feature_dim, self.local_dim, self.out_dim = channels * 4 * 4, 0, 1

    def model_args(self) -> dict:
        return {"resolution": self.resolution, "width": self.width}

    def set_step(self, step: int, total_steps: int) -> None:
        """No-op: DCGAN does not grow."""

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        """(logits (N,), features (N, feature_dim) = the flattened 4×4 map, None)."""
        feat = self.blocks(x).flatten(1)  # (N, width * min(8, R/8) * 16)
        return self.fc(feat).squeeze(1), feat, None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[0]  # (N,) logits
