"""ProGAN generator and discriminator (Karras et al. 2018; ``G_paper`` / ``D_paper``, PAPERS §1.3) for the GAN zoo.

What is kept from tkarras/progressive_growing_of_gans ``networks.py``:

* widths ``nf(s) = min(fmap_base / 2^s, fmap_max)``, the block at side 2^k using ``nf(k - 1)`` (paper: fmap_base
  8192, fmap_max 512, latent 512); here ``width`` is ``fmap_max``;
* the latent normalised by pixel norm; pixel norm after every G conv; leaky ReLU 0.2; equalised learning rate on
  every layer (:mod:`ganprint.nets.layers`, zero padding as the TF code); G's first layer a dense to 4×4 with gain
  sqrt(2)/4; toRGB / fromRGB 1×1 convs (toRGB gain 1, linear);
* D: fromRGB → per side (conv3, conv3, 2× average-pool) down to 4×4 → minibatch-stddev (group 4) → conv3 → dense
  nf(0) → dense 1 (gain 1);
* growing with fade-in: while a new side is faded in, G's output is ``lerp(upsample(toRGB_prev), toRGB_new, alpha)``
  and D's input path ``lerp(fromRGB_prev(pool(x)), block_new(fromRGB_new(x)), alpha)``.

Differences, chosen so that the training loop stays arch-agnostic (the zoo contract): G always returns the full
side R (the current stage's image nearest-upsampled, as the TF code's ``lod`` output) and D always takes R and
average-pools internally to the current stage. The separate (not fused) upscale-conv and conv-downscale give the
same function as the reference's fused ones. G's output is linear as in the paper while training; in eval mode
it is clamped to [-1, 1], which is what the paper's uint8 conversion does.

Schedule (``set_step``): the paper trains 600 kimg at 4 px, then per new side 600 kimg fade-in + 600 kimg stable.
With ``K`` growth steps from ``start_resolution`` to R, a phase length ``P = total / (K + 1 - fade_fraction)``:
``(1 - fade_fraction) P`` steps stable at the start side, then per new side ``fade_fraction P`` steps of linear
fade-in and ``(1 - fade_fraction) P`` stable (fade_fraction 0.5 = the paper's equal halves). From ``total`` on,
and for a freshly built or loaded net, the stage is the last (side R, alpha 1).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganprint.nets.layers import (
    EqualizedConv2d,
    EqualizedLinear,
    check_resolution,
    minibatch_stddev,
    pixel_norm,
)

MIN_RESOLUTION = 16
MAX_RESOLUTION = 1024
LRELU = 0.2


def progan_stage(step: int, total_steps: int, n_growth: int, fade_fraction: float) -> tuple[int, float]:
    """(stage index 0..n_growth, fade-in alpha in [0, 1]) at ``step`` of ``total_steps`` (module docstring)."""
    if n_growth == 0 or total_steps <= 0 or step >= total_steps:
        return n_growth, 1.0
    phase = total_steps / (n_growth + 1 - fade_fraction)
    stable0 = (1.0 - fade_fraction) * phase
    if step < stable0:
        return 0, 1.0
    u = step - stable0
    stage = 1 + int(u // phase)
    if stage > n_growth:
        return n_growth, 1.0
    within = u - (stage - 1) * phase
    fade = fade_fraction * phase
    alpha = 1.0 if fade <= 0 else min(within / fade, 1.0)
    return stage, alpha


def _nf(stage: int, fmap_base: int, fmap_max: int) -> int:
    return max(1, min(fmap_base // 2**stage, fmap_max))


def _conv(cin: int, cout: int, k: int, gain: float = math.sqrt(2.0)) -> EqualizedConv2d:
    return EqualizedConv2d(cin, cout, k, gain=gain, padding_mode="zeros")


class _Progressive(nn.Module):
    """Stage bookkeeping shared by G and D (a plain attribute pair derived from ``set_step``)."""

    def _init_stages(self, resolution: int, start_resolution: int, fade_fraction: float) -> None:
        log2_res = check_resolution(resolution, MIN_RESOLUTION, MAX_RESOLUTION)
        log2_start = check_resolution(start_resolution, 4, resolution)
        if not 0.0 <= fade_fraction < 1.0:
            raise ValueError(f"fade_fraction must be in [0, 1), got {fade_fraction}")
        self.resolution = resolution
        self.start_resolution = start_resolution
        self.fade_fraction = float(fade_fraction)
        self.log2_sides = list(range(log2_start, log2_res + 1))  # the stages' sides, as log2
        self.n_growth = len(self.log2_sides) - 1
        self.stage, self.alpha = self.n_growth, 1.0  # built or loaded: final stage

    def set_step(self, step: int, total_steps: int) -> None:
        """Derive the stage (current side, fade-in alpha) from the training step (module docstring)."""
        self.stage, self.alpha = progan_stage(step, total_steps, self.n_growth, self.fade_fraction)

    @property
    def current_resolution(self) -> int:
        return 2 ** self.log2_sides[self.stage]


class ProGANGenerator(_Progressive):
    """z (N, z_dim) ~ N(0, I) → image (N, 3, R, R); linear output while training, clamped to [-1, 1] in eval mode.

    Args:
        resolution: output side R, a power of two in [16, 1024].
        z_dim: latent size (paper: 512).
        width: fmap_max, the channel cap (paper: 512).
        fmap_base: widths ``min(fmap_base / 2^s, width)`` (paper: 8192).
        start_resolution: side of the first stage, 4 (paper) or 8.
        fade_fraction: share of each new side's phase spent fading in (paper: 0.5).
    """

    latent = "normal"

    def __init__(
        self,
        resolution: int,
        z_dim: int = 512,
        width: int = 512,
        fmap_base: int = 8192,
        start_resolution: int = 4,
        fade_fraction: float = 0.5,
    ):
        super().__init__()
        if z_dim < 1 or width < 1 or fmap_base < 1:
            raise ValueError(f"z_dim, width, fmap_base must be positive, got {z_dim}, {width}, {fmap_base}")
        self._init_stages(resolution, start_resolution, fade_fraction)
        self.z_dim, self.width, self.fmap_base = z_dim, width, fmap_base
        log2_res = resolution.bit_length() - 1

        def nf(s: int) -> int:
            return _nf(s, fmap_base, width)

        # 4×4: dense (gain sqrt(2)/4 as G_paper) → conv3
        self.dense = EqualizedLinear(z_dim, nf(1) * 16, gain=math.sqrt(2.0) / 4)
        self.conv4 = _conv(nf(1), nf(1), 3)
        self.blocks = nn.ModuleList()  # side 2^k for k = 3..log2_res: upsample, conv3, conv3
        for k in range(3, log2_res + 1):
            self.blocks.append(nn.ModuleList([_conv(nf(k - 2), nf(k - 1), 3), _conv(nf(k - 1), nf(k - 1), 3)]))
        # one toRGB per stage side
        self.to_rgb = nn.ModuleList([_conv(nf(k - 1), 3, 1, gain=1.0) for k in self.log2_sides])

    def model_args(self) -> dict:
        return {
            "resolution": self.resolution,
            "z_dim": self.z_dim,
            "width": self.width,
            "fmap_base": self.fmap_base,
            "start_resolution": self.start_resolution,
            "fade_fraction": self.fade_fraction,
        }

    def _act(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_norm(F.leaky_relu(x, LRELU))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(z)  # normalised latent (G_paper normalize_latents)
        x = self._act(self.dense(x).view(z.shape[0], -1, 4, 4))
        x = self._act(self.conv4(x))
        features = {2: x}  # log2 side → feature map
        last = self.log2_sides[self.stage]
        for k in range(3, last + 1):
            c1, c2 = self.blocks[k - 3]
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = self._act(c2(self._act(c1(x))))
            features[k] = x
        img = self.to_rgb[self.stage](features[last])
        if self.stage > 0 and self.alpha < 1.0:  # fade the new side in over the upsampled previous stage
            prev = F.interpolate(self.to_rgb[self.stage - 1](features[last - 1]), scale_factor=2, mode="nearest")
            img = torch.lerp(prev, img, self.alpha)
        if last < self.log2_sides[-1]:
            img = F.interpolate(img, size=(self.resolution, self.resolution), mode="nearest")
        if not self.training:
            img = img.clamp(-1.0, 1.0)
        return img  # (N, 3, R, R)


class ProGANDiscriminator(_Progressive):
    """Image (N, 3, R, R) → logits (N,); pooled internally to the current stage's side.

    ``forward_features`` returns ``(logits, features (N, nf(0)) = the penultimate dense layer's activations,
    None)``.

    Args:
        resolution: input side R, a power of two in [16, 1024].
        width: fmap_max (paper: 512).
        fmap_base: (paper: 8192).
        start_resolution, fade_fraction: the growing schedule (as the generator's).
        mbstd_group: minibatch-stddev group size (paper: 4).
    """

    def __init__(
        self,
        resolution: int,
        width: int = 512,
        fmap_base: int = 8192,
        start_resolution: int = 4,
        fade_fraction: float = 0.5,
        mbstd_group: int = 4,
    ):
        super().__init__()
        if width < 1 or fmap_base < 1 or mbstd_group < 1:
            raise ValueError(f"width, fmap_base, mbstd_group must be positive, got {width}, {fmap_base}, {mbstd_group}")
        self._init_stages(resolution, start_resolution, fade_fraction)
        self.width, self.fmap_base, self.mbstd_group = width, fmap_base, mbstd_group
        log2_res = resolution.bit_length() - 1

        def nf(s: int) -> int:
            return _nf(s, fmap_base, width)

        self.from_rgb = nn.ModuleList([_conv(3, nf(k - 1), 1) for k in self.log2_sides])
        self.blocks = nn.ModuleList()  # side 2^k for k = 3..log2_res: conv3, conv3, pool → side 2^(k-1)
        for k in range(3, log2_res + 1):
            self.blocks.append(nn.ModuleList([_conv(nf(k - 1), nf(k - 1), 3), _conv(nf(k - 1), nf(k - 2), 3)]))
        self.conv4 = _conv(nf(1) + 1, nf(1), 3)
        self.dense0 = EqualizedLinear(nf(1) * 16, nf(0))
        self.dense1 = EqualizedLinear(nf(0), 1, gain=1.0)
        self.feature_dim, self.local_dim, self.out_dim = nf(0), 0, 1

    def model_args(self) -> dict:
        return {
            "resolution": self.resolution,
            "width": self.width,
            "fmap_base": self.fmap_base,
            "start_resolution": self.start_resolution,
            "fade_fraction": self.fade_fraction,
            "mbstd_group": self.mbstd_group,
        }

    def _block(self, k: int, x: torch.Tensor) -> torch.Tensor:
        c1, c2 = self.blocks[k - 3]
        x = F.leaky_relu(c1(x), LRELU)
        x = F.leaky_relu(c2(x), LRELU)
        return F.avg_pool2d(x, 2)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        last = self.log2_sides[self.stage]
        if last < self.log2_sides[-1]:
            x = F.avg_pool2d(x, 2 ** (self.log2_sides[-1] - last))  # R → the current side
        h = F.leaky_relu(self.from_rgb[self.stage](x), LRELU)
        if last > 2:
            h = self._block(last, h)
            if self.stage > 0 and self.alpha < 1.0:  # fade in: blend with the previous stage's fromRGB path
                prev = F.leaky_relu(self.from_rgb[self.stage - 1](F.avg_pool2d(x, 2)), LRELU)
                h = torch.lerp(prev, h, self.alpha)
            for k in range(last - 1, 2, -1):
                h = self._block(k, h)
        h = minibatch_stddev(h, self.mbstd_group)
        h = F.leaky_relu(self.conv4(h), LRELU)
        feat = F.leaky_relu(self.dense0(h.flatten(1)), LRELU)  # (N, nf(0))
        return self.dense1(feat).squeeze(1), feat, None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[0]  # (N,) logits
