"""ganprint.registry: the one list of GAN architectures, losses and attribution methods.

Every registered name has its library module where the workflow expects it (a job depends on
``src/ganprint/nets/<arch>.py``), the network and loss tables are built from the registry, and registering a name
is all it takes for params.yaml to accept it (grid values and a hyperparameter section).
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, tiny_params
from pydantic import Field

import ganprint
from ganprint import config, losses, nets, registry
from ganprint.hparams import DCGANHps, GanDCTHps, KNNHps, MimicryHps, NonsatHps, PostpoolHps, PRNUHps, Section, SNGANHps

ALL_ARCHS = "dcgan, progan, sngan, mimicry, mmdgan, stylegan2"


def _module_file(ref: str) -> str:
    """``ganprint.nets.dcgan:DCGANGenerator`` → ``src/ganprint/nets/dcgan.py``."""
    return "src/" + ref.partition(":")[0].replace(".", "/") + ".py"


def test_arch_module_of_an_unregistered_name():
    with pytest.raises(ValueError, match=r"unknown arch 'nope'; registered: dcgan, progan"):
        registry.arch_module("nope")


# == what is registered ===============================================================================================


def test_registered_names():
    assert list(registry.ARCHS) == ["dcgan", "progan", "sngan", "mimicry", "mmdgan", "stylegan2"]
    assert list(registry.LOSSES) == ["nonsat", "hinge", "wgangp", "cramer", "mmd", "infomax", "ssgan"]
    assert list(registry.METHODS) == ["postpool", "gandct", "knn", "prnu", "visnet", "classmodel", "dnadet"]
    assert registry.ARCHS["dcgan"].hparams is DCGANHps
    assert registry.ARCHS["mimicry"].hparams is MimicryHps and registry.ARCHS["sngan"].hparams is SNGANHps
    assert {a: set(e.provides) for a, e in registry.ARCHS.items()} == {
        "dcgan": {"logit", "features"},
        "progan": {"logit", "features"},
        "sngan": {"logit", "features", "local_features"},
        "mimicry": {"logit", "features", "local_features"},
        "mmdgan": {"embedding"},
        "stylegan2": {"logit", "features"},
    }
    assert all(e.provides <= set(registry.CAPABILITIES) for e in registry.ARCHS.values())
    assert registry.LOSSES["nonsat"].hparams is NonsatHps
    assert registry.METHODS["postpool"].hparams is PostpoolHps
    assert registry.METHODS["gandct"].hparams is GanDCTHps
    assert registry.METHODS["knn"].hparams is KNNHps
    assert registry.METHODS["prnu"].hparams is PRNUHps


@pytest.mark.parametrize("arch", list(registry.ARCHS))
def test_every_arch_has_its_module(arch):
    path = registry.arch_module(arch)
    # the file of the generator's module: sngan and mimicry share nets/sngan.py
    assert path == {"mimicry": "src/ganprint/nets/sngan.py"}.get(arch, f"src/ganprint/nets/{arch}.py")
    assert (REPO / path).is_file()
    entry = registry.ARCHS[arch]
    # the generator and discriminator live in that file: editing it is what retrains the arch's GANs
    assert _module_file(entry.generator) == path
    assert _module_file(entry.discriminator) == path


@pytest.mark.parametrize("method", list(registry.METHODS))
def test_every_method_has_its_module(method):
    path = registry.method_module(method)
    assert path == f"src/ganprint/attribution/methods/{method}.py"
    assert (REPO / path).is_file()
    entry = registry.METHODS[method]
    assert _module_file(entry.impl) == path  # the impl lives in the method's own file
    files = registry.method_modules(method)
    assert files[0] == path and all((REPO / f).is_file() for f in files)
    nets = (_module_file(entry.nets + ":_"),) if entry.nets else ()
    assert files[1:] == (*nets, *(_module_file(m + ":_") for m in entry.modules))
    if entry.nets:
        assert entry.nets.startswith("ganprint.nets.")
    from ganprint.attribution.methods import AttributionMethod

    assert issubclass(registry.load(entry.impl), AttributionMethod)


def test_method_modules_exactly():
    assert registry.method_modules("postpool") == (
        "src/ganprint/attribution/methods/postpool.py",
        "src/ganprint/nets/postpool.py",
    )
    assert registry.method_modules("knn") == ("src/ganprint/attribution/methods/knn.py",)
    # DNA-Det's pre-training and the transformations it learns to classify are its own helper modules
    assert registry.method_modules("dnadet") == (
        "src/ganprint/attribution/methods/dnadet.py",
        "src/ganprint/nets/dnadet.py",
        "src/ganprint/attribution/dnadet_pretrain.py",
        "src/ganprint/perturb.py",
    )


@pytest.mark.parametrize("loss", list(registry.LOSSES))
def test_every_loss_lives_in_losses_py(loss):
    assert _module_file(registry.LOSSES[loss].cls) == "src/ganprint/losses.py"


ENTRIES = {
    **{f"archs.{k}": v for k, v in registry.ARCHS.items()},
    **{f"losses.{k}": v for k, v in registry.LOSSES.items()},
    **{f"methods.{k}": v for k, v in registry.METHODS.items()},
}


@pytest.mark.parametrize("entry", list(ENTRIES.values()), ids=list(ENTRIES))
def test_every_hyperparameter_model_is_a_strict_frozen_section(entry):
    assert issubclass(entry.hparams, Section)
    cfg = entry.hparams.model_config
    assert (cfg["frozen"], cfg["extra"], cfg["strict"]) == (True, "forbid", True)
    entry.hparams()  # every knob has a default: '<section>: {name: {}}' is a valid section


def test_network_tables_are_built_from_the_registry():
    assert list(nets.GENERATORS) == list(registry.ARCHS)
    assert list(nets.DISCRIMINATORS) == list(registry.ARCHS)
    for name, entry in registry.ARCHS.items():
        assert nets.GENERATORS[name] is registry.load(entry.generator)
        assert nets.DISCRIMINATORS[name] is registry.load(entry.discriminator)
    assert nets.GENERATORS["dcgan"] is nets.DCGANGenerator
    assert nets.DISCRIMINATORS["dcgan"] is nets.DCGANDiscriminator
    assert nets.CLASSIFIERS == {"postpool": nets.YuPostpoolClassifier}


def test_loss_table_is_built_from_the_registry():
    assert list(losses.LOSSES) == list(registry.LOSSES)
    for name, entry in registry.LOSSES.items():
        assert losses.LOSSES[name] is registry.load(entry.cls)
    assert losses.LOSSES["nonsat"] is losses.NonsatLoss


def test_load():
    assert registry.load("ganprint.nets.dcgan:DCGANGenerator") is nets.DCGANGenerator
    with pytest.raises(AttributeError):
        registry.load("ganprint.nets.dcgan:Nope")
    with pytest.raises(ModuleNotFoundError):
        registry.load("ganprint.nets.nope:Nope")


def test_config_reads_the_registry():
    assert config.GAN_ARCHS == tuple(registry.ARCHS)
    assert config.GAN_LOSSES == tuple(registry.LOSSES)
    assert config.CLASSIFIER_METHODS == tuple(registry.METHODS)
    for section, entries in (("archs", registry.ARCHS), ("losses", registry.LOSSES), ("methods", registry.METHODS)):
        model = config.Params.model_fields[section].annotation
        assert list(model.model_fields) == list(entries)
        for name, entry in entries.items():
            assert model.model_fields[name].annotation == entry.hparams | None
            assert model.model_fields[name].default is None


def test_reading_the_registry_and_the_config_does_not_import_torch():
    code = (
        "import sys, ganprint.registry, ganprint.config, ganprint.stages, ganprint.presets\n"
        "ganprint.config.load_params('params.yaml')\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout == "[]\n"


# == registering a name is what makes params.yaml accept it ===========================================================


class ToyHps(Section):
    """A made-up architecture's knobs (for the tests only)."""

    depth: int = Field(2, ge=1)


