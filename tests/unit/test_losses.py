"""ganprint.losses: the registered GAN losses at hand-computed values, and each one's gradients reach D, its
auxiliary heads and G (a fake D providing logit/embedding, features and a local map: tests/unit/gan_fakes.py)."""

from __future__ import annotations

import math

import pytest
import torch
from gan_fakes import FakeD, FakeG
from torch import nn

from ganprint import registry
from ganprint.config import GAN_LOSSES
from ganprint.losses import (
    LOSSES,
    CramerLoss,
    HingeLoss,
    InfoMaxLoss,
    MmdLoss,
    NonsatLoss,
    SSGANLoss,
    WganGpLoss,
    build_loss,
    infonce_loss,
    mix_rq_kernel,
    mmd2_unbiased,
    nonsat_loss_dis,
    nonsat_loss_gen,
    rotate_quarters,
    safer_norm,
)


def softplus(x: float) -> float:
    """log(1 + e^x), by hand."""
    return math.log1p(math.exp(x))


LN2 = math.log(2.0)


def test_dis_loss_exact():
    real = torch.tensor([0.0, 2.0])
    fake = torch.tensor([-1.0, 1.0])
    out = nonsat_loss_dis(real, fake)
    assert out.shape == () and out.dtype == torch.float32
    # -log D(x) = softplus(-real); -log(1 - D(G(z))) = softplus(fake); each averaged over its batch:
    # (ln 2 + ln(1 + e^-2)) / 2 + (ln(1 + e^-1) + ln(1 + e)) / 2, and ln(1 + e) − ln(1 + e^-1) = 1
    expected = (LN2 + math.log1p(math.exp(-2.0))) / 2 + (2 * math.log1p(math.exp(-1.0)) + 1.0) / 2
    assert out.item() == pytest.approx(expected, rel=1e-6)
    assert out.item() == pytest.approx(1.2232992833196818, rel=1e-6)


def test_gen_loss_exact():
    fake = torch.tensor([-1.0, 1.0, 3.0])
    expected = (softplus(1.0) + softplus(-1.0) + softplus(-3.0)) / 3
    assert nonsat_loss_gen(fake).item() == pytest.approx(expected, rel=1e-6)
    assert nonsat_loss_gen(fake).item() == pytest.approx(0.5583702422033959, rel=1e-6)


def test_dis_loss_is_the_bce_of_sigmoid_probabilities():
    # the same loss written as binary cross-entropy on D = sigmoid(logit): −mean log D(x) − mean log(1 − D(G(z)))
    real = torch.tensor([0.3, -1.2, 2.5], dtype=torch.float64)
    fake = torch.tensor([-0.7, 1.1], dtype=torch.float64)
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected = -(d_real.log().mean() + (1 - d_fake).log().mean())
    assert nonsat_loss_dis(real, fake).item() == pytest.approx(expected.item(), rel=1e-12)
    assert nonsat_loss_gen(fake).item() == pytest.approx(-d_fake.log().mean().item(), rel=1e-12)


def test_discriminator_loss_falls_as_it_separates_real_from_fake():
    # directional: raising real logits / lowering fake logits lowers the D loss; raising fake logits lowers G's
    losses_d = [nonsat_loss_dis(torch.tensor([m]), torch.tensor([-m])).item() for m in (-2.0, 0.0, 2.0, 4.0)]
    assert losses_d == pytest.approx([2 * softplus(m) for m in (2.0, 0.0, -2.0, -4.0)], rel=1e-6)
    assert losses_d == sorted(losses_d, reverse=True) and len(set(losses_d)) == 4
    losses_g = [nonsat_loss_gen(torch.tensor([m])).item() for m in (-2.0, 0.0, 2.0)]
    assert losses_g == sorted(losses_g, reverse=True) and len(set(losses_g)) == 3


def test_zero_logits_give_log2():
    z = torch.zeros(5)
    assert nonsat_loss_dis(z, z).item() == pytest.approx(2 * LN2, rel=1e-6)
    assert nonsat_loss_gen(z).item() == pytest.approx(LN2, rel=1e-6)


