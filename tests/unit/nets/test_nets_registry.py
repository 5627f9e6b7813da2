"""Network registries: every registered net builds, round-trips its args, and its backward pass is the gradient.

The backward check is a directional one: a step of length EPS against the gradient must lower the loss by
EPS · ‖g‖ to first order (in float64), which fails for a missing, zero, detached or wrong gradient. GAN nets are
checked in eval mode, where they are deterministic functions (no spectral-norm power iteration, StyleGAN2's fixed
noise maps); only ProGAN may leave parameters unused: the toRGB/fromRGB layers of its earlier stages.
"""

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from ganprint import registry
from ganprint.losses import nonsat_loss_dis
from ganprint.nets import (
    CLASSIFIERS,
    DISCRIMINATORS,
    GENERATORS,
    DCGANDiscriminator,
    DCGANGenerator,
    YuPostpoolClassifier,
    build,
)

TINY = {
    "generator": {"resolution": 16, "z_dim": 8, "width": 8},
    "discriminator": {"resolution": 16, "width": 8},
    "classifier": {"resolution": 16, "num_classes": 3, "fmap_base": 64, "fmap_max": 32},
}
EPS = 1e-5


def _earlier_stage_rgb_layer(net: torch.nn.Module, name: str) -> bool:
    """ProGAN at its final stage does not use the toRGB/fromRGB layers of the earlier stages."""
    parts = name.split(".")
    return hasattr(net, "n_growth") and parts[0] in ("to_rgb", "from_rgb") and int(parts[1]) < net.n_growth


def assert_descent_step_lowers_loss(net: torch.nn.Module, loss_fn: Callable[[torch.nn.Module], torch.Tensor]) -> None:
    """Move every parameter by −EPS · g / ‖g‖: the loss must fall by EPS · ‖g‖ (first-order Taylor, float64)."""
    named = [(n, p) for n, p in net.named_parameters() if not _earlier_stage_rgb_layer(net, n)]
    params = [p for _, p in named]
    loss0 = loss_fn(net)
    grads = torch.autograd.grad(loss0, params)
    for (name, _p), g in zip(named, grads, strict=True):
        assert torch.isfinite(g).all() and g.abs().sum() > 0, name  # every parameter is trained
    norm = torch.sqrt(sum(g.square().sum() for g in grads))
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            p -= EPS * g / norm
        loss1 = loss_fn(net)
    assert (loss0 - loss1).item() == pytest.approx(EPS * norm.item(), rel=1e-3)


def test_registry_contents():
    assert list(GENERATORS) == ["dcgan", "progan", "sngan", "mimicry", "mmdgan", "stylegan2"]
    assert GENERATORS["dcgan"] is DCGANGenerator and DISCRIMINATORS["dcgan"] is DCGANDiscriminator
    assert GENERATORS["mimicry"] is GENERATORS["sngan"] and DISCRIMINATORS["mimicry"] is DISCRIMINATORS["sngan"]
    assert CLASSIFIERS == {"postpool": YuPostpoolClassifier}


@pytest.mark.parametrize("registry", [GENERATORS, DISCRIMINATORS, CLASSIFIERS])
def test_unknown_name_lists_allowed(registry):
    with pytest.raises(ValueError, match="unknown network 'nope'") as err:
        build(registry, "nope")
    for name in registry:
        assert name in str(err.value)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_every_generator(name):
    torch.manual_seed(0)
    g = build(GENERATORS, name, **TINY["generator"])
    assert g.latent in ("normal", "uniform")
    g.set_step(0, 10)
    g.set_step(10, 10)  # back at the final stage (ProGAN); a no-op elsewhere
    g.eval()  # the contract's range: eval mode (ProGAN/StyleGAN2 clamp there; their training output is linear)
    x = g(torch.randn(3, g.z_dim))
    assert x.shape == (3, 3, g.resolution, g.resolution) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert type(g)(**g.model_args()).state_dict().keys() == g.state_dict().keys()
    g.double()
    z = torch.randn(3, g.z_dim, dtype=torch.float64)
    target = torch.rand(3, 3, g.resolution, g.resolution, dtype=torch.float64) * 2 - 1
    assert_descent_step_lowers_loss(g, lambda net: (net(z) - target).square().mean())


@pytest.mark.parametrize("name", sorted(DISCRIMINATORS))
def test_every_discriminator(name):
    torch.manual_seed(0)
    d = build(DISCRIMINATORS, name, **TINY["discriminator"])
    provides = registry.ARCHS[name].provides
    out, feat, local = d.forward_features(torch.rand(3, 3, 16, 16) * 2 - 1)
    if "logit" in provides:
        assert out.shape == (3,) and d.out_dim == 1
    else:
        assert "embedding" in provides and out.shape == (3, d.out_dim) and d.out_dim > 1
    assert out.dtype == torch.float32
    assert (feat is None) == ("features" not in provides) and (local is None) == ("local_features" not in provides)
    assert type(d)(**d.model_args()).state_dict().keys() == d.state_dict().keys()
    d.eval().double()
    real, fake = (torch.rand(3, 3, 16, 16, dtype=torch.float64) * 2 - 1 for _ in range(2))
    if "logit" in provides:
        assert_descent_step_lowers_loss(d, lambda net: nonsat_loss_dis(net(real), net(fake)))
    else:  # a critic embedding (a two-sample loss would leave the bias untouched: regress on targets instead)
        t_real, t_fake = (torch.randn(3, d.out_dim, dtype=torch.float64) for _ in range(2))
        assert_descent_step_lowers_loss(
            d, lambda net: (net(real) - t_real).square().mean() + (net(fake) - t_fake).square().mean()
        )


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_every_classifier(name):
    torch.manual_seed(0)
    c = build(CLASSIFIERS, name, **TINY["classifier"])
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    logits = c(x)
    assert logits.shape == (3, 3) and logits.dtype == torch.float32
    assert c.features(x).shape == (3, c.feature_dim)
    assert type(c)(**c.model_args()).state_dict().keys() == c.state_dict().keys()
    c.double()
    x = x.double()
    assert_descent_step_lowers_loss(c, lambda net: F.cross_entropy(net(x), torch.tensor([0, 1, 2])))
