"""Every ``ganprint`` stage's ``main([...])`` on tiny data, in pipeline order: exit 0 and exactly the promised files.

The chain runs once per module (prepare-dataset → train-fingerprint-autoencoder → embed-fingerprints → train-gan
→ generate-images → detect-fingerprints → train-classifier → evaluate-attribution → make-tables) in a temp dir
holding the tiny params of conftest.py; each test then checks one stage's outputs.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from conftest import tiny_params, write_params

from ganprint import paths
from ganprint.checkpoint import load_checkpoint
from ganprint.cli import (
    check_params,
    detect_fingerprints,
    embed_fingerprints,
    evaluate_attribution,
    generate_images,
    make_tables,
    prepare_dataset,
    train_classifier,
    train_fingerprint_autoencoder,
    train_gan,
)
from ganprint.cli.main import STAGES
from ganprint.cli.main import main as ganprint_main
from ganprint.data.store import ImageStore, read_manifest

GANS = {  # tiny params: name → selectors
    "s0": {"dataset": "skimage", "arch": "dcgan", "loss": "nonsat", "variant": "clean", "seed": 0},
    "s1": {"dataset": "skimage", "arch": "dcgan", "loss": "nonsat", "variant": "clean", "seed": 1},
    "fp0": {"dataset": "skimage", "arch": "dcgan", "loss": "nonsat", "variant": "fingerprinted", "seed": 0},
}
PROTOCOLS = ("closed_set", "cross_seed")
DEV = ["--params", "params.yaml", "--device", "cpu"]


def _sel(g: dict) -> list[str]:
    return [
        "--dataset",
        g["dataset"],
        "--arch",
        g["arch"],
        "--loss",
        g["loss"],
        "--variant",
        g["variant"],
        "--seed",
        str(g["seed"]),
    ]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _listing(d: Path) -> list[str]:
    return sorted(os.listdir(d))


def _chain() -> dict[str, int]:
    """Run every stage in order in the current directory; returns the exit code of each call."""
    rc: dict[str, int] = {}
    fp_dir = paths.FP_DIR.format(dataset="skimage")
    clean = paths.DATA_IMAGES.format(variant="clean", dataset="skimage")
    rc["prepare-dataset"] = prepare_dataset.main(
        [
            "--params",
            "params.yaml",
            "--dataset",
            "skimage",
            "--out",
            paths.DATA.format(variant="clean", dataset="skimage"),
        ]
    )
    rc["train-fingerprint-autoencoder"] = train_fingerprint_autoencoder.main(
        DEV
        + ["--dataset", "skimage", "--data", clean, "--out", fp_dir]
        + ["--metrics", paths.METRICS_FP_AE.format(dataset="skimage")]
    )
    rc["embed-fingerprints"] = embed_fingerprints.main(
        DEV
        + ["--dataset", "skimage", "--data", clean]
        + [
            "--encoder",
            paths.FP_ENCODER.format(dataset="skimage"),
            "--decoder",
            paths.FP_DECODER.format(dataset="skimage"),
        ]
        + ["--out", paths.DATA.format(variant="fingerprinted", dataset="skimage")]
        + ["--metrics", paths.METRICS_EMBED.format(dataset="skimage")]
    )
    for name, g in GANS.items():
        rc[f"train-gan {name}"] = train_gan.main(
            DEV
            + _sel(g)
            + ["--data", paths.DATA_IMAGES.format(variant=g["variant"], dataset=g["dataset"])]
            + ["--out", paths.GAN_DIR.format(**g)]
        )
    for name, g in GANS.items():
        rc[f"generate-images {name}"] = generate_images.main(
            DEV + _sel(g) + ["--model", paths.GAN_MODEL.format(**g), "--out", paths.SAMPLES_DIR.format(**g)]
        )
    for name, g in GANS.items():
        rc[f"detect-fingerprints {name}"] = detect_fingerprints.main(
            DEV
            + _sel(g)
            + ["--images", paths.SAMPLES_IMAGES.format(**g), "--decoder", paths.FP_DECODER.format(dataset="skimage")]
            + ["--embedded", paths.EMBEDDED_FINGERPRINTS.format(variant="fingerprinted", dataset="skimage")]
            + ["--out", paths.DETECTED_DIR.format(**g), "--metrics", paths.METRICS_DETECT.format(**g)]
        )
    for protocol in PROTOCOLS:
        sel = {"protocol": protocol, "method": "postpool"}
        rc[f"train-classifier {protocol}"] = train_classifier.main(
            DEV
            + ["--protocol", protocol, "--method", "postpool"]
            + ["--out", paths.CLASSIFIER_DIR.format(**sel), "--metrics", paths.METRICS_CLASSIFIER.format(**sel)]
        )
    for protocol in PROTOCOLS:
        sel = {"protocol": protocol, "method": "postpool"}
        rc[f"evaluate-attribution {protocol}"] = evaluate_attribution.main(
            DEV
            + ["--protocol", protocol, "--method", "postpool", "--model", paths.CLASSIFIER_MODEL.format(**sel)]
            + ["--predictions", paths.PREDICTIONS.format(**sel), "--metrics", paths.METRICS_ATTRIBUTION.format(**sel)]
        )
    rc["make-tables"] = make_tables.main(["--params", "params.yaml", "--root", ".", "--out", paths.TABLES])
    return rc


def _reset_logging():
    lg = logging.getLogger("ganprint")
    for h in list(lg.handlers):
        lg.removeHandler(h)
    lg.propagate = True


@pytest.fixture(autouse=True)
def _detach_cli_logging():
    """Each CLI call points the 'ganprint' logger at the stderr of its test; don't let it outlive the test."""
    yield
    _reset_logging()


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    write_params(root / "params.yaml", tiny_params())
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        rc = _chain()
    files = _files(root)  # snapshot before any test writes elsewhere
    yield {"root": root, "rc": rc, "files": files}
    _reset_logging()


