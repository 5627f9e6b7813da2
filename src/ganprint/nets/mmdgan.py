"""The MMD-GAN code base's ``g_resnet5`` generator and DCGAN5 critic (Bińkowski et al. 2018; PAPERS §1.3).

The Yu et al. 2019 CramerGAN and MMDGAN sources share these two networks (loss ``cramer`` / ``mmd``); only the
critic's output size ``dof_dim`` differs (CramerGAN 256, MMDGAN 16).

``ResNet5Generator``: z ~ U[-1, 1]^z_dim → linear to ``width * min(16, R / 8)`` channels at 4×4 → one residual
up-block per doubling up to R/2 (main path BN → ReLU → sub-pixel upsampling → BN → ReLU → conv3; shortcut
sub-pixel upsampling of a 1×1 conv) → BN → ReLU → transposed conv 5×5 stride 2 to R → sigmoid. The reference's
"depth-to-space upsample + conv3" is implemented as its learned form, the sub-pixel convolution (a conv to 4×
the channels followed by ``pixel_shuffle(2)``, Shi et al. 2016): the pixel-shuffle operator is what sets this
family apart from nearest (sngan), bilinear (mimicry) and transposed-conv (dcgan) upsampling (PAPERS §7.1).
Widths at 128 px, width 64: 1024 (4×4) → 512 → 256 → 128 → 64 (64×64) → 3, as the reference. The sigmoid
output (data in [0, 1] in the reference) is mapped to ``2 * sigmoid - 1`` so that it is in [-1, 1] as every zoo
generator's.

``DCGAN5Critic``: 5×5 stride-2 convs with leaky ReLU 0.2 from R down to 4×4 (5 convs at 128 px, widths
64 → 1024 at width 64; ``log2(R) - 2`` in general), no batch norm (the losses use a gradient penalty), linear to
``dof_dim``. It provides an embedding only: ``forward_features`` returns ``(embedding (N, dof_dim), None, None)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganprint.nets.layers import check_resolution

MIN_RESOLUTION = 16
MAX_RESOLUTION = 1024


def _init(module: nn.Module) -> None:
    """Glorot-uniform weights, zero biases, BN (1, 0) (TF's glorot_uniform default of the reference)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class SubPixelUpBlock(nn.Module):
    """Residual up-block: BN → ReLU → conv3 to 4·cout → pixel_shuffle(2) → BN → ReLU → conv3, + shuffled 1×1 conv."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.b1 = nn.BatchNorm2d(cin)
        self.c1 = nn.Conv2d(cin, 4 * cout, 3, padding=1)
        self.b2 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.c_sc = nn.Conv2d(cin, 4 * cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.pixel_shuffle(self.c1(F.relu(self.b1(x))), 2)  # depth-to-space: (N, 4c, H, W) → (N, c, 2H, 2W)
        h = self.c2(F.relu(self.b2(h)))
        return h + F.pixel_shuffle(self.c_sc(x), 2)


class ResNet5Generator(nn.Module):
    """z (N, z_dim) ~ U[-1, 1] → image (N, 3, R, R) in [-1, 1] = ``2 * sigmoid(deconv) - 1``.

    Args:
        resolution: output side R, a power of two in [16, 1024].
        z_dim: latent size (reference: 100).
        width: channels at R/2; the 4×4 map has ``width * min(16, R / 8)`` (reference 128 px: 64 → 1024).
    """

    latent = "uniform"

    def __init__(self, resolution: int, z_dim: int = 100, width: int = 64):
        super().__init__()
        log2_res = check_resolution(resolution, MIN_RESOLUTION, MAX_RESOLUTION)
        if z_dim < 1 or width < 1:
            raise ValueError(f"z_dim and width must be positive, got z_dim={z_dim}, width={width}")
        self.resolution, self.z_dim, self.width = resolution, z_dim, width

        def ch(r: int) -> int:
            return width * min(16, resolution // (2 * r))

        self.c0 = ch(4)
        self.fc = nn.Linear(z_dim, self.c0 * 16)
        self.blocks = nn.Sequential(*[SubPixelUpBlock(ch(2**k), ch(2 ** (k + 1))) for k in range(2, log2_res - 1)])
        self.b_out = nn.BatchNorm2d(ch(resolution // 2))
        # 5×5 stride 2, TF 'SAME' output size 2H: padding 2 plus output_padding 1
        self.deconv = nn.ConvTranspose2d(ch(resolution // 2), 3, 5, stride=2, padding=2, output_padding=1)
        _init(self)

    def model_args(self) -> dict:
        return {"resolution": self.resolution, "z_dim": self.z_dim, "width": self.width}

    def set_step(self, step: int, total_steps: int) -> None:
        """No-op: this family does not grow."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], self.c0, 4, 4)
        h = self.blocks(h)
        h = self.deconv(F.relu(self.b_out(h)))
        return 2.0 * torch.sigmoid(h) - 1.0  # the reference's sigmoid in [0, 1], mapped to [-1, 1]


class DCGAN5Critic(nn.Module):
    """Image (N, 3, R, R) in [-1, 1] → critic embedding (N, dof_dim).

    Args:
        resolution: input side R, a power of two in [16, 1024].
        width: channels of the first conv, doubled per conv (reference: 64, up to 1024 at 128 px).
        dof_dim: embedding size (CramerGAN: 256, MMDGAN: 16).
    """

    def __init__(self, resolution: int, width: int = 64, dof_dim: int = 16):
        super().__init__()
        log2_res = check_resolution(resolution, MIN_RESOLUTION, MAX_RESOLUTION)
        if width < 1 or dof_dim < 1:
            raise ValueError(f"width and dof_dim must be positive, got width={width}, dof_dim={dof_dim}")
        self.resolution, self.width, self.dof_dim = resolution, width, dof_dim
        layers: list[nn.Module] = []
        cin = 3
        for i in range(log2_res - 2):  # R → 4×4
            cout = width * 2**i
            layers += [nn.Conv2d(cin, cout, 5, stride=2, padding=2), nn.LeakyReLU(0.2)]
            cin = cout
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(cin * 16, dof_dim)
        _init(self)
        self.feature_dim, self.local_dim, self.out_dim = 0, 0, dof_dim

    def model_args(self) -> dict:
        return {"resolution": self.resolution, "width": self.width, "dof_dim": self.dof_dim}

    def set_step(self, step: int, total_steps: int) -> None:
        """No-op: this family does not grow."""

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return self.fc(self.convs(x).flatten(1)), None, None  # (N, dof_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[0]
