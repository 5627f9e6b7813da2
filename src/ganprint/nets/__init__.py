"""Network registries: GAN generators/discriminators (PAPERS §7.1), attribution classifiers (PAPERS §1.4)."""

from __future__ import annotations

from torch import nn

from ganprint.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganprint.nets.postpool import YuPostpoolClassifier
from ganprint.nets.stegastamp import StegaStampDecoder, StegaStampEncoder
from ganprint.registry import ARCHS, METHODS, load

# built from ganprint.registry: registering a name there is all it takes
GENERATORS: dict[str, type[nn.Module]] = {k: load(a.generator) for k, a in ARCHS.items()}
DISCRIMINATORS: dict[str, type[nn.Module]] = {k: load(a.discriminator) for k, a in ARCHS.items()}
CLASSIFIERS: dict[str, type[nn.Module]] = {k: load(m.classifier) for k, m in METHODS.items() if m.classifier}


def build(registry: dict[str, type[nn.Module]], name: str, **kwargs) -> nn.Module:
    """Instantiate ``registry[name](**kwargs)``.

    Raises:
        ValueError: ``name`` is not registered; the message lists the allowed names.
    """
    try:
        cls = registry[name]
    except KeyError:
        raise ValueError(f"unknown network {name!r}; allowed: {', '.join(sorted(registry))}") from None
    return cls(**kwargs)


__all__ = [
    "CLASSIFIERS",
    "DISCRIMINATORS",
    "GENERATORS",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "StegaStampDecoder",
    "StegaStampEncoder",
    "YuPostpoolClassifier",
    "build",
]