def _expected_files() -> list[str]:
    out = ["params.yaml"]
    for variant, names in (
        ("clean", ["images.lmdb", "manifest.csv", "report.json", "resolved_config.json", "samples.png"]),
        (
            "fingerprinted",
            ["embedded_fingerprints.txt", "images.lmdb", "manifest.csv", "resolved_config.json", "samples.png"],
        ),
    ):
        out += [f"{paths.DATA.format(variant=variant, dataset='skimage')}/{n}" for n in names]
    fp = paths.FP_DIR.format(dataset="skimage")
    out += [f"{fp}/{n}" for n in ("decoder.pt", "encoder.pt", "resolved_config.json", "stats.jsonl")]
    out += [paths.METRICS_FP_AE.format(dataset="skimage"), paths.METRICS_EMBED.format(dataset="skimage")]
    for g in GANS.values():
        out += [f"{paths.GAN_DIR.format(**g)}/{n}" for n in ("G.pt", "resolved_config.json", "stats.jsonl")]
        out += [
            f"{paths.SAMPLES_DIR.format(**g)}/{n}"
            for n in ("images.lmdb", "manifest.csv", "resolved_config.json", "samples.png")
        ]
        out += [paths.DETECTED_FINGERPRINTS.format(**g), paths.METRICS_DETECT.format(**g)]
    for protocol in PROTOCOLS:
        sel = {"protocol": protocol, "method": "postpool"}
        out += [
            f"{paths.CLASSIFIER_DIR.format(**sel)}/{n}" for n in ("model.pt", "resolved_config.json", "stats.jsonl")
        ]
        out += [paths.METRICS_CLASSIFIER.format(**sel), paths.PREDICTIONS.format(**sel)]
        out += [paths.METRICS_ATTRIBUTION.format(**sel)]
    out += paths.table_files()
    return sorted(out)


# -- the chain ---------------------------------------------------------------------------------------------


def test_every_stage_exits_0(chain):
    assert chain["rc"] == {k: 0 for k in chain["rc"]}
    assert len(chain["rc"]) == 1 + 1 + 1 + 3 + 3 + 3 + 2 + 2 + 1


def test_the_chain_writes_exactly_the_promised_files(chain):
    assert chain["files"] == _expected_files()
    assert not [f for f in chain["files"] if ".tmp-" in f]


def test_prepare_dataset(chain):
    d = chain["root"] / "data/clean/skimage"
    assert _listing(d) == ["images.lmdb", "manifest.csv", "report.json", "resolved_config.json", "samples.png"]
    with ImageStore(d / "images.lmdb") as s:
        assert len(s) == 96 and s.shape == (32, 32, 3)


