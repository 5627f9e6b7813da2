"""Attribution: protocol splits (sorted classes, disjoint first/last images), classifier training, evaluation."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_params

from ganprint.attribution import evaluate as evaluate_module
from ganprint.attribution.evaluate import evaluate_attribution
from ganprint.attribution.splits import Part, SplitError, protocol_split, split_stores
from ganprint.attribution.train import train_classifier
from ganprint.checkpoint import load_checkpoint
from ganprint.config import ConfigError, parse_params
from ganprint.data.store import ImageStoreWriter
from ganprint.errors import StageError

REAL = "data/clean/skimage/images.lmdb"
S0 = "results/samples/skimage/dcgan/nonsat/clean/seed0/images.lmdb"
S1 = "results/samples/skimage/dcgan/nonsat/clean/seed1/images.lmdb"
FP0 = "results/samples/skimage/dcgan/nonsat/fingerprinted/seed0/images.lmdb"
SIZES = {REAL: 30, S0: 24, S1: 24, FP0: 24}


def _params(**protocols):
    data = tiny_params()
    data["protocols"] |= protocols
    data["train_classifier"]["protocols"] = list(data["protocols"])
    return parse_params(data)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """Stores at the paths the tiny params name; image i of store k has pixel (0, 0) = (i, k, 0)."""
    root = tmp_path_factory.mktemp("proj")
    rng = np.random.default_rng(0)
    for k, (rel, n) in enumerate(SIZES.items()):
        with ImageStoreWriter(root / rel) as w:
            for i in range(n):
                img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                img[0, 0] = (i, k, 0)
                w.add(img)
    return root


@pytest.fixture
def in_project(project, monkeypatch):
    monkeypatch.chdir(project)
    return project


def _ids(images: np.ndarray) -> list[tuple[int, int]]:
    """(store number, image index) of each loaded image."""
    return [(int(im[0, 0, 1]), int(im[0, 0, 0])) for im in images]


# -- protocol_split ----------------------------------------------------------------------------------------


def test_closed_set_train_split(in_project):
    p = parse_params(tiny_params())
    split = protocol_split(p, "closed_set", "train")
    assert split.classes == ("real", "seed0", "seed1")
    assert split.parts == (
        Part(REAL, tuple(range(12)), 0, "real/skimage"),
        Part(S0, tuple(range(12)), 1, "gan/s0"),
        Part(S1, tuple(range(12)), 2, "gan/s1"),
    )
    assert len(split) == 36
    images, labels = split.load()
    assert images.shape == (36, 32, 32, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == [0] * 12 + [1] * 12 + [2] * 12
    assert _ids(images) == [(k, i) for k in range(3) for i in range(12)]


def test_test_split_takes_the_last_images_and_never_overlaps(in_project):
    p = parse_params(tiny_params())
    train = protocol_split(p, "closed_set", "train")
    test = protocol_split(p, "closed_set", "test")
    assert test.classes == train.classes
    assert [(pt.store, pt.indices) for pt in test.parts] == [
        (REAL, tuple(range(22, 30))),
        (S0, tuple(range(16, 24))),
        (S1, tuple(range(16, 24))),
    ]
    for a, b in zip(train.parts, test.parts, strict=True):
        assert a.store == b.store and not set(a.indices) & set(b.indices)


def test_cross_seed_test_sources(in_project):
    p = parse_params(tiny_params())
    test = protocol_split(p, "cross_seed", "test")
    assert test.classes == ("dcgan", "real")  # sorted, not in params order
    assert [(pt.label, pt.source, pt.indices) for pt in test.parts] == [
        (0, "gan/s1", tuple(range(16, 24))),
        (1, "real/skimage", tuple(range(22, 30))),
    ]
    assert split_stores(p, "cross_seed") == sorted([REAL, S0, S1])


def test_classes_are_sorted_by_name(in_project):
    p = _params(order={"train": {"zeta": ["gan/s0"], "Alpha": ["gan/s1"], "mid": ["real/skimage"]}})
    split = protocol_split(p, "order", "train", images_per_class=2)
    assert split.classes == ("Alpha", "mid", "zeta")
    assert [(pt.label, pt.source) for pt in split.parts] == [(0, "gan/s1"), (1, "real/skimage"), (2, "gan/s0")]


def test_images_are_split_evenly_over_sources(in_project):
    p = _params(mixed={"train": {"real": ["real/skimage"], "gan": ["gan/s0", "gan/s1", "gan/fp0"]}})
    split = protocol_split(p, "mixed", "train", images_per_class=8)
    assert [(pt.source, len(pt.indices)) for pt in split.parts] == [
        ("gan/s0", 3),  # 8 = 3 + 3 + 2: the first sources take the remainder
        ("gan/s1", 3),
        ("gan/fp0", 2),
        ("real/skimage", 8),
    ]
    test = protocol_split(p, "mixed", "test", images_per_class=8)
    assert [pt.indices for pt in test.parts[:3]] == [(21, 22, 23), (21, 22, 23), (22, 23)]


def test_split_error_when_a_source_is_too_small(in_project):
    p = parse_params(tiny_params())
    with pytest.raises(SplitError) as e:
        protocol_split(p, "closed_set", "train", images_per_class=17)  # 17 + 8 test > 24
    assert str(e.value) == (
        "protocol closed_set: source gan/s0 has 24 images, fewer than the 25 its train and test splits need "
        "(they never overlap); generate more images (generate_images.num_images, datasets.<name>.num_images) "
        "or lower train_classifier.images_per_class / evaluate_attribution.images_per_class"
    )
    assert issubclass(SplitError, StageError)  # the CLIs turn it into one error line and exit 2
    protocol_split(p, "closed_set", "train", images_per_class=16)  # 16 + 8 = 24 fits exactly


def test_missing_store_is_a_store_error(tmp_path, monkeypatch):
    from ganprint.data.store import StoreError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=r"data/clean/skimage/images\.lmdb: image store not found"):
        protocol_split(parse_params(tiny_params()), "closed_set", "train")


def test_test_split_with_fewer_classes_is_refused_or_works(in_project):
    data = tiny_params()
    data["protocols"]["cross_seed"]["test"] = {"dcgan": ["gan/s1"]}
    try:
        p = parse_params(data)
    except ConfigError:
        return  # refusing it up front is fine
    split = protocol_split(p, "cross_seed", "test")
    assert split.classes == ("dcgan", "real")


# -- train_classifier + evaluate_attribution ---------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(project, tmp_path_factory):
    cwd = os.getcwd()
    os.chdir(project)
    try:
        p = parse_params(tiny_params())
        split = protocol_split(p, "closed_set", "train", images_per_class=4)
        out = tmp_path_factory.mktemp("clf")
        metrics = train_classifier(
            split, p.train_classifier, "postpool", out / "model.pt", out / "stats.jsonl", protocol="closed_set"
        )
    finally:
        os.chdir(cwd)
    return {"out": out, "metrics": metrics, "params": p}


def test_train_classifier_writes_checkpoint_with_sorted_classes(trained):
    out = trained["out"]
    assert sorted(os.listdir(out)) == ["model.pt", "stats.jsonl"]
    ckpt = load_checkpoint(out / "model.pt", "attribution_classifier")
    assert ckpt["classes"] == ["real", "seed0", "seed1"]
    assert ckpt["protocol"] == "closed_set"
    assert ckpt["model_name"] == "postpool"
    assert ckpt["model_args"] == {
        "resolution": 32,
        "num_classes": 3,
        "fmap_base": 16,
        "fmap_max": 8,
        "switching_res": 4,
    }
    m = trained["metrics"]
    assert m["train_images"] == 12 and m["classes"] == ["real", "seed0", "seed1"]
    assert m["steps"] == 3  # 1 epoch of 12 images at batch 4
    assert np.isfinite(m["final_loss"]) and 0.0 <= m["final_train_accuracy"] <= 1.0
    rows = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3]
    assert rows[-1]["loss"] == m["final_loss"]


def test_train_classifier_same_seed_same_bytes(trained, in_project, tmp_path):
    p = trained["params"]
    split = protocol_split(p, "closed_set", "train", images_per_class=4)
    train_classifier(split, p.train_classifier, "postpool", tmp_path / "model.pt", protocol="closed_set")
    assert (tmp_path / "model.pt").read_bytes() == (trained["out"] / "model.pt").read_bytes()


def test_evaluate_attribution_real_model(trained, in_project, tmp_path):
    split = protocol_split(trained["params"], "closed_set", "test")
    m = evaluate_attribution(split, trained["out"] / "model.pt", tmp_path / "pred.csv", batch_size=5)
    assert set(m) == {
        "accuracy",
        "macro_f1",
        "chance",
        "classes",
        "per_class_accuracy",
        "per_source_accuracy",
        "confusion_matrix",
        "test_images",
    }
    assert m["test_images"] == 24 and m["classes"] == ["real", "seed0", "seed1"]
    assert m["chance"] == pytest.approx(1 / 3)
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (3, 3) and cm.sum() == 24 and cm.sum(1).tolist() == [8, 8, 8]
    assert m["accuracy"] == pytest.approx(np.trace(cm) / 24)
    assert 0.0 <= m["macro_f1"] <= 1.0
    table = pd.read_csv(tmp_path / "pred.csv")
    assert list(table.columns) == ["source", "label", "predicted", "score_real", "score_seed0", "score_seed1"]
    assert len(table) == 24
    assert table[["score_real", "score_seed0", "score_seed1"]].sum(axis=1).to_numpy() == pytest.approx(1.0, abs=1e-5)


def test_evaluate_attribution_hand_checked(trained, in_project, tmp_path, monkeypatch):
    split = protocol_split(trained["params"], "closed_set", "test", images_per_class=2)
    labels = [0, 0, 1, 1, 2, 2]
    pred = [0, 1, 1, 1, 2, 0]

    def fake_predict(model, images, batch_size, device):
        assert len(images) == 6
        scores = np.full((6, 3), 0.1, dtype=np.float32)
        scores[np.arange(6), pred] = 0.8
        return scores

    monkeypatch.setattr(evaluate_module, "predict", fake_predict)
    m = evaluate_attribution(split, trained["out"] / "model.pt", tmp_path / "pred.csv", batch_size=2)
    assert split.load()[1].tolist() == labels
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["per_class_accuracy"] == pytest.approx({"real": 0.5, "seed0": 1.0, "seed1": 0.5})
    # F1: real P=1/2 R=1/2 → 1/2; seed0 P=2/3 R=1 → 4/5; seed1 P=1 R=1/2 → 2/3
    assert m["macro_f1"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert m["per_source_accuracy"] == pytest.approx({"gan/s0": 1.0, "gan/s1": 0.5, "real/skimage": 0.5})
    assert m["chance"] == pytest.approx(1 / 3) and m["test_images"] == 6
    assert (tmp_path / "pred.csv").read_text() == (
        "source,label,predicted,score_real,score_seed0,score_seed1\n"
        "real/skimage,real,real,0.8,0.1,0.1\n"
        "real/skimage,real,seed0,0.1,0.8,0.1\n"
        "gan/s0,seed0,seed0,0.1,0.8,0.1\n"
        "gan/s0,seed0,seed0,0.1,0.8,0.1\n"
        "gan/s1,seed1,seed1,0.1,0.1,0.8\n"
        "gan/s1,seed1,real,0.8,0.1,0.1\n"
    )


def test_evaluate_refuses_other_classes(trained, in_project, tmp_path):
    split = protocol_split(trained["params"], "cross_seed", "test")
    with pytest.raises(StageError) as e:
        evaluate_attribution(split, trained["out"] / "model.pt", tmp_path / "pred.csv", batch_size=4)
    assert str(e.value) == (
        f"{trained['out'] / 'model.pt'}: trained on classes ['real', 'seed0', 'seed1'], but the protocol's test "
        "split has ['dcgan', 'real']; retrain the classifier (train_classifier) for this protocol"
    )
    assert not (tmp_path / "pred.csv").exists()


def test_predict_scores_are_softmax(trained):
    from ganprint.checkpoint import build_from_checkpoint
    from ganprint.nets import CLASSIFIERS

    model = build_from_checkpoint(load_checkpoint(trained["out"] / "model.pt", "attribution_classifier"), CLASSIFIERS)
    images = np.random.default_rng(1).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    a = evaluate_module.predict(model, images, 2, "cpu")
    b = evaluate_module.predict(model, images, 5, "cpu")
    assert a.shape == (5, 3) and a.sum(1) == pytest.approx(np.ones(5), abs=1e-6)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert a.dtype == np.float32
