"""GAN losses in a registry keyed by the ``loss`` selector (STYLE.md: ``<loss>_loss_gen/_dis``; PAPERS.md §1.3, §4.4).

Each registered loss is an ``nn.Module`` built as ``XLoss(hps, D)`` (the GAN-zoo contract): it may own auxiliary
heads sized from ``D.feature_dim`` / ``D.local_dim`` (SSGAN's rotation head, InfoMax-GAN's critics), whose
parameters the training loop hands to D's optimiser, and it computes

* ``d_loss(D, real, fake, step) -> (loss, logs)``: fake is detached by the caller; gradient penalties live here;
* ``g_loss(D, fake, step, real=None) -> (loss, logs)``: real is passed for the losses whose G loss compares
  embeddings of real and fake samples (Cramér, MMD).

``logs`` maps names to 0-d detached tensors (``float(v)`` gives the number; the loop converts them only on the
steps it logs, so that a step does not wait for the device). What a loss needs from D (``registry.Loss.needs``)
is read through ``D.forward_features(x) -> (out, feat, local)``; a discriminator without it (the skeleton's
DCGAN) offers its logits alone.

Randomness (the interpolation points of the gradient penalties) comes from the loss's own CPU generator
``self.rng``, which the training loop seeds and checkpoints, so a resumed run draws the same numbers.

The losses:

* ``nonsat``: Goodfellow et al. 2014, non-saturating G loss.
* ``hinge``: Lim & Ye 2017, SNGAN (Miyato et al. 2018).
* ``wgangp``: WGAN-GP as ProGAN trains it (tkarras ``D_wgangp_acgan``): λ/γ² · (‖∇D(x̂)‖ − γ)² with λ = 10, γ = 1,
  plus the drift term ε · D(x)², ε = 0.001.
* ``cramer``: the Cramér GAN critic of Bellemare et al. 2017 on D's embeddings, as mbinkowski/MMD-GAN trains
  CramerGAN (``core/cramer.py``, model ``cramer``) with a gradient penalty of 10.
* ``mmd``: MMD GAN (Bińkowski et al. 2018) with the ``mix_rq_1dot`` kernel (rational-quadratic, α ∈ {0.1, 1, 10},
  plus 1 × the dot product), the unbiased MMD², a gradient penalty 1 on the witness function and an L2 penalty 1
  on D's features (mbinkowski/MMD-GAN ``core/model.py``, ``core/mmd.py``).
* ``infomax``: InfoMax-GAN (Lee et al. 2021, kwotsin/mimicry): hinge + the InfoNCE loss between D's local and
  global features through two small critics (projected to ``nrkhs``), scale 0.2 in D (real images) and G.
* ``ssgan``: SSGAN (Chen et al. 2019, kwotsin/mimicry): hinge + 4-way rotation prediction from D's features,
  scale 1.0 in D (rotated real images) and 0.2 in G (rotated fakes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

EPS_NORM = 1e-5  # MMD-GAN's safer_norm: sqrt(sum x² + 1e-5)


# ----------------------------------------------------------------------------------------------------------
# plain functions of logits (the same losses, for tests and for reading)
def nonsat_loss_dis(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), with logits (N,)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def nonsat_loss_gen(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)) (the non-saturating generator loss), with logits (N,)."""
    return F.softplus(-fake_logits).mean()