def test_train_fingerprint_autoencoder(chain):
    root = chain["root"]
    d = root / "results/models/fingerprint/skimage"
    assert _listing(d) == ["decoder.pt", "encoder.pt", "resolved_config.json", "stats.jsonl"]
    assert load_checkpoint(d / "encoder.pt", "fingerprint_encoder")["model_args"] == {"resolution": 32, "bits": 8}
    m = json.loads((root / "results/metrics/train_fingerprint_autoencoder/skimage.json").read_text())
    assert m["steps"] == 3 and 0.0 <= m["bit_accuracy"] <= 1.0
    rc = json.loads((d / "resolved_config.json").read_text())
    assert rc["selectors"] == {"dataset": "skimage"} and rc["train_fingerprint_autoencoder"]["bits"] == 8


def test_embed_fingerprints(chain):
    root = chain["root"]
    d = root / "data/fingerprinted/skimage"
    assert _listing(d) == [
        "embedded_fingerprints.txt",
        "images.lmdb",
        "manifest.csv",
        "resolved_config.json",
        "samples.png",
    ]
    assert len((d / "embedded_fingerprints.txt").read_text().splitlines()) == 96
    assert len(read_manifest(d / "manifest.csv")) == 96
    m = json.loads((root / "results/metrics/embed_fingerprints/skimage.json").read_text())
    assert (m["images"], m["bits"], m["identical"]) == (96, 8, True)


@pytest.mark.parametrize("name", list(GANS))
def test_train_gan_and_generate_images(chain, name):
    g = GANS[name]
    root = chain["root"]
    gan_dir = root / paths.GAN_DIR.format(**g)
    assert _listing(gan_dir) == ["G.pt", "resolved_config.json", "stats.jsonl"]
    ckpt = load_checkpoint(gan_dir / "G.pt", "gan_generator")
    assert ckpt["gan"] == g and ckpt["model_args"] == {"resolution": 32, "z_dim": 8, "width": 8}
    assert len((gan_dir / "stats.jsonl").read_text().splitlines()) == 3  # log_every 1, 3 steps
    rc = json.loads((gan_dir / "resolved_config.json").read_text())
    assert rc["selectors"] == g and rc["train_gan"]["steps"] == 3
    samples = root / paths.SAMPLES_DIR.format(**g)
    assert _listing(samples) == ["images.lmdb", "manifest.csv", "resolved_config.json", "samples.png"]
    with ImageStore(samples / "images.lmdb") as s:
        assert len(s) == 24 and s.shape == (32, 32, 3)
    rows = read_manifest(samples / "manifest.csv")
    assert rows[0]["label"] == f"skimage/dcgan/nonsat/{g['variant']}/seed{g['seed']}"
    assert rows[0]["source"] == "seed5/00000000"


def test_fingerprinted_gan_trains_on_fingerprinted_data(chain):
    # s0 and fp0 share every selector but the variant: their inputs differ, so their weights do
    root = chain["root"]
    a = (root / paths.GAN_MODEL.format(**GANS["s0"])).read_bytes()
    b = (root / paths.GAN_MODEL.format(**GANS["fp0"])).read_bytes()
    assert a != b


@pytest.mark.parametrize("name", list(GANS))
def test_detect_fingerprints(chain, name):
    g = GANS[name]
    root = chain["root"]
    assert _listing(root / paths.DETECTED_DIR.format(**g)) == ["detected_fingerprints.txt"]
    lines = (root / paths.DETECTED_FINGERPRINTS.format(**g)).read_text().splitlines()
    assert len(lines) == 24 and lines[0].startswith("00000000.png ") and len(lines[0].split()[1]) == 8
    m = json.loads((root / paths.METRICS_DETECT.format(**g)).read_text())
    assert (m["images"], m["bits"], m["variant"]) == (24, 8, g["variant"])
    assert 0.0 <= m["bit_accuracy"] <= 1.0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_train_classifier_and_evaluate_attribution(chain, protocol):
    root = chain["root"]
    sel = {"protocol": protocol, "method": "postpool"}
    d = root / paths.CLASSIFIER_DIR.format(**sel)
    assert _listing(d) == ["model.pt", "resolved_config.json", "stats.jsonl"]
    classes = {"closed_set": ["real", "seed0", "seed1"], "cross_seed": ["dcgan", "real"]}[protocol]
    assert load_checkpoint(d / "model.pt", "attribution_classifier")["classes"] == classes
    train = json.loads((root / paths.METRICS_CLASSIFIER.format(**sel)).read_text())
    assert train["train_images"] == 12 * len(classes) and train["classes"] == classes
    rc = json.loads((d / "resolved_config.json").read_text())
    assert rc["selectors"] == sel and rc["protocol"]["paper"] in ("yu2019_table2", "dnadet_cross_seed")
    m = json.loads((root / paths.METRICS_ATTRIBUTION.format(**sel)).read_text())
    assert (m["protocol"], m["method"], m["classes"], m["test_images"]) == (
        protocol,
        "postpool",
        classes,
        8 * len(classes),
    )
    assert m["chance"] == pytest.approx(1 / len(classes))
    pred = (root / paths.PREDICTIONS.format(**sel)).read_text().splitlines()
    assert pred[0] == "source,label,predicted," + ",".join(f"score_{c}" for c in classes)
    assert len(pred) == 1 + 8 * len(classes)


