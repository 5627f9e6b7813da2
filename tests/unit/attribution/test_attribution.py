"""Attribution: split manifests (sorted classes, disjoint train/val/test), streamed classifier training, evaluation."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ganprint.attribution import evaluate as evaluate_module
from ganprint.attribution.evaluate import evaluate_attribution
from ganprint.attribution.splits import (
    COLUMNS,
    SplitError,
    SplitManifest,
    build_split,
    read_split,
    write_split,
)
from ganprint.attribution.train import train_classifier
from ganprint.checkpoint import load_checkpoint
from ganprint.data.store import ImageStoreWriter, StoreError, read_manifest
from ganprint.errors import StageError
from ganprint.hparams import PostpoolHps

SIZES = {"real": 30, "s0": 24, "s1": 24, "fp0": 24}
TRAIN = SimpleNamespace(epochs=1, batch_size=4, seed=0)
METHOD = PostpoolHps(fmap_base=16, fmap_max=8, lr=1e-3, beta1=0.0, beta2=0.99, hflip=True)


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, str]:
    """name → store path (with manifest.csv beside it); image i of store k has pixel (0, 0) = (i, k, 0)."""
    root = tmp_path_factory.mktemp("stores")
    rng = np.random.default_rng(0)
    out = {}
    for k, (name, n) in enumerate(SIZES.items()):
        d = root / name
        with ImageStoreWriter(d / "images.lmdb", d / "manifest.csv") as w:
            for i in range(n):
                img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                img[0, 0] = (i, k, 0)
                w.add(img)
        out[name] = str(d / "images.lmdb")
    return out


def _closed_set(stores) -> dict:
    return {
        "real": [("real/skimage", stores["real"])],
        "seed0": [("gan/s0", stores["s0"])],
        "seed1": [("gan/s1", stores["s1"])],
    }


def _keys(r: range) -> list[str]:
    return [f"{i:08d}" for i in r]


def _sha1(store: str) -> dict[str, str]:
    return {r["key"]: r["sha1"] for r in read_manifest(Path(store).with_name("manifest.csv"))}


# -- build_split -------------------------------------------------------------------------------------------


def test_closed_set_rows_exactly(stores):
    df = build_split(_closed_set(stores), {"train": 12, "val": 2, "test": 8})
    assert list(df.columns) == ["store", "key", "sha1", "label", "split", "source"] == list(COLUMNS)
    assert len(df) == 3 * (12 + 2 + 8)
    expected = []
    for split in ("train", "val", "test"):
        for cls, src, name in (("real", "real/skimage", "real"), ("seed0", "gan/s0", "s0"), ("seed1", "gan/s1", "s1")):
            n = SIZES[name]  # train: the first keys; test: the last ones; val: the ones just before test
            r = {"train": range(12), "val": range(n - 10, n - 8), "test": range(n - 8, n)}[split]
            keys = _keys(r)
            expected += [(stores[name], k, cls, split, src) for k in keys]
    assert list(df[["store", "key", "label", "split", "source"]].itertuples(index=False, name=None)) == expected
    for name in ("real", "s0", "s1"):
        sub = df[df.store == stores[name]]
        assert sub.sha1.tolist() == [_sha1(stores[name])[k] for k in sub.key]


def test_train_val_test_are_disjoint_per_source(stores):
    df = build_split(_closed_set(stores), {"train": 16, "val": 4, "test": 4})  # s0: 16 + 4 + 4 = 24 exactly
    for store, sub in df.groupby("store"):
        parts = {s: set(sub[sub.split == s].key) for s in ("train", "val", "test")}
        assert sum(len(p) for p in parts.values()) == len(sub)  # no key twice
        assert not parts["train"] & parts["val"] and not parts["train"] & parts["test"]
        assert not parts["val"] & parts["test"]
        n = SIZES[Path(store).parent.name]
        assert sorted(parts["test"]) == _keys(range(n - 4, n))  # test = the last images
        assert sorted(parts["val"]) == _keys(range(n - 8, n - 4))  # val = the ones before them
        assert sorted(parts["train"]) == _keys(range(16))


def test_cross_seed_tests_on_other_sources(stores):
    classes = {"real": [("real/skimage", stores["real"])], "dcgan": [("gan/s0", stores["s0"])]}
    test = {"real": [("real/skimage", stores["real"])], "dcgan": [("gan/s1", stores["s1"])]}
    m = SplitManifest.from_frame(build_split(classes, {"train": 10, "test": 6}, test))
    assert m.classes == ("dcgan", "real")  # sorted, not in the order given
    tr, te = m.part("train"), m.part("test")
    assert list(zip(tr.source, tr.y, strict=True)) == [("gan/s0", 0)] * 10 + [("real/skimage", 1)] * 10
    assert list(zip(te.source, te.y, strict=True)) == [("gan/s1", 0)] * 6 + [("real/skimage", 1)] * 6
    assert te.key.tolist() == _keys(range(18, 24)) + _keys(range(24, 30))
    assert m.part("val").empty and list(m.part("val").columns) == [*COLUMNS, "y"]
    assert m.stores() == sorted([stores["real"], stores["s0"], stores["s1"]])


def test_classes_are_sorted_by_name(stores):
    classes = {
        "zeta": [("gan/s0", stores["s0"])],
        "Alpha": [("gan/s1", stores["s1"])],
        "mid": [("real", stores["real"])],
    }
    m = SplitManifest.from_frame(build_split(classes, {"train": 2}))
    assert m.classes == ("Alpha", "mid", "zeta")
    tr = m.part("train")
    assert list(zip(tr.label, tr.source, tr.y, strict=True)) == [
        ("Alpha", "gan/s1", 0),
        ("Alpha", "gan/s1", 0),
        ("mid", "real", 1),
        ("mid", "real", 1),
        ("zeta", "gan/s0", 2),
        ("zeta", "gan/s0", 2),
    ]


def test_images_are_counted_per_source(stores):
    gan = [("gan/s0", stores["s0"]), ("gan/s1", stores["s1"]), ("gan/fp0", stores["fp0"])]
    df = build_split({"real": [("real", stores["real"])], "gan": gan}, {"train": 8, "test": 3})
    counts = df.groupby(["split", "source"], sort=False).size()
    # every source gives the protocol's images per split, whatever the class it belongs to
    assert list(counts.items()) == [
        (("train", "gan/s0"), 8),
        (("train", "gan/s1"), 8),
        (("train", "gan/fp0"), 8),
        (("train", "real"), 8),
        (("test", "gan/s0"), 3),
        (("test", "gan/s1"), 3),
        (("test", "gan/fp0"), 3),
        (("test", "real"), 3),
    ]
    test = df[df.split == "test"]
    assert test[test.source == "gan/fp0"].key.tolist() == _keys(range(21, 24))


@pytest.fixture(scope="module")
def photo_store(tmp_path_factory) -> str:
    """30 crops of 5 photographs in the order the embedded source draws them (manifest source <photo>#crop<i>)."""
    d = tmp_path_factory.mktemp("photos")
    photos = [f"p{k}" for k in (0, 1, 0, 2, 3, 4, 1, 0, 2, 3, 4, 4, 1, 0, 2)] * 2
    with ImageStoreWriter(d / "images.lmdb", d / "manifest.csv") as w:
        for i, ph in enumerate(photos):
            w.add(np.full((8, 8, 3), i, np.uint8), source=f"{ph}#crop{i}")
    return str(d / "images.lmdb")


def test_real_test_images_come_from_held_out_photographs(photo_store):
    src = {r["key"]: r["source"].split("#")[0] for r in read_manifest(Path(photo_store).with_name("manifest.csv"))}
    df = build_split({"real": [("real/x", photo_store)]}, {"train": 10, "val": 3, "test": 5})
    photos = {s: {src[k] for k in df[df.split == s].key} for s in ("train", "val", "test")}
    assert len(df) == 18
    # groups in first-appearance order p0, p1, p2, p3, p4: test takes p4 (6 crops), val p3 (6), train the rest,
    # round-robin over p0, p1, p2 so that every training photograph is used
    assert photos == {"train": {"p0", "p1", "p2"}, "val": {"p3"}, "test": {"p4"}}
    train_keys = df[df.split == "train"].key.tolist()
    assert [src[k] for k in train_keys].count("p0") == 4 and [src[k] for k in train_keys].count("p2") == 3
    with pytest.raises(SplitError, match=r"has 30 images in 5 photographs, fewer than its splits need: train 21"):
        build_split({"real": [("real/x", photo_store)]}, {"train": 21, "val": 3, "test": 5})


def test_test_classes_may_be_fewer_but_not_new(stores):
    m = SplitManifest.from_frame(
        build_split(_closed_set(stores), {"train": 2, "test": 2}, {"seed1": [("gan/s1", stores["s1"])]})
    )
    assert m.classes == ("real", "seed0", "seed1")
    assert m.part("test").y.tolist() == [2, 2]
    with pytest.raises(SplitError) as e:
        build_split(_closed_set(stores), {"train": 2, "test": 2}, {"other": [("gan/s1", stores["s1"])]})
    assert str(e.value) == (
        "test classes ['other'] are not training classes ['real', 'seed0', 'seed1']; a classifier only predicts "
        "the classes it was trained on (name the test sources absent from training 'unknown')"
    )


def test_split_error_when_a_source_is_too_small(stores):
    with pytest.raises(SplitError) as e:
        build_split(_closed_set(stores), {"train": 15, "val": 2, "test": 8})  # s0: 15 + 2 + 8 > 24
    assert str(e.value) == (
        f"source gan/s0 ({stores['s0']}) has 24 images, fewer than its splits need: train 15 + val 2 + test 8, "
        "which never share an image; lower the protocol's images (train / val / test per source), or generate "
        "more images"
    )
    assert issubclass(SplitError, StageError)  # the CLIs turn it into one error line and exit 2
    assert len(build_split(_closed_set(stores), {"train": 14, "val": 2, "test": 8})) == 3 * 24  # fits exactly


def test_a_source_listed_twice_is_refused(stores):
    classes = {"a": [("gan/s0", stores["s0"])], "b": [("gan/s0", stores["s0"])]}
    with pytest.raises(SplitError, match=r"^source gan/s0 is listed twice in the train classes \('a' and 'b'\)"):
        build_split(classes, {"train": 2})
    with pytest.raises(SplitError, match=r"^store .* is named by two sources, x and y$"):
        build_split({"a": [("x", stores["s0"])], "b": [("y", stores["s0"])]}, {"train": 2})
    with pytest.raises(SplitError, match=r"^build_split images name unknown splits \['tset'\]"):
        build_split(_closed_set(stores), {"train": 2, "tset": 2})


def test_missing_store_manifest(tmp_path):
    store = tmp_path / "gone" / "images.lmdb"
    with pytest.raises(StoreError) as e:
        build_split({"a": [("gone", str(store))]}, {"train": 1})
    assert str(e.value) == (
        f"{tmp_path / 'gone' / 'manifest.csv'}: manifest of {store} not found; run the stage that writes the "
        "store first"
    )


# -- write_split / read_split ------------------------------------------------------------------------------


def test_manifest_round_trip_is_byte_identical(stores, tmp_path):
    df = build_split(_closed_set(stores), {"train": 3, "val": 1, "test": 2})
    write_split(df, tmp_path / "a" / "split.csv")
    m = read_split(tmp_path / "a" / "split.csv")
    write_split(m.rows, tmp_path / "b.csv")
    assert (tmp_path / "a" / "split.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert sorted(os.listdir(tmp_path / "a")) == ["split.csv"]  # atomic: no temporary left
    lines = (tmp_path / "b.csv").read_text().split("\n")
    s0 = _sha1(stores["real"])
    assert lines[0] == "store,key,sha1,label,split,source"
    assert lines[1] == f"{stores['real']},00000000,{s0['00000000']},real,train,real/skimage"
    assert lines[-2] == f"{stores['s1']},00000023,{_sha1(stores['s1'])['00000023']},seed1,test,gan/s1"
    assert lines[-1] == "" and len(lines) == 1 + 3 * 6 + 1
    assert m.classes == ("real", "seed0", "seed1")
    pd.testing.assert_frame_equal(m.rows.astype(str), df)
    assert [str(t) for t in m.rows.dtypes] == ["category", "str", "str", "category", "category", "category"]
    # val: the image just before each source's two test images (real has 30 images, the GANs 24)
    assert m.part("val").key.tolist() == ["00000027", "00000021", "00000021"] and m.part("val").y.tolist() == [0, 1, 2]


def test_read_split_refuses_broken_manifests(stores, tmp_path):
    with pytest.raises(SplitError) as e:
        read_split(tmp_path / "none.csv")
    assert str(e.value) == f"{tmp_path / 'none.csv'}: split manifest not found; run build_split first"

    p = tmp_path / "split.csv"
    p.write_text("store,key,label,split\nx,00000000,a,train\n")
    with pytest.raises(SplitError) as e:
        read_split(p)
    assert str(e.value) == (
        f"{p}: lacks columns ['sha1', 'source'] (expected store, key, sha1, label, split, source); rerun build_split"
    )

    p.write_text("store,key,sha1,label,split,source\nx,00000000,ab,a,train,s\nx,00000001,cd,a,validation,s\n")
    with pytest.raises(SplitError) as e:
        read_split(p)
    assert str(e.value) == f"{p}: unknown split value(s) ['validation'] (expected train, val, test); rerun build_split"

    p.write_text("store,key,sha1,label,split,source\nx,00000000,ab,a,train,s\nx,00000000,ab,a,test,s\n")
    with pytest.raises(SplitError, match=r"image x:00000000 is listed twice; rerun build_split$"):
        read_split(p)

    p.write_text("")
    with pytest.raises(SplitError, match=r"not a readable split manifest \(EmptyDataError"):
        read_split(p)

    p.write_text("store,key,sha1,label,split,source\n")
    with pytest.raises(SplitError, match=r"has no rows; rerun build_split"):
        read_split(p)


def test_keys_stay_strings(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("store,key,sha1,label,split,source\nx,00000007,0123,1,train,s\n")
    m = read_split(p)
    assert m.rows.key.tolist() == ["00000007"] and m.rows.sha1.tolist() == ["0123"] and m.classes == ("1",)


# -- train_classifier + evaluate_attribution ---------------------------------------------------------------


@pytest.fixture(scope="module")
def split(stores) -> SplitManifest:
    return SplitManifest.from_frame(build_split(_closed_set(stores), {"train": 4, "val": 2, "test": 8}))


@pytest.fixture(scope="module")
def trained(split, tmp_path_factory):
    out = tmp_path_factory.mktemp("clf")
    metrics = train_classifier(
        split, TRAIN, METHOD, "postpool", out / "model.pt", out / "stats.jsonl", protocol="closed_set"
    )
    return {"out": out, "metrics": metrics}


def test_train_classifier_writes_checkpoint_with_sorted_classes(trained):
    out = trained["out"]
    assert sorted(os.listdir(out)) == ["model.pt", "stats.jsonl"]
    ckpt = load_checkpoint(out / "model.pt", "attribution_classifier")
    assert ckpt["classes"] == ["real", "seed0", "seed1"]
    assert ckpt["protocol"] == "closed_set"
    assert ckpt["model_name"] == "postpool"
    assert ckpt["resolution"] == 32
    assert ckpt["hparams"] == METHOD.model_dump() | {"input": "pixel"}
    assert set(ckpt["state"]) == {"net", "input"} and ckpt["state"]["input"] == {"kind": "pixel"}
    assert ckpt["state"]["net"]["head.weight"].shape == (3, 8)  # max(nf(1), 3) = 8 features → 3 classes
    # the split has 2 val images per class: the open-set threshold is calibrated on them (95 % of 6 → 6 accepted)
    cal = ckpt["calibration"]
    assert cal["val_images"] == 6 and cal["tpr_val"] == 1.0 and cal["split_part"] == "val"
    m = trained["metrics"]
    assert set(m) == {
        "train_images",
        "classes",
        "steps",
        "final_loss",
        "final_train_accuracy",
        "open_set_calibration",
    }
    assert m["open_set_calibration"] == cal
    assert m["train_images"] == 12 and m["classes"] == ["real", "seed0", "seed1"]
    assert m["steps"] == 3  # 1 epoch of 12 images at batch 4
    rows = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3]
    assert rows[-1]["loss"] == m["final_loss"] and rows[-1]["train_acc"] == m["final_train_accuracy"]
    # the accuracy since the previous log line: steps 1-3, 12 images
    assert m["final_train_accuracy"] * 12 == pytest.approx(round(m["final_train_accuracy"] * 12), abs=1e-4)


def test_train_classifier_same_seed_same_bytes_any_workers(split, trained, tmp_path):
    # same file name: torch.save names the archive inside the file after it
    a, b, c = (tmp_path / d / "model.pt" for d in "abc")
    train_classifier(split, TRAIN, METHOD, "postpool", a, tmp_path / "a" / "stats.jsonl", protocol="closed_set")
    assert a.read_bytes() == (trained["out"] / "model.pt").read_bytes()
    assert (tmp_path / "a" / "stats.jsonl").read_bytes() == (trained["out"] / "stats.jsonl").read_bytes()
    train_classifier(split, TRAIN, METHOD, "postpool", b, protocol="closed_set", workers=2)
    assert b.read_bytes() == a.read_bytes()
    other = SimpleNamespace(epochs=1, batch_size=4, seed=1)
    train_classifier(split, other, METHOD, "postpool", c, protocol="closed_set")
    assert c.read_bytes() != a.read_bytes()


def test_evaluate_attribution_real_model(split, trained, tmp_path):
    m = evaluate_attribution(split, trained["out"] / "model.pt", tmp_path / "pred.csv", batch_size=5)
    assert set(m) == {
        "accuracy",
        "macro_f1",
        "chance",
        "classes",
        "per_class_accuracy",
        "per_source_accuracy",
        "confusion_matrix",
        "ap",
        "test_images",
        "tta",
        "tta_vote",
        "open_set",
    }
    assert m["ap"] is None  # three classes: no AP
    assert m["tta"] == "none" and set(m["open_set"]) == {"score", "calibration"}  # no unknown test images
    assert m["test_images"] == 24 and m["classes"] == ["real", "seed0", "seed1"]
    assert m["chance"] == pytest.approx(1 / 3)
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (3, 3) and cm.sum(1).tolist() == [8, 8, 8]
    table = pd.read_csv(tmp_path / "pred.csv", dtype={"key": str})
    cols = ["store", "key", "source", "label", "predicted", "score_real", "score_seed0", "score_seed1", "tta"]
    assert list(table.columns) == [*cols, "rejected"]
    conf = table[["score_real", "score_seed0", "score_seed1"]].max(axis=1)
    assert table.rejected.tolist() == (conf < m["open_set"]["calibration"]["threshold"]).tolist()
    test = split.part("test")
    assert table.store.tolist() == test.store.tolist() and table.key.tolist() == test.key.tolist()
    assert table.label.tolist() == test.label.tolist()
    scores = table[["score_real", "score_seed0", "score_seed1"]].to_numpy()
    assert scores.sum(axis=1) == pytest.approx(np.ones(24), abs=1e-5)
    assert table.predicted.tolist() == [["real", "seed0", "seed1"][i] for i in scores.argmax(1)]
    ok = table.label == table.predicted
    assert m["accuracy"] == pytest.approx(ok.mean()) == pytest.approx(np.trace(cm) / 24)
    assert m["per_source_accuracy"] == pytest.approx(ok.groupby(table.source).mean().to_dict())
    # batch size and workers change nothing
    m2 = evaluate_attribution(split, trained["out"] / "model.pt", tmp_path / "p2.csv", batch_size=24, workers=2)
    assert m2 == m and (tmp_path / "p2.csv").read_bytes() == (tmp_path / "pred.csv").read_bytes()


def test_evaluate_attribution_hand_checked(stores, trained, tmp_path, monkeypatch):
    split = SplitManifest.from_frame(build_split(_closed_set(stores), {"train": 1, "test": 2}))
    labels = [0, 0, 1, 1, 2, 2]
    pred = [0, 1, 1, 1, 2, 0]
    seen = []

    def fake_predict(method, images, device, tta, tta_vote):
        assert images.dtype.is_floating_point is False and tuple(images.shape[1:]) == (3, 32, 32)
        assert (tta, tta_vote) == ("none", "majority")
        start = sum(seen)
        seen.append(len(images))
        scores = np.full((len(images), 3), 0.1, dtype=np.float32)
        scores[np.arange(len(images)), pred[start : start + len(images)]] = 0.8
        return scores, np.asarray(pred[start : start + len(images)])

    monkeypatch.setattr(evaluate_module, "predict", fake_predict)
    m = evaluate_attribution(split, trained["out"] / "model.pt", tmp_path / "pred.csv", batch_size=4)
    assert seen == [4, 2]
    assert split.part("test").y.tolist() == labels
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["per_class_accuracy"] == pytest.approx({"real": 0.5, "seed0": 1.0, "seed1": 0.5})
    # F1: real P=1/2 R=1/2 → 1/2; seed0 P=2/3 R=1 → 4/5; seed1 P=1 R=1/2 → 2/3
    assert m["macro_f1"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert m["per_source_accuracy"] == pytest.approx({"gan/s0": 1.0, "gan/s1": 0.5, "real/skimage": 0.5})
    assert m["chance"] == pytest.approx(1 / 3) and m["test_images"] == 6
    r, s0, s1 = stores["real"], stores["s0"], stores["s1"]
    # no val part and the checkpoint's calibration used: 0.8 >= its threshold, nothing rejected
    assert m["open_set"]["calibration"]["threshold"] <= 0.8
    assert (tmp_path / "pred.csv").read_text() == (
        "store,key,source,label,predicted,score_real,score_seed0,score_seed1,tta,rejected\n"
        f"{r},00000028,real/skimage,real,real,0.8,0.1,0.1,none,False\n"
        f"{r},00000029,real/skimage,real,seed0,0.1,0.8,0.1,none,False\n"
        f"{s0},00000022,gan/s0,seed0,seed0,0.1,0.8,0.1,none,False\n"
        f"{s0},00000023,gan/s0,seed0,seed0,0.1,0.8,0.1,none,False\n"
        f"{s1},00000022,gan/s1,seed1,seed1,0.1,0.1,0.8,none,False\n"
        f"{s1},00000023,gan/s1,seed1,real,0.8,0.1,0.1,none,False\n"
    )


def test_evaluate_refuses_other_classes(stores, trained, tmp_path):
    classes = {"real": [("real/skimage", stores["real"])], "dcgan": [("gan/s0", stores["s0"])]}
    split = SplitManifest.from_frame(build_split(classes, {"train": 2, "test": 2}))
    with pytest.raises(StageError) as e:
        evaluate_attribution(split, trained["out"] / "model.pt", tmp_path / "pred.csv", batch_size=4)
    assert str(e.value) == (
        f"{trained['out'] / 'model.pt'}: trained on classes ['real', 'seed0', 'seed1'], but the protocol's test "
        "split has ['dcgan', 'real']; retrain the classifier (train_classifier) for this protocol"
    )
    assert not (tmp_path / "pred.csv").exists()


def test_a_stale_split_is_detected_by_sha1(split, trained, tmp_path):
    rows = split.rows.copy()
    rows.loc[rows.index[-1], "sha1"] = hashlib.sha1(b"another image").hexdigest()
    stale = SplitManifest.from_frame(rows)
    with pytest.raises(StoreError, match=r"image 00000023 does not match its sha1 in the split manifest"):
        evaluate_attribution(stale, trained["out"] / "model.pt", tmp_path / "pred.csv", batch_size=4)
    assert not (tmp_path / "pred.csv").exists()
    m = evaluate_attribution(stale, trained["out"] / "model.pt", tmp_path / "pred.csv", batch_size=4, verify_sha1=False)
    assert m["test_images"] == 24


def test_predict_scores_are_softmax(trained):
    import torch

    from ganprint.attribution.methods import method_from_checkpoint

    method = method_from_checkpoint(load_checkpoint(trained["out"] / "model.pt", "attribution_classifier"))
    images = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (5, 3, 32, 32), dtype=np.uint8))
    a, pa = evaluate_module.predict(method, images, "cpu")
    b = np.concatenate(
        [evaluate_module.predict(method, images[:2], "cpu")[0], evaluate_module.predict(method, images[2:], "cpu")[0]]
    )
    assert a.shape == (5, 3) and a.dtype == np.float32
    assert a.sum(1) == pytest.approx(np.ones(5), abs=1e-6)
    assert pa.tolist() == a.argmax(1).tolist()
    np.testing.assert_allclose(a, b, atol=1e-6)
    # the softmax of the network's logits on the same [-1, 1] input
    logits = method.net(images.float() / 127.5 - 1.0)
    np.testing.assert_allclose(a, torch.softmax(logits, 1).detach().numpy(), atol=1e-6)


# -- the classifier learns: two visibly different sources --------------------------------------------------


def _texture_store(path: Path, kind: str, n: int, seed: int) -> str:
    """``noise``: bright high-frequency noise; ``smooth``: dark smooth gradients (32 px)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, 32, dtype=np.float32)
    with ImageStoreWriter(path / "images.lmdb", path / "manifest.csv") as w:
        for _ in range(n):
            if kind == "noise":
                img = rng.integers(128, 256, (32, 32, 3), dtype=np.uint8)
            else:
                a, b = rng.uniform(0, 1, 2)
                g = 20 + 60 * (a * ramp[None, :, None] + b * ramp[:, None, None]) * rng.uniform(0.5, 1, 3)
                img = np.clip(g, 0, 255).astype(np.uint8)
            w.add(img)
    return str(path / "images.lmdb")


def test_classifier_separates_two_visibly_different_sources(tmp_path):
    a = _texture_store(tmp_path / "a", "noise", 200, 0)
    b = _texture_store(tmp_path / "b", "smooth", 200, 1)
    split = SplitManifest.from_frame(
        build_split({"noise": [("a", a)], "smooth": [("b", b)]}, {"train": 150, "test": 50})
    )
    # 5 epochs (~0.3 s): with seeds 0-5 every test image then gets >= 0.75 on its class; 2 epochs left
    # some seeds at the decision boundary.
    cfg = SimpleNamespace(epochs=5, batch_size=16, seed=0)
    method = PostpoolHps(fmap_base=16, fmap_max=16, lr=1e-3, beta1=0.0, beta2=0.99, hflip=True)
    metrics = train_classifier(split, cfg, method, "postpool", tmp_path / "model.pt")
    assert metrics["train_images"] == 300 and metrics["steps"] == 5 * (300 // 16)
    m = evaluate_attribution(split, tmp_path / "model.pt", tmp_path / "pred.csv", batch_size=50)
    assert m["test_images"] == 100
    assert m["accuracy"] > 0.9, m