class ToyMethodHps(Section):
    temperature: float = Field(1.0, ge=0.0)


TOY_ARCH = registry.Arch("ganprint.nets.toygan:ToyG", "ganprint.nets.toygan:ToyD", ToyHps)
TOY_METHOD = registry.Method("ganprint.attribution.methods.toymethod:ToyMethod", ToyMethodHps)


def fresh_config(mp: pytest.MonkeyPatch, archs=None, methods=None):
    """Register ``archs`` / ``methods`` (undone with ``mp``) and import a fresh ganprint.config that sees them.

    The config builds its choices and hyperparameter models when imported, so a new registry entry needs a new
    import. ``mp`` restores sys.modules['ganprint.config'] and the package attribute, so nothing that imported the
    config before notices.
    """
    for name, entry in (archs or {}).items():
        mp.setitem(registry.ARCHS, name, entry)
    for name, entry in (methods or {}).items():
        mp.setitem(registry.METHODS, name, entry)
    mp.setattr(ganprint, "config", sys.modules["ganprint.config"])
    mp.delitem(sys.modules, "ganprint.config")
    return importlib.import_module("ganprint.config")


def _toy_params() -> dict:
    d = tiny_params()
    d["gans"]["toys"] = {"dataset": ["skimage"], "arch": ["toygan"], "loss": ["nonsat"], "seed": [0]}
    d["archs"]["toygan"] = {"depth": 3}
    return d


