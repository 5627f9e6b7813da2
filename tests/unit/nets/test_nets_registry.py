"""Network registries: every registered net builds, round-trips its args and trains one backward pass."""

import pytest
import torch

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
    x.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in g.parameters())
    assert type(g)(**g.model_args()).state_dict().keys() == g.state_dict().keys()


@pytest.mark.parametrize("name", sorted(DISCRIMINATORS))
def test_every_discriminator(name):
    torch.manual_seed(0)
    d = build(DISCRIMINATORS, name, **TINY["discriminator"])
    logits = d(torch.rand(3, 3, 16, 16) * 2 - 1)
    assert logits.shape == (3,) and logits.dtype == torch.float32
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in d.parameters())
    assert type(d)(**d.model_args()).state_dict().keys() == d.state_dict().keys()


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_every_classifier(name):
    torch.manual_seed(0)
    c = build(CLASSIFIERS, name, **TINY["classifier"])
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    logits = c(x)
    assert logits.shape == (3, 3) and logits.dtype == torch.float32
    assert c.features(x).shape[0] == 3
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in c.parameters())
    assert type(c)(**c.model_args()).state_dict().keys() == c.state_dict().keys()
