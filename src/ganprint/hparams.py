"""Hyperparameter sections of the registered archs, losses and methods (params.yaml ``archs``/``losses``/``methods``).

Pydantic v2 models, frozen, unknown keys refused. They live apart from :mod:`ganprint.config` so that
:mod:`ganprint.registry` can name them without importing the whole config (and without importing torch).
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


def did_you_mean(key: str, allowed) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Section(BaseModel):
    """A params.yaml mapping: frozen, strict types, unknown keys refused with a did-you-mean hint."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if data is None:
            return {}
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            for key in data:
                if key not in cls.model_fields:
                    raise ValueError(
                        f"unknown key '{key}'{did_you_mean(str(key), allowed)}; allowed keys: {', '.join(allowed)}"
                    )
        return data


# --- architectures (one section per registered arch: how it trains) ----------------------------------------
class DCGANHps(Section):
    """DCGAN (Radford et al. 2016), the skeleton's stand-in for the papers' GANs (PAPERS.md §7.1)."""

    z_dim: int = Field(64, ge=1, description="latent size (paper ProGAN: 512, SNGAN: 128)")
    width: int = Field(32, ge=4, description="base channel width of G and D (DCGAN: 64)")
    lr_g: float = Field(2e-4, ge=0.0, description="Adam learning rate of G (DCGAN: 2e-4)")
    lr_d: float = Field(2e-4, ge=0.0, description="Adam learning rate of D (DCGAN: 2e-4)")
    beta1: float = Field(0.5, ge=0.0, le=1.0, description="Adam beta1 (DCGAN: 0.5)")
    beta2: float = Field(0.999, ge=0.0, le=1.0, description="Adam beta2 (DCGAN: 0.999)")


# --- losses (a section per loss; empty where the loss has no knob) ----------------------------------------
class NonsatHps(Section):
    """Non-saturating GAN loss (Goodfellow et al. 2014): no hyperparameters."""


# --- attribution methods ------------------------------------------------------------------------------------
class PostpoolHps(Section):
    """Yu et al. 2019 C_patch, mode postpool (PAPERS.md §1.4)."""

    fmap_base: int = Field(256, ge=4, description="width rule nf(s) = min(fmap_base / 2^s, fmap_max) (paper: 1024)")
    fmap_max: int = Field(128, ge=4, description="(paper: 512)")
    lr: float = Field(1e-3, ge=0.0, description="Adam learning rate (paper: 0.001)")
    beta1: float = Field(0.0, ge=0.0, le=1.0, description="Adam beta1 (paper: 0.0)")
    beta2: float = Field(0.99, ge=0.0, le=1.0, description="Adam beta2 (paper: 0.99)")
    hflip: bool = Field(True, description="random horizontal flip while training (paper: true)")


