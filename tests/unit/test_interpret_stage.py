"""The interpret_attribution stage (ganprint.report.attribution_figures + its CLI): the same four files for every
method, real heat-maps where a method has a conv layer, a note where it has none, visNet's figure, determinism."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from _attr_synth import make_images, one_thread
from conftest import REPO
from PIL import Image

from ganprint.attribution.methods import build_method
from ganprint.attribution.splits import SplitManifest, build_split, write_split
from ganprint.attribution.train import save_method, train_classifier
from ganprint.cli import interpret_attribution as cli
from ganprint.config import InterpretAttributionCfg
from ganprint.data.store import ImageStoreWriter
from ganprint.hparams import KNNHps, PostpoolHps, VisNetHps
from ganprint.report.attribution_figures import FIGURES, SUMMARY, first_per_class, interpret_attribution

RES = 16
PATTERN = {"real": "real", "checker": "checker", "stripes": "stripes"}
CFG = InterpretAttributionCfg(cam_images=3, tsne_images=12, perplexity=5.0, batch_size=8)

_one_thread = pytest.fixture(scope="module", autouse=True)(one_thread)


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> SplitManifest:
    root = tmp_path_factory.mktemp("stores")
    spec = {}
    for i, (cls, pat) in enumerate(PATTERN.items()):
        d = root / cls
        with ImageStoreWriter(d / "images.lmdb", d / "manifest.csv") as w:
            for img in make_images(pat, 24, RES, seed=i).permute(0, 2, 3, 1).numpy():
                w.add(img)
        spec[cls] = [(f"{'real' if pat == 'real' else 'gan'}/{cls}", str(d / "images.lmdb"))]
    return SplitManifest.from_frame(build_split(spec, {"train": 16, "test": 8}))


@pytest.fixture(scope="module")
def models(split, tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    cfg = SimpleNamespace(epochs=2, batch_size=8, seed=0)
    hps = PostpoolHps(fmap_base=16, fmap_max=8)
    train_classifier(split, cfg, hps, "postpool", out / "postpool.pt", protocol="p")
    train_classifier(split, cfg, KNNHps(), "knn", out / "knn.pt", protocol="p")
    # visNet: an untrained network still has the fingerprint kernel the figure shows (training is not under test)
    visnet = build_method("visnet", VisNetHps(fmap_base=16, fmap_max=8, d_fmap_base=8, d_fmap_max=8),
                          list(split.classes), RES)  # fmt: skip
    save_method(out / "visnet.pt", visnet, model_name="visnet", protocol="p")
    return out


def _png(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_first_per_class_is_capped_even_and_in_manifest_order():
    rows = pd.DataFrame({"y": [0, 0, 0, 1, 1, 1, -1, -1, 0], "key": list("abcdefghi")})
    got = first_per_class(rows, 5)
    assert got["key"].tolist() == ["a", "b", "d", "e", "g"]  # 2 + 2 + 1 (unknown last gets no remainder)
    assert first_per_class(rows, 100)["key"].tolist() == list("abcdefghi")


def test_postpool_gets_grad_cam_tsne_and_a_fingerprint_note(split, models, tmp_path):
    s = interpret_attribution(split, models / "postpool.pt", tmp_path, CFG, protocol="p")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*FIGURES, SUMMARY])
    assert s["cam"] == {"kind": "gradcam", "images_per_class": {"checker": 3, "real": 3, "stripes": 3}}
    assert s["tsne"]["images"] == 12 and s["tsne"]["perplexity"] == 5.0
    assert s["fingerprints"]["kind"] == "none" and "no model fingerprints" in s["fingerprints"]["reason"]
    assert json.loads((tmp_path / SUMMARY).read_text()) == s
    # the CAM grid holds 3 class blocks of (image row + heat-map row): it is taller than wide and not blank
    cam = _png(tmp_path / "cam.png")
    assert cam.shape[0] > cam.shape[1] and cam.std() > 10
    # a second run writes the same bytes
    again = tmp_path / "again"
    interpret_attribution(split, models / "postpool.pt", again, CFG, protocol="p")
    for f in (*FIGURES, SUMMARY):
        assert (again / f).read_bytes() == (tmp_path / f).read_bytes(), f


def test_knn_has_no_heat_map_but_a_tsne_of_its_features(split, models, tmp_path):
    s = interpret_attribution(split, models / "knn.pt", tmp_path, CFG, method_name="knn")
    assert s["cam"]["kind"] == "none" and "cam_layer() is None" in s["cam"]["reason"]
    assert s["tsne"]["feature_dim"] == 3 * RES * RES  # kNN's features are its pixel vectors (downscale 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*FIGURES, SUMMARY])


def test_visnet_gets_the_fingerprint_figure(split, models, tmp_path):
    s = interpret_attribution(split, models / "visnet.pt", tmp_path, CFG)
    fp = s["fingerprints"]
    assert fp["image"].startswith("gan/checker:")  # the first test image of the first class (sorted: checker)
    assert set(fp["scores"]) == set(split.classes) and fp["predicted"] in split.classes
    assert s["cam"]["kind"] in ("cam", "gradcam")
    note = _png(tmp_path / "fingerprints.png")
    assert note.shape[:2] == (int(3 * 1.6 * 100 + 2.2 * 100), int(3 * 1.6 * 100))  # figure_size(3) at 100 dpi


def test_cli_writes_the_declared_outputs(split, models, tmp_path, monkeypatch):
    from ganprint import paths
    from ganprint.stages import STAGES

    split_csv = tmp_path / "split.csv"
    write_split(split.rows, split_csv)
    metrics = tmp_path / "m.json"
    metrics.write_text(json.dumps({"accuracy": 0.5}))
    w = {"protocol": "closed_set", "method": "postpool", "seed": 0}
    out = tmp_path / paths.FIGURES_ATTRIBUTION.format(**w)
    argv = ["--params", str(REPO / "params.yaml"), "--protocol", "closed_set", "--method", "postpool", "--seed", "0",
            "--split", str(split_csv), "--model", str(models / "postpool.pt"), "--metrics", str(metrics),
            "--out", str(out), "--device", "cpu"]  # fmt: skip
    assert cli.main(argv) == 0
    monkeypatch.chdir(tmp_path)
    for pattern in STAGES["interpret_attribution"].outputs.values():
        assert (tmp_path / pattern.format(**w)).is_file(), pattern
    s = json.loads((out / SUMMARY).read_text())
    assert s["test_accuracy"] == 0.5
    assert s["resolved_config"]["interpret_attribution"] == {  # params.yaml's section (the demo's smaller grids)
        "cam_images": 2,
        "cam_kind": "auto",
        "tsne_images": 150,
        "perplexity": 30.0,
        "seed": 0,
        "batch_size": 64,
    }
    assert _png(out / "cam.png").shape[-1] == 3