def test_batch_sizes_of_real_and_fake_may_differ():
    real = torch.tensor([1.0])
    fake = torch.tensor([0.0, 0.0, 0.0, 0.0])
    assert nonsat_loss_dis(real, fake).item() == pytest.approx(softplus(-1.0) + LN2, rel=1e-6)


def test_stable_for_large_logits():
    big = torch.tensor([100.0])
    assert nonsat_loss_gen(-big).item() == pytest.approx(100.0)  # log(1 + e^100), no overflow
    assert nonsat_loss_gen(big).item() == pytest.approx(0.0, abs=1e-30)
    assert nonsat_loss_dis(big, -big).item() == pytest.approx(0.0, abs=1e-30)
    assert nonsat_loss_dis(-big, big).item() == pytest.approx(200.0)  # 2 · log(1 + e^100): finite, exact


def test_gradients_exact():
    # d/dx softplus(-x) = -sigmoid(-x); the mean divides by N
    fake = torch.tensor([0.0, 2.0], requires_grad=True)
    nonsat_loss_gen(fake).backward()
    expected = [-1 / (1 + math.exp(x)) / 2 for x in (0.0, 2.0)]
    assert fake.grad.tolist() == pytest.approx(expected, rel=1e-6)
    real = torch.tensor([1.0], requires_grad=True)
    fake = torch.tensor([-1.0], requires_grad=True)
    nonsat_loss_dis(real, fake).backward()
    assert real.grad.item() == pytest.approx(-1 / (1 + math.exp(1.0)), rel=1e-6)
    assert fake.grad.item() == pytest.approx(1 / (1 + math.exp(1.0)), rel=1e-6)


def test_registry_matches_the_params_choices():
    assert tuple(LOSSES) == GAN_LOSSES == ("nonsat", "hinge", "wgangp", "cramer", "mmd", "infomax", "ssgan")
    assert LOSSES == {
        "nonsat": NonsatLoss,
        "hinge": HingeLoss,
        "wgangp": WganGpLoss,
        "cramer": CramerLoss,
        "mmd": MmdLoss,
        "infomax": InfoMaxLoss,
        "ssgan": SSGANLoss,
    }
    needs = {k: set(e.needs) for k, e in registry.LOSSES.items()}
    assert needs == {
        "nonsat": {"logit"},
        "hinge": {"logit"},
        "wgangp": {"logit"},
        "cramer": {"embedding"},
        "mmd": {"embedding"},
        "infomax": {"logit", "features", "local_features"},
        "ssgan": {"logit", "features"},
    }


# -- every loss: a finite scalar whose gradients reach D, the loss's heads and G ----------------------------------

R = 16


def _setup(name: str, seed: int = 0):
    torch.manual_seed(seed)
    D = FakeD(R, 8, embedding=16 if "embedding" in registry.LOSSES[name].needs else 0)
    G = FakeG(R, 8)
    loss = build_loss(name, registry.LOSSES[name].hparams(), D)
    real = torch.rand(8, 3, R, R, generator=torch.Generator().manual_seed(seed + 1)) * 2 - 1
    z = torch.randn(8, 8, generator=torch.Generator().manual_seed(seed + 2))
    return D, G, loss, real, z


def _grads(params) -> list[torch.Tensor | None]:
    return [p.grad for p in params]


@pytest.mark.parametrize("name", GAN_LOSSES)
def test_every_loss_is_a_finite_scalar_with_gradients_on_d_heads_and_g(name):
    D, G, loss, real, z = _setup(name)
    fake = G(z)
    d, d_logs = loss.d_loss(D, real, fake.detach(), 1)
    assert d.shape == () and torch.isfinite(d)
    assert all(v.shape == () and torch.isfinite(v) for v in d_logs.values())
    d.backward()
    for pname, p in [*D.named_parameters(), *(("loss." + n, p) for n, p in loss.named_parameters())]:
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        if p.ndim > 1:  # weights (a bias can cancel exactly: hinge with every margin active, the WGAN difference)
            assert p.grad.abs().sum() > 0, pname
    assert G.fc.weight.grad is None  # fakes were detached
    D.zero_grad(set_to_none=True)
    loss.zero_grad(set_to_none=True)
    g, g_logs = loss.g_loss(D, fake, 1, real=real)
    assert g.shape == () and torch.isfinite(g)
    g.backward()
    assert G.fc.weight.grad is not None and G.fc.weight.grad.abs().sum() > 0
    assert torch.isfinite(G.fc.weight.grad).all()


