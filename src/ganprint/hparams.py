"""Hyperparameter sections of the registered archs, losses and methods (params.yaml ``archs``/``losses``/``methods``).

Pydantic v2 models, frozen, unknown keys refused. They live apart from :mod:`ganprint.config` so that
:mod:`ganprint.registry` can name them without importing the whole config (and without importing torch).
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

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


class VisNetHps(Section):
    """Yu et al. 2019 visNet, the learned-fingerprint auto-encoder (PAPERS.md §1.5); defaults sized for a CPU."""

    fmap_base: int = Field(256, ge=4, description="EG width rule nf(s) = min(fmap_base / 2^s, fmap_max) (paper: 1024)")
    fmap_max: int = Field(128, ge=4, description="EG width cap (paper: 512)")
    d_fmap_base: int = Field(128, ge=4, description="D_rec width rule (paper: 1024)")
    d_fmap_max: int = Field(64, ge=4, description="D_rec width cap (paper: 512)")
    mbstd_group: int = Field(4, ge=0, description="D_rec minibatch-stddev group size, 0/1 = off (paper: 4)")
    rec_weight: float = Field(20.0, ge=0.0, description="weight of the L1 reconstruction loss (paper: 20)")
    adv_weight: float = Field(
        0.1,
        ge=0.0,
        description="weight of the D_rec adversarial term on the reconstruction; 0 drops D_rec (paper: 0.1)",
    )
    gp_weight: float = Field(10.0, ge=0.0, description="WGAN-GP gradient-penalty weight of D_rec (paper: 10)")
    drift: float = Field(0.001, ge=0.0, description="WGAN-GP drift penalty on real scores (paper: 0.001)")
    lr: float = Field(1e-3, ge=0.0, description="Adam learning rate of EG and of D_rec (paper: 0.001)")
    beta1: float = Field(0.0, ge=0.0, le=1.0, description="Adam beta1 (paper: 0.0)")
    beta2: float = Field(0.99, ge=0.0, le=1.0, description="Adam beta2 (paper: 0.99)")
    ema_beta: float = Field(0.999, ge=0.0, le=1.0, description="EMA decay of the evaluated copy EGs (paper: 0.999)")
    ema_rampup: bool = Field(
        True,
        description="EMA decay min(ema_beta, (1+t)/(10+t)) at step t, so short runs are not dominated by the "
        "initial weights (paper: false, a constant 0.999 over 25 M images)",
    )
    hflip: bool = Field(True, description="random horizontal flip while training (paper: true, lr_mirror_augment)")


class ClassModelHps(Section):
    """Generator_Attribution transferable class-modelling: detector + one-vs-rest heads (PAPERS.md §3.2-3.3)."""

    input: Literal["pixel", "dct"] = Field(
        "pixel", description="network input: RGB pixels in [-1, 1], or the standardised log-DCT (paper: both)"
    )
    lr_det: float = Field(1e-3, ge=0.0, description="Adam learning rate of the detection module (paper: 1e-3)")
    lr_att: float = Field(1e-3, ge=0.0, description="Adam learning rate of each attribution head (paper: 1e-4)")
    init_std: float = Field(0.02, gt=0.0, description="std of the N(0, std) weight initialisation (paper: 0.02)")
    bn_momentum: float = Field(
        0.1,
        gt=0.0,
        le=1.0,
        description="PyTorch BatchNorm momentum of the running statistics; short runs need 0.1 "
        "(paper: Keras momentum 0.99 = 0.01 here)",
    )
    patience: int = Field(
        5, ge=0, description="early stopping on the val loss, best weights restored; 0 = off (paper: 5, up to 20)"
    )
