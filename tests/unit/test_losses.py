"""ganprint.losses: the non-saturating GAN loss (Goodfellow et al. 2014) at hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from ganprint.config import GAN_LOSSES
from ganprint.losses import LOSSES, nonsat_loss_dis, nonsat_loss_gen


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
    assert tuple(LOSSES) == GAN_LOSSES
    assert LOSSES["nonsat"] == (nonsat_loss_dis, nonsat_loss_gen)
