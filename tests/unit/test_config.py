"""ganprint.config: params.yaml → frozen dataclasses; every refusal names the key and what it may be."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from conftest import REPO, tiny_params, write_params

from ganprint.config import (
    ConfigError,
    DatasetCfg,
    DetectFingerprintsCfg,
    EmbedFingerprintsCfg,
    EvaluateAttributionCfg,
    GanCfg,
    GenerateImagesCfg,
    MakeTablesCfg,
    Params,
    PrepareDatasetCfg,
    ProtocolCfg,
    TrainClassifierCfg,
    TrainFingerprintAutoencoderCfg,
    TrainGanCfg,
    load_params,
    lookup,
    parse_params,
    section_dict,
    tracked_values,
)

TRAIN_GAN_KEYS = "steps, batch_size, z_dim, width, lr_g, lr_d, beta1, beta2, log_every"


def _error(mutate) -> str:
    """The ConfigError message of the tiny params after ``mutate(data)``."""
    data = tiny_params()
    mutate(data)
    with pytest.raises(ConfigError) as e:
        parse_params(data)
    return str(e.value)


# -- the default params.yaml and every section -------------------------------------------------------------


def test_default_params_yaml_loads():
    p = load_params(REPO / "params.yaml")
    assert isinstance(p, Params)
    assert list(p.datasets) == ["skimage", "sklearn"]
    sk = p.datasets["skimage"]
    assert sk == DatasetCfg(
        source="embedded",
        path="skimage",
        resolution=32,
        limit=0,
        num_images=2000,
        crop_scale=[0.08, 0.5],
        celeba_crop="yu2019",
        seed=0,
    )
    assert p.datasets["sklearn"].seed == 1
    assert p.prepare_dataset == PrepareDatasetCfg(
        workers=0, resize_filter="lanczos", min_source_size=0, max_skipped_fraction=0.1, grid_images=64
    )
    assert len(p.gans) == 5
    assert p.gans["skimage-dcgan-nonsat-fingerprinted-seed0"] == GanCfg(
        dataset="skimage", arch="dcgan", loss="nonsat", variant="fingerprinted", seed=0
    )
    assert p.train_gan == TrainGanCfg(
        steps=1000,
        batch_size=64,
        z_dim=64,
        width=32,
        lr_g=0.0002,
        lr_d=0.0002,
        beta1=0.5,
        beta2=0.999,
        log_every=100,
    )
    assert p.generate_images == GenerateImagesCfg(num_images=1250, seed=1000, batch_size=250)
    assert p.train_fingerprint_autoencoder == TrainFingerprintAutoencoderCfg(
        datasets=["skimage"],
        bits=32,
        steps=1500,
        batch_size=32,
        lr=0.0005,
        l2_weight=10.0,
        l2_await=200,
        l2_ramp=600,
        bce_weight=1.0,
        bit_acc_threshold=0.9,
        seed=0,
        log_every=100,
    )
    assert p.embed_fingerprints == EmbedFingerprintsCfg(identical=True, seed=42, batch_size=64)
    assert p.detect_fingerprints == DetectFingerprintsCfg(batch_size=256)
    assert list(p.protocols) == ["closed_set", "cross_seed"]
    closed = p.protocols["closed_set"]
    assert isinstance(closed, ProtocolCfg)
    assert closed.paper == "yu2019_table2" and closed.test == {}
    assert sorted(closed.train) == ["real", "seed0", "seed1", "seed2", "seed3"]
    cross = p.protocols["cross_seed"]
    assert cross.test["dcgan"] == ["gan/skimage-dcgan-nonsat-clean-seed2", "gan/skimage-dcgan-nonsat-clean-seed3"]
    assert p.train_classifier == TrainClassifierCfg(
        protocols=["closed_set", "cross_seed"],
        methods=["postpool"],
        images_per_class=1000,
        epochs=8,
        batch_size=32,
        lr=0.001,
        beta1=0.0,
        beta2=0.99,
        fmap_base=256,
        fmap_max=128,
        hflip=True,
        seed=0,
    )
    assert p.evaluate_attribution == EvaluateAttributionCfg(images_per_class=250, batch_size=250)
    assert p.make_tables == MakeTablesCfg(decimals=2)


def test_every_section_is_a_frozen_dataclass():
    p = parse_params(tiny_params())
    for f in dataclasses.fields(Params):
        section = getattr(p, f.name)
        values = section.values() if isinstance(section, dict) else [section]
        for v in values:
            assert dataclasses.is_dataclass(v), f.name
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(v, dataclasses.fields(v)[0].name, None)


def test_tiny_params_and_defaults_of_omitted_keys():
    p = parse_params(tiny_params())
    assert p.train_gan.steps == 3 and p.train_gan.width == 8
    assert p.train_gan.lr_g == pytest.approx(2e-4)  # default
    assert p.datasets["skimage"].crop_scale == [0.08, 0.5]  # default list
    assert p.make_tables.decimals == 2  # empty section → all defaults
    assert p.train_classifier.methods == ["postpool"]
    assert p.protocols["closed_set"].test == {}
    assert p.protocol_sources("closed_set", "test") == p.protocol_sources("closed_set", "train")
    assert p.protocol_sources("cross_seed", "test") == {"real": ["real/skimage"], "dcgan": ["gan/s1"]}


def test_section_may_be_null():
    data = tiny_params()
    data["make_tables"] = None
    data["detect_fingerprints"] = None
    p = parse_params(data)
    assert p.make_tables == MakeTablesCfg(decimals=2)
    assert p.detect_fingerprints == DetectFingerprintsCfg(batch_size=256)


def test_default_lists_are_not_shared():
    a, b = TrainClassifierCfg(), TrainClassifierCfg()
    assert a.methods == ["postpool"] and a.methods is not b.methods


# -- unknown keys ------------------------------------------------------------------------------------------


def test_unknown_key_with_did_you_mean_and_allowed_keys():
    msg = _error(lambda d: d["train_gan"].update(stepz=3))
    assert msg == (
        f"params.yaml: train_gan: unknown key 'stepz' (did you mean 'steps'?); allowed keys: {TRAIN_GAN_KEYS}"
    )


def test_unknown_key_without_a_close_match_lists_allowed_keys():
    msg = _error(lambda d: d["generate_images"].update(zzzz=1))
    assert msg == "params.yaml: generate_images: unknown key 'zzzz'; allowed keys: num_images, seed, batch_size"


def test_unknown_key_inside_a_named_entry():
    msg = _error(lambda d: d["datasets"]["skimage"].update(resolutoin=32))
    assert "datasets.skimage: unknown key 'resolutoin' (did you mean 'resolution'?)" in msg
    assert "allowed keys: source, path, resolution, limit, num_images, crop_scale, celeba_crop, seed" in msg
    msg = _error(lambda d: d["gans"]["s0"].update(sed=0))
    assert "gans.s0: unknown key 'sed' (did you mean 'seed'?); allowed keys: dataset, arch, loss, variant, seed" in (
        msg
    )


def test_unknown_top_level_key():
    msg = _error(lambda d: d.update(gan={}))
    assert "unknown key 'gan' (did you mean 'gans'?)" in msg
    assert "allowed keys: datasets, prepare_dataset, gans, train_gan, generate_images" in msg


def test_top_level_messages_have_no_empty_location():
    msg = _error(lambda d: d.update(gan={}))
    assert msg.startswith("params.yaml: unknown key 'gan'")


def test_missing_required_key():
    assert _error(lambda d: d.pop("datasets")) == (
        "params.yaml: datasets: missing key; it must be written in params.yaml (dvc.yaml reads it)"
    )
    assert _error(lambda d: d["train_classifier"].pop("methods")) == (
        "params.yaml: train_classifier.methods: missing key; it must be written in params.yaml (dvc.yaml reads it)"
    )
    assert _error(lambda d: d["gans"]["s0"].pop("dataset")) == "params.yaml: gans.s0.dataset: missing required key"
    assert _error(lambda d: d["protocols"]["closed_set"].pop("train")) == (
        "params.yaml: protocols.closed_set.train: missing required key"
    )


def test_section_must_be_a_mapping():
    msg = _error(lambda d: d.update(train_gan=[1, 2]))
    assert msg == "params.yaml: train_gan: expected a mapping of keys, got [1, 2] (list)"
    msg = _error(lambda d: d.update(gans=["s0"]))
    assert msg == "params.yaml: gans: expected a mapping of name → value, got ['s0']"


# -- types -------------------------------------------------------------------------------------------------


def test_int_given_str():
    msg = _error(lambda d: d["train_gan"].update(steps="3"))
    assert msg == "params.yaml: train_gan.steps: expected int, got '3' (str)"


def test_int_given_bool_and_int_given_float():
    assert "train_gan.steps: expected int, got True (bool)" in _error(lambda d: d["train_gan"].update(steps=True))
    assert "train_gan.steps: expected int, got 3.0 (float)" in _error(lambda d: d["train_gan"].update(steps=3.0))


def test_bool_given_int():
    msg = _error(lambda d: d["embed_fingerprints"].update(identical=1))
    assert msg == "params.yaml: embed_fingerprints.identical: expected bool, got 1 (int)"


def test_float_accepts_int_and_refuses_bool_and_str():
    data = tiny_params()
    data["train_gan"].update(lr_g=1, beta1=0)
    p = parse_params(data)
    assert p.train_gan.lr_g == 1.0 and type(p.train_gan.lr_g) is float
    assert p.train_gan.beta1 == 0.0 and type(p.train_gan.beta1) is float
    assert "train_gan.lr_d: expected float, got False (bool)" in _error(lambda d: d["train_gan"].update(lr_d=False))
    assert "train_gan.lr_d: expected float, got '1e-3' (str)" in _error(lambda d: d["train_gan"].update(lr_d="1e-3"))


def test_str_given_int_lists_the_choices():
    msg = _error(lambda d: d["datasets"]["skimage"].update(source=3))
    assert msg == (
        "params.yaml: datasets.skimage.source: expected str, got 3 (int); allowed: embedded, folder, celeba, lsun"
    )


def test_list_types():
    msg = _error(lambda d: d["train_fingerprint_autoencoder"].update(datasets="skimage"))
    assert msg == "params.yaml: train_fingerprint_autoencoder.datasets: expected a list, got 'skimage' (str)"
    msg = _error(lambda d: d["train_fingerprint_autoencoder"].update(datasets=["skimage", 1]))
    assert msg == "params.yaml: train_fingerprint_autoencoder.datasets[1]: expected str, got 1 (int)"
    msg = _error(lambda d: d["datasets"]["skimage"].update(crop_scale=[0.1, "a"]))
    assert "datasets.skimage.crop_scale[1]: expected float, got 'a' (str)" in msg


def test_crop_scale_int_items_become_float():
    data = tiny_params()
    data["datasets"]["skimage"]["crop_scale"] = [0.5, 1]
    assert parse_params(data).datasets["skimage"].crop_scale == [0.5, 1.0]


# -- ranges, choices, powers of two ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("train_gan", "steps", 0, "train_gan.steps: 0 is out of range; allowed: 1 … inf"),
        ("train_gan", "width", 2, "train_gan.width: 2 is out of range; allowed: 4 … inf"),
        ("train_gan", "beta1", 1.5, "train_gan.beta1: 1.5 is out of range; allowed: 0.0 … 1.0"),
        ("train_gan", "lr_g", -0.1, "train_gan.lr_g: -0.1 is out of range; allowed: 0.0 … inf"),
        ("make_tables", "decimals", 7, "make_tables.decimals: 7 is out of range; allowed: 0 … 6"),
        ("make_tables", "decimals", -1, "make_tables.decimals: -1 is out of range; allowed: 0 … 6"),
        (
            "train_fingerprint_autoencoder",
            "bit_acc_threshold",
            0.4,
            "train_fingerprint_autoencoder.bit_acc_threshold: 0.4 is out of range; allowed: 0.5 … 1.0",
        ),
        (
            "train_fingerprint_autoencoder",
            "bits",
            4097,
            "train_fingerprint_autoencoder.bits: 4097 is out of range; allowed: 1 … 4096",
        ),
        (
            "prepare_dataset",
            "max_skipped_fraction",
            1.01,
            "prepare_dataset.max_skipped_fraction: 1.01 is out of range; allowed: 0.0 … 1.0",
        ),
    ],
)
def test_out_of_range(section, key, value, expected):
    msg = _error(lambda d: d[section].update({key: value}))
    assert msg == f"params.yaml: {expected}"


def test_range_bounds_are_inclusive():
    data = tiny_params()
    data["make_tables"] = {"decimals": 6}
    data["train_gan"].update(beta1=1.0, beta2=0.0, width=4)
    data["train_fingerprint_autoencoder"]["bit_acc_threshold"] = 0.5
    p = parse_params(data)
    assert (p.make_tables.decimals, p.train_gan.beta1, p.train_gan.width) == (6, 1.0, 4)


def test_choices():
    msg = _error(lambda d: d["prepare_dataset"].update(resize_filter="cubic"))
    assert msg == (
        "params.yaml: prepare_dataset.resize_filter: 'cubic' is not allowed; "
        "allowed values: lanczos, bicubic, bilinear, box, nearest"
    )
    msg = _error(lambda d: d["gans"]["s0"].update(arch="stylegan"))
    assert msg == "params.yaml: gans.s0.arch: 'stylegan' is not allowed; allowed values: dcgan"
    msg = _error(lambda d: d["gans"]["s1"].update(variant="dirty"))
    assert "gans.s1.variant: 'dirty' is not allowed; allowed values: clean, fingerprinted" in msg
    msg = _error(lambda d: d["protocols"]["closed_set"].update(paper="yu2020"))
    assert (
        "protocols.closed_set.paper: 'yu2020' is not allowed; "
        "allowed values: , yu2019_table1, yu2019_table2, dnadet_cross_seed" in msg
    )
    msg = _error(lambda d: d["train_classifier"].update(methods=["postpool", "dnadet"]))
    assert msg == "params.yaml: train_classifier.methods: 'dnadet' is not allowed; allowed values: postpool"


@pytest.mark.parametrize("res", [48, 100, 17])
def test_resolution_power_of_two(res):
    msg = _error(lambda d: d["datasets"]["skimage"].update(resolution=res))
    assert msg == f"params.yaml: datasets.skimage.resolution: {res} must be a power of two (16, 32, 64, 128, …)"


def test_resolution_range_is_checked_before_power_of_two():
    msg = _error(lambda d: d["datasets"]["sklearn"].update(resolution=8))
    assert msg == "params.yaml: datasets.sklearn.resolution: 8 is out of range; allowed: 16 … 1024"
    msg = _error(lambda d: d["datasets"]["sklearn"].update(resolution=2048))
    assert msg == "params.yaml: datasets.sklearn.resolution: 2048 is out of range; allowed: 16 … 1024"


# -- names used as dict keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(("section", "name"), [("gans", "bad name"), ("datasets", "a/b"), ("gans", "-x"), ("gans", 1)])
def test_bad_names_in_dict_keys(section, name):
    def mutate(d):
        d[section][name] = d[section].pop(next(iter(d[section])))

    msg = _error(mutate)
    assert msg == (
        f"params.yaml: {section}: name {name!r} is not allowed; use letters, digits, '_', '-', '.' "
        "(it becomes part of file paths and stage names)"
    )


def test_bad_class_name_in_a_protocol():
    msg = _error(lambda d: d["protocols"]["closed_set"]["train"].update({"seed 2": ["gan/s0"]}))
    assert "protocols.closed_set.train: name 'seed 2' is not allowed" in msg


def test_good_names():
    data = tiny_params()
    data["gans"]["A_b-c.1"] = data["gans"].pop("s1")
    for proto in data["protocols"].values():
        for split in ("train", "test"):
            for srcs in proto.get(split, {}).values():
                srcs[:] = ["gan/A_b-c.1" if s == "gan/s1" else s for s in srcs]
    assert "A_b-c.1" in parse_params(data).gans


# -- cross-references --------------------------------------------------------------------------------------


def test_gan_with_unknown_dataset():
    msg = _error(lambda d: d["gans"]["s0"].update(dataset="celeba"))
    assert msg == "params.yaml: gans.s0.dataset: unknown dataset 'celeba'; defined: skimage, sklearn"


def test_gan_dataset_must_have_a_fingerprint_autoencoder():
    msg = _error(lambda d: d["gans"]["s1"].update(dataset="sklearn"))
    assert msg.startswith(
        "params.yaml: gans.s1.dataset: 'sklearn' must be listed in train_fingerprint_autoencoder.datasets"
    )


def test_duplicate_gan_selectors():
    msg = _error(lambda d: d["gans"].update(dup=dict(d["gans"]["s1"])))
    assert msg == "params.yaml: gans.dup and gans.s1 are the same GAN skimage/dcgan/nonsat/clean/1"


def test_fingerprint_autoencoder_dataset_checks():
    msg = _error(lambda d: d["train_fingerprint_autoencoder"].update(datasets=["skimage", "lsun"]))
    assert msg == (
        "params.yaml: train_fingerprint_autoencoder.datasets: unknown dataset 'lsun'; defined: skimage, sklearn"
    )

    def small(d):
        d["datasets"]["sklearn"]["resolution"] = 16
        d["train_fingerprint_autoencoder"]["datasets"] = ["skimage", "sklearn"]

    assert "'sklearn' has resolution 16; the fingerprint autoencoder needs ≥ 32" in _error(small)


def test_embedded_path_and_crop_scale():
    msg = _error(lambda d: d["datasets"]["sklearn"].update(path="imagenet"))
    assert msg == "params.yaml: datasets.sklearn.path: 'imagenet' is not an embedded set; allowed: skimage, sklearn"
    for bad in ([0.5, 0.1], [0.0, 0.5], [0.1, 1.5], [0.1], [0.1, 0.2, 0.3]):
        msg = _error(lambda d, bad=bad: d["datasets"]["skimage"].update(crop_scale=bad))
        assert f"datasets.skimage.crop_scale: {[float(x) for x in bad]!r} must be two fractions [lo, hi]" in msg


def test_protocol_with_unknown_source():
    msg = _error(lambda d: d["protocols"]["closed_set"]["train"].update(seed1=["gan/s9"]))
    assert msg == (
        "params.yaml: protocols.closed_set.train.seed1: source 'gan/s9' must be 'real/<dataset>' "
        "(datasets: skimage, sklearn) or 'gan/<gan>' (gans: s0, s1, fp0)"
    )
    msg = _error(lambda d: d["protocols"]["cross_seed"]["test"].update(real=["real/celeba"]))
    assert "protocols.cross_seed.test.real: source 'real/celeba' must be 'real/<dataset>'" in msg
    msg = _error(lambda d: d["protocols"]["cross_seed"]["test"].update(real=["skimage"]))
    assert "protocols.cross_seed.test.real: source 'skimage' must be" in msg


def test_protocol_test_class_not_in_train():
    msg = _error(lambda d: d["protocols"]["cross_seed"]["test"].update(other=["real/sklearn"]))
    assert msg == (
        "params.yaml: protocols.cross_seed.test: classes ['dcgan', 'other', 'real'] must be the train classes "
        "['dcgan', 'real'] (or leave test empty to test on the train sources)"
    )


def test_protocol_needs_two_train_classes_and_non_empty_sources():
    msg = _error(lambda d: d["protocols"]["cross_seed"].update(train={"real": ["real/skimage"]}))
    assert msg == "params.yaml: protocols.cross_seed.train: needs at least two classes, got ['real']"
    msg = _error(lambda d: d["protocols"]["closed_set"]["train"].update(seed0=[]))
    assert msg == "params.yaml: protocols.closed_set.train.seed0: empty source list"


def test_train_classifier_protocols_unknown():
    msg = _error(lambda d: d["train_classifier"].update(protocols=["closed_set", "open_set"]))
    assert (
        msg == "params.yaml: train_classifier.protocols: unknown protocol 'open_set'; defined: closed_set, cross_seed"
    )


# -- files -------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as e:
        load_params(path)
    assert str(e.value) == f"{path}: no such params file; run from the project root or pass --params PATH"


def test_invalid_yaml(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train_gan: {steps: 3\n  width: [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_params(path)
    assert str(e.value).startswith(f"{path}: not valid YAML: ")


def test_errors_from_a_file_name_the_file(tmp_path):
    data = tiny_params()
    data["train_gan"]["stepz"] = 3
    path = write_params(tmp_path / "my.yaml", data)
    with pytest.raises(ConfigError, match=r"my\.yaml: train_gan: unknown key 'stepz'"):
        load_params(path)


def test_tiny_params_file_loads(tiny_params_file: Path):
    p = load_params(tiny_params_file)
    assert list(p.gans) == ["s0", "s1", "fp0"]
    assert p == parse_params(tiny_params())


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


# -- lookup, tracked_values, section_dict ------------------------------------------------------------------


def test_lookup():
    p = parse_params(tiny_params())
    assert lookup(p, "train_gan.steps") == 3
    assert lookup(p, "generate_images") == {"num_images": 24, "seed": 5, "batch_size": 10}
    assert lookup(p, "protocols.cross_seed") == {
        "train": {"real": ["real/skimage"], "dcgan": ["gan/s0"]},
        "test": {"real": ["real/skimage"], "dcgan": ["gan/s1"]},
        "description": "",
        "paper": "dnadet_cross_seed",
    }
    assert lookup(p, "datasets.skimage.crop_scale") == [0.08, 0.5]
    with pytest.raises(KeyError, match="params has no key 'train_gan.stepz'"):
        lookup(p, "train_gan.stepz")
    with pytest.raises(KeyError, match="params has no key 'train_gan.steps.x'"):
        lookup(p, "train_gan.steps.x")


def test_tracked_values():
    p = parse_params(tiny_params())
    out = tracked_values(p, ["make_tables", "protocols.{protocol}", "train_classifier.epochs"], protocol="cross_seed")
    assert json.loads(out) == {
        "make_tables": {"decimals": 2},
        "protocols.cross_seed": lookup(p, "protocols.cross_seed"),
        "train_classifier.epochs": 1,
    }
    assert out == json.dumps(json.loads(out), sort_keys=True)  # sorted keys: a stable trigger
    assert tracked_values(p, ["make_tables.decimals"]) == '{"make_tables.decimals": 2}'
    with pytest.raises(KeyError):
        tracked_values(p, ["protocols.{protocol}"], protocol="nope")


def test_section_dict_is_plain_data():
    p = parse_params(tiny_params())
    assert section_dict(p, "embed_fingerprints") == {"identical": True, "seed": 42, "batch_size": 32}
    gans = section_dict(p, "gans")
    assert gans["fp0"] == {
        "dataset": "skimage",
        "arch": "dcgan",
        "loss": "nonsat",
        "variant": "fingerprinted",
        "seed": 0,
    }
    json.dumps(section_dict(p, "datasets"))  # JSON-serialisable