def test_registry_sections_get_one_field_per_registered_name():
    entries = dict(registry.ARCHS) | {"toygan": TOY_ARCH}
    model = config._registry_sections("ArchSections", entries)
    assert list(model.model_fields) == [*registry.ARCHS, "toygan"]
    assert model.model_validate({"toygan": {"depth": 3}}).toygan == ToyHps(depth=3)
    assert model.model_validate({}).toygan is None
    with pytest.raises(
        ValueError,
        match=r"unknown key 'toygn' \(did you mean 'toygan'\?\); allowed keys: "
        f"{ALL_ARCHS}, toygan",
    ):
        model.model_validate({"toygn": {}})


def test_an_unregistered_arch_is_refused():
    with pytest.raises(config.ConfigError) as e:
        config.parse_params(_toy_params())
    assert str(e.value) == (f"params.yaml: gans.toys.arch[0]: 'toygan' is not allowed; allowed values: {ALL_ARCHS}")


def test_registering_an_arch_makes_the_config_accept_it():
    original = sys.modules["ganprint.config"]
    with pytest.MonkeyPatch.context() as mp:
        cfg = fresh_config(mp, archs={"toygan": TOY_ARCH})
        assert cfg is not original
        assert cfg.GAN_ARCHS == tuple(registry.ARCHS) and cfg.GAN_ARCHS[-1] == "toygan"
        p = cfg.parse_params(_toy_params())
        assert list(p.gan_list) == [
            "skimage-dcgan-nonsat-clean-seed0",
            "skimage-dcgan-nonsat-clean-seed1",
            "skimage-dcgan-nonsat-fingerprinted-seed0",
            "skimage-toygan-nonsat-clean-seed0",
        ]
        assert p.gan_group("skimage-toygan-nonsat-clean-seed0") == "toys"
        assert p.arch_hparams("toygan") == ToyHps(depth=3)
        assert cfg.lookup(p, "archs.toygan") == {"depth": 3}
        builtin = {a: cfg.lookup(p, f"archs.{a}") for a in ALL_ARCHS.split(", ")}  # tiny keeps every section
        assert builtin["dcgan"]["z_dim"] == 8 and builtin["progan"]["z_dim"] == 128
        assert cfg.lookup(p, "archs") == builtin | {"toygan": {"depth": 3}}

        # the grid uses toygan: its section must be written (dvc.yaml reads archs.toygan)
        d = _toy_params()
        del d["archs"]["toygan"]
        with pytest.raises(cfg.ConfigError) as e:
            cfg.parse_params(d)
        assert str(e.value) == (
            "params.yaml: archs.toygan: missing section; the grid uses arch 'toygan', so its hyperparameters must "
            "be written in params.yaml (dvc.yaml reads them); 'archs: {toygan: {}}' takes the defaults"
        )
        # a registered arch the grid does not use needs no section, and plain data leaves it out
        p = cfg.parse_params(tiny_params())
        assert p.archs.toygan is None and cfg.lookup(p, "archs") == builtin
        # its knobs are checked like any other
        d = _toy_params()
        d["archs"]["toygan"] = {"depht": 3}
        with pytest.raises(cfg.ConfigError) as e:
            cfg.parse_params(d)
        assert str(e.value) == (
            "params.yaml: archs.toygan: unknown key 'depht' (did you mean 'depth'?); allowed keys: depth"
        )
        d["archs"]["toygan"] = {"depth": 0}
        with pytest.raises(cfg.ConfigError) as e:
            cfg.parse_params(d)
        assert str(e.value) == "params.yaml: archs.toygan.depth: 0 is out of range; allowed: ≥ 1"
        d = tiny_params()
        d["archs"]["toygn"] = {}
        with pytest.raises(cfg.ConfigError) as e:
            cfg.parse_params(d)
        assert str(e.value) == (
            f"params.yaml: archs: unknown key 'toygn' (did you mean 'toygan'?); allowed keys: {ALL_ARCHS}, toygan"
        )
        # the schema for editors lists it too
        assert "toygan" in cfg.json_schema()["$defs"]["ArchSections"]["properties"]
    # undone: the registry, sys.modules and the package attribute are as before
    assert "toygan" not in registry.ARCHS
    assert sys.modules["ganprint.config"] is original and ganprint.config is original
    assert importlib.import_module("ganprint.config") is original
    with pytest.raises(config.ConfigError):
        config.parse_params(_toy_params())


