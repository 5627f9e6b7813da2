"""What can be built: GAN architectures, GAN losses and attribution methods, by the names params.yaml uses.

One entry per name; registering one here makes it a valid value in params.yaml (the config reads the names
and hyperparameter sections from here), a valid Snakemake wildcard, and a network the stages can build.
Entries name their classes as ``module:Class`` strings so that reading the registry never imports torch
(the workflow imports it at parse time).

Convention the workflow relies on: the library module of arch ``a`` is the file of its generator's module
(:func:`arch_module`: ``sngan`` and ``mimicry`` share ``src/ganprint/nets/sngan.py``) and of method ``m`` is
``src/ganprint/nets/<m>.py``; a job depends on the module of the variant it runs, so editing one family's file
retrains only that family (tests/unit/test_registry.py checks the files exist).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ganprint.hparams import (
    DCGANHps,
    MimicryHps,
    MMDGANHps,
    NonsatHps,
    PostpoolHps,
    ProGANHps,
    Section,
    SNGANHps,
    StyleGAN2Hps,
)

# what a discriminator can offer a loss (GAN-zoo contract): logits, a critic embedding (mmdgan), pooled features,
# an intermediate feature map
CAPABILITIES = frozenset({"logit", "embedding", "features", "local_features"})


@dataclass(frozen=True)
class Arch:
    generator: str  # "module:Class"
    discriminator: str
    hparams: type[Section]
    provides: frozenset[str] = frozenset({"logit", "features"})  # what D's forward_features offers a loss


@dataclass(frozen=True)
class Loss:
    functions: str  # "module:name" of the (loss_dis, loss_gen) pair
    hparams: type[Section]


@dataclass(frozen=True)
class Method:
    classifier: str
    hparams: type[Section]


ARCHS: dict[str, Arch] = {
    "dcgan": Arch(
        "ganprint.nets.dcgan:DCGANGenerator",
        "ganprint.nets.dcgan:DCGANDiscriminator",
        DCGANHps,
        frozenset({"logit", "features"}),
    ),
    "progan": Arch(
        "ganprint.nets.progan:ProGANGenerator",
        "ganprint.nets.progan:ProGANDiscriminator",
        ProGANHps,
        frozenset({"logit", "features"}),
    ),
    "sngan": Arch(
        "ganprint.nets.sngan:SNGANGenerator",
        "ganprint.nets.sngan:SNGANDiscriminator",
        SNGANHps,
        frozenset({"logit", "features", "local_features"}),
    ),
    "mimicry": Arch(  # the same classes as sngan, bilinear upsampling by default (PAPERS §4.4)
        "ganprint.nets.sngan:SNGANGenerator",
        "ganprint.nets.sngan:SNGANDiscriminator",
        MimicryHps,
        frozenset({"logit", "features", "local_features"}),
    ),
    "mmdgan": Arch(
        "ganprint.nets.mmdgan:ResNet5Generator",
        "ganprint.nets.mmdgan:DCGAN5Critic",
        MMDGANHps,
        frozenset({"embedding"}),
    ),
    "stylegan2": Arch(
        "ganprint.nets.stylegan2:StyleGAN2Generator",
        "ganprint.nets.stylegan2:StyleGAN2Discriminator",
        StyleGAN2Hps,
        frozenset({"logit", "features"}),
    ),
}
LOSSES: dict[str, Loss] = {
    "nonsat": Loss("ganprint.losses:NONSAT", NonsatHps),
}
METHODS: dict[str, Method] = {
    "postpool": Method("ganprint.nets.postpool:YuPostpoolClassifier", PostpoolHps),
}


def module_file(ref: str) -> str:
    """``ganprint.nets.sngan:SNGANGenerator`` → ``src/ganprint/nets/sngan.py``."""
    return "src/" + ref.partition(":")[0].replace(".", "/") + ".py"


def arch_module(arch: str) -> str:
    """The library file of a registered arch: its generator's module (``mimicry`` → ``src/ganprint/nets/sngan.py``).

    Raises:
        ValueError: ``arch`` is not registered; the message lists the registered names.
    """
    try:
        entry = ARCHS[arch]
    except KeyError:
        raise ValueError(f"unknown arch {arch!r}; registered: {', '.join(ARCHS)}") from None
    return module_file(entry.generator)


def method_module(method: str) -> str:
    return f"src/ganprint/nets/{method}.py"


def load(ref: str):
    """Import ``module:attr``."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)