def test_make_tables(chain):
    root = chain["root"]
    assert _listing(root / "results/tables") == [
        "attribution.csv",
        "attribution.md",
        "fingerprints.csv",
        "fingerprints.md",
    ]
    attribution = (root / "results/tables/attribution.csv").read_text()
    assert "closed_set" in attribution and "cross_seed" in attribution
    assert "CelebA 99.5; LSUN 97.7 (unverified)" in attribution
    fps = (root / "results/tables/fingerprints.csv").read_text()
    assert "samples of fp0" in fps and "0.5 (chance)" in fps


# -- the front door: help, check-params ----------------------------------------------------------------------


def test_ganprint_help_lists_every_stage(capsys):
    assert ganprint_main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ganprint <stage> [options]")
    for stage in STAGES:
        assert f"  {stage} " in out, stage
    assert list(STAGES) == [
        "prepare-dataset",
        "train-gan",
        "generate-images",
        "train-fingerprint-autoencoder",
        "embed-fingerprints",
        "detect-fingerprints",
        "train-classifier",
        "evaluate-attribution",
        "make-tables",
        "check-params",
    ]


def test_ganprint_without_a_stage_or_with_an_unknown_one(capsys):
    assert ganprint_main([]) == 2
    assert "stages:" in capsys.readouterr().out
    assert ganprint_main(["train-gans"]) == 2
    assert "ganprint: unknown stage 'train-gans'" in capsys.readouterr().err
    assert ganprint_main(["--version"]) == 0


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_help_has_an_example(stage, capsys):
    with pytest.raises(SystemExit) as e:
        ganprint_main([stage, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: ganprint {stage}")
    assert "example:" in out
    assert f"ganprint {stage} --params params.yaml" in out


def test_underscored_stage_names_dispatch_too(tiny_params_file, capsys):
    assert ganprint_main(["check_params", "--params", str(tiny_params_file)]) == 0
    assert f"{tiny_params_file}: ok" in capsys.readouterr().out


def test_check_params_prints_ok(tiny_params_file, capsys):
    assert check_params.main(["--params", str(tiny_params_file)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"{tiny_params_file}: ok",
        "  datasets:  skimage, sklearn",
        "  gans:      3 (s0, s1, fp0)",
        "  fingerprint autoencoders: skimage",
        "  protocols: closed_set, cross_seed × methods postpool",
    ]


def test_check_params_refuses_a_bad_file(tmp_path, capsys):
    data = tiny_params()
    data["train_gan"]["stepz"] = 1
    path = write_params(tmp_path / "params.yaml", data)
    assert check_params.main(["--params", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"ganprint check-params: error: {path}: train_gan: unknown key 'stepz' (did you mean 'steps'?)" in err


def test_missing_params_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_params.main([]) == 2
    assert "params.yaml: no such params file" in capsys.readouterr().err


# -- refusals: exit code 2 and a message naming the culprit ----------------------------------------------------


@pytest.fixture
def fresh(tmp_path, tiny_params_file, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("stage", "argv", "missing"),
    [
        (
            train_gan,
            DEV + _sel(GANS["s0"]) + ["--data", "data/clean/skimage/images.lmdb", "--out", "g"],
            "data/clean/skimage/images.lmdb",
        ),
        (
            train_fingerprint_autoencoder,
            DEV + ["--dataset", "skimage", "--data", "nope/images.lmdb", "--out", "o", "--metrics", "m.json"],
            "nope/images.lmdb",
        ),
        (
            train_classifier,
            DEV + ["--protocol", "closed_set", "--method", "postpool", "--out", "o", "--metrics", "m.json"],
            "data/clean/skimage/images.lmdb",
        ),
    ],
)
def test_missing_input_store(fresh, capsys, stage, argv, missing):
    assert stage.main(argv) == 2
    err = capsys.readouterr().err
    assert f"error: {missing}: image store not found; run the stage that writes it first" in err
    assert _files(fresh) == ["params.yaml"]  # nothing written


def test_missing_model_exits_2(fresh, capsys):
    argv = DEV + _sel(GANS["s0"]) + ["--model", "results/nope/G.pt", "--out", "o"]
    assert generate_images.main(argv) == 2
    assert "results/nope/G.pt: checkpoint not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("stage", "extra"),
    [
        (train_gan, ["--data", "data/clean/skimage/images.lmdb", "--out", "g"]),
        (generate_images, ["--model", "G.pt", "--out", "o"]),
    ],
)
def test_unknown_dataset_lists_the_defined_ones(fresh, capsys, stage, extra):
    g = GANS["s0"] | {"dataset": "celeba"}
    assert stage.main(DEV + _sel(g) + extra) == 2
    assert "--dataset 'celeba' is not in params.yaml datasets: skimage, sklearn" in capsys.readouterr().err
    assert _files(fresh) == ["params.yaml"]


def test_prepare_dataset_unknown_dataset(fresh, capsys):
    assert prepare_dataset.main(["--dataset", "celeba", "--out", "o"]) == 2
    assert "--dataset 'celeba' is not in params.yaml 'datasets'; defined: skimage, sklearn" in capsys.readouterr().err


def test_autoencoder_dataset_must_be_listed(fresh, capsys):
    argv = DEV + ["--dataset", "sklearn", "--data", "x.lmdb", "--out", "o", "--metrics", "m.json"]
    assert train_fingerprint_autoencoder.main(argv) == 2
    assert "--dataset 'sklearn' is not in train_fingerprint_autoencoder.datasets ['skimage']" in capsys.readouterr().err


def test_embed_and_detect_refuse_an_unknown_dataset(chain, fresh, capsys):
    root = chain["root"]
    fp = root / "results/models/fingerprint/skimage"
    rc_embed = embed_fingerprints.main(
        DEV
        + ["--dataset", "celeba", "--data", str(root / "data/clean/skimage/images.lmdb")]
        + [
            "--encoder",
            str(fp / "encoder.pt"),
            "--decoder",
            str(fp / "decoder.pt"),
            "--out",
            "e",
            "--metrics",
            "e.json",
        ]
    )
    g = GANS["fp0"] | {"dataset": "celeba"}
    rc_detect = detect_fingerprints.main(
        DEV
        + _sel(g)
        + ["--images", str(root / paths.SAMPLES_IMAGES.format(**GANS["fp0"])), "--decoder", str(fp / "decoder.pt")]
        + ["--embedded", str(root / "data/fingerprinted/skimage/embedded_fingerprints.txt")]
        + ["--out", "d", "--metrics", "d.json"]
    )
    assert (rc_embed, rc_detect) == (2, 2)


def test_unknown_protocol_and_method(fresh, capsys):
    argv = DEV + ["--protocol", "open_set", "--method", "postpool", "--out", "o", "--metrics", "m.json"]
    assert train_classifier.main(argv) == 2
    assert "--protocol 'open_set' is not in params.yaml protocols: closed_set, cross_seed" in capsys.readouterr().err
    argv = DEV + ["--protocol", "closed_set", "--method", "dnadet", "--model", "m.pt"]
    assert evaluate_attribution.main(argv + ["--predictions", "p.csv", "--metrics", "m.json"]) == 2
    assert "--method 'dnadet' is not in train_classifier.methods ['postpool']" in capsys.readouterr().err


def test_too_few_images_for_a_split_exits_2(chain, fresh, capsys):
    # the chain's stores, a params file asking for more training images than a GAN sample store holds
    (fresh / "results").mkdir()
    for rel in ("data", "results/samples"):
        (fresh / rel).symlink_to(chain["root"] / rel)
    data = tiny_params()
    data["train_classifier"]["images_per_class"] = 20  # 20 + 8 test > 24 generated
    write_params(fresh / "params.yaml", data)
    argv = DEV + ["--protocol", "closed_set", "--method", "postpool", "--out", "o", "--metrics", "m.json"]
    assert train_classifier.main(argv) == 2
    err = capsys.readouterr().err
    assert "protocol closed_set: source gan/s0 has 24 images, fewer than the 28 its train and test splits need" in err
    assert not (fresh / "o").exists()


def test_make_tables_without_metrics_exits_2(fresh, capsys):
    assert make_tables.main(["--out", "t"]) == 2
    assert "results/metrics/evaluate_attribution/closed_set/postpool.json" in capsys.readouterr().err
    assert not (fresh / "t").exists() or _files(fresh / "t") == []
