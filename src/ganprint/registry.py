"""What can be built: GAN architectures, GAN losses and attribution methods, by the names params.yaml uses.

One entry per name; registering one here makes it a valid value in params.yaml (the config reads the names
and hyperparameter sections from here), a valid Snakemake wildcard, and a network the stages can build.
Entries name their classes as ``module:Class`` strings so that reading the registry never imports torch
(the workflow imports it at parse time).

Convention the workflow relies on: the library module of arch ``a`` is ``src/ganprint/nets/<a>.py`` and of
method ``m`` is ``src/ganprint/nets/<m>.py``; a job depends on the module of the variant it runs, so editing
one family's file retrains only that family (tests/unit/test_registry.py checks the files exist).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ganprint.hparams import ClassModelHps, DCGANHps, NonsatHps, PostpoolHps, Section, VisNetHps


@dataclass(frozen=True)
class Arch:
    generator: str  # "module:Class"
    discriminator: str
    hparams: type[Section]


@dataclass(frozen=True)
class Loss:
    functions: str  # "module:name" of the (loss_dis, loss_gen) pair
    hparams: type[Section]


@dataclass(frozen=True)
class Method:
    classifier: str = ""  # "module:Class" of a plain nn.Module classifier (the old train/evaluate path)
    hparams: type[Section] = Section
    impl: str = ""  # "module:Class" of a ganprint.attribution.methods.base.AttributionMethod
    nets: str = ""  # the ganprint.nets.<file> module the method builds its networks from, if any


ARCHS: dict[str, Arch] = {
    "dcgan": Arch("ganprint.nets.dcgan:DCGANGenerator", "ganprint.nets.dcgan:DCGANDiscriminator", DCGANHps),
}
LOSSES: dict[str, Loss] = {
    "nonsat": Loss("ganprint.losses:NONSAT", NonsatHps),
}
METHODS: dict[str, Method] = {
    "postpool": Method("ganprint.nets.postpool:YuPostpoolClassifier", PostpoolHps),
    "visnet": Method(
        impl="ganprint.attribution.methods.visnet:VisNetMethod", hparams=VisNetHps, nets="ganprint.nets.visnet"
    ),
    "classmodel": Method(
        impl="ganprint.attribution.methods.classmodel:ClassModelMethod",
        hparams=ClassModelHps,
        nets="ganprint.nets.classmodel",
    ),
}


def arch_module(arch: str) -> str:
    return f"src/ganprint/nets/{arch}.py"


def method_module(method: str) -> str:
    return f"src/ganprint/nets/{method}.py"


def load(ref: str):
    """Import ``module:attr``."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)