def test_aux_heads_are_sized_from_the_discriminator():
    D = FakeD(R, 8)
    ss = build_loss("ssgan", registry.LOSSES["ssgan"].hparams(), D)
    assert ss.rotation_head.weight.shape == (4, D.feature_dim)
    im = build_loss("infomax", registry.LOSSES["infomax"].hparams(nrkhs=32), D)
    assert im.local_critic.b.weight.shape == (32, D.local_dim, 1, 1)
    assert im.global_critic.b.weight.shape == (32, D.feature_dim)
    assert sum(p.numel() for p in NonsatLoss(registry.LOSSES["nonsat"].hparams(), D).parameters()) == 0
    with pytest.raises(ValueError, match="needs a discriminator with features"):
        build_loss("ssgan", registry.LOSSES["ssgan"].hparams(), nn.Linear(2, 2))


# -- known answers --------------------------------------------------------------------------------------------


class LinearD(nn.Module):
    """D(x) = Σ w ⊙ x + b: its input gradient is w for every x, so the gradient penalty is known exactly."""

    def __init__(self, w: torch.Tensor, b: float = 0.0, embedding: bool = False):
        super().__init__()
        self.w, self.b, self.embedding = nn.Parameter(w), b, embedding

    def forward(self, x):
        out = (x * self.w).flatten(1).sum(1) + self.b
        return out[:, None] if self.embedding else out


def test_hinge_exact():
    D = LinearD(torch.ones(1, 1, 1, 1))
    real = torch.tensor([0.5, 2.0]).view(2, 1, 1, 1)
    fake = torch.tensor([-2.0, 0.25]).view(2, 1, 1, 1)
    d, _ = HingeLoss(None).d_loss(D, real, fake, 1)
    # relu(1 − r) = (0.5, 0); relu(1 + f) = (0, 1.25)
    assert d.item() == pytest.approx((0.5 + 0) / 2 + (0 + 1.25) / 2)
    assert HingeLoss(None).g_loss(D, fake, 1)[0].item() == pytest.approx(-(-2.0 + 0.25) / 2)


def test_wgangp_exact_with_a_linear_critic():
    w = torch.tensor([0.5, -1.0, 2.0]).view(1, 3, 1, 1)  # ‖∇‖ = sqrt(0.25 + 1 + 4) = sqrt(5.25)
    D = LinearD(w.clone(), b=0.1)
    real = torch.tensor([[1.0, 0.0, 1.0], [0.0, 2.0, -1.0]]).view(2, 3, 1, 1)
    fake = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0]]).view(2, 3, 1, 1)
    hps = registry.LOSSES["wgangp"].hparams()
    loss = WganGpLoss(hps)
    d, logs = loss.d_loss(D, real, fake, 1)
    r = (real * w).flatten(1).sum(1) + 0.1  # (2.6, −3.9)
    f = (fake * w).flatten(1).sum(1) + 0.1  # (−0.9, 1.6)
    gp = (math.sqrt(5.25) - 1.0) ** 2
    expected = f.mean() - r.mean() + 10.0 * gp + 0.001 * (r**2).mean()
    assert d.item() == pytest.approx(expected.item(), rel=1e-5)
    assert logs["d_gp"].item() == pytest.approx(gp, rel=1e-5)
    # target γ = 2 weighs the penalty by λ/γ²
    loss2 = WganGpLoss(registry.LOSSES["wgangp"].hparams(gp_target=2.0, drift=0.0))
    d2, _ = loss2.d_loss(D, real, fake, 1)
    assert d2.item() == pytest.approx((f.mean() - r.mean() + 10.0 / 4 * (math.sqrt(5.25) - 2) ** 2).item(), rel=1e-5)