def hinge_loss_dis(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """mean max(0, 1 − D(x)) + mean max(0, 1 + D(G(z)))."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_loss_gen(fake_logits: torch.Tensor) -> torch.Tensor:
    """−mean D(G(z))."""
    return -fake_logits.mean()


def safer_norm(x: torch.Tensor) -> torch.Tensor:
    """Row norms sqrt(Σ x² + 1e-5) of (N, ...) → (N,): differentiable at 0 (MMD-GAN ``ops.safer_norm``)."""
    return torch.sqrt(x.flatten(1).pow(2).sum(1) + EPS_NORM)


def mix_rq_kernel(
    X: torch.Tensor, Y: torch.Tensor, alphas: tuple[float, ...] = (0.1, 1.0, 10.0), dot_weight: float = 1.0
) -> torch.Tensor:
    """K(X, Y) (m, n): Σ_α (1 + ‖x − y‖² / 2α)^−α + dot_weight · x·y (``mix_rq_1dot`` for dot_weight 1)."""
    XY = X @ Y.T
    sq = (X.pow(2).sum(1)[:, None] + Y.pow(2).sum(1)[None, :] - 2.0 * XY).clamp_min(0.0)
    K = sum(torch.exp(-a * torch.log1p(sq / (2.0 * a))) for a in alphas)
    return K + dot_weight * XY if dot_weight > 0 else K


def mmd2_unbiased(K_XX: torch.Tensor, K_XY: torch.Tensor, K_YY: torch.Tensor) -> torch.Tensor:
    """The unbiased MMD² estimate (diagonals of K_XX and K_YY left out; MMD-GAN ``_mmd2``)."""
    m, n = K_XX.shape[0], K_YY.shape[0]
    if m < 2 or n < 2:
        raise ValueError(f"the unbiased MMD needs at least 2 samples per side, got {m} and {n}")
    return (
        (K_XX.sum() - K_XX.diagonal().sum()) / (m * (m - 1))
        + (K_YY.sum() - K_YY.diagonal().sum()) / (n * (n - 1))
        - 2.0 * K_XY.sum() / (m * n)
    )


def infonce_loss(local: torch.Tensor, glob: torch.Tensor) -> torch.Tensor:
    """DIM's InfoNCE between local features (N, R, L) and global features (N, R) (mimicry ``infonce_loss``).

    For image i and location p the positive score is l_{i,p}·g_i; the negatives are g_i·l_{j,q} for every other
    image j ≠ i and every location q; the pairs of the image with itself (j = i) enter the softmax at the
    constant −10, as in the reference. Loss = −mean over (i, p) of the log-softmax of the positive.
    """
    N, _, L = local.shape
    pos = torch.einsum("nrl,nr->nl", local, glob)  # (N, L)
    neg = torch.einsum("nr,jrq->njq", glob, local)  # (N, N, L): g_i · l_{j,q}
    eye = torch.eye(N, dtype=torch.bool, device=local.device)[:, :, None]
    neg = torch.where(eye, torch.full_like(neg, -10.0), neg).reshape(N, 1, N * L).expand(N, L, N * L)
    logits = torch.cat([pos[:, :, None], neg], dim=2)  # (N, L, 1 + N·L), the positive first
    return -F.log_softmax(logits, dim=2)[:, :, 0].mean()


def rotate_quarters(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate image i of (N, C, H, W) by 90° · (4i // N) (a quarter of the batch per angle; mimicry
    ``_rotate_batch``); returns the images and the labels 0..3 (0°, 90°, 180°, 270° counter-clockwise)."""
    n = x.shape[0]
    labels = torch.tensor([4 * i // n for i in range(n)], dtype=torch.long, device=x.device)
    out = torch.cat([torch.rot90(x[i : i + 1], int(labels[i]), dims=(2, 3)) for i in range(n)])
    return out, labels


def d_outputs(D: nn.Module, x: torch.Tensor):
    """(out, feat, local) of D on x; a discriminator without ``forward_features`` gives (D(x), None, None)."""
    ff = getattr(D, "forward_features", None)
    return ff(x) if ff is not None else (D(x), None, None)


def logits(D: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return d_outputs(D, x)[0].reshape(x.shape[0])


def _need(value, what: str, loss: str):
    if value is None:
        raise ValueError(f"loss '{loss}' needs the discriminator's {what} (forward_features returned None)")
    return value


def _interpolate(real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """x̂ = real + α (fake − real), α ~ U[0, 1) per sample from ``rng`` (drawn on the CPU: device-independent)."""
    n = min(real.shape[0], fake.shape[0])
    alpha = torch.rand(n, 1, 1, 1, generator=rng).to(device=real.device, dtype=real.dtype)
    return (real[:n] + alpha * (fake[:n] - real[:n])).detach().requires_grad_(True)


def _input_grad(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    (g,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return g


# ----------------------------------------------------------------------------------------------------------
class GanLoss(nn.Module):
    """Base of the registered losses: keeps the hyperparameters and the loss's random generator."""

    name = ""
    double_backward = False  # True where d_loss takes gradients of gradients (no torch.compile of D then)

    def __init__(self, hps, D: nn.Module | None = None):
        super().__init__()
        self.hps = hps
        self.rng = torch.Generator(device="cpu")
        self.rng.manual_seed(0)

    def seed(self, seed: int) -> None:
        self.rng.manual_seed(seed)

    def d_loss(self, D, real, fake, step):  # pragma: no cover - abstract
        raise NotImplementedError

    def g_loss(self, D, fake, step, real=None):  # pragma: no cover - abstract
        raise NotImplementedError


class NonsatLoss(GanLoss):
    """Non-saturating loss (Goodfellow et al. 2014)."""

    name = "nonsat"

    def d_loss(self, D, real, fake, step):
        return nonsat_loss_dis(logits(D, real), logits(D, fake)), {}

    def g_loss(self, D, fake, step, real=None):
        return nonsat_loss_gen(logits(D, fake)), {}


class HingeLoss(GanLoss):
    """Hinge loss (SNGAN; mimicry's default)."""

    name = "hinge"

    def d_loss(self, D, real, fake, step):
        return hinge_loss_dis(logits(D, real), logits(D, fake)), {}

    def g_loss(self, D, fake, step, real=None):
        return hinge_loss_gen(logits(D, fake)), {}


class WganGpLoss(GanLoss):
    """WGAN-GP with ProGAN's target and drift: D(G(z)) − D(x) + λ/γ² (‖∇D(x̂)‖ − γ)² + ε D(x)², per sample, mean."""

    name = "wgangp"
    double_backward = True

    def d_loss(self, D, real, fake, step):
        h = self.hps
        out_r, out_f = logits(D, real), logits(D, fake)
        x_hat = _interpolate(real, fake, self.rng)
        norms = _input_grad(logits(D, x_hat), x_hat).flatten(1).norm(dim=1)
        gp = (norms - h.gp_target).pow(2)
        drift = out_r.pow(2)
        wd = out_f.mean() - out_r.mean()
        loss = wd + (h.gp_weight / h.gp_target**2) * gp.mean() + h.drift * drift.mean()
        return loss, {"d_wdist": -wd.detach(), "d_gp": gp.mean().detach()}

    def g_loss(self, D, fake, step, real=None):
        return -logits(D, fake).mean(), {}


class CramerLoss(GanLoss):
    """Cramér GAN (Bellemare et al. 2017) on D's embeddings h, as mbinkowski/MMD-GAN's ``cramer`` model.

    With critic(x, x') = ‖x − x'‖ − ‖x‖ on embeddings: D minimises −mean[critic(h_r, h_f) − critic(h_f', h_f)]
    + gp · mean (‖∇_x̂ critic(h(x̂), h_f)‖ − 1)²; G minimises mean[−‖h_f − h_f'‖ + ‖h_f − h_r‖ + ‖h_f' − h_r‖].
    The reference draws a second, independent fake batch for f'; here f' is the same batch shifted by one
    (fake j−1 beside fake j): the same expectation without a second generator pass. Norms are MMD-GAN's
    ``safer_norm``. The gradient norm is taken over the whole image (the reference's TF code takes it over
    NHWC axis 1 only, a quirk not carried over).
    """

    name = "cramer"
    double_backward = True

    @staticmethod
    def critic(x: torch.Tensor, x_: torch.Tensor) -> torch.Tensor:
        return safer_norm(x - x_) - safer_norm(x)

    def _emb(self, D, x):
        return _need(d_outputs(D, x)[0], "embedding", self.name).reshape(x.shape[0], -1)

    def d_loss(self, D, real, fake, step):
        n = min(real.shape[0], fake.shape[0])
        h_r, h_f = self._emb(D, real[:n]), self._emb(D, fake[:n])
        h_f2 = h_f.roll(1, 0)
        surrogate = (self.critic(h_r, h_f) - self.critic(h_f2, h_f)).mean()
        x_hat = _interpolate(real[:n], fake[:n], self.rng)
        to_penalise = self.critic(self._emb(D, x_hat), h_f)
        gp = (safer_norm(_input_grad(to_penalise, x_hat)) - 1.0).pow(2).mean()
        return -surrogate + self.hps.gp_weight * gp, {"d_surrogate": surrogate.detach(), "d_gp": gp.detach()}

    def g_loss(self, D, fake, step, real=None):
        if real is None:
            raise ValueError("loss 'cramer' compares fakes with real images: g_loss needs real=")
        n = min(real.shape[0], fake.shape[0])
        h_r, h_f = self._emb(D, real[:n]), self._emb(D, fake[:n])
        h_f2 = h_f.roll(1, 0)
        loss = (-safer_norm(h_f - h_f2) + safer_norm(h_f - h_r) + safer_norm(h_f2 - h_r)).mean()
        return loss, {}


class MmdLoss(GanLoss):
    """MMD GAN with the ``mix_rq_1dot`` kernel on D's embeddings (mbinkowski/MMD-GAN ``MMD_GAN``).

    G minimises MMD²_u(fake, real); D minimises −MMD²_u + gp · mean (‖∇_x̂ w(x̂)‖ − 1)² + l2 · L2, with the witness
    w(x̂) = mean_j k(h(x̂), h_r,j) − mean_j k(h(x̂), h_f,j) and L2 the per-sample mean of squared D activations
    summed over the layers D exposes (the reference sums every layer of its DCGAN5 critic; the contract exposes
    the embedding, plus the features and local map where D provides them), over real and fake, batch-averaged.
    """

    name = "mmd"
    double_backward = True

    def _kernel(self, X, Y):
        return mix_rq_kernel(X, Y, tuple(self.hps.rq_alphas), self.hps.dot_weight)

    def _mmd2(self, h_f, h_r):
        return mmd2_unbiased(self._kernel(h_f, h_f), self._kernel(h_f, h_r), self._kernel(h_r, h_r))

    def d_loss(self, D, real, fake, step):
        h = self.hps
        out_r, out_f = d_outputs(D, real), d_outputs(D, fake)
        h_r = _need(out_r[0], "embedding", self.name).reshape(real.shape[0], -1)
        h_f = _need(out_f[0], "embedding", self.name).reshape(fake.shape[0], -1)
        mmd2 = self._mmd2(h_f, h_r)
        loss = -mmd2
        logs = {"mmd2": mmd2.detach()}
        if h.gp_weight > 0:
            x_hat = _interpolate(real, fake, self.rng)
            h_hat = d_outputs(D, x_hat)[0].reshape(x_hat.shape[0], -1)
            witness = self._kernel(h_hat, h_r).mean(1) - self._kernel(h_hat, h_f).mean(1)
            gp = (safer_norm(_input_grad(witness, x_hat)) - 1.0).pow(2).mean()
            loss = loss + h.gp_weight * gp
            logs["d_gp"] = gp.detach()
        if h.l2_weight > 0:
            l2 = sum(t.flatten(1).pow(2).mean(1).mean() for outs in (out_f, out_r) for t in outs if t is not None)
            loss = loss + h.l2_weight * l2
            logs["d_l2"] = l2.detach()
        return loss, logs

    def g_loss(self, D, fake, step, real=None):
        if real is None:
            raise ValueError("loss 'mmd' compares fakes with real images: g_loss needs real=")
        h_r = _need(d_outputs(D, real)[0], "embedding", self.name).reshape(real.shape[0], -1)
        h_f = d_outputs(D, fake)[0].reshape(fake.shape[0], -1)
        return self._mmd2(h_f, h_r), {}


def _sn_xavier(layer: nn.Module) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight, 1.0)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return spectral_norm(layer)


class _Projection(nn.Module):
    """mimicry's InfoMax critic: a(x) → ReLU → b, plus a linear shortcut; SN layers, xavier init."""

    def __init__(self, make, c_in: int, c_out: int):
        super().__init__()
        self.a, self.b, self.sc = (
            _sn_xavier(make(c_in, c_in)),
            _sn_xavier(make(c_in, c_out)),
            _sn_xavier(make(c_in, c_out)),
        )

    def forward(self, x):
        return self.b(F.relu(self.a(x))) + self.sc(x)


class InfoMaxLoss(GanLoss):
    """InfoMax-GAN: hinge + scale · InfoNCE(local critic(local features), global critic(features)).

    D's term is on real images (scale ``d_scale``), G's on its fakes (``g_scale``), both on the projections to
    ``nrkhs`` dimensions (mimicry ``InfoMaxGANBaseGenerator/BaseDiscriminator``). The critics are parameters
    of this loss (optimised with D).
    """

    name = "infomax"

    def __init__(self, hps, D: nn.Module):
        super().__init__(hps, D)
        feature_dim, local_dim = int(getattr(D, "feature_dim", 0)), int(getattr(D, "local_dim", 0))
        if feature_dim < 1 or local_dim < 1:
            raise ValueError(
                f"loss 'infomax' needs a discriminator with features and local features; "
                f"got feature_dim={feature_dim}, local_dim={local_dim}"
            )
        self.local_critic = _Projection(lambda i, o: nn.Conv2d(i, o, 1), local_dim, hps.nrkhs)
        self.global_critic = _Projection(nn.Linear, feature_dim, hps.nrkhs)

    def infomax(self, feat: torch.Tensor, local: torch.Tensor) -> torch.Tensor:
        loc = self.local_critic(_need(local, "local features", self.name)).flatten(2)  # (N, nrkhs, h·w)
        glob = self.global_critic(_need(feat, "features", self.name))  # (N, nrkhs)
        return infonce_loss(loc, glob)

    def d_loss(self, D, real, fake, step):
        out_r, feat_r, local_r = d_outputs(D, real)
        gan = hinge_loss_dis(out_r.reshape(real.shape[0]), logits(D, fake))
        im = self.hps.d_scale * self.infomax(feat_r, local_r)
        return gan + im, {"d_gan": gan.detach(), "d_infomax": im.detach()}

    def g_loss(self, D, fake, step, real=None):
        out_f, feat_f, local_f = d_outputs(D, fake)
        gan = hinge_loss_gen(out_f.reshape(fake.shape[0]))
        im = self.hps.g_scale * self.infomax(feat_f, local_f)
        return gan + im, {"g_gan": gan.detach(), "g_infomax": im.detach()}


class SSGANLoss(GanLoss):
    """SSGAN: hinge on upright images + scale · CE(rotation head(features of rotated images), rotation).

    D's term rotates the real batch (``d_scale``), G's the fakes (``g_scale``); a quarter of the batch per angle
    (mimicry ``ssgan_base``). The 4-way head (an SN linear on ``D.feature_dim``, xavier init) belongs to this loss.
    """

    name = "ssgan"

    def __init__(self, hps, D: nn.Module):
        super().__init__(hps, D)
        feature_dim = int(getattr(D, "feature_dim", 0))
        if feature_dim < 1:
            raise ValueError(f"loss 'ssgan' needs a discriminator with features; got feature_dim={feature_dim}")
        self.rotation_head = _sn_xavier(nn.Linear(feature_dim, 4))

    def ss_loss(self, D, images: torch.Tensor) -> torch.Tensor:
        rotated, labels = rotate_quarters(images)
        feat = _need(d_outputs(D, rotated)[1], "features", self.name)
        return F.cross_entropy(self.rotation_head(feat), labels)

    def d_loss(self, D, real, fake, step):
        gan = hinge_loss_dis(logits(D, real), logits(D, fake))
        ss = self.hps.d_scale * self.ss_loss(D, real)
        return gan + ss, {"d_gan": gan.detach(), "d_ss": ss.detach()}

    def g_loss(self, D, fake, step, real=None):
        gan = hinge_loss_gen(logits(D, fake))
        ss = self.hps.g_scale * self.ss_loss(D, fake)
        return gan + ss, {"g_gan": gan.detach(), "g_ss": ss.detach()}


def _losses() -> dict:
    from ganprint.registry import LOSSES as ENTRIES
    from ganprint.registry import load

    return {name: load(e.cls) for name, e in ENTRIES.items()}


LOSSES: dict[str, type[GanLoss]] = _losses()  # name → loss class, from ganprint.registry


def build_loss(name: str, hps, D: nn.Module) -> GanLoss:
    """The loss module ``name`` for discriminator ``D`` (hyperparameters ``hps``: its params.yaml section)."""
    return LOSSES[name](hps, D)
