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
from ganprint.hparams import DCGANHps, NonsatHps, PostpoolHps, Section


def _module_file(ref: str) -> str:
    """``ganprint.nets.dcgan:DCGANGenerator`` → ``src/ganprint/nets/dcgan.py``."""
    return "src/" + ref.partition(":")[0].replace(".", "/") + ".py"


# == what is registered ===============================================================================================


def test_registered_names():
    assert list(registry.ARCHS) == ["dcgan"]
    assert list(registry.LOSSES) == ["nonsat"]
    assert list(registry.METHODS) == ["postpool", "visnet", "classmodel"]
    assert registry.ARCHS["dcgan"].hparams is DCGANHps
    assert registry.LOSSES["nonsat"].hparams is NonsatHps
    assert registry.METHODS["postpool"].hparams is PostpoolHps


@pytest.mark.parametrize("arch", list(registry.ARCHS))
def test_every_arch_has_its_module(arch):
    path = registry.arch_module(arch)
    assert path == f"src/ganprint/nets/{arch}.py"
    assert (REPO / path).is_file()
    entry = registry.ARCHS[arch]
    # the generator and discriminator live in that file: editing it is what retrains the arch's GANs
    assert _module_file(entry.generator) == path
    assert _module_file(entry.discriminator) == path


@pytest.mark.parametrize("method", list(registry.METHODS))
def test_every_method_has_its_module(method):
    path = registry.method_module(method)
    assert path == f"src/ganprint/nets/{method}.py"
    assert (REPO / path).is_file()
    entry = registry.METHODS[method]
    if entry.classifier:
        assert _module_file(entry.classifier) == path
    else:  # an AttributionMethod: its networks live in that file
        assert "src/" + entry.nets.replace(".", "/") + ".py" == path
        assert (REPO / _module_file(entry.impl)).is_file()


@pytest.mark.parametrize("loss", list(registry.LOSSES))
def test_every_loss_lives_in_losses_py(loss):
    assert _module_file(registry.LOSSES[loss].functions) == "src/ganprint/losses.py"


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
    assert list(nets.CLASSIFIERS) == [k for k, m in registry.METHODS.items() if m.classifier]
    for name, entry in registry.ARCHS.items():
        assert nets.GENERATORS[name] is registry.load(entry.generator)
        assert nets.DISCRIMINATORS[name] is registry.load(entry.discriminator)
    for name, entry in registry.METHODS.items():
        if entry.classifier:
            assert nets.CLASSIFIERS[name] is registry.load(entry.classifier)
    assert nets.GENERATORS == {"dcgan": nets.DCGANGenerator}
    assert nets.DISCRIMINATORS == {"dcgan": nets.DCGANDiscriminator}
    assert nets.CLASSIFIERS == {"postpool": nets.YuPostpoolClassifier}


def test_loss_table_is_built_from_the_registry():
    assert list(losses.LOSSES) == list(registry.LOSSES)
    for name, entry in registry.LOSSES.items():
        assert losses.LOSSES[name] is registry.load(entry.functions)
    assert losses.LOSSES["nonsat"] == (losses.nonsat_loss_dis, losses.nonsat_loss_gen)


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
TOY_METHOD = registry.Method("ganprint.nets.toymethod:ToyC", ToyMethodHps)


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
    assert list(model.model_fields) == ["dcgan", "toygan"]
    assert model.model_validate({"toygan": {"depth": 3}}).toygan == ToyHps(depth=3)
    assert model.model_validate({}).toygan is None
    with pytest.raises(
        ValueError, match=r"unknown key 'toygn' \(did you mean 'toygan'\?\); allowed keys: dcgan, toygan"
    ):
        model.model_validate({"toygn": {}})


def test_an_unregistered_arch_is_refused():
    with pytest.raises(config.ConfigError) as e:
        config.parse_params(_toy_params())
    assert str(e.value) == "params.yaml: gans.toys.arch[0]: 'toygan' is not allowed; allowed values: dcgan"


def test_registering_an_arch_makes_the_config_accept_it():
    original = sys.modules["ganprint.config"]
    with pytest.MonkeyPatch.context() as mp:
        cfg = fresh_config(mp, archs={"toygan": TOY_ARCH})
        assert cfg is not original
        assert cfg.GAN_ARCHS == ("dcgan", "toygan")
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
        assert cfg.lookup(p, "archs") == {"dcgan": cfg.lookup(p, "archs.dcgan"), "toygan": {"depth": 3}}

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
        assert p.archs.toygan is None and cfg.lookup(p, "archs") == {"dcgan": cfg.lookup(p, "archs.dcgan")}
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
            "params.yaml: archs: unknown key 'toygn' (did you mean 'toygan'?); allowed keys: dcgan, toygan"
        )
        # the schema for editors lists it too
        assert "toygan" in cfg.json_schema()["$defs"]["ArchSections"]["properties"]
    # undone: the registry, sys.modules and the package attribute are as before
    assert list(registry.ARCHS) == ["dcgan"]
    assert sys.modules["ganprint.config"] is original and ganprint.config is original
    assert importlib.import_module("ganprint.config") is original
    with pytest.raises(config.ConfigError):
        config.parse_params(_toy_params())


def test_registering_a_method_makes_the_config_accept_it():
    d = tiny_params()
    d["attribution"]["methods"] = ["postpool", "toymethod"]
    d["methods"]["toymethod"] = {"temperature": 0.5}
    with pytest.raises(config.ConfigError) as e:
        config.parse_params(d)
    assert str(e.value) == (
        "params.yaml: attribution.methods[1]: 'toymethod' is not allowed; allowed values: postpool, visnet, classmodel"
    )
    with pytest.MonkeyPatch.context() as mp:
        cfg = fresh_config(mp, methods={"toymethod": TOY_METHOD})
        p = cfg.parse_params(d)
        assert p.attribution.methods == ["postpool", "toymethod"]
        assert p.method_hparams("toymethod") == ToyMethodHps(temperature=0.5)
        del d["methods"]["toymethod"]
        with pytest.raises(cfg.ConfigError) as e:
            cfg.parse_params(d)
        assert str(e.value).startswith("params.yaml: methods.toymethod: missing section; the grid uses method")
    assert list(registry.METHODS) == ["postpool", "visnet", "classmodel"]


def test_the_committed_params_name_only_registered_things():
    data = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    assert set(data["archs"]) <= set(registry.ARCHS)
    assert set(data["losses"]) <= set(registry.LOSSES)
    assert set(data["methods"]) <= set(registry.METHODS)
    for group in data["gans"].values():
        assert set(group["arch"]) <= set(registry.ARCHS) and set(group["loss"]) <= set(registry.LOSSES)
