"""A compact StyleGAN2 (Karras et al. 2020, config E/F: skip G, residual D) in pure PyTorch, for the GAN zoo.

Facts kept from NVlabs/stylegan2 and rosinality/stylegan2-pytorch: mapping MLP z → w (pixel-norm input,
``n_mlp`` equalised linear layers with leaky ReLU 0.2 · sqrt(2) and learning-rate multiplier ``lr_mlp``, paper 8
layers, 0.01); a learned constant 4×4 input; per side two modulated 3×3 convs with weight demodulation (styles from
affine layers of w, bias initialised to 1), per-layer noise inputs with a learned strength (initialised 0),
bias + leaky ReLU 0.2 · sqrt(2); modulated 1×1 toRGB convs (no demodulation) summed over sides through upsampled
skips; D: fromRGB 1×1, residual blocks (conv3, conv3 + downsample, 1×1 downsampled skip, sum scaled by 1/sqrt(2)),
minibatch-stddev (group 4) at 4×4, conv3, dense, dense to one logit. All layers use equalised learning rate.

Simplifications (no custom CUDA ops; runs on CPU): up/downsampling is bilinear 2× interpolation / 2×2 average
pooling instead of the FIR-filtered (blur) transposed / strided convs; the first conv of each side upsamples its
input and then convolves. Style mixing, path-length and lazy R1 regularisation belong to the training loss
and are not part of the networks. Widths: ``width * min(8, R / r)`` channels at side r.

Noise: in training mode fresh noise is drawn per image and layer from a ``torch.Generator`` seeded from
``(noise_seed, calls)``, where ``calls`` is a buffer counting training forwards (so it is in the state_dict and a
resumed run draws the same noise); in eval mode every layer adds its FIXED noise buffer (seeded at init, stored in
the state_dict), so an image depends only on its z, never on the batch it is generated in. G's output is linear
while training (as the paper) and clamped to [-1, 1] in eval mode (the paper's uint8 conversion).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganprint.nets.layers import EqualizedConv2d, EqualizedLinear, check_resolution, minibatch_stddev, pixel_norm

MIN_RESOLUTION = 16
MAX_RESOLUTION = 1024
SQRT2 = math.sqrt(2.0)


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * SQRT2  # fused_leaky_relu's gain keeps the activations' scale


class MappingLinear(nn.Module):
    """Equalised linear with a learning-rate multiplier: weights N(0, 1/lr_mul²), scaled by lr_mul at run time."""

    def __init__(self, cin: int, cout: int, lr_mul: float):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = lr_mul / math.sqrt(cin)
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class ModulatedConv2d(nn.Module):
    """Modulated conv (StyleGAN2 §2.2, Eq. 1–3): w'_ijk = s_i · w_ijk, demodulated by 1/sqrt(Σ w'² + ε)."""

    def __init__(
        self, cin: int, cout: int, kernel: int, w_dim: int, *, demodulate: bool = True, upsample: bool = False
    ):
        super().__init__()
        self.cin, self.cout, self.kernel = cin, cout, kernel
        self.demodulate, self.upsample = demodulate, upsample
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.scale = 1.0 / math.sqrt(cin * kernel * kernel)
        self.affine = EqualizedLinear(w_dim, cin, gain=1.0)
        nn.init.ones_(self.affine.bias)  # styles start at 1

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # the non-fused form (StyleGAN2-ADA ``fused_modconv=False``): scale the input by the styles, convolve with
        # the shared weight, scale the output by the demodulation coefficients; equal to convolving each image
        # with its own modulated weight, and a plain conv (fast on CPU, no grouped conv)
        s = self.affine(w)  # (N, cin)
        weight = self.scale * self.weight  # (cout, cin, k, k)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        out = F.conv2d(x * s[:, :, None, None], weight, padding=self.kernel // 2)
        if self.demodulate:  # 1 / sqrt(Σ_{i,k} (s_i w_oik)² + ε) per image and output channel
            d = torch.rsqrt(s.square() @ weight.square().sum(dim=(2, 3)).T + 1e-8)  # (N, cout)
            out = out * d[:, :, None, None]
        return out


class StyledConv(nn.Module):
    """Modulated conv3 → + noise · strength → + bias → leaky ReLU."""

    def __init__(self, cin: int, cout: int, w_dim: int, side: int, noise: torch.Generator, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, 3, w_dim, upsample=upsample)
        self.noise_strength = nn.Parameter(torch.zeros(1))  # shape (1,): 0-dim parameters make foreach Adam slow
        self.bias = nn.Parameter(torch.zeros(1, cout, 1, 1))
        self.register_buffer("fixed_noise", torch.randn(1, 1, side, side, generator=noise))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Generator | None) -> torch.Tensor:
        x = self.conv(x, w)
        if noise is None:  # eval: the layer's fixed noise map, the same for every image
            n = self.fixed_noise
        else:
            n = torch.randn(x.shape[0], 1, *x.shape[2:], generator=noise).to(x.device, x.dtype)
        return _lrelu(x + self.noise_strength * n + self.bias)


class ToRGB(nn.Module):
    def __init__(self, cin: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(cin, 3, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        rgb = self.conv(x, w) + self.bias
        if skip is not None:
            rgb = rgb + F.interpolate(skip, scale_factor=2, mode="bilinear", align_corners=False)
        return rgb


class StyleGAN2Generator(nn.Module):
    """z (N, z_dim) ~ N(0, I) → image (N, 3, R, R); linear while training, clamped to [-1, 1] in eval mode.

    Args:
        resolution: output side R, a power of two in [16, 1024].
        z_dim: latent size, also the size of w (paper: 512).
        width: channels at side R; ``width * min(8, R / r)`` at side r (paper: 512 capped, 32 at 1024 px).
        n_mlp: mapping layers (paper: 8).
        lr_mlp: learning-rate multiplier of the mapping layers (paper: 0.01).
        noise_seed: seed of the fixed eval-mode noise maps and of the training-mode noise stream.
    """

    latent = "normal"

    def __init__(
        self,
        resolution: int,
        z_dim: int = 512,
        width: int = 32,
        n_mlp: int = 8,
        lr_mlp: float = 0.01,
        noise_seed: int = 0,
    ):
        super().__init__()
        log2_res = check_resolution(resolution, MIN_RESOLUTION, MAX_RESOLUTION)
        if z_dim < 1 or width < 1 or n_mlp < 1 or lr_mlp <= 0:
            raise ValueError(f"z_dim, width, n_mlp, lr_mlp must be positive, got {z_dim}, {width}, {n_mlp}, {lr_mlp}")
        self.resolution, self.z_dim, self.width = resolution, z_dim, width
        self.n_mlp, self.lr_mlp, self.noise_seed = n_mlp, lr_mlp, noise_seed

        def ch(r: int) -> int:
            return width * min(8, resolution // r)

        self.mapping = nn.ModuleList([MappingLinear(z_dim, z_dim, lr_mlp) for _ in range(n_mlp)])
        noise = torch.Generator().manual_seed(noise_seed)  # the fixed noise maps: same seed ⇒ same buffers
        self.const = nn.Parameter(torch.randn(1, ch(4), 4, 4))
        self.conv4 = StyledConv(ch(4), ch(4), z_dim, 4, noise)
        self.rgb4 = ToRGB(ch(4), z_dim)
        self.convs = nn.ModuleList()
        self.rgbs = nn.ModuleList()
        for k in range(3, log2_res + 1):
            r = 2**k
            self.convs.append(StyledConv(ch(r // 2), ch(r), z_dim, r, noise, upsample=True))
            self.convs.append(StyledConv(ch(r), ch(r), z_dim, r, noise))
            self.rgbs.append(ToRGB(ch(r), z_dim))
        self.register_buffer("calls", torch.zeros((), dtype=torch.int64))  # training forwards so far

    def model_args(self) -> dict:
        return {
            "resolution": self.resolution,
            "z_dim": self.z_dim,
            "width": self.width,
            "n_mlp": self.n_mlp,
            "lr_mlp": self.lr_mlp,
            "noise_seed": self.noise_seed,
        }

    def set_step(self, step: int, total_steps: int) -> None:
        """No-op: StyleGAN2 does not grow."""

    def mapping_network(self, z: torch.Tensor) -> torch.Tensor:
        w = pixel_norm(z)
        for layer in self.mapping:
            w = _lrelu(layer(w))
        return w  # (N, z_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = self.mapping_network(z)
        noise = None
        if self.training:
            noise = torch.Generator().manual_seed(self.noise_seed * 1_000_003 + int(self.calls))
            self.calls += 1
        x = self.const.expand(z.shape[0], -1, -1, -1)
        x = self.conv4(x, w, noise)
        rgb = self.rgb4(x, w, None)
        for i, to_rgb in enumerate(self.rgbs):
            x = self.convs[2 * i](x, w, noise)
            x = self.convs[2 * i + 1](x, w, noise)
            rgb = to_rgb(x, w, rgb)
        if not self.training:
            rgb = rgb.clamp(-1.0, 1.0)
        return rgb  # (N, 3, R, R)


class DResBlock(nn.Module):
    """conv3 → lrelu → conv3 → lrelu → pool, plus pool → 1×1 skip (no bias); sum / sqrt(2)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.c1 = EqualizedConv2d(cin, cin, 3, gain=1.0, padding_mode="zeros")
        self.c2 = EqualizedConv2d(cin, cout, 3, gain=1.0, padding_mode="zeros")
        self.skip = EqualizedConv2d(cin, cout, 1, gain=1.0, bias=False, padding_mode="zeros")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(_lrelu(self.c2(_lrelu(self.c1(x)))), 2)
        return (h + self.skip(F.avg_pool2d(x, 2))) / SQRT2