def test_registering_a_method_makes_the_config_accept_it():
    d = tiny_params()
    d["protocols"]["closed_set"]["methods"] = ["postpool", "toymethod"]
    d["protocols"]["closed_set"]["robustness"]["methods"] = ["postpool"]
    d["methods"]["toymethod"] = {"temperature": 0.5}
    with pytest.raises(config.ConfigError) as e:
        config.parse_params(d)
    assert str(e.value) == (
        "params.yaml: protocols.closed_set.methods[1]: 'toymethod' is not allowed; allowed values: "
        "postpool, gandct, knn, prnu, visnet, classmodel, dnadet"
    )
    with pytest.MonkeyPatch.context() as mp:
        cfg = fresh_config(mp, methods={"toymethod": TOY_METHOD})
        p = cfg.parse_params(d)
        assert p.protocols["closed_set"].methods == ["postpool", "toymethod"]
        assert p.protocol_methods("cross_seed") == ["postpool", "toymethod"]
        assert p.method_hparams("toymethod") == ToyMethodHps(temperature=0.5)
        del d["methods"]["toymethod"]
        with pytest.raises(cfg.ConfigError) as e:
            cfg.parse_params(d)
        assert str(e.value).startswith("params.yaml: methods.toymethod: missing section; the grid uses method")
    assert list(registry.METHODS) == ["postpool", "gandct", "knn", "prnu", "visnet", "classmodel", "dnadet"]


def test_the_committed_params_name_only_registered_things():
    data = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    assert set(data["archs"]) <= set(registry.ARCHS)
    assert set(data["losses"]) <= set(registry.LOSSES)
    assert set(data["methods"]) <= set(registry.METHODS)
    for group in data["gans"].values():
        assert set(group["arch"]) <= set(registry.ARCHS) and set(group["loss"]) <= set(registry.LOSSES)