def test_gradient_penalty_interpolates_with_the_loss_generator():
    """Same seed ⇒ same α; the loss draws α from its own generator, not torch's global one."""
    D, G, _, real, z = _setup("wgangp")
    fake = G(z).detach()
    a, b = WganGpLoss(registry.LOSSES["wgangp"].hparams()), WganGpLoss(registry.LOSSES["wgangp"].hparams())
    a.seed(5)
    b.seed(5)
    torch.manual_seed(123)
    da = a.d_loss(D, real, fake, 1)[0]
    torch.manual_seed(456)
    assert b.d_loss(D, real, fake, 1)[0].item() == da.item()
    b.seed(6)
    assert b.d_loss(D, real, fake, 1)[0].item() != da.item()


def test_mix_rq_1dot_kernel_and_unbiased_mmd_by_hand():
    X = torch.tensor([[0.0, 1.0], [1.0, 1.0], [2.0, 0.0]], dtype=torch.float64)
    Y = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)

    def k(x, y):
        d2 = float(((x - y) ** 2).sum())
        return sum((1 + d2 / (2 * a)) ** (-a) for a in (0.1, 1.0, 10.0)) + float(x @ y)

    K = mix_rq_kernel(X, Y)
    for i in range(3):
        for j in range(2):
            assert K[i, j].item() == pytest.approx(k(X[i], Y[j]), rel=1e-12)
    Kxx, Kxy, Kyy = mix_rq_kernel(X, X), mix_rq_kernel(X, Y), mix_rq_kernel(Y, Y)
    by_hand = (
        sum(k(X[i], X[j]) for i in range(3) for j in range(3) if i != j) / 6
        + sum(k(Y[i], Y[j]) for i in range(2) for j in range(2) if i != j) / 2
        - 2 * sum(k(X[i], Y[j]) for i in range(3) for j in range(2)) / 6
    )
    assert mmd2_unbiased(Kxx, Kxy, Kyy).item() == pytest.approx(by_hand, rel=1e-12)
    with pytest.raises(ValueError, match="at least 2 samples"):
        mmd2_unbiased(Kxx[:1, :1], Kxy[:1], Kyy)


def test_mmd_g_loss_is_the_mmd_of_the_embeddings_and_d_loss_its_negative_plus_penalties():
    D, G, _, real, z = _setup("mmd")
    fake = G(z).detach()
    plain = MmdLoss(registry.LOSSES["mmd"].hparams(gp_weight=0.0, l2_weight=0.0))
    h_f, h_r = D(fake), D(real)
    mmd2 = mmd2_unbiased(mix_rq_kernel(h_f, h_f), mix_rq_kernel(h_f, h_r), mix_rq_kernel(h_r, h_r))
    assert plain.g_loss(D, fake, 1, real=real)[0].item() == pytest.approx(mmd2.item(), rel=1e-6)
    assert plain.d_loss(D, real, fake, 1)[0].item() == pytest.approx(-mmd2.item(), rel=1e-6)
    l2only = MmdLoss(registry.LOSSES["mmd"].hparams(gp_weight=0.0, l2_weight=1.0))
    out_f, out_r = D.forward_features(fake), D.forward_features(real)
    l2 = sum(t.flatten(1).pow(2).mean(1).mean() for o in (out_f, out_r) for t in o)
    assert l2only.d_loss(D, real, fake, 1)[0].item() == pytest.approx((-mmd2 + l2).item(), rel=1e-5)


def test_cramer_exact_without_penalty():
    D, G, _, real, z = _setup("cramer")
    fake = G(z).detach()
    loss = CramerLoss(registry.LOSSES["cramer"].hparams(gp_weight=0.0))
    h_r, h_f = D(real), D(fake)
    h_f2 = torch.cat([h_f[-1:], h_f[:-1]])  # the neighbouring fake

    def critic(x, x_):
        return safer_norm(x - x_) - safer_norm(x)

    d_expected = -(critic(h_r, h_f) - critic(h_f2, h_f)).mean()
    g_expected = (-safer_norm(h_f - h_f2) + safer_norm(h_f - h_r) + safer_norm(h_f2 - h_r)).mean()
    assert loss.d_loss(D, real, fake, 1)[0].item() == pytest.approx(d_expected.item(), rel=1e-6)
    assert loss.g_loss(D, fake, 1, real=real)[0].item() == pytest.approx(g_expected.item(), rel=1e-6)
    assert safer_norm(torch.zeros(1, 3)).item() == pytest.approx(math.sqrt(1e-5))
    with pytest.raises(ValueError, match="needs real="):
        loss.g_loss(D, fake, 1)