class DNADetHps(Section):
    """DNA-Det (Yang et al. AAAI 2022): transformation pre-training + patchwise CE/SupCon (PAPERS.md §4.1–4.3).

    Defaults are the CPU miniature of PAPERS §7.1 item 7 (narrow net, small patches, no 4× upsampling, a ~15-class
    pre-training set); each description gives the paper's value. ``pretrain_class_set: paper`` builds the
    reference's 170 classes and ignores the ``pt_*`` lists.
    """

    input: str = Field("pixel", pattern="^pixel$", description="input representation (paper: pixels in [-1, 1])")
    width: int = Field(16, ge=1, description="first-stage channels of Simple_CNN; stages w,2w,4w,8w (paper: nf 64)")
    proj_dim: int = Field(128, ge=1, description="projection-head output size (paper: 128)")
    dropout: float = Field(0.2, ge=0.0, lt=1.0, description="dropout before the classifier (paper: 0.2)")
    upsample: int = Field(
        1, ge=1, description="resize factor before patching, Pillow bicubic (paper: 4, i.e. 128² → 512²)"
    )
    patch_size: int = Field(16, ge=4, description="side of the random training patches (paper: 64)")
    patches_per_image: int = Field(8, ge=1, description="random patches per image and step (paper: 16)")
    tau: float = Field(0.07, gt=0.0, description="SupCon temperature (paper: 0.07, base temperature 0.07)")
    contrastive: bool = Field(True, description="add the SupCon loss (paper: true; false = the CE-only ablation)")
    lr: float = Field(1e-3, ge=0.0, description="Adam lr of the network (paper: 1e-4 CelebA, 1e-3 LSUN/in-the-wild)")
    lr_weights: float = Field(0.01, ge=0.0, description="Adam lr of the uncertainty weights (paper: 0.01)")
    lr_step: int = Field(500, ge=1, description="StepLR step in iterations (paper: 500 CelebA, 2500 LSUN)")
    lr_gamma: float = Field(0.9, gt=0.0, le=1.0, description="StepLR factor, stepped per iteration (paper: 0.9)")
    predict: str = Field(
        "whole",
        pattern="^(whole|patches)$",
        description="image prediction: 'whole' image through the net + GAP (paper) or mean logits of grid patches",
    )
    pretrain: bool = Field(True, description="start from the transformation-pre-trained backbone (paper: true)")
    pretrain_steps: int = Field(200, ge=1, description="pre-training iterations (paper: up to 50 epochs, early stop)")
    pretrain_batch_size: int = Field(16, ge=1, description="images per pre-training step (paper: 128)")
    pretrain_lr: float = Field(1e-3, ge=0.0, description="pre-training Adam lr (paper: 1e-4, StepLR 500 × 0.9)")
    pretrain_contrastive: bool = Field(
        False, description="add SupCon on transform labels while pre-training (paper's code: true, same trainer)"
    )
    pretrain_max_images: int = Field(
        1024, ge=1, description="training images (a seeded random subset) kept in memory for in-fit pre-training"
    )
    pretrain_crop: int = Field(
        0, ge=0, description="random crop side before the transform; 0 = the whole image (paper: 128)"
    )
    pretrain_class_set: str = Field(
        "custom", pattern="^(custom|paper)$", description="'paper' = the reference's 170 classes; 'custom' = pt_*"
    )
    pt_identity: bool = Field(True, description="an untouched class (not in the paper's 170)")
    pt_jpeg_qualities: list[int] = Field([30, 60, 90], description="JPEG classes (paper: 30, 33, ..., 99)")
    pt_double_jpeg_q1: list[int] = Field([90], description="double-JPEG first qualities (paper: the JPEG list)")
    pt_double_jpeg_q2: list[int] = Field(
        [60], description="double-JPEG second qualities, paired with q1 index by index (paper: a fixed list of 24)"
    )
    pt_blur_sigmas: list[float] = Field(
        [1.0, 2.0], description="Gaussian-blur sigmas (paper: kernels 3..29, sigma by OpenCV's rule 0.8..4.4)"
    )
    pt_median_sizes: list[int] = Field([3, 5], description="median-blur window sizes (paper: 3, 5, ..., 29)")
    pt_resize_scales: list[float] = Field([0.5], description="down-then-up scales (paper: 0.15, 0.20, ..., 0.90)")
    pt_resize_interpolations: list[str] = Field(
        ["nearest", "bilinear", "bicubic"],
        description="resize filters, crossed with the scales (paper: OpenCV codes 0-4 = nearest, bilinear, bicubic, "
        "area, lanczos4)",
    )
    pt_noise_sigmas: list[float] = Field(
        [5.0, 15.0], description="Gaussian-noise sigmas on 0-255 (paper: variance 10, 13, ..., 49, i.e. 3.2..7.0)"
    )

    @model_validator(mode="after")
    def _pairs(self):
        if len(self.pt_double_jpeg_q1) != len(self.pt_double_jpeg_q2):
            raise ValueError(
                f"pt_double_jpeg_q1 and pt_double_jpeg_q2 pair index by index and need the same length, got "
                f"{len(self.pt_double_jpeg_q1)} and {len(self.pt_double_jpeg_q2)}"
            )
        return self
