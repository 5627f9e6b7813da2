"""Network registries: every registered net builds, round-trips its args, and its backward pass is the gradient.

The backward check is a directional one: a step of length EPS against the gradient must lower the loss by
EPS · ‖g‖ to first order (in float64), which fails for a missing, zero, detached or wrong gradient.
"""

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

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


def assert_descent_step_lowers_loss(net: torch.nn.Module, loss_fn: Callable[[torch.nn.Module], torch.Tensor]) -> None:
    """Move every parameter by −EPS · g / ‖g‖: the loss must fall by EPS · ‖g‖ (first-order Taylor, float64)."""
    params = list(net.parameters())
    loss0 = loss_fn(net)
    grads = torch.autograd.grad(loss0, params)
    for p, g in zip(params, grads, strict=True):
        assert torch.isfinite(g).all() and g.abs().sum() > 0, p.shape  # every parameter is trained
    norm = torch.sqrt(sum(g.square().sum() for g in grads))
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            p -= EPS * g / norm
        loss1 = loss_fn(net)
    assert (loss0 - loss1).item() == pytest.approx(EPS * norm.item(), rel=1e-3)


def test_registry_contents():
    assert GENERATORS == {"dcgan": DCGANGenerator}
    assert DISCRIMINATORS == {"dcgan": DCGANDiscriminator}
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
    logits = d(torch.rand(3, 3, 16, 16) * 2 - 1)
    assert logits.shape == (3,) and logits.dtype == torch.float32
    assert type(d)(**d.model_args()).state_dict().keys() == d.state_dict().keys()
    d.double()
    real, fake = (torch.rand(3, 3, 16, 16, dtype=torch.float64) * 2 - 1 for _ in range(2))
    assert_descent_step_lowers_loss(d, lambda net: nonsat_loss_dis(net(real), net(fake)))


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
