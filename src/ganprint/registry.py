"""What can be built: GAN architectures, GAN losses and attribution methods, by the names params.yaml uses.

One entry per name; registering one here makes it a valid value in params.yaml (the config reads the names
and hyperparameter sections from here), a valid Snakemake wildcard, and a network the stages can build.
Entries name their classes as ``module:Class`` strings so that reading the registry never imports torch
(the workflow imports it at parse time).

Convention the workflow relies on: the library module of arch ``a`` is the file of its generator's module
(:func:`arch_module`: ``sngan`` and ``mimicry`` share ``src/ganprint/nets/sngan.py``) and of method ``m`` is
``src/ganprint/attribution/methods/<m>.py`` (its network, if any, in the ``nets`` module the entry names); a job
depends on the module of the variant it runs, so editing one family's file retrains only that family
(tests/unit/test_registry.py checks the files exist).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ganprint.hparams import (
    ClassModelHps,
    CramerHps,
    DCGANHps,
    DNADetHps,
    GanDCTHps,
    HingeHps,
    InfoMaxHps,
    KNNHps,
    MimicryHps,
    MMDGANHps,
    MmdHps,
    NonsatHps,
    PostpoolHps,
    PRNUHps,
    ProGANHps,
    Section,
    SNGANHps,
    SSGANHps,
    StyleGAN2Hps,
    VisNetHps,
    WganGpHps,
)

# what a discriminator can offer a loss (GAN-zoo contract): logits, a critic embedding (mmdgan), pooled features,
# an intermediate feature map
CAPABILITIES = ("logit", "embedding", "features", "local_features")  # in the order messages list them


@dataclass(frozen=True)
class Arch:
    generator: str  # "module:Class"
    discriminator: str
    hparams: type[Section]
    provides: frozenset[str] = frozenset({"logit", "features"})  # what D's forward_features offers a loss


@dataclass(frozen=True)
class Loss:
    cls: str  # "module:Class" of the loss module, built as Class(hps, D) (ganprint.losses)
    hparams: type[Section]
    needs: frozenset[str] = frozenset({"logit"})  # what it needs from D; compatible iff needs <= arch.provides


@dataclass(frozen=True)
class Method:
    impl: str  # "ganprint.attribution.methods.<method>:<Class>", an AttributionMethod
    hparams: type[Section]
    nets: str = ""  # "ganprint.nets.<file>": the network module the impl builds, if any
    modules: tuple[str, ...] = ()  # other ganprint modules only this method uses (dotted names), if any


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
    "nonsat": Loss("ganprint.losses:NonsatLoss", NonsatHps, frozenset({"logit"})),
    "hinge": Loss("ganprint.losses:HingeLoss", HingeHps, frozenset({"logit"})),
    "wgangp": Loss("ganprint.losses:WganGpLoss", WganGpHps, frozenset({"logit"})),
    "cramer": Loss("ganprint.losses:CramerLoss", CramerHps, frozenset({"embedding"})),
    "mmd": Loss("ganprint.losses:MmdLoss", MmdHps, frozenset({"embedding"})),
    "infomax": Loss("ganprint.losses:InfoMaxLoss", InfoMaxHps, frozenset({"logit", "features", "local_features"})),
    "ssgan": Loss("ganprint.losses:SSGANLoss", SSGANHps, frozenset({"logit", "features"})),
}
METHODS: dict[str, Method] = {
    "postpool": Method("ganprint.attribution.methods.postpool:PostpoolMethod", PostpoolHps, "ganprint.nets.postpool"),
    "gandct": Method("ganprint.attribution.methods.gandct:GanDCTMethod", GanDCTHps, "ganprint.nets.gandct"),
    "knn": Method("ganprint.attribution.methods.knn:KNNMethod", KNNHps),
    "prnu": Method("ganprint.attribution.methods.prnu:PRNUMethod", PRNUHps),
    "visnet": Method("ganprint.attribution.methods.visnet:VisNetMethod", VisNetHps, "ganprint.nets.visnet"),
    "classmodel": Method(
        "ganprint.attribution.methods.classmodel:ClassModelMethod", ClassModelHps, "ganprint.nets.classmodel"
    ),
    "dnadet": Method(
        "ganprint.attribution.methods.dnadet:DNADetMethod",
        DNADetHps,
        "ganprint.nets.dnadet",
        ("ganprint.attribution.dnadet_pretrain", "ganprint.perturb"),
    ),
}


def module_file(ref: str) -> str:
    """``ganprint.nets.sngan:SNGANGenerator`` (or a bare module name) → ``src/ganprint/nets/sngan.py``."""
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
    """The method's own file, ``src/ganprint/attribution/methods/<method>.py`` (also as a ``{method}`` pattern)."""
    return f"src/ganprint/attribution/methods/{method}.py"


def method_modules(method: str) -> tuple[str, ...]:
    """Every file a registered method's results depend on besides the shared attribution code: its impl module,
    the nets module it builds and its other ``modules`` (each attribution job depends on exactly these)."""
    entry = METHODS[method]
    files = [module_file(entry.impl)]
    if entry.nets:
        files.append(module_file(entry.nets))
    files += [module_file(m) for m in entry.modules]
    return tuple(files)


def load(ref: str):
    """Import ``module:attr``."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)