def test_infonce_matches_the_dim_formulation_by_loops():
    g = torch.Generator().manual_seed(0)
    N, Rk, L = 3, 4, 2
    local, glob = (
        torch.randn(N, Rk, L, generator=g, dtype=torch.float64),
        torch.randn(N, Rk, generator=g, dtype=torch.float64),
    )
    total = 0.0
    for i in range(N):
        for p in range(L):
            pos = float(local[i, :, p] @ glob[i])
            negs = [float(glob[i] @ local[j, :, q]) if j != i else -10.0 for j in range(N) for q in range(L)]
            scores = [pos, *negs]
            m = max(scores)
            lse = m + math.log(sum(math.exp(s - m) for s in scores))
            total += -(pos - lse)
    assert infonce_loss(local, glob).item() == pytest.approx(total / (N * L), rel=1e-10)


def test_rotate_quarters_labels_and_pixels():
    x = torch.arange(8 * 1 * 2 * 2, dtype=torch.float32).view(8, 1, 2, 2)
    rot, labels = rotate_quarters(x)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    torch.testing.assert_close(rot[0], x[0])
    # 90° counter-clockwise: the top-right pixel moves to the top-left ([[a, b], [c, d]] → [[b, d], [a, c]])
    a, b, c, d = x[2, 0].flatten().tolist()
    assert rot[2, 0].tolist() == [[b, d], [a, c]]
    a, b, c, d = x[4, 0].flatten().tolist()
    assert rot[4, 0].tolist() == [[d, c], [b, a]]
    a, b, c, d = x[6, 0].flatten().tolist()
    assert rot[6, 0].tolist() == [[c, a], [d, b]]


def test_ssgan_is_hinge_plus_scaled_rotation_cross_entropy():
    D, G, loss, real, z = _setup("ssgan")
    fake = G(z).detach()
    d, logs = loss.d_loss(D, real, fake, 1)
    rot, labels = rotate_quarters(real)
    ce = torch.nn.functional.cross_entropy(loss.rotation_head(D.forward_features(rot)[1]), labels)
    hinge = torch.relu(1 - D(real)).mean() + torch.relu(1 + D(fake)).mean()
    assert d.item() == pytest.approx((hinge + 1.0 * ce).item(), rel=1e-5)
    g, _ = loss.g_loss(D, fake, 1)
    rot_f, labels_f = rotate_quarters(fake)
    ce_f = torch.nn.functional.cross_entropy(loss.rotation_head(D.forward_features(rot_f)[1]), labels_f)
    assert g.item() == pytest.approx((-D(fake).mean() + 0.2 * ce_f).item(), rel=1e-5)


def test_infomax_is_hinge_plus_scaled_infonce_on_real_for_d():
    D, G, loss, real, z = _setup("infomax")
    fake = G(z).detach()
    d, logs = loss.d_loss(D, real, fake, 1)
    out_r, feat_r, local_r = D.forward_features(real)
    im = infonce_loss(loss.local_critic(local_r).flatten(2), loss.global_critic(feat_r))
    hinge = torch.relu(1 - out_r).mean() + torch.relu(1 + D(fake)).mean()
    assert d.item() == pytest.approx((hinge + 0.2 * im).item(), rel=1e-5)
    assert logs["d_infomax"].item() == pytest.approx(0.2 * im.item(), rel=1e-5)


def test_logit_losses_accept_a_discriminator_without_forward_features():
    D = LinearD(torch.ones(1, 1, 1, 1))
    x = torch.tensor([0.0, 2.0]).view(2, 1, 1, 1)
    assert NonsatLoss(None).d_loss(D, x, x, 1)[0].item() == pytest.approx(
        nonsat_loss_dis(torch.tensor([0.0, 2.0]), torch.tensor([0.0, 2.0])).item()
    )
