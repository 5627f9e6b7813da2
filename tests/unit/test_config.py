"""ganprint.config (pydantic v2) and ganprint.presets: every refusal names the key and what it may be.

The mutation tests start from the ``tiny`` preset (conftest.tiny_params) and compare the whole ConfigError
message, so a changed wording fails here first.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from conftest import REPO, tiny_params, write_params
from pydantic import ValidationError

from ganprint import presets
from ganprint.config import (
    ConfigError,
    DatasetCfg,
    GanCfg,
    GanGroup,
    Params,
    gan_name,
    json_schema,
    load_params,
    lookup,
    parse_params,
    plain,
    tracked_values,
)
from ganprint.hparams import DCGANHps, NonsatHps, PostpoolHps, Section

TOP_KEYS = (
    "datasets, gans, autoencoders, fingerprints, protocols, attribution, archs, losses, methods, loader, "
    "prepare_dataset, train_gan, finetune_gan, generate_images, fid, train_fingerprint_autoencoder, "
    "embed_fingerprints, detect_fingerprints, fingerprint_robustness, train_classifier, immunize_classifier, "
    "evaluate_attribution, evaluate_robustness, interpret_attribution, make_tables"
)
NAME_RULE = "use letters, digits, '_', '-', '.' (it becomes part of file paths and stage names)"
TRAIN_GAN_KEYS = (
    "steps, batch_size, log_every, data_seed, checkpoint_every, sample_every, grid_images, divergence_limit, amp, "
    "compile"
)
MISSING = "missing key; it must be written in params.yaml (dvc.yaml reads it)"
GAN_HINT = "(GAN names are <dataset>-<arch>-<loss>-<variant>-seed<seed>; `ganprint check-params` lists them)"
DEFAULT_GANS = [
    "skimage-dcgan-nonsat-clean-seed0",
    "skimage-dcgan-nonsat-clean-seed1",
    "skimage-dcgan-nonsat-clean-seed2",
    "skimage-dcgan-nonsat-clean-seed3",
    "skimage-progan-wgangp-clean-seed0",
    "skimage-sngan-hinge-clean-seed0",
    "skimage-mmdgan-cramer-clean-seed0",
    "skimage-mmdgan-mmd-clean-seed0",
    "skimage-mimicry-infomax-clean-seed0",
    "skimage-mimicry-ssgan-clean-seed0",
    "skimage-stylegan2-nonsat-clean-seed0",
    "skimage-dcgan-nonsat-fingerprinted-seed0",
    "skimage-dcgan-nonsat-fp-owner2-seed0",
    "skimage-stylegan2-nonsat-fingerprinted-seed0",
    "skimage-dcgan-nonsat-ft-sklearn-seed0",
    "skimage-sngan-hinge-ft-sklearn-seed0",
    "skimage-mmdgan-mmd-ft-sklearn-seed0",
    "sklearn-dcgan-nonsat-clean-seed0",
    "sklearn-mmdgan-mmd-clean-seed0",
]
DEFAULT_GROUPS = [
    "seeds",
    "progan",
    "sngan",
    "mmdgan",
    "mimicry",
    "stylegan2",
    "fingerprinted",
    "fingerprinted_stylegan2",
    "finetuned",
    "finetuned_sngan",
    "finetuned_mmdgan",
    "other_dataset",
    "other_dataset_mmdgan",
]
DEMO_PROTOCOLS = [
    "closed_set",
    "fine_grained",
    "arch_closed",
    "cross_seed",
    "cross_loss",
    "cross_finetune",
    "cross_dataset",
]
METHODS = ["postpool", "gandct", "knn", "prnu", "visnet", "classmodel", "dnadet"]
TINY_GANS = [
    "skimage-dcgan-nonsat-clean-seed0",
    "skimage-dcgan-nonsat-clean-seed1",
    "skimage-dcgan-nonsat-fingerprinted-seed0",
]


def _error(mutate) -> str:
    """The ConfigError message of the tiny params after ``mutate(data)``."""
    data = tiny_params()
    mutate(data)
    with pytest.raises(ConfigError) as e:
        parse_params(data)
    return str(e.value)


def _ok(mutate) -> Params:
    data = tiny_params()
    mutate(data)
    return parse_params(data)


# == the committed params.yaml and the presets =========================================================================


def test_params_yaml_loads_with_the_documented_values():
    p = load_params(REPO / "params.yaml")
    assert isinstance(p, Params)
    assert list(type(p).model_fields) == TOP_KEYS.split(", ")
    assert list(p.datasets) == ["skimage", "sklearn"]
    assert p.datasets["skimage"] == DatasetCfg(
        source="embedded",
        path="skimage",
        resolution=32,
        num_images=2000,
        crop_scale=[0.08, 0.5],
        limit=0,
        celeba_crop="yu2019",
        seed=0,
    )
    assert p.datasets["sklearn"].seed == 1 and p.datasets["sklearn"].path == "sklearn"

    def group(arch, loss, variant, seed, dataset="skimage"):
        return GanGroup(dataset=[dataset], arch=[arch], loss=loss, variant=variant, seed=seed)

    assert p.gans == {
        "seeds": group("dcgan", ["nonsat"], ["clean"], [0, 1, 2, 3]),
        "progan": group("progan", ["wgangp"], ["clean"], [0]),
        "sngan": group("sngan", ["hinge"], ["clean"], [0]),
        "mmdgan": group("mmdgan", ["cramer", "mmd"], ["clean"], [0]),
        "mimicry": group("mimicry", ["infomax", "ssgan"], ["clean"], [0]),
        "stylegan2": group("stylegan2", ["nonsat"], ["clean"], [0]),
        "fingerprinted": group("dcgan", ["nonsat"], ["fingerprinted", "fp-owner2"], [0]),
        "fingerprinted_stylegan2": group("stylegan2", ["nonsat"], ["fingerprinted"], [0]),
        "finetuned": group("dcgan", ["nonsat"], ["ft-sklearn"], [0]),
        "finetuned_sngan": group("sngan", ["hinge"], ["ft-sklearn"], [0]),
        "finetuned_mmdgan": group("mmdgan", ["mmd"], ["ft-sklearn"], [0]),
        "other_dataset": group("dcgan", ["nonsat"], ["clean"], [0], "sklearn"),
        "other_dataset_mmdgan": group("mmdgan", ["mmd"], ["clean"], [0], "sklearn"),
    }
    assert list(p.gans) == DEFAULT_GROUPS
    assert list(p.gan_list) == DEFAULT_GANS
    assert p.gan_list["skimage-dcgan-nonsat-ft-sklearn-seed0"].finetune_dataset == "sklearn"
    assert p.autoencoders == ["skimage"]
    assert list(p.protocols) == DEMO_PROTOCOLS
    closed = p.protocols["closed_set"]
    assert closed.test == {} and closed.paper == "yu2019_table1" and closed.classifier == ""
    assert (closed.methods, closed.seeds) == (["knn", "prnu", "postpool", "visnet"], [0, 1, 2])
    assert plain(closed.images) == {"train": 400, "val": 100, "test": 200}
    assert plain(closed.robustness) == {
        "perturbations": ["noise", "blur", "jpeg", "crop", "relight"],
        "methods": ["postpool"],
    }
    assert p.protocols["closed_set"].train == {
        "real": ["real/skimage"],
        "progan": ["gan/skimage-progan-wgangp-clean-seed0"],
        "sngan": ["gan/skimage-sngan-hinge-clean-seed0"],
        "cramergan": ["gan/skimage-mmdgan-cramer-clean-seed0"],
        "mmdgan": ["gan/skimage-mmdgan-mmd-clean-seed0"],
    }
    assert p.protocols["cross_seed"].test == {
        "real": ["real/skimage"],
        "dcgan": [f"gan/skimage-dcgan-nonsat-clean-seed{s}" for s in (1, 2, 3)],
        "unknown": ["gan/skimage-stylegan2-nonsat-clean-seed0"],
    }
    # the cross-* protocols evaluate the arch_closed classifiers: its methods and seeds, their own test sources
    for x in ("cross_seed", "cross_loss", "cross_finetune", "cross_dataset"):
        assert (p.protocols[x].classifier, p.protocols[x].train, p.protocols[x].images.test) == ("arch_closed", {}, 200)
        assert p.protocol_methods(x) == ["prnu", "postpool", "gandct", "classmodel", "dnadet"]
        assert p.protocol_seeds(x) == [0]
    assert (p.protocols["fine_grained"].methods, p.protocols["fine_grained"].seeds) == (
        ["knn", "prnu", "postpool"],
        [0, 1, 2],
    )
    assert list(p.protocols["fine_grained"].train) == ["real", "seed0", "seed1", "seed2", "seed3"]
    assert list(p.protocols["arch_closed"].train) == ["real", "dcgan", "progan", "sngan", "mmdgan", "mimicry"]
    assert plain(p.attribution) == {"protocols": DEMO_PROTOCOLS}
    assert list(plain(p.archs)) == ["dcgan", "progan", "sngan", "mimicry", "mmdgan", "stylegan2"]
    assert list(plain(p.losses)) == ["nonsat", "hinge", "wgangp", "cramer", "mmd", "infomax", "ssgan"]
    assert list(plain(p.methods)) == METHODS
    assert (p.archs.progan.z_dim, p.archs.progan.width, p.archs.progan.fmap_base, p.archs.progan.ema) == (
        128,
        48,
        256,
        0.999,
    )
    assert (p.archs.sngan.upsample, p.archs.mimicry.upsample, p.archs.mimicry.width) == ("nearest", "bilinear", 8)
    assert (p.archs.mmdgan.z_dim, p.archs.mmdgan.dof_dim, p.archs.stylegan2.n_mlp) == (100, 0, 4)
    assert plain(p.losses.wgangp) == {"gp_weight": 10.0, "gp_target": 1.0, "drift": 0.001}
    assert plain(p.losses.mmd) == {"rq_alphas": [0.1, 1.0, 10.0], "dot_weight": 1.0, "gp_weight": 1.0, "l2_weight": 1.0}
    assert (p.methods.gandct.input, p.methods.knn.k, p.methods.dnadet.width, p.methods.dnadet.pretrain_steps) == (
        "dct",
        5,
        16,
        200,
    )
    assert p.archs.dcgan == DCGANHps(z_dim=64, width=32, lr_g=0.0002, lr_d=0.0002, beta1=0.5, beta2=0.999)
    assert p.losses.nonsat == NonsatHps()
    assert p.methods.postpool == PostpoolHps(fmap_base=256, fmap_max=128, lr=0.001, beta1=0.0, beta2=0.99, hflip=True)
    assert p.arch_hparams("dcgan") is p.archs.dcgan
    assert p.loss_hparams("nonsat") is p.losses.nonsat
    assert p.method_hparams("postpool") is p.methods.postpool
    assert lookup(p, "loader") == {"workers": 0, "memory_budget_mb": 512}
    assert lookup(p, "prepare_dataset") == {
        "workers": 0,
        "resize_filter": "lanczos",
        "min_source_size": 0,
        "max_skipped_fraction": 0.1,
        "grid_images": 64,
    }
    assert lookup(p, "train_gan") == {
        "steps": 300,
        "batch_size": 32,
        "log_every": 100,
        "data_seed": None,
        "checkpoint_every": 100,
        "sample_every": 50,
        "grid_images": 16,
        "divergence_limit": 1e6,
        "amp": False,
        "compile": False,
    }
    assert lookup(p, "finetune_gan") == {"steps": 100}
    assert lookup(p, "generate_images") == {"num_images": 800, "seed": 1000, "batch_size": 200}
    assert lookup(p, "fid") == {
        "num_images": 64,
        "num_real": 128,
        "batch_size": 64,
        "kid_subset_size": 32,
        "kid_subsets": 50,
        "kid_max_real": 128,
        "resize": "tf_bilinear",
        "seed": 0,
    }
    assert lookup(p, "train_fingerprint_autoencoder") == {
        "bits": 32,
        "steps": 800,
        "batch_size": 32,
        "lr": 0.0005,
        "l2_weight": 10.0,
        "l2_await": 1000,
        "l2_ramp": 3000,
        "bce_weight": 1.0,
        "bit_acc_threshold": 0.9,
        "seed": 0,
        "log_every": 100,
        "schedule_scale": 0.15,
        "checkpoint_every": None,
        "stuck_after": 500,
    }
    assert lookup(p, "embed_fingerprints") == {"identical": True, "batch_size": 64}
    assert lookup(p, "fingerprints") == {"fingerprinted": {"seed": 42}, "fp-owner2": {"seed": 43}}
    assert lookup(p, "detect_fingerprints") == {"batch_size": 256, "target_fpr": 0.01}
    assert lookup(p, "fingerprint_robustness") == {
        "kinds": ["noise", "blur", "jpeg", "crop"],
        "max_images": 64,
        "batch_size": 100,
        "seed": 0,
        "quantize_bits": [8, 4],
        "finetune_steps": 30,
        "finetune_fractions": [0.25, 0.5, 1.0],
    }
    assert lookup(p, "train_classifier") == {"epochs": 2, "batch_size": 16}
    assert lookup(p, "immunize_classifier") == {"epochs": 1, "batch_size": 16, "p": 0.5, "seed": 0}
    assert lookup(p, "evaluate_robustness") == {"batch_size": 250, "seed": 0}
    assert lookup(p, "evaluate_attribution") == {
        "batch_size": 250,
        "tta": "none",
        "tta_vote": "majority",
        "open_set_tpr": 0.95,
        "open_set_score": "msp",
    }
    assert lookup(p, "interpret_attribution") == {
        "cam_images": 2,
        "cam_kind": "auto",
        "tsne_images": 150,
        "perplexity": 30.0,
        "seed": 0,
        "batch_size": 64,
    }
    assert lookup(p, "make_tables") == {"decimals": 2}


PAPER_GROUPS = [
    "seeds",
    "sngan",
    "mmdgan",
    "mimicry",
    "stylegan2",
    "fingerprinted",
    "fingerprinted_stylegan2",
    "finetuned",
    "finetuned_sngan",
    "finetuned_mmdgan",
    "other_dataset",
    "other_dataset_mmdgan",
    "finetuned_mimicry",
    "other_dataset_sngan",
    "other_dataset_mimicry",
]


def test_the_presets_are_the_four_committed_files():
    assert presets.names(REPO) == ["celeba128", "defaults", "lsun128", "tiny"]


@pytest.mark.parametrize(
    ("name", "datasets", "groups", "gans", "protocols"),
    [
        ("defaults", ["skimage", "sklearn"], DEFAULT_GROUPS, 19, DEMO_PROTOCOLS),
        ("tiny", ["skimage", "sklearn"], ["seeds", "fingerprinted"], 3, ["closed_set", "cross_seed"]),
        ("celeba128", ["celeba", "lsun"], PAPER_GROUPS, 27, DEMO_PROTOCOLS),
        ("lsun128", ["lsun", "celeba"], PAPER_GROUPS, 27, DEMO_PROTOCOLS),
    ],
)
def test_every_preset_renders_and_validates(name, datasets, groups, gans, protocols):
    text = presets.render(name, REPO)
    p = parse_params(yaml.safe_load(text), name)
    assert list(p.datasets) == datasets
    assert list(p.gans) == groups
    assert len(p.gan_list) == gans
    assert p.attribution.protocols == protocols


def test_paper_presets_use_paper_settings():
    for name, ds in (("celeba128", "celeba"), ("lsun128", "lsun")):
        p = parse_params(yaml.safe_load(presets.render(name, REPO)))
        assert p.datasets[ds].resolution == 128
        assert p.autoencoders == [ds]
        assert (p.methods.postpool.fmap_base, p.methods.postpool.fmap_max) == (1024, 512)
        assert p.train_fingerprint_autoencoder.bits == 100
        # ProGAN x 10 training seeds (Yu 2019 Table 2, DNA-Det cross-seed), the Table 1 sources, the cross-loss
        # sources InfoMax-GAN / SSGAN, StyleGAN2, and ProGAN / StyleGAN2 trained on fingerprinted data
        assert list(p.gan_list)[:10] == [f"{ds}-progan-wgangp-clean-seed{s}" for s in range(10)]
        other = "lsun" if ds == "celeba" else "celeba"
        assert list(p.gan_list)[10:] == [
            f"{ds}-sngan-hinge-clean-seed0",
            f"{ds}-mmdgan-cramer-clean-seed0",
            f"{ds}-mmdgan-mmd-clean-seed0",
            f"{ds}-mimicry-infomax-clean-seed0",
            f"{ds}-mimicry-ssgan-clean-seed0",
            f"{ds}-stylegan2-nonsat-clean-seed0",
            f"{ds}-progan-wgangp-fingerprinted-seed0",
            f"{ds}-progan-wgangp-fp-owner2-seed0",
            f"{ds}-stylegan2-nonsat-fingerprinted-seed0",
            # DNA-Det cross-finetune (fine-tuned on the other dataset) and cross-dataset (trained on it)
            f"{ds}-progan-wgangp-ft-{other}-seed0",
            f"{ds}-sngan-hinge-ft-{other}-seed0",
            f"{ds}-mmdgan-mmd-ft-{other}-seed0",
            f"{other}-progan-wgangp-clean-seed0",
            f"{other}-mmdgan-mmd-clean-seed0",
            f"{ds}-mimicry-infomax-ft-{other}-seed0",
            f"{other}-sngan-hinge-clean-seed0",  # (the demo has no SNGAN on its second dataset)
            f"{other}-mimicry-infomax-clean-seed0",
        ]
        assert p.protocols["closed_set"].paper == "yu2019_table1"
        assert list(p.protocols["closed_set"].train) == ["real", "progan", "sngan", "cramergan", "mmdgan"]
        assert p.protocols["cross_seed"].test["progan"] == [
            f"gan/{ds}-progan-wgangp-clean-seed{s}" for s in range(1, 10)
        ]
        assert sorted(p.protocols["cross_seed"].test) == ["progan", "real", "unknown"]
        assert (p.archs.progan.z_dim, p.archs.progan.width, p.archs.progan.fmap_base) == (512, 512, 8192)
        assert (p.archs.sngan.n_dis, p.archs.mmdgan.n_dis, p.losses.infomax.nrkhs) == (5, 5, 1024)


def test_params_yaml_is_the_defaults_preset_byte_for_byte():
    assert (REPO / "params.yaml").read_text(encoding="utf-8") == presets.render("defaults", REPO)


def test_tiny_preset_is_what_conftest_uses(tiny_params_file):
    p = load_params(tiny_params_file)
    assert list(p.gan_list) == TINY_GANS
    assert p == parse_params(yaml.safe_load(presets.render("tiny", REPO)))
    assert (p.train_gan.steps, p.archs.dcgan.z_dim, p.archs.dcgan.width) == (3, 8, 8)
    assert p.archs.dcgan.lr_g == 0.0002  # merged from defaults.yaml
    closed = p.protocols["closed_set"]
    assert plain(closed.images) == {"train": 12, "val": 2, "test": 8}
    assert (closed.methods, closed.seeds) == (["postpool", "knn"], [0, 1])
    assert plain(closed.robustness) == {"perturbations": ["jpeg"], "methods": ["postpool"]}
    assert p.protocol_sources("closed_set", "test") == p.protocol_sources("closed_set", "train")
    # null deleted the defaults' progan, sngan, cramergan, mmdgan
    assert list(closed.train) == ["real", "dcgan", "fingerprinted"]
    assert p.protocol_sources("cross_seed", "test") == {  # null deleted the defaults' 'unknown'
        "real": ["real/skimage"],
        "dcgan": ["gan/skimage-dcgan-nonsat-clean-seed1"],
    }
    # cross_seed evaluates the closed_set classifiers: their train/val images, its own test images
    assert p.train_protocol("cross_seed") == "closed_set"
    assert plain(p.protocol_images("cross_seed")) == {"train": 12, "val": 2, "test": 8}
    assert (p.protocol_methods("cross_seed"), p.protocol_seeds("cross_seed")) == (["postpool", "knn"], [0, 1])


# == unknown keys, at every level, with did-you-mean ==================================================================


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: d.update(gan={}),
            f"unknown key 'gan' (did you mean 'gans'?); allowed keys: {TOP_KEYS}",
            id="top-level",
        ),
        pytest.param(
            lambda d: d.update(zzzz={}),
            f"unknown key 'zzzz'; allowed keys: {TOP_KEYS}",
            id="top-level-no-close-match",
        ),
        pytest.param(
            lambda d: d["train_gan"].update(stepz=3),
            "train_gan: unknown key 'stepz' (did you mean 'steps'?); allowed keys: " + TRAIN_GAN_KEYS,
            id="section",
        ),
        pytest.param(
            lambda d: d["generate_images"].update(zzzz=1),
            "generate_images: unknown key 'zzzz'; allowed keys: num_images, seed, batch_size",
            id="section-no-close-match",
        ),
        pytest.param(
            lambda d: d["loader"].update(worker=1),
            "loader: unknown key 'worker' (did you mean 'workers'?); allowed keys: workers, memory_budget_mb",
            id="loader",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"]["images"].update(tset=1),
            "protocols.closed_set.images: unknown key 'tset' (did you mean 'test'?); allowed keys: train, val, test",
            id="protocol-images",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"]["robustness"].update(method=[]),
            "protocols.closed_set.robustness: unknown key 'method' (did you mean 'methods'?); "
            "allowed keys: perturbations, methods",
            id="protocol-robustness",
        ),
        pytest.param(
            lambda d: d["datasets"]["skimage"].update(resolutoin=32),
            "datasets.skimage: unknown key 'resolutoin' (did you mean 'resolution'?); "
            "allowed keys: source, path, resolution, limit, num_images, crop_scale, celeba_crop, seed",
            id="dataset",
        ),
        pytest.param(
            lambda d: d["gans"]["seeds"].update(sed=[0]),
            "gans.seeds: unknown key 'sed' (did you mean 'seed'?); allowed keys: dataset, arch, loss, variant, seed",
            id="gans-group",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"].update(tset={}),
            "protocols.closed_set: unknown key 'tset' (did you mean 'test'?); "
            "allowed keys: description, paper, methods, seeds, images, classifier, robustness, train, test",
            id="protocol",
        ),
        pytest.param(
            lambda d: d["attribution"].update(method=["postpool"]),
            "attribution: unknown key 'method'; allowed keys: protocols",
            id="attribution",
        ),
        pytest.param(
            lambda d: d["archs"].update(dcgna={}),
            "archs: unknown key 'dcgna' (did you mean 'dcgan'?); allowed keys: "
            "dcgan, progan, sngan, mimicry, mmdgan, stylegan2",
            id="archs-unknown-arch",
        ),
        pytest.param(
            lambda d: d["archs"]["dcgan"].update(zdim=3),
            "archs.dcgan: unknown key 'zdim' (did you mean 'z_dim'?); "
            "allowed keys: z_dim, width, lr_g, lr_d, beta1, beta2, n_dis, ema",
            id="archs-dcgan",
        ),
        pytest.param(
            lambda d: d["losses"].update(nonsta={}),
            "losses: unknown key 'nonsta' (did you mean 'nonsat'?); allowed keys: "
            "nonsat, hinge, wgangp, cramer, mmd, infomax, ssgan",
            id="losses-unknown-loss",
        ),
        pytest.param(
            lambda d: d["losses"]["nonsat"].update(k=1),
            "losses.nonsat: unknown key 'k'; allowed keys: ",
            id="losses-nonsat-has-no-keys",
        ),
        pytest.param(
            lambda d: d["methods"].update(postpol={}),
            "methods: unknown key 'postpol' (did you mean 'postpool'?); allowed keys: "
            "postpool, gandct, knn, prnu, visnet, classmodel, dnadet",
            id="methods-unknown-method",
        ),
        pytest.param(
            lambda d: d["methods"]["postpool"].update(hflp=True),
            "methods.postpool: unknown key 'hflp' (did you mean 'hflip'?); "
            "allowed keys: fmap_base, fmap_max, lr, beta1, beta2, hflip, input",
            id="methods-postpool",
        ),
    ],
)
def test_unknown_key(mutate, expected):
    assert _error(mutate) == f"params.yaml: {expected}"


# == types ============================================================================================================


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: d["train_gan"].update(steps=True),
            "train_gan.steps: expected int, got True (bool)",
            id="bool-for-int",
        ),
        pytest.param(
            lambda d: d["train_gan"].update(steps=3.0),
            "train_gan.steps: expected int, got 3.0 (float)",
            id="float-for-int",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"]["images"].update(train=1.5),
            "protocols.closed_set.images.train: expected int, got 1.5 (float)",
            id="fraction-for-int",
        ),
        pytest.param(
            lambda d: d["train_gan"].update(steps="3"), "train_gan.steps: expected int, got '3' (str)", id="str-for-int"
        ),
        pytest.param(
            lambda d: d["archs"]["dcgan"].update(lr_g="1e-3"),
            "archs.dcgan.lr_g: expected float, got '1e-3' (str)",
            id="str-for-float",
        ),
        pytest.param(
            lambda d: d["methods"]["postpool"].update(lr=False),
            "methods.postpool.lr: expected float, got False (bool)",
            id="bool-for-float",
        ),
        pytest.param(
            lambda d: d["embed_fingerprints"].update(identical=1),
            "embed_fingerprints.identical: expected bool, got 1 (int)",
            id="int-for-bool",
        ),
        pytest.param(
            lambda d: d["methods"]["postpool"].update(hflip="yes"),
            "methods.postpool.hflip: expected bool, got 'yes' (str)",
            id="str-for-bool",
        ),
        pytest.param(
            lambda d: d["datasets"]["skimage"].update(source=3),
            "datasets.skimage.source: expected str, got 3 (int)",
            id="int-for-str",
        ),
        pytest.param(
            lambda d: d["gans"]["seeds"].update(seed=[0, "1"]),
            "gans.seeds.seed[1]: expected int, got '1' (str)",
            id="list-item",
        ),
        pytest.param(
            lambda d: d["datasets"]["skimage"].update(crop_scale=[0.1, "a"]),
            "datasets.skimage.crop_scale[1]: expected float, got 'a' (str)",
            id="float-list-item",
        ),
        pytest.param(
            lambda d: d.update(autoencoders="skimage"),
            "autoencoders: expected a list, got 'skimage' (str)",
            id="str-for-list",
        ),
        pytest.param(
            lambda d: d["gans"]["seeds"].update(seed=0),
            "gans.seeds.seed: expected a list, got 0 (int)",
            id="int-for-grid-list",
        ),
        pytest.param(
            lambda d: d.update(train_gan=[1, 2]),
            "train_gan: expected a mapping of keys, got [1, 2] (list)",
            id="list-for-section",
        ),
        pytest.param(
            lambda d: d.update(gans=["seeds"]),
            "gans: expected a mapping of name → value, got ['seeds'] (list)",
            id="list-for-gans",
        ),
        pytest.param(
            lambda d: d["archs"].update(dcgan=[64]),
            "archs.dcgan: expected a mapping of keys, got [64] (list)",
            id="list-for-arch-section",
        ),
    ],
)
def test_wrong_type(mutate, expected):
    assert _error(mutate) == f"params.yaml: {expected}"


def test_float_accepts_int_and_keeps_a_float():
    p = _ok(lambda d: d["archs"]["dcgan"].update(lr_g=1, beta1=0))
    assert p.archs.dcgan.lr_g == 1.0 and type(p.archs.dcgan.lr_g) is float
    assert p.archs.dcgan.beta1 == 0.0 and type(p.archs.dcgan.beta1) is float
    p = _ok(lambda d: d["datasets"]["skimage"].update(crop_scale=[0.5, 1]))
    assert p.datasets["skimage"].crop_scale == [0.5, 1.0] and type(p.datasets["skimage"].crop_scale[1]) is float


def test_a_null_section_takes_the_defaults():
    p = _ok(lambda d: d.update(make_tables=None, detect_fingerprints=None))
    assert lookup(p, "make_tables") == {"decimals": 2}
    assert lookup(p, "detect_fingerprints") == {"batch_size": 256, "target_fpr": 0.01}


def test_not_a_mapping_at_all():
    with pytest.raises(ConfigError) as e:
        parse_params([1, 2])
    assert str(e.value) == "params.yaml: expected a mapping of keys, got [1, 2] (list)"
    with pytest.raises(ConfigError) as e:
        parse_params(None, "x.yaml")
    assert str(e.value) == "x.yaml: expected a mapping of keys, got None (NoneType)"


# == ranges, powers of two, choices ===================================================================================


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: d["train_gan"].update(steps=0), "train_gan.steps: 0 is out of range; allowed: ≥ 1", id="steps"
        ),
        pytest.param(
            lambda d: d["make_tables"].update(decimals=7),
            "make_tables.decimals: 7 is out of range; allowed: ≤ 6",
            id="decimals-hi",
        ),
        pytest.param(
            lambda d: d["make_tables"].update(decimals=-1),
            "make_tables.decimals: -1 is out of range; allowed: ≥ 0",
            id="decimals-lo",
        ),
        pytest.param(
            lambda d: d["archs"]["dcgan"].update(beta1=1.5),
            "archs.dcgan.beta1: 1.5 is out of range; allowed: ≤ 1.0",
            id="arch-beta1",
        ),
        pytest.param(
            lambda d: d["archs"]["dcgan"].update(width=2),
            "archs.dcgan.width: 2 is out of range; allowed: ≥ 4",
            id="arch-width",
        ),
        pytest.param(
            lambda d: d["archs"]["dcgan"].update(lr_d=-0.1),
            "archs.dcgan.lr_d: -0.1 is out of range; allowed: ≥ 0.0",
            id="arch-lr",
        ),
        pytest.param(
            lambda d: d["methods"]["postpool"].update(fmap_max=3),
            "methods.postpool.fmap_max: 3 is out of range; allowed: ≥ 4",
            id="method-fmap",
        ),
        pytest.param(
            lambda d: d["loader"].update(memory_budget_mb=8),
            "loader.memory_budget_mb: 8 is out of range; allowed: ≥ 16",
            id="loader",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"]["images"].update(val=-1),
            "protocols.closed_set.images.val: -1 is out of range; allowed: ≥ 0",
            id="val",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"]["images"].update(test=0),
            "protocols.closed_set.images.test: 0 is out of range; allowed: ≥ 1",
            id="test",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"].update(seeds=[0, -1]),
            "protocols.closed_set.seeds[1]: -1 is out of range; allowed: ≥ 0",
            id="classifier-seed",
        ),
        pytest.param(
            lambda d: d["gans"]["seeds"].update(seed=[0, -1]),
            "gans.seeds.seed[1]: -1 is out of range; allowed: ≥ 0",
            id="gan-seed",
        ),
        pytest.param(
            lambda d: d["train_fingerprint_autoencoder"].update(bit_acc_threshold=0.4),
            "train_fingerprint_autoencoder.bit_acc_threshold: 0.4 is out of range; allowed: ≥ 0.5",
            id="bit-acc",
        ),
        pytest.param(
            lambda d: d["train_fingerprint_autoencoder"].update(bits=4097),
            "train_fingerprint_autoencoder.bits: 4097 is out of range; allowed: ≤ 4096",
            id="bits",
        ),
        pytest.param(
            lambda d: d["prepare_dataset"].update(max_skipped_fraction=1.01),
            "prepare_dataset.max_skipped_fraction: 1.01 is out of range; allowed: ≤ 1.0",
            id="fraction",
        ),
        pytest.param(
            lambda d: d["datasets"]["sklearn"].update(resolution=8),
            "datasets.sklearn.resolution: 8 is out of range; allowed: ≥ 16",
            id="resolution-lo",
        ),
        pytest.param(
            lambda d: d["datasets"]["sklearn"].update(resolution=2048),
            "datasets.sklearn.resolution: 2048 is out of range; allowed: ≤ 1024",
            id="resolution-hi-before-power-of-two",
        ),
    ],
)
def test_out_of_range(mutate, expected):
    assert _error(mutate) == f"params.yaml: {expected}"


def test_range_bounds_are_inclusive():
    def edges(d):
        d["make_tables"] = {"decimals": 6}
        d["archs"]["dcgan"].update(beta1=1.0, beta2=0.0, width=4, lr_g=0.0)
        d["train_fingerprint_autoencoder"].update(bit_acc_threshold=0.5, bits=4096)
        d["protocols"]["closed_set"]["images"] = {"train": 1, "val": 0, "test": 1}
        d["protocols"]["closed_set"]["seeds"] = [0]
        d["loader"]["memory_budget_mb"] = 16
        d["datasets"]["sklearn"]["resolution"] = 1024

    p = _ok(edges)
    assert (p.make_tables.decimals, p.archs.dcgan.beta1, p.archs.dcgan.beta2, p.archs.dcgan.width) == (6, 1.0, 0.0, 4)
    assert (p.train_fingerprint_autoencoder.bit_acc_threshold, p.train_fingerprint_autoencoder.bits) == (0.5, 4096)
    assert (p.loader.memory_budget_mb, p.datasets["sklearn"].resolution) == (16, 1024)
    assert plain(p.protocols["closed_set"].images) == {"train": 1, "val": 0, "test": 1}
    assert p.protocols["closed_set"].seeds == [0]


@pytest.mark.parametrize("res", [48, 100, 17, 1000])
def test_resolution_must_be_a_power_of_two(res):
    msg = _error(lambda d: d["datasets"]["skimage"].update(resolution=res))
    assert msg == f"params.yaml: datasets.skimage.resolution: {res} must be a power of two (16, 32, 64, 128, …)"


@pytest.mark.parametrize("res", [16, 64, 128, 256, 512, 1024])
def test_powers_of_two_are_accepted(res):
    assert _ok(lambda d: d["datasets"]["sklearn"].update(resolution=res)).datasets["sklearn"].resolution == res


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: d["gans"]["seeds"].update(arch=["biggan"]),
            "gans.seeds.arch[0]: 'biggan' is not allowed; allowed values: "
            "dcgan, progan, sngan, mimicry, mmdgan, stylegan2",
            id="arch-from-registry",
        ),
        pytest.param(
            lambda d: d["gans"]["fingerprinted"].update(loss=["nonsat", "hinge2"]),
            "gans.fingerprinted.loss[1]: 'hinge2' is not allowed; allowed values: nonsat, hinge, wgangp, cramer, mmd, "
            "infomax, ssgan",
            id="loss-from-registry",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"].update(methods=["postpool", "cnndetection"]),
            "protocols.closed_set.methods[1]: 'cnndetection' is not allowed; allowed values: "
            "postpool, gandct, knn, prnu, visnet, classmodel, dnadet",
            id="method-from-registry",
        ),
        pytest.param(
            lambda d: d["gans"]["seeds"].update(variant=["dirty"]),
            "gans.seeds.variant[0]: 'dirty' is not allowed; allowed values: clean, fingerprinted, or ft-<dataset> "
            "(the clean GAN fine-tuned on that dataset), or fp-<name> (trained on data carrying fingerprint <name> "
            "of 'fingerprints')",
            id="variant",
        ),
        pytest.param(
            lambda d: d["prepare_dataset"].update(resize_filter="cubic"),
            "prepare_dataset.resize_filter: 'cubic' is not allowed; "
            "allowed values: lanczos, bicubic, bilinear, box, nearest",
            id="resize-filter",
        ),
        pytest.param(
            lambda d: d["datasets"]["skimage"].update(source="imagenet"),
            "datasets.skimage.source: 'imagenet' is not allowed; allowed values: embedded, folder, celeba, lsun",
            id="source",
        ),
        pytest.param(
            lambda d: d["datasets"]["skimage"].update(celeba_crop="yu2020"),
            "datasets.skimage.celeba_crop: 'yu2020' is not allowed; allowed values: yu2019, yu2021",
            id="celeba-crop",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"].update(paper="yu2020"),
            "protocols.closed_set.paper: 'yu2020' is not allowed; "
            "allowed values: , yu2019_table1, yu2019_table2, dnadet_closed, dnadet_cross_seed, dnadet_cross_loss, "
            "dnadet_cross_finetune, dnadet_cross_dataset, generator_attribution",
            id="paper",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"]["robustness"].update(perturbations=["jpeg", "rain"]),
            "protocols.closed_set.robustness.perturbations: 'rain' is not allowed; "
            "allowed values: noise, blur, jpeg, double_jpeg, median, crop, resize, relight",
            id="perturbation",
        ),
        pytest.param(
            lambda d: d["datasets"]["sklearn"].update(path="imagenet"),
            "datasets.sklearn.path: 'imagenet' is not an embedded set; allowed: skimage, sklearn",
            id="embedded-path",
        ),
    ],
)
def test_choices(mutate, expected):
    assert _error(mutate) == f"params.yaml: {expected}"


@pytest.mark.parametrize("bad", [[0.5, 0.1], [0.0, 0.5], [0.1, 1.5], [0.1], [0.1, 0.2, 0.3]])
def test_crop_scale(bad):
    msg = _error(lambda d: d["datasets"]["skimage"].update(crop_scale=bad))
    assert msg == (
        f"params.yaml: datasets.skimage.crop_scale: {bad!r} must be two fractions [lo, hi] with 0 < lo <= hi <= 1"
    )


# == missing sections and keys ========================================================================================


@pytest.mark.parametrize(
    ("mutate", "loc"),
    [
        pytest.param(lambda d: d.pop("datasets"), "datasets", id="grid-section"),
        pytest.param(lambda d: d.pop("loader"), "loader", id="hyperparameter-section"),
        pytest.param(lambda d: d.pop("archs"), "archs", id="archs"),
        pytest.param(lambda d: d.pop("train_classifier"), "train_classifier", id="stage-section"),
        pytest.param(lambda d: d["attribution"].pop("protocols"), "attribution.protocols", id="attribution-key"),
        pytest.param(lambda d: d["gans"]["seeds"].pop("dataset"), "gans.seeds.dataset", id="gans-group-key"),
        pytest.param(lambda d: d["gans"]["seeds"].pop("seed"), "gans.seeds.seed", id="gans-group-seed"),
        pytest.param(lambda d: d["datasets"]["skimage"].pop("source"), "datasets.skimage.source", id="dataset-key"),
    ],
)
def test_missing_key(mutate, loc):
    assert _error(mutate) == f"params.yaml: {loc}: {MISSING}"


def test_a_protocol_without_train_or_methods_is_refused_by_the_protocol_check():
    assert _error(lambda d: d["protocols"]["closed_set"].pop("train")) == (
        "params.yaml: protocols.closed_set.train: needs at least two classes, got []"
    )
    assert _error(lambda d: d["protocols"]["closed_set"].pop("methods")) == (
        "params.yaml: protocols.closed_set.methods: list the attribution methods to train on this protocol "
        "(e.g. [postpool])"
    )


def test_optional_keys_take_their_defaults():
    p = _ok(lambda d: (d["gans"]["seeds"].pop("variant"), d["protocols"]["closed_set"].pop("paper")))
    assert p.gans["seeds"].variant == ["clean"] and p.protocols["closed_set"].paper == ""
    assert list(p.gan_list) == TINY_GANS


def _missing_section(kind: str, section: str, name: str) -> str:
    return (
        f"params.yaml: {section}.{name}: missing section; the grid uses {kind} {name!r}, so its hyperparameters "
        f"must be written in params.yaml (dvc.yaml reads them); '{section}: {{{name}: {{}}}}' takes the defaults"
    )


@pytest.mark.parametrize(
    ("mutate", "kind", "section", "name"),
    [
        pytest.param(lambda d: d["archs"].pop("dcgan"), "arch", "archs", "dcgan", id="archs"),
        pytest.param(lambda d: d.update(archs={}), "arch", "archs", "dcgan", id="archs-empty"),
        pytest.param(lambda d: d.update(archs=None), "arch", "archs", "dcgan", id="archs-null"),
        pytest.param(lambda d: d["methods"].pop("postpool"), "method", "methods", "postpool", id="methods"),
        pytest.param(lambda d: d["losses"].pop("nonsat"), "loss", "losses", "nonsat", id="losses"),
    ],
)
def test_grid_name_without_its_hyperparameter_section(mutate, kind, section, name):
    assert _error(mutate) == _missing_section(kind, section, name)


def test_a_hyperparameter_section_written_as_empty_mapping_takes_the_defaults():
    p = _ok(lambda d: d["archs"].update(dcgan={}))
    assert p.archs.dcgan == DCGANHps()
    assert lookup(p, "archs.dcgan") == {
        "z_dim": 64,
        "width": 32,
        "lr_g": 0.0002,
        "lr_d": 0.0002,
        "beta1": 0.5,
        "beta2": 0.999,
        "n_dis": 1,
        "ema": 0.0,
    }


# == the grid: gans groups, lists, names ==============================================================================


def test_two_groups_declaring_the_same_gan():
    def dup(d):
        d["gans"]["more"] = {"dataset": ["skimage"], "arch": ["dcgan"], "loss": ["nonsat"], "seed": [5, 1]}

    assert _error(dup) == (
        "params.yaml: gans.more and gans.seeds both declare the GAN skimage-dcgan-nonsat-clean-seed1; declare it once"
    )


def test_a_group_may_repeat_another_groups_values_when_the_gans_differ():
    p = _ok(
        lambda d: d["gans"].update(more={"dataset": ["skimage"], "arch": ["dcgan"], "loss": ["nonsat"], "seed": [7]})
    )
    assert list(p.gan_list) == [*TINY_GANS, "skimage-dcgan-nonsat-clean-seed7"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: d["gans"]["seeds"].update(seed=[]),
            "gans.seeds.seed: must list at least one value",
            id="empty-seed",
        ),
        pytest.param(
            lambda d: d["gans"]["seeds"].update(arch=[]),
            "gans.seeds.arch: must list at least one value",
            id="empty-arch",
        ),
        pytest.param(
            lambda d: d["gans"]["seeds"].update(variant=[]),
            "gans.seeds.variant: must list at least one value",
            id="empty-variant",
        ),
        pytest.param(
            lambda d: d.update(autoencoders=[]), "autoencoders: must list at least one value", id="empty-autoencoders"
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"].update(methods=[]),
            "protocols.closed_set.methods: list the attribution methods to train on this protocol (e.g. [postpool])",
            id="empty-methods",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"].update(seeds=[]),
            "protocols.closed_set.seeds: list at least one classifier seed (e.g. [0])",
            id="empty-seeds",
        ),
        pytest.param(
            lambda d: d["gans"]["seeds"].update(seed=[0, 1, 0]),
            "gans.seeds.seed: lists 0 more than once",
            id="dup-seed",
        ),
        pytest.param(
            lambda d: d["gans"]["seeds"].update(dataset=["skimage", "skimage"]),
            "gans.seeds.dataset: lists skimage more than once",
            id="dup-dataset",
        ),
        pytest.param(
            lambda d: d.update(autoencoders=["skimage", "skimage"]),
            "autoencoders: lists skimage more than once",
            id="dup-autoencoders",
        ),
        pytest.param(
            lambda d: d["attribution"].update(protocols=["cross_seed", "closed_set", "cross_seed"]),
            "attribution.protocols: lists cross_seed more than once",
            id="dup-protocols",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"].update(methods=["postpool", "knn", "postpool"]),
            "protocols.closed_set.methods: lists postpool more than once",
            id="dup-methods",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"].update(seeds=[0, 1, 0]),
            "protocols.closed_set.seeds: lists 0 more than once",
            id="dup-classifier-seeds",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"]["robustness"].update(perturbations=["jpeg", "jpeg"]),
            "protocols.closed_set.robustness.perturbations: lists jpeg more than once",
            id="dup-perturbations",
        ),
    ],
)
def test_grid_lists_are_non_empty_and_unique(mutate, expected):
    assert _error(mutate) == f"params.yaml: {expected}"


@pytest.mark.parametrize(
    ("mutate", "loc", "name"),
    [
        pytest.param(lambda d: d["gans"].update({"seed 2": d["gans"].pop("seeds")}), "gans", "seed 2", id="gans-group"),
        pytest.param(lambda d: d["gans"].update({"-x": d["gans"].pop("seeds")}), "gans", "-x", id="leading-dash"),
        pytest.param(
            lambda d: d["datasets"].update({"a/b": d["datasets"].pop("sklearn")}), "datasets", "a/b", id="dataset"
        ),
        pytest.param(
            lambda d: d["protocols"].update({"open set": d["protocols"].pop("cross_seed")}),
            "protocols",
            "open set",
            id="protocol",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"]["train"].update({"seed 2": ["real/skimage"]}),
            "protocols.closed_set.train",
            "seed 2",
            id="class",
        ),
        pytest.param(
            lambda d: d["gans"]["seeds"].update(dataset=["sk image"]),
            "gans.seeds.dataset[0]",
            "sk image",
            id="gan-dataset",
        ),
        pytest.param(lambda d: d.update(autoencoders=["skimage", "a:b"]), "autoencoders[1]", "a:b", id="autoencoders"),
        pytest.param(
            lambda d: d["attribution"].update(protocols=["closed_set", "x y"]),
            "attribution.protocols[1]",
            "x y",
            id="attribution",
        ),
    ],
)
def test_bad_names(mutate, loc, name):
    assert _error(mutate) == f"params.yaml: {loc}: name {name!r} is not allowed; {NAME_RULE}"


def test_a_number_as_a_name_names_its_mapping():
    assert _error(lambda d: d["gans"].update({1: d["gans"].pop("seeds")})) == (
        "params.yaml: gans: expected str, got 1 (int)"
    )


def test_good_names():
    def rename(d):
        d["datasets"]["A_b-c.1"] = d["datasets"].pop("sklearn")
        d["gans"]["G_1.x-y"] = d["gans"].pop("fingerprinted")

    p = _ok(rename)
    assert list(p.datasets) == ["skimage", "A_b-c.1"] and list(p.gans) == ["seeds", "G_1.x-y"]


# == cross-references =================================================================================================


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: d.update(autoencoders=["skimage", "lsun"]),
            "autoencoders: unknown dataset 'lsun'; defined: skimage, sklearn",
            id="autoencoders-unknown-dataset",
        ),
        pytest.param(
            lambda d: d["datasets"]["skimage"].update(resolution=16),
            "autoencoders: 'skimage' has resolution 16; the fingerprint autoencoder needs ≥ 32",
            id="autoencoder-resolution",
        ),
        pytest.param(
            lambda d: d["gans"]["seeds"].update(dataset=["celeba"]),
            "gans.seeds.dataset: unknown dataset 'celeba'; defined: skimage, sklearn",
            id="gan-unknown-dataset",
        ),
        pytest.param(
            lambda d: d["gans"]["fingerprinted"].update(dataset=["skimage", "sklearn"]),
            "gans.fingerprinted.dataset: 'sklearn' must be listed in autoencoders "
            "(its fingerprinted GANs train on data embedded by that dataset's autoencoder)",
            id="gan-dataset-not-in-autoencoders",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"]["train"].update(seed1=["gan/skimage-dcgan-nonsat-clean-seed7"]),
            "protocols.closed_set.train.seed1: source 'gan/skimage-dcgan-nonsat-clean-seed7' must be "
            "'real/<dataset>' (datasets: skimage, sklearn) or 'gan/<gan>' "
            f"(did you mean 'skimage-dcgan-nonsat-clean-seed1'?) {GAN_HINT}",
            id="gan-source-did-you-mean",
        ),
        pytest.param(
            lambda d: d["protocols"]["cross_seed"]["test"].update(dcgan=["gan/s1"]),
            "protocols.cross_seed.test.dcgan: source 'gan/s1' must be 'real/<dataset>' (datasets: skimage, sklearn) "
            f"or 'gan/<gan>' {GAN_HINT}",
            id="gan-source-old-name",
        ),
        pytest.param(
            lambda d: d["protocols"]["cross_seed"]["test"].update(real=["real/celeba"]),
            "protocols.cross_seed.test.real: source 'real/celeba' must be 'real/<dataset>' "
            f"(datasets: skimage, sklearn) or 'gan/<gan>' {GAN_HINT}",
            id="real-source-unknown",
        ),
        pytest.param(
            lambda d: d["protocols"]["cross_seed"]["test"].update(real=["skimage"]),
            "protocols.cross_seed.test.real: source 'skimage' must be 'real/<dataset>' "
            f"(datasets: skimage, sklearn) or 'gan/<gan>' {GAN_HINT}",
            id="source-without-kind",
        ),
        pytest.param(
            lambda d: d["attribution"].update(protocols=["closed_set", "closed_sett"]),
            "attribution.protocols: unknown protocol 'closed_sett' (did you mean 'closed_set'?); "
            "defined: closed_set, cross_seed",
            id="attribution-protocol-unknown",
        ),
        pytest.param(
            lambda d: d["attribution"].update(protocols=["zzz"]),
            "attribution.protocols: unknown protocol 'zzz'; defined: closed_set, cross_seed",
            id="attribution-protocol-no-close-match",
        ),
        pytest.param(
            lambda d: d["protocols"]["cross_seed"]["test"].update(other=["real/sklearn"]),
            "protocols.cross_seed.test: classes ['other'] are not train classes ['dcgan', 'fingerprinted', 'real']; "
            "a test class must be a train class (or 'unknown' for open-set sources absent from training), or leave "
            "test empty to test on the train sources",
            id="test-classes-not-train-classes",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"]["train"].update(unknown=["real/sklearn"]),
            "protocols.closed_set.train: 'unknown' is reserved for open-set test sources; rename the class",
            id="unknown-train-class",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"].update(train={"real": ["real/skimage"]}),
            "protocols.closed_set.train: needs at least two classes, got ['real']",
            id="one-class",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"]["train"].update(seed0=[]),
            "protocols.closed_set.train.seed0: empty source list",
            id="empty-sources",
        ),
    ],
)
def test_cross_references(mutate, expected):
    assert _error(mutate) == f"params.yaml: {expected}"


ROBUSTNESS_BOTH = "give both 'perturbations' and 'methods', or neither"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: d["protocols"]["cross_seed"].update(classifier="closed_sett"),
            "protocols.cross_seed.classifier: unknown protocol 'closed_sett' (did you mean 'closed_set'?)",
            id="classifier-unknown",
        ),
        pytest.param(
            lambda d: d["protocols"]["cross_seed"].update(classifier="zzz"),
            "protocols.cross_seed.classifier: unknown protocol 'zzz'",
            id="classifier-unknown-no-close-match",
        ),
        pytest.param(
            lambda d: d["protocols"].update(cross2=dict(d["protocols"]["cross_seed"], classifier="cross_seed")),
            "protocols.cross2.classifier: 'cross_seed' evaluates another protocol's classifiers itself; name the "
            "protocol that trains them ('closed_set')",
            id="classifier-untrained",
        ),
        pytest.param(
            lambda d: d["attribution"].update(protocols=["cross_seed"]),
            "attribution.protocols: 'cross_seed' evaluates the classifiers of 'closed_set', which is not listed; "
            "add it",
            id="classifier-not-built",
        ),
        pytest.param(
            lambda d: d["protocols"]["cross_seed"].update(
                train={"real": ["real/skimage"], "dcgan": ["gan/skimage-dcgan-nonsat-clean-seed1"]}
            ),
            "protocols.cross_seed.train: a protocol with 'classifier: closed_set' uses that protocol's train; "
            "remove it here",
            id="classifier-and-train",
        ),
        pytest.param(
            lambda d: d["protocols"]["cross_seed"].update(methods=["postpool"]),
            "protocols.cross_seed.methods: a protocol with 'classifier: closed_set' uses that protocol's methods; "
            "remove it here",
            id="classifier-and-methods",
        ),
        pytest.param(
            lambda d: d["protocols"]["cross_seed"].update(seeds=[3]),
            "protocols.cross_seed.seeds: a protocol with 'classifier: closed_set' uses that protocol's seeds; "
            "remove it here",
            id="classifier-and-seeds",
        ),
        pytest.param(
            lambda d: d["protocols"]["cross_seed"].update(robustness={"perturbations": ["jpeg"], "methods": ["knn"]}),
            "protocols.cross_seed.robustness: a protocol with 'classifier: closed_set' uses that protocol's "
            "robustness; remove it here",
            id="classifier-and-robustness",
        ),
        pytest.param(
            lambda d: d["protocols"]["cross_seed"].update(test={}),
            "protocols.cross_seed.test: a protocol with 'classifier' must list its own test sources",
            id="classifier-without-test",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"]["robustness"].update(methods=["postpool", "visnet"]),
            "protocols.closed_set.robustness.methods: 'visnet' is not one of the protocol's methods "
            "['postpool', 'knn']",
            id="robustness-method-not-trained",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"].update(
                methods=["postpool", "visnet"], robustness={"perturbations": ["jpeg"], "methods": ["visnet"]}
            ),
            "protocols.closed_set.robustness.methods: 'visnet' cannot be immunized (its training starts over); "
            "allowed: postpool, gandct, knn, prnu",
            id="robustness-method-not-immunizable",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"]["robustness"].update(methods=[]),
            f"protocols.closed_set.robustness: {ROBUSTNESS_BOTH}",
            id="robustness-without-methods",
        ),
        pytest.param(
            lambda d: d["protocols"]["closed_set"]["robustness"].update(perturbations=[]),
            f"protocols.closed_set.robustness: {ROBUSTNESS_BOTH}",
            id="robustness-without-perturbations",
        ),
        pytest.param(
            lambda d: d["methods"].pop("knn"),
            "methods.knn: missing section; the grid uses method 'knn', so its hyperparameters must be written in "
            "params.yaml (dvc.yaml reads them); 'methods: {knn: {}}' takes the defaults",
            id="protocol-method-without-section",
        ),
    ],
)
def test_protocol_keys(mutate, expected):
    assert _error(mutate) == f"params.yaml: {expected}"


def test_a_protocol_with_classifier_uses_the_images_of_the_protocol_it_evaluates():
    # the same images per source, hence the same train / val rows: the open-set threshold of a classifier is
    # calibrated on the same validation images whichever protocol evaluates it
    p = _ok(lambda d: None)
    assert plain(p.protocol_images("cross_seed")) == plain(p.protocol_images("closed_set"))
    assert plain(p.protocol_images("closed_set")) == {"train": 12, "val": 2, "test": 8}
    assert _error(lambda d: d["protocols"]["cross_seed"].update(images={"test": 5})) == (
        "params.yaml: protocols.cross_seed.images: a protocol with 'classifier: closed_set' uses that protocol's "
        "images; remove it here"
    )


def test_a_protocol_that_is_not_in_attribution_is_still_checked():
    def unused(d):
        d["protocols"]["spare"] = {"methods": ["postpool"], "train": {"a": ["real/skimage"], "b": ["gan/nope"]}}

    assert _error(unused).startswith("params.yaml: protocols.spare.train.b: source 'gan/nope' must be")

    def no_methods(d):
        d["protocols"]["spare"] = {"train": {"a": ["real/skimage"], "b": ["real/sklearn"]}}

    assert _error(no_methods) == (
        "params.yaml: protocols.spare.methods: list the attribution methods to train on this protocol (e.g. [postpool])"
    )


# == derived views: gan_list, gan_group, protocol_sources =============================================================


def test_gan_list_expands_groups_in_declaration_order_and_product_order():
    def grid(d):
        d["autoencoders"] = ["skimage", "sklearn"]
        d["gans"] = {
            "b_group": {"dataset": ["sklearn", "skimage"], "arch": ["dcgan"], "loss": ["nonsat"], "seed": [3, 1]},
            "a_group": {
                "dataset": ["skimage"],
                "arch": ["dcgan"],
                "loss": ["nonsat"],
                "variant": ["fingerprinted", "clean"],
                "seed": [0],
            },
        }

    p = _ok(grid)
    assert list(p.gan_list) == [
        "sklearn-dcgan-nonsat-clean-seed3",
        "sklearn-dcgan-nonsat-clean-seed1",
        "skimage-dcgan-nonsat-clean-seed3",
        "skimage-dcgan-nonsat-clean-seed1",
        "skimage-dcgan-nonsat-fingerprinted-seed0",
        "skimage-dcgan-nonsat-clean-seed0",
    ]
    g = p.gan_list["skimage-dcgan-nonsat-fingerprinted-seed0"]
    assert g == GanCfg(dataset="skimage", arch="dcgan", loss="nonsat", variant="fingerprinted", seed=0)
    assert g.name == "skimage-dcgan-nonsat-fingerprinted-seed0"
    assert g.selectors() == {
        "dataset": "skimage",
        "arch": "dcgan",
        "loss": "nonsat",
        "variant": "fingerprinted",
        "seed": 0,
    }
    assert {n: p.gan_group(n) for n in p.gan_list} == {
        "sklearn-dcgan-nonsat-clean-seed3": "b_group",
        "sklearn-dcgan-nonsat-clean-seed1": "b_group",
        "skimage-dcgan-nonsat-clean-seed3": "b_group",
        "skimage-dcgan-nonsat-clean-seed1": "b_group",
        "skimage-dcgan-nonsat-fingerprinted-seed0": "a_group",
        "skimage-dcgan-nonsat-clean-seed0": "a_group",
    }
    assert all(name == g.name for name, g in p.gan_list.items())


def test_gan_name_and_gan_group_of_the_defaults():
    assert gan_name("celeba", "dcgan", "nonsat", "clean", 7) == "celeba-dcgan-nonsat-clean-seed7"
    p = load_params(REPO / "params.yaml")
    assert [p.gan_group(n) for n in p.gan_list] == ["seeds"] * 4 + [
        "progan",
        "sngan",
        "mmdgan",
        "mmdgan",
        "mimicry",
        "mimicry",
        "stylegan2",
        "fingerprinted",
        "fingerprinted",
        "fingerprinted_stylegan2",
        "finetuned",
        "finetuned_sngan",
        "finetuned_mmdgan",
        "other_dataset",
        "other_dataset_mmdgan",
    ]
    with pytest.raises(KeyError):
        p.gan_group("skimage-dcgan-nonsat-clean-seed9")


def test_protocol_sources():
    p = parse_params(tiny_params())
    assert p.protocol_sources("closed_set", "train") == {
        "real": ["real/skimage"],
        "dcgan": ["gan/skimage-dcgan-nonsat-clean-seed0"],
        "fingerprinted": ["gan/skimage-dcgan-nonsat-fingerprinted-seed0"],
    }
    assert p.protocol_sources("closed_set", "test") == p.protocol_sources("closed_set", "train")
    # a protocol with 'classifier: closed_set' trains nothing: its train classes are closed_set's
    assert p.protocol_sources("cross_seed", "train") == p.protocol_sources("closed_set", "train")
    assert p.protocol_sources("cross_seed", "test") == {
        "real": ["real/skimage"],
        "dcgan": ["gan/skimage-dcgan-nonsat-clean-seed1"],
    }


# == models are frozen ================================================================================================


def _sections(obj, where="params"):
    """Every Section inside ``obj`` with its location."""
    if isinstance(obj, Section):
        yield where, obj
        for k in type(obj).model_fields:
            yield from _sections(getattr(obj, k), f"{where}.{k}")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _sections(v, f"{where}.{k}")


def test_every_model_is_frozen():
    p = parse_params(tiny_params())
    seen = []
    for where, section in _sections(p):
        fields = list(type(section).model_fields)
        if not fields:  # losses.nonsat: nothing to assign
            continue
        with pytest.raises(ValidationError, match="Instance is frozen"):
            setattr(section, fields[0], getattr(section, fields[0]))
        seen.append(where.removeprefix("params").removeprefix("."))
    assert (
        seen
        == [
            "",
            "datasets.skimage",
            "datasets.sklearn",
            "gans.seeds",
            "gans.fingerprinted",
            "fingerprints.fingerprinted",
            "fingerprints.fp-owner2",
            "protocols.closed_set",
            "protocols.closed_set.images",
            "protocols.closed_set.robustness",
            "protocols.cross_seed",
            "protocols.cross_seed.images",
            "protocols.cross_seed.robustness",
            "attribution",
            "archs",
            "archs.dcgan",
            "archs.progan",
            "archs.sngan",
            "archs.mimicry",
            "archs.mmdgan",
            "archs.stylegan2",
            "losses",  # nonsat and hinge have no keys
            "losses.wgangp",
            "losses.cramer",
            "losses.mmd",
            "losses.infomax",
            "losses.ssgan",
            "methods",
            *(f"methods.{m}" for m in METHODS),
            *TOP_KEYS.split(", ")[9:],
        ]
    )
    with pytest.raises(ValidationError, match="Instance is frozen"):
        p.train_gan = p.train_gan
    with pytest.raises(ValidationError, match="Instance is frozen"):
        p.archs.dcgan.z_dim = 1
    g = p.gan_list["skimage-dcgan-nonsat-clean-seed0"]
    with pytest.raises(ValidationError, match="Instance is frozen"):
        g.seed = 1


def test_equal_params_compare_equal():
    assert parse_params(tiny_params()) == parse_params(tiny_params())
    assert parse_params(tiny_params()) != _ok(lambda d: d["train_gan"].update(steps=4))


# == lookup, tracked_values, plain ====================================================================================


def test_lookup():
    p = parse_params(tiny_params())
    assert lookup(p, "train_gan.steps") == 3
    assert lookup(p, "archs.dcgan.z_dim") == 8
    assert lookup(p, "losses.nonsat") == {}
    assert lookup(p, "methods.postpool") == {
        "fmap_base": 16,
        "fmap_max": 8,
        "lr": 0.001,
        "beta1": 0.0,
        "beta2": 0.99,
        "hflip": True,
        "input": "pixel",
    }
    assert lookup(p, "gans.seeds") == {
        "dataset": ["skimage"],
        "arch": ["dcgan"],
        "loss": ["nonsat"],
        "variant": ["clean"],
        "seed": [0, 1],
    }
    assert lookup(p, "gans.seeds.seed") == [0, 1]
    assert lookup(p, "attribution") == {"protocols": ["closed_set", "cross_seed"]}
    assert lookup(p, "protocols.cross_seed") == {  # every key, the ones the preset does not write at their defaults
        "description": "the closed_set classifiers on a DCGAN of an unseen seed",
        "paper": "dnadet_cross_seed",
        "methods": [],
        "seeds": [0],
        "images": {"train": 400, "val": 100, "test": 200},
        "classifier": "closed_set",
        "robustness": {"perturbations": [], "methods": []},
        "train": {},
        "test": {"real": ["real/skimage"], "dcgan": ["gan/skimage-dcgan-nonsat-clean-seed1"]},  # 'unknown' deleted
    }
    assert lookup(p, "protocols.closed_set.paper") == "yu2019_table1"
    assert lookup(p, "protocols.closed_set.seeds") == [0, 1]
    assert lookup(p, "protocols.closed_set.robustness.perturbations") == ["jpeg"]
    assert lookup(p, "archs.progan.z_dim") == 128  # every arch section stays (merged from defaults.yaml)
    assert lookup(p, "datasets.skimage.crop_scale") == [0.08, 0.5]
    assert lookup(p, "detect_fingerprints") == {"batch_size": 32, "target_fpr": 0.01}
    for bad in ("train_gan.stepz", "train_gan.steps.x", "archs.biggan", "nope"):
        with pytest.raises(KeyError) as e:
            lookup(p, bad)
        assert e.value.args == (f"params has no key {bad!r}",)


def test_plain_is_the_whole_file_as_data():
    data = tiny_params()
    p = parse_params(data)
    assert p.as_plain == plain(p)
    # the tiny preset writes every key but the protocols' defaults: closed_set's classifier, the keys a protocol with
    # 'classifier' may not set
    assert data["protocols"]["cross_seed"] == {
        "description": "the closed_set classifiers on a DCGAN of an unseen seed",
        "paper": "dnadet_cross_seed",
        "classifier": "closed_set",
        "test": {"real": ["real/skimage"], "dcgan": ["gan/skimage-dcgan-nonsat-clean-seed1"]},
    }
    assert "classifier" not in data["protocols"]["closed_set"]  # "" (trains its own)
    data["protocols"]["closed_set"]["classifier"] = ""
    data["protocols"]["cross_seed"] = lookup(p, "protocols.cross_seed")
    assert p.as_plain == data  # otherwise plain data round-trips the file
    json.dumps(p.as_plain)
    archs = ["dcgan", "progan", "sngan", "mimicry", "mmdgan", "stylegan2"]
    assert plain(p.archs) == {a: lookup(p, f"archs.{a}") for a in archs}
    assert plain([p.losses.nonsat, {"a": p.make_tables}]) == [{}, {"a": {"decimals": 2}}]


def test_tracked_values():
    p = parse_params(tiny_params())
    out = tracked_values(p, ["train_gan", "archs.{arch}", "losses.{loss}"], arch="dcgan", loss="nonsat")
    assert out == (
        '{"archs.dcgan": {"beta1": 0.5, "beta2": 0.999, "ema": 0.0, "lr_d": 0.0002, "lr_g": 0.0002, '
        '"n_dis": 1, "width": 8, "z_dim": 8}, '
        '"losses.nonsat": {}, "train_gan": {"amp": false, "batch_size": 8, "checkpoint_every": 500, '
        '"compile": false, "data_seed": null, "divergence_limit": 1000000.0, "grid_images": 16, "log_every": 1, '
        '"sample_every": 500, "steps": 3}}'
    )
    out = tracked_values(p, ["protocols.{protocol}", "protocols.{train_protocol}"], protocol="cross_seed",
                         train_protocol="closed_set")  # fmt: skip
    assert json.loads(out) == {
        "protocols.cross_seed": lookup(p, "protocols.cross_seed"),
        "protocols.closed_set": lookup(p, "protocols.closed_set"),
    }
    assert json.loads(tracked_values(p, ["protocols.{protocol}.images"], protocol="closed_set")) == {
        "protocols.closed_set.images": {"train": 12, "val": 2, "test": 8}
    }
    assert tracked_values(p, ["make_tables.decimals"]) == '{"make_tables.decimals": 2}'
    with pytest.raises(KeyError):
        tracked_values(p, ["protocols.{protocol}"], protocol="nope")


# == JSON schema ======================================================================================================


def test_json_schema():
    s = json_schema()
    assert sorted(s["properties"]) == sorted(TOP_KEYS.split(", "))
    assert sorted(s["required"]) == sorted(TOP_KEYS.split(", "))
    assert s["additionalProperties"] is False
    defs = s["$defs"]

    def resolve(node):
        return defs[node["$ref"].rsplit("/", 1)[1]]

    archs = resolve(s["properties"]["archs"])
    assert list(archs["properties"]) == ["dcgan", "progan", "sngan", "mimicry", "mmdgan", "stylegan2"]
    assert archs["additionalProperties"] is False
    assert resolve(archs["properties"]["dcgan"]["anyOf"][0])["properties"]["z_dim"]["minimum"] == 1
    assert list(resolve(s["properties"]["methods"])["properties"]) == [
        "postpool",
        "gandct",
        "knn",
        "prnu",
        "visnet",
        "classmodel",
        "dnadet",
    ]
    assert list(resolve(s["properties"]["losses"])["properties"]) == [
        "nonsat",
        "hinge",
        "wgangp",
        "cramer",
        "mmd",
        "infomax",
        "ssgan",
    ]
    assert sorted(resolve(s["properties"]["train_gan"])["properties"]) == sorted(TRAIN_GAN_KEYS.split(", "))


def test_committed_schema_is_current():
    committed = (REPO / "workflow/schemas/params.schema.json").read_text(encoding="utf-8")
    assert committed == json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def test_params_yaml_points_editors_at_the_schema():
    first = (REPO / "params.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=workflow/schemas/params.schema.json"


# == files ============================================================================================================


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


def test_an_empty_file(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_params(path)
    assert str(e.value) == f"{path}: expected a mapping of keys, got None (NoneType)"


def test_errors_from_a_file_name_the_file(tmp_path):
    data = tiny_params()
    data["train_gan"]["stepz"] = 3
    path = write_params(tmp_path / "my.yaml", data)
    with pytest.raises(ConfigError) as e:
        load_params(path)
    assert str(e.value) == (
        f"{path}: train_gan: unknown key 'stepz' (did you mean 'steps'?); allowed keys: " + TRAIN_GAN_KEYS
    )


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


# == presets: overlays over defaults.yaml =============================================================================


@pytest.fixture
def preset_root(tmp_path):
    """A project root holding only workflow/presets/defaults.yaml (copied from the repo)."""
    d = tmp_path / "workflow/presets"
    d.mkdir(parents=True)
    shutil.copy2(REPO / "workflow/presets/defaults.yaml", d / "defaults.yaml")
    return tmp_path


def _header(name: str) -> str:
    return (
        f"# preset {name}: written by `ganprint preset {name}` from workflow/presets/{name}.yaml over "
        "defaults.yaml; `ganprint preset defaults` restores the demo.\n"
    )


def test_render_merge_rules(preset_root):
    (preset_root / "workflow/presets/mine.yaml").write_text(
        "datasets:\n"
        "  sklearn: null             # null deletes a key\n"
        "  skimage:\n"
        "    crop_scale: [0.1, 0.2]  # lists replace\n"
        "gans:\n"
        "  finetuned: null           # its variant ft-sklearn fine-tunes on the deleted dataset\n"
        "  finetuned_sngan: null\n"
        "  finetuned_mmdgan: null\n"
        "  other_dataset: null       # trained on the deleted dataset\n"
        "  other_dataset_mmdgan: null\n"
        "protocols:\n"
        "  cross_finetune: null      # their test sources are gone\n"
        "  cross_dataset: null\n"
        "archs:\n"
        "  dcgan:\n"
        "    z_dim: 16               # mappings merge key by key\n"
        "attribution:\n"
        "  protocols: [arch_closed, cross_seed]\n"
        "nothing_here: null          # deleting a key the defaults do not have is a no-op\n",
        encoding="utf-8",
    )
    text = presets.render("mine", preset_root)
    assert text.startswith(_header("mine") + "# yaml-language-server: $schema=workflow/schemas/params.schema.json\n")
    p = parse_params(yaml.safe_load(text))
    assert list(p.datasets) == ["skimage"]
    assert p.datasets["skimage"] == DatasetCfg(
        source="embedded", path="skimage", resolution=32, num_images=2000, crop_scale=[0.1, 0.2], seed=0
    )
    assert p.archs.dcgan == DCGANHps(z_dim=16, width=32, lr_g=0.0002, lr_d=0.0002, beta1=0.5, beta2=0.999)
    assert p.attribution.protocols == ["arch_closed", "cross_seed"]  # the list is replaced, not extended
    # untouched mappings stay, deleted ones are gone
    assert list(p.protocols) == ["closed_set", "fine_grained", "arch_closed", "cross_seed", "cross_loss"]
    assert list(p.gans) == DEFAULT_GROUPS[:8]
    assert p.train_gan.steps == 300
    assert "z_dim: 16               # mappings merge key by key\n" in text  # the overlay's comment is kept
    assert "# width rule nf(s)" in text  # the defaults' comments are kept
    assert "  sklearn:" not in text and "nothing_here" not in text


def test_render_of_an_empty_overlay_is_the_defaults_with_a_header(preset_root):
    (preset_root / "workflow/presets/same.yaml").write_text("# nothing differs\n", encoding="utf-8")
    assert presets.render("same", preset_root) == _header("same") + presets.render("defaults", preset_root)
    assert presets.render("defaults", preset_root) == (REPO / "params.yaml").read_text(encoding="utf-8")


def test_render_of_an_unknown_preset_lists_the_presets():
    with pytest.raises(ConfigError) as e:
        presets.render("celeba64", REPO)
    assert str(e.value) == (
        f"no preset 'celeba64' in {REPO / 'workflow/presets'}/; presets: celeba128, defaults, lsun128, tiny"
    )


def test_render_of_a_preset_with_a_bad_key_names_the_preset_file(preset_root):
    (preset_root / "workflow/presets/bad.yaml").write_text("train_gan:\n  stepz: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        presets.render("bad", preset_root)
    assert str(e.value) == (
        f"{preset_root / 'workflow/presets'}/bad.yaml over defaults.yaml: train_gan: unknown key 'stepz' "
        "(did you mean 'steps'?); allowed keys: " + TRAIN_GAN_KEYS
    )


def test_render_of_a_preset_with_a_dangling_reference_names_the_preset_file(preset_root):
    (preset_root / "workflow/presets/half.yaml").write_text("gans:\n  seeds:\n    seed: [0, 1]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        presets.render("half", preset_root)
    assert str(e.value) == (
        f"{preset_root / 'workflow/presets'}/half.yaml over defaults.yaml: protocols.fine_grained.train.seed2: "
        "source 'gan/skimage-dcgan-nonsat-clean-seed2' must be 'real/<dataset>' (datasets: skimage, sklearn) or "
        f"'gan/<gan>' (did you mean 'skimage-dcgan-nonsat-clean-seed1'?) {GAN_HINT}"
    )


def test_preset_files_are_overlays_not_copies():
    defaults = yaml.safe_load((REPO / "workflow/presets/defaults.yaml").read_text(encoding="utf-8"))
    for name in ("tiny", "celeba128", "lsun128"):
        data = yaml.safe_load((REPO / f"workflow/presets/{name}.yaml").read_text(encoding="utf-8"))
        assert "make_tables" not in data, name
        # no section is a copy of the defaults' one: an overlay holds only what differs
        assert [k for k, v in data.items() if v == defaults[k]] == [], name
        assert len(data) < len(defaults), name


def test_a_preset_outside_the_project_says_where_to_run(tmp_path):
    with pytest.raises(ConfigError, match=r"workflow/presets/: no presets folder here; run from the project root"):
        presets.render("tiny", tmp_path)


# == GAN-zoo: arch × loss compatibility, fine-tuned variants, train_gan keys ===========================================


def test_incompatible_arch_and_loss_is_refused_with_the_reason():
    msg = _error(lambda d: d["gans"]["seeds"].update(loss=["mmd"]) or d["losses"].update(mmd={}))
    assert msg == (
        "params.yaml: gans.seeds: loss 'mmd' needs a discriminator that provides 'embedding'; "
        "arch 'dcgan' provides logit, features; pick a loss that arch supports"
    )
    msg = _error(lambda d: d["gans"]["seeds"].update(loss=["infomax"]) or d["losses"].update(infomax={}))
    assert "loss 'infomax' needs a discriminator that provides 'local_features'; arch 'dcgan'" in msg
    p = _ok(
        lambda d: (
            d["gans"]["seeds"].update(loss=["nonsat", "hinge", "wgangp"])
            or d["losses"].update(hinge={}, wgangp={"gp_weight": 5.0})
        )
    )
    assert p.losses.wgangp.gp_weight == 5.0 and p.losses.wgangp.drift == 0.001


def test_incompatibility_reads_the_registry(monkeypatch):
    from ganprint import registry
    from ganprint.config import incompatibility

    assert incompatibility("dcgan", "nonsat") is None
    assert incompatibility("dcgan", "ssgan") is None  # DCGAN provides pooled features
    monkeypatch.setitem(
        registry.ARCHS,
        "dcgan",
        registry.ARCHS["dcgan"].__class__(**{**registry.ARCHS["dcgan"].__dict__, "provides": frozenset({"embedding"})}),
    )
    assert incompatibility("dcgan", "nonsat") == (
        "loss 'nonsat' needs a discriminator that provides 'logit'; arch 'dcgan' provides embedding"
    )


def _finetuned(d, variant="ft-sklearn", seeds=(0,)):
    d["gans"]["finetuned"] = {
        "dataset": ["skimage"],
        "arch": ["dcgan"],
        "loss": ["nonsat"],
        "variant": [variant],
        "seed": list(seeds),
    }


def test_finetuned_variant_is_a_gan_like_the_others():
    p = _ok(_finetuned)
    g = p.gan_list["skimage-dcgan-nonsat-ft-sklearn-seed0"]
    assert g.finetune_dataset == "sklearn" and g.base.name == "skimage-dcgan-nonsat-clean-seed0"
    assert p.gan_list["skimage-dcgan-nonsat-clean-seed0"].base is None
    assert p.gan_group(g.name) == "finetuned"
    p = _ok(
        lambda d: (
            _finetuned(d)
            or d["protocols"]["closed_set"]["train"].update(ft=["gan/skimage-dcgan-nonsat-ft-sklearn-seed0"])
        )
    )
    assert p.protocols["closed_set"].train["ft"] == ["gan/skimage-dcgan-nonsat-ft-sklearn-seed0"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: _finetuned(d, "ft-imagenet"),
            "gans.finetuned.variant: 'ft-imagenet' fine-tunes on an unknown dataset; defined: skimage, sklearn",
            id="unknown-dataset",
        ),
        pytest.param(
            lambda d: _finetuned(d, seeds=(0, 7)),
            "gans.finetuned: skimage-dcgan-nonsat-ft-sklearn-seed7 fine-tunes skimage-dcgan-nonsat-clean-seed7, "
            "which no gans group declares; add it (variant clean) to a gans group",
            id="missing-base",
        ),
        pytest.param(
            lambda d: d["gans"]["seeds"].update(variant=["clean", "ft-sklearn"]),
            "gans.seeds.variant: lists fine-tuned variants (ft-sklearn) beside trained ones; declare fine-tuned "
            "GANs in a gans group of their own (train_gan and finetune_gan run per group)",
            id="mixed-group",
        ),
        pytest.param(
            lambda d: _finetuned(d, "ft-"),
            "gans.finetuned.variant[0]: 'ft-' is not allowed; allowed values: clean, fingerprinted, or ft-<dataset> "
            "(the clean GAN fine-tuned on that dataset), or fp-<name> (trained on data carrying fingerprint <name> "
            "of 'fingerprints')",
            id="empty-ft",
        ),
        pytest.param(
            lambda d: d["train_gan"].update(amp=True),
            "train_gan.amp: True is not allowed; allowed values: false, bf16",
            id="amp",
        ),
        pytest.param(
            lambda d: d["train_gan"].update(data_seed=-1),
            "train_gan.data_seed: -1 is out of range; allowed: ≥ 0",
            id="data-seed",
        ),
    ],
)
def test_finetune_and_train_gan_errors(mutate, expected):
    assert _error(mutate) == f"params.yaml: {expected}"


def test_train_gan_new_keys_accept_their_values():
    p = _ok(lambda d: d["train_gan"].update(data_seed=3, amp="bf16", compile=True, checkpoint_every=0))
    assert (p.train_gan.data_seed, p.train_gan.amp, p.train_gan.compile) == (3, "bf16", True)
    assert _ok(lambda d: None).train_gan.data_seed is None


# == fid: counts that must fit together ===============================================================================


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda d: d["fid"].update(num_images=25),
            "fid.num_images: 25 > generate_images.num_images 24; score at most the images each GAN generates",
            id="more-than-generated",
        ),
        pytest.param(
            lambda d: d["fid"].update(num_images=10),
            "fid.kid_subset_size: 12 must be <= fid.num_images (10) and fid.kid_max_real (48): a KID subset "
            "draws that many fake and real images",
            id="kid-subset-over-fake",
        ),
        pytest.param(
            lambda d: d["fid"].update(kid_max_real=11),
            "fid.kid_subset_size: 12 must be <= fid.num_images (24) and fid.kid_max_real (11): a KID subset "
            "draws that many fake and real images",
            id="kid-subset-over-real",
        ),
        pytest.param(
            lambda d: d["fid"].update(num_real=40),
            "fid.kid_max_real: 48 > fid.num_real 40; KID keeps at most the real images whose features are computed",
            id="kid-real-over-num-real",
        ),
        pytest.param(
            lambda d: d["fid"].update(resize="lanczos"),
            "fid.resize: 'lanczos' is not allowed; allowed values: tf_bilinear, torch_bilinear_antialias",
            id="resize-choice",
        ),
        pytest.param(
            lambda d: d["fid"].update(num_images=1),
            "fid.num_images: 1 is out of range; allowed: ≥ 2",
            id="one-image",
        ),
    ],
)
def test_fid_counts(mutate, expected):
    assert _error(mutate) == f"params.yaml: {expected}"


def test_fid_num_real_zero_means_all_and_allows_any_kid_max_real():
    p = _ok(lambda d: d["fid"].update(num_real=0, kid_max_real=100000))
    assert (p.fid.num_real, p.fid.kid_max_real) == (0, 100000)
