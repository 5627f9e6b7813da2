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


class HingeHps(Section):
    """Hinge loss (Lim & Ye 2017; SNGAN, Miyato et al. 2018, PAPERS.md §1.3): no hyperparameters."""


class WganGpHps(Section):
    """WGAN-GP as ProGAN trains it (Gulrajani et al. 2017; Karras et al. 2018, PAPERS.md §1.3)."""

    gp_weight: float = Field(10.0, ge=0.0, description="gradient-penalty weight λ (paper ProGAN: 10)")
    gp_target: float = Field(1.0, gt=0.0, description="target gradient norm γ; the penalty is λ/γ² (paper ProGAN: 1)")
    drift: float = Field(0.001, ge=0.0, description="drift penalty ε · D(x)² on real scores (paper ProGAN: 0.001)")


class CramerHps(Section):
    """Cramér GAN critic (Bellemare et al. 2017) as the MMD-GAN code base trains CramerGAN (PAPERS.md §1.3)."""

    gp_weight: float = Field(10.0, ge=0.0, description="gradient-penalty weight (paper CramerGAN: 10)")


class MmdHps(Section):
    """MMD GAN (Bińkowski et al. 2018) with the mix_rq_1dot kernel, as the MMD-GAN code base (PAPERS.md §1.3)."""

    rq_alphas: list[float] = Field(
        [0.1, 1.0, 10.0], min_length=1, description="rational-quadratic kernel scales α (paper MMDGAN: 0.1, 1, 10)"
    )
    dot_weight: float = Field(1.0, ge=0.0, description="weight of the added dot-product kernel (paper mix_rq_1dot: 1)")
    gp_weight: float = Field(1.0, ge=0.0, description="gradient penalty on the MMD witness (paper MMDGAN: 1)")
    l2_weight: float = Field(1.0, ge=0.0, description="L2 penalty on the critic's features (paper MMDGAN: 1)")


class InfoMaxHps(Section):
    """InfoMax-GAN (Lee et al. 2021, kwotsin/mimicry, PAPERS.md §4.4): hinge + InfoNCE of local vs global D features."""

    nrkhs: int = Field(1024, ge=1, description="RKHS size the critics project local/global features to (paper: 1024)")
    d_scale: float = Field(0.2, ge=0.0, description="weight of the InfoMax loss in D's loss (paper β: 0.2)")
    g_scale: float = Field(0.2, ge=0.0, description="weight of the InfoMax loss in G's loss (paper α: 0.2)")


class SSGANHps(Section):
    """SSGAN (Chen et al. 2019, kwotsin/mimicry, PAPERS.md §4.4): hinge + 4-way rotation prediction on D features."""

    d_scale: float = Field(1.0, ge=0.0, description="ss_loss_scale of D, rotations of real images (paper: 1.0)")
    g_scale: float = Field(0.2, ge=0.0, description="ss_loss_scale of G, rotations of fake images (paper: 0.2)")


# --- attribution methods ------------------------------------------------------------------------------------
class PostpoolHps(Section):
    """Yu et al. 2019 C_patch, mode postpool (PAPERS.md §1.4)."""

    fmap_base: int = Field(256, ge=4, description="width rule nf(s) = min(fmap_base / 2^s, fmap_max) (paper: 1024)")
    fmap_max: int = Field(128, ge=4, description="(paper: 512)")
    lr: float = Field(1e-3, ge=0.0, description="Adam learning rate (paper: 0.001)")
    beta1: float = Field(0.0, ge=0.0, le=1.0, description="Adam beta1 (paper: 0.0)")
    beta2: float = Field(0.99, ge=0.0, le=1.0, description="Adam beta2 (paper: 0.99)")
    hflip: bool = Field(True, description="random horizontal flip while training (paper: true)")
    input: Literal["pixel", "dct"] = Field(
        "pixel", description="network input: pixel = RGB in [-1, 1] (paper), dct = Frank et al.'s grey log-DCT"
    )


class GanDCTHps(Section):
    """Frank et al. 2020 gandct-conv, the simple CNN on the log-DCT spectrum (PAPERS §3.2, §7.1 item 3)."""

    input: Literal["pixel", "dct"] = Field("dct", description="dct = grey log-DCT, standardised (paper); or pixel")
    lr: float = Field(1e-3, ge=0.0, description="Adam learning rate (paper code: 0.001)")
    beta1: float = Field(0.9, ge=0.0, le=1.0, description="Adam beta1 (paper code: Keras default 0.9)")
    beta2: float = Field(0.999, ge=0.0, le=1.0, description="Adam beta2 (paper code: Keras default 0.999)")
    hflip: bool = Field(False, description="random horizontal flip while training (paper: false)")


class KNNHps(Section):
    """kNN on pixels, Yu et al. 2019 Table 1's baseline (PAPERS §1.7)."""

    k: int = Field(5, ge=1, description="neighbours (paper: not stated)")
    downscale: int = Field(1, ge=1, description="average-pool the image by this factor first (1 = full pixels)")


class PRNUHps(Section):
    """PRNU-style baseline (Marra et al. 2019; Yu et al. 2019 Table 1, PAPERS §1.7): residual correlation."""

    sigma: float = Field(
        1.0, gt=0.0, description="std (px) of the Gaussian denoiser; residual = grey - blur (paper: wavelet)"
    )
    scores: Literal["softmax", "correlation"] = Field(
        "softmax", description="softmax(corr / temperature) or the raw normalised correlations"
    )
    temperature: float = Field(0.01, gt=0.0, description="softmax temperature over correlations in [-1, 1]")