class StyleGAN2Discriminator(nn.Module):
    """Image (N, 3, R, R) → logits (N,), residual D with minibatch-stddev.

    ``forward_features`` returns ``(logits, features (N, ch(4)) = the penultimate dense layer's activations, None)``.

    Args:
        resolution: input side R, a power of two in [16, 1024].
        width: channels at side R; ``width * min(8, R / r)`` at side r.
        mbstd_group: minibatch-stddev group size (paper: 4).
    """

    def __init__(self, resolution: int, width: int = 32, mbstd_group: int = 4):
        super().__init__()
        log2_res = check_resolution(resolution, MIN_RESOLUTION, MAX_RESOLUTION)
        if width < 1 or mbstd_group < 1:
            raise ValueError(f"width and mbstd_group must be positive, got {width}, {mbstd_group}")
        self.resolution, self.width, self.mbstd_group = resolution, width, mbstd_group

        def ch(r: int) -> int:
            return width * min(8, resolution // r)

        self.from_rgb = EqualizedConv2d(3, ch(resolution), 1, gain=1.0, padding_mode="zeros")
        self.blocks = nn.Sequential(*[DResBlock(ch(2**k), ch(2 ** (k - 1))) for k in range(log2_res, 2, -1)])
        self.conv4 = EqualizedConv2d(ch(4) + 1, ch(4), 3, gain=1.0, padding_mode="zeros")
        self.dense0 = EqualizedLinear(ch(4) * 16, ch(4), gain=1.0)
        self.dense1 = EqualizedLinear(ch(4), 1, gain=1.0)
        self.feature_dim, self.local_dim, self.out_dim = ch(4), 0, 1

    def model_args(self) -> dict:
        return {"resolution": self.resolution, "width": self.width, "mbstd_group": self.mbstd_group}

    def set_step(self, step: int, total_steps: int) -> None:
        """No-op: StyleGAN2 does not grow."""

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        h = self.blocks(_lrelu(self.from_rgb(x)))  # (N, ch(4), 4, 4)
        h = _lrelu(self.conv4(minibatch_stddev(h, self.mbstd_group)))
        feat = _lrelu(self.dense0(h.flatten(1)))  # (N, ch(4))
        return self.dense1(feat).squeeze(1), feat, None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[0]  # (N,) logits
