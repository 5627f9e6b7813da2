"""Hyperparameter sections of the registered archs, losses and methods (params.yaml ``archs``/``losses``/``methods``).

Pydantic v2 models, frozen, unknown keys refused. They live apart from :mod:`ganprint.config` so that
:mod:`ganprint.registry` can name them without importing the whole config (and without importing torch).
"""

from __future__ import annotations

import difflib
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


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
class GANArchSection(Section):
    """What every arch section offers the training loop: the keyword arguments of its G and D.

    Every arch section has the fields ``z_dim, width, lr_g, lr_d, beta1, beta2, n_dis, ema`` (GAN-zoo contract);
    the family's own fields named in ``G_KEYS`` / ``D_KEYS`` are passed to the networks under the same names.
    """

    G_KEYS: ClassVar[tuple[str, ...]] = ("z_dim", "width")
    D_KEYS: ClassVar[tuple[str, ...]] = ("width",)

    def generator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the generator after ``resolution``: ``G(resolution=R, **hps.generator_kwargs())``."""
        return {k: getattr(self, k) for k in self.G_KEYS}

    def discriminator_kwargs(self, loss: str | None = None) -> dict[str, Any]:
        """Keyword arguments of the discriminator after ``resolution`` (``loss``: the GAN's loss name, if known)."""
        return {k: getattr(self, k) for k in self.D_KEYS}


class DCGANHps(GANArchSection):
    """DCGAN (Radford et al. 2016), the skeleton's stand-in for the papers' GANs (PAPERS.md §7.1)."""

    z_dim: int = Field(64, ge=1, description="latent size (paper ProGAN: 512, SNGAN: 128)")
    width: int = Field(32, ge=4, description="base channel width of G and D (DCGAN: 64)")
    lr_g: float = Field(2e-4, ge=0.0, description="Adam learning rate of G (DCGAN: 2e-4)")
    lr_d: float = Field(2e-4, ge=0.0, description="Adam learning rate of D (DCGAN: 2e-4)")
    beta1: float = Field(0.5, ge=0.0, le=1.0, description="Adam beta1 (DCGAN: 0.5)")
    beta2: float = Field(0.999, ge=0.0, le=1.0, description="Adam beta2 (DCGAN: 0.999)")
    n_dis: int = Field(1, ge=1, description="D steps per G step (DCGAN: 1)")
    ema: float = Field(0.0, ge=0.0, lt=1.0, description="EMA decay of G's weights, 0 = off (DCGAN: off)")


class ProGANHps(GANArchSection):
    """ProGAN (Karras et al. 2018, ``G_paper``/``D_paper``; PAPERS.md §1.3), progressive growing from 4 px.

    Paper schedule: 600 kimg stable at 4 px, then per new side 600 kimg fade-in + 600 kimg stable; here the
    phases are scaled to ``train_gan.steps`` (``fade_fraction`` of each new side's phase fades in).
    """

    G_KEYS: ClassVar[tuple[str, ...]] = ("z_dim", "width", "fmap_base", "start_resolution", "fade_fraction")
    D_KEYS: ClassVar[tuple[str, ...]] = ("width", "fmap_base", "start_resolution", "fade_fraction", "mbstd_group")

    z_dim: int = Field(128, ge=1, description="latent size, normalised by pixel norm (paper: 512)")
    width: int = Field(48, ge=4, description="fmap_max, the channel cap of G and D (paper: 512)")
    lr_g: float = Field(1e-3, ge=0.0, description="Adam learning rate of G (paper: 1e-3 up to 64 px, 1.5e-3 at 128)")
    lr_d: float = Field(1e-3, ge=0.0, description="Adam learning rate of D (paper: 1e-3 up to 64 px, 1.5e-3 at 128)")
    beta1: float = Field(0.0, ge=0.0, le=1.0, description="Adam beta1 (paper: 0)")
    beta2: float = Field(0.99, ge=0.0, le=1.0, description="Adam beta2 (paper: 0.99)")
    n_dis: int = Field(1, ge=1, description="D steps per G step (paper: 1)")
    ema: float = Field(0.999, ge=0.0, lt=1.0, description="EMA decay of G's weights, 0 = off (paper: 0.999)")
    fmap_base: int = Field(256, ge=4, description="widths min(fmap_base / 2^s, width) (paper: 8192)")
    start_resolution: int = Field(4, ge=4, description="side of the first stage, a power of two (paper: 4)")
    fade_fraction: float = Field(
        0.5, ge=0.0, lt=1.0, description="share of each new side's phase spent fading in (paper: 0.5, 600k of 1200k)"
    )
    mbstd_group: int = Field(4, ge=1, description="minibatch-stddev group size of D (paper: 4)")

    @field_validator("start_resolution")
    @classmethod
    def _power_of_two(cls, v: int) -> int:
        if v & (v - 1):
            raise ValueError(f"{v} must be a power of two (4, 8, 16, …) no larger than the data's side")
        return v


class SNGANHps(GANArchSection):
    """SNGAN ResNet G + SN-ResNet D (Miyato et al. 2018, pfnet-research/sngan_projection; PAPERS.md §1.3)."""

    G_KEYS: ClassVar[tuple[str, ...]] = ("z_dim", "width", "upsample")

    z_dim: int = Field(128, ge=1, description="latent size (paper: 128)")
    width: int = Field(16, ge=4, description="ch: the map at side r has ch * min(16, R/r) channels (paper: 64)")
    lr_g: float = Field(2e-4, ge=0.0, description="Adam learning rate of G (paper: 2e-4)")
    lr_d: float = Field(2e-4, ge=0.0, description="Adam learning rate of D (paper: 2e-4)")
    beta1: float = Field(0.0, ge=0.0, le=1.0, description="Adam beta1 (paper: 0)")
    beta2: float = Field(0.9, ge=0.0, le=1.0, description="Adam beta2 (paper: 0.9)")
    n_dis: int = Field(5, ge=1, description="D steps per G step (paper: 5)")
    ema: float = Field(0.0, ge=0.0, lt=1.0, description="EMA decay of G's weights, 0 = off (paper: off)")
    upsample: Literal["nearest", "bilinear", "deconv"] = Field(
        "nearest",
        description="G's 2x upsampling: nearest (pfnet SNGAN), bilinear (mimicry), deconv (4x4 stride-2 ablation)",
    )


class MimicryHps(SNGANHps):
    """mimicry's SNGAN-style ResNet (kwotsin/mimicry; InfoMax-GAN and SSGAN, PAPERS.md §4.4): bilinear upsampling."""

    upsample: Literal["nearest", "bilinear", "deconv"] = Field(
        "bilinear",
        description="G's 2x upsampling: bilinear (mimicry, paper), nearest (pfnet SNGAN), deconv (ablation)",
    )


class MMDGANHps(GANArchSection):
    """The MMD-GAN code base's g_resnet5 G + DCGAN5 critic (CramerGAN and MMDGAN sources; PAPERS.md §1.3)."""

    G_KEYS: ClassVar[tuple[str, ...]] = ("z_dim", "width")
    D_KEYS: ClassVar[tuple[str, ...]] = ("width", "dof_dim")
    DOF_DIM_BY_LOSS: ClassVar[dict[str, int]] = {"cramer": 256, "mmd": 16}

    z_dim: int = Field(100, ge=1, description="latent size, z ~ U[-1, 1] (paper: 100)")
    width: int = Field(32, ge=4, description="G channels at R/2 and D's first conv width, doubled per side (paper: 64)")
    lr_g: float = Field(1e-4, ge=0.0, description="Adam learning rate of G (paper: 1e-4)")
    lr_d: float = Field(1e-4, ge=0.0, description="Adam learning rate of D (paper: 1e-4)")
    beta1: float = Field(0.5, ge=0.0, le=1.0, description="Adam beta1 (paper: 0.5)")
    beta2: float = Field(0.9, ge=0.0, le=1.0, description="Adam beta2 (paper: 0.9)")
    n_dis: int = Field(5, ge=1, description="D steps per G step (paper: 5)")
    ema: float = Field(0.0, ge=0.0, lt=1.0, description="EMA decay of G's weights, 0 = off (paper: off)")
    dof_dim: int = Field(
        0, ge=0, description="critic embedding size; 0 = the paper's for the GAN's loss (CramerGAN: 256, MMDGAN: 16)"
    )

    def discriminator_kwargs(self, loss: str | None = None) -> dict[str, Any]:
        """As the base; ``dof_dim`` 0 resolves to 256 for loss 'cramer' and 16 otherwise (mmd, or loss unknown)."""
        kwargs = super().discriminator_kwargs(loss)
        if not kwargs["dof_dim"]:
            kwargs["dof_dim"] = self.DOF_DIM_BY_LOSS.get(loss or "", 16)
        return kwargs


class StyleGAN2Hps(GANArchSection):
    """A compact StyleGAN2 (Karras et al. 2020, config E/F in pure PyTorch; PAPERS.md §4.4 in-the-wild classes)."""

    G_KEYS: ClassVar[tuple[str, ...]] = ("z_dim", "width", "n_mlp", "lr_mlp", "noise_seed")
    D_KEYS: ClassVar[tuple[str, ...]] = ("width", "mbstd_group")

    z_dim: int = Field(128, ge=1, description="latent size = w size (paper: 512)")
    width: int = Field(12, ge=4, description="channels at side R, width * min(8, R/r) at side r (paper: 512 capped)")
    lr_g: float = Field(2e-3, ge=0.0, description="Adam learning rate of G (paper: 2e-3)")
    lr_d: float = Field(2e-3, ge=0.0, description="Adam learning rate of D (paper: 2e-3)")
    beta1: float = Field(0.0, ge=0.0, le=1.0, description="Adam beta1 (paper: 0)")
    beta2: float = Field(0.99, ge=0.0, le=1.0, description="Adam beta2 (paper: 0.99)")
    n_dis: int = Field(1, ge=1, description="D steps per G step (paper: 1)")
    ema: float = Field(0.999, ge=0.0, lt=1.0, description="EMA decay of G's weights, 0 = off (paper: ~0.999, 10 kimg)")
    n_mlp: int = Field(4, ge=1, description="mapping-network layers (paper: 8)")
    lr_mlp: float = Field(0.01, gt=0.0, description="learning-rate multiplier of the mapping network (paper: 0.01)")
    noise_seed: int = Field(0, ge=0, description="seed of the fixed eval-mode noise maps and the training noise stream")
    mbstd_group: int = Field(4, ge=1, description="minibatch-stddev group size of D (paper: 4)")


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
