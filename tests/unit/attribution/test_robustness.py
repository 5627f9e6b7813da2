"""Robustness (PAPERS §1.6): attacked training data, immunisation by fine-tuning, attacked-test curves; AP."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/unit: the synthetic-source helpers
from attr_synth import CLASSES, tensors, write_store  # noqa: E402

from ganprint import perturb  # noqa: E402
from ganprint.attribution import evaluate as evaluate_module  # noqa: E402
from ganprint.attribution.evaluate import evaluate_attribution, positive_class  # noqa: E402
from ganprint.attribution.methods import TensorTrainData, build_method, method_from_checkpoint  # noqa: E402
from ganprint.attribution.robustness import (  # noqa: E402
    CURVE_COLUMNS,
    IMMUNIZABLE,
    PerturbedTrainData,
    epoch_image_rng,
    evaluate_robustness,
    immunize,
    immunize_classifier,
)
from ganprint.attribution.splits import SplitManifest, build_split  # noqa: E402
from ganprint.attribution.train import train_classifier  # noqa: E402
from ganprint.checkpoint import load_checkpoint  # noqa: E402
from ganprint.errors import StageError  # noqa: E402
from ganprint.registry import METHODS  # noqa: E402
from ganprint.train.common import StatsWriter  # noqa: E402

RES = 16
POSTPOOL = METHODS["postpool"].hparams(fmap_base=16, fmap_max=16, lr=3e-3)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def base() -> TensorTrainData:
    return TensorTrainData(*tensors(20, RES, 0))  # 60 images, 3 classes


def _epochs(loader, n: int) -> list[torch.Tensor]:
    return [torch.cat([b[0] for b in loader]) for _ in range(n)]


# -- PerturbedTrainData --------------------------------------------------------------------------------------


def test_perturbed_data_depends_only_on_seed_epoch_and_row(base):
    data = PerturbedTrainData(base, "jpeg", seed=3, p=0.5)
    assert len(data) == 60 and data.resolution == RES and list(data.labels) == list(base.labels)
    a0, a1 = _epochs(data.loader(7, False, 0), 2)
    b0, b1 = _epochs(data.loader(60, False, 0), 2)  # another batch size: the same images
    assert torch.equal(a0, b0) and torch.equal(a1, b1)
    assert not torch.equal(a0, a1)  # each epoch attacks anew
    assert torch.equal(_epochs(PerturbedTrainData(base, "jpeg", seed=3, p=0.5).loader(16, False, 0), 1)[0], a0)
    assert not torch.equal(_epochs(PerturbedTrainData(base, "jpeg", seed=4, p=0.5).loader(16, False, 0), 1)[0], a0)
    # shuffled: the base loader's order, and row i still gets the attack of (seed, epoch, i)
    shuffled = data.indexed_loader(16, True, 5)
    plain = base.indexed_loader(16, True, 5)
    for ref in (a0, a1):  # epochs 0 and 1
        for (x, y, idx), (_, by, bidx) in zip(shuffled, plain, strict=True):
            assert torch.equal(idx, bidx) and torch.equal(y, by)
            assert torch.equal(x, ref[idx])
    xs = [b for b in data.loader(16, True, 5)]  # loader(): (images, labels) in the same order
    assert len(xs) == 4 and len(xs[0]) == 2 and torch.equal(xs[0][1], next(iter(base.loader(16, True, 5)))[1])


def test_about_p_of_the_images_are_attacked(base):
    for p, lo, hi in ((0.0, 0, 0), (0.5, 0.42, 0.58), (1.0, 1, 1)):
        data = PerturbedTrainData(base, "noise", seed=0, p=p)
        loader = data.loader(32, False, 0)
        epochs = _epochs(loader, 10)
        changed = sum(int((e != base.images).flatten(1).any(1).sum()) for e in epochs)
        assert loader.seen == 600 and changed == loader.attacked  # noise σ >= 5 changes every image
        assert lo <= loader.attacked / 600 <= hi


def test_jpeg_is_applied_at_the_sampled_quality(base):
    data = PerturbedTrainData(base, "jpeg", seed=1, p=1.0)
    out = _epochs(data.loader(60, False, 0), 1)[0]
    qualities = []
    for i in range(len(base)):
        img = base.images[i].permute(1, 2, 0).numpy()
        rng = epoch_image_rng(1, 0, i)
        assert rng.random() < 1.0
        q = int(rng.integers(10, 76))  # perturb.sample's draw after the coin
        qualities.append(q)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=q)  # Pillow defaults: 4:2:0, baseline
        expected = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        got = out[i].permute(1, 2, 0).numpy()
        assert np.array_equal(got, expected) and not np.array_equal(got, img)
        assert data.perturb_image(img, 0, i)[1] == [perturb.Perturbation.make("jpeg", quality=q)]
    assert min(qualities) >= 10 and max(qualities) <= 75 and len(set(qualities)) > 20


def test_unknown_kind_and_p_are_refused(base):
    with pytest.raises(ValueError, match="unknown perturbation kind 'fog'"):
        PerturbedTrainData(base, "fog", seed=0)
    with pytest.raises(ValueError, match="p must be in"):
        PerturbedTrainData(base, "jpeg", seed=0, p=1.5)


# -- immunize ------------------------------------------------------------------------------------------------


def _cfg(epochs: int, seed: int = 0) -> SimpleNamespace:
    return SimpleNamespace(epochs=epochs, batch_size=16, seed=seed)


def _stats() -> StatsWriter:
    return StatsWriter(None, 0, "test")


def test_immunize_continues_from_the_trained_network(base):
    torch.manual_seed(0)
    m = build_method("postpool", POSTPOOL, CLASSES, RES)
    m.fit(base, None, _cfg(2), _stats())
    before = {k: v.clone() for k, v in m.net.state_dict().items()}
    out = immunize(m, base, None, "blur", _cfg(0), _stats())  # no step: nothing may change (no re-initialisation)
    assert out["method"] == "postpool" and out["immunization"] == "fine-tuned" and out["steps"] == 0
    assert all(torch.equal(before[k], v) for k, v in m.net.state_dict().items())
    out = immunize(m, base, None, "blur", _cfg(1), _stats(), p=0.5)
    assert out["steps"] == 3 and out["perturbation"] == "blur" and out["p"] == 0.5
    assert not torch.equal(before["head.weight"], m.net.state_dict()["head.weight"])


def test_immunize_refits_knn_on_the_perturbed_images(base):
    m = build_method("knn", None, CLASSES, RES)
    m.fit(base, None, _cfg(1), _stats())
    clean = m.train_x.clone()
    out = immunize(m, base, None, "noise", _cfg(1), _stats(), p=1.0)
    assert out["immunization"] == "refitted" and out["train_vectors"] == 60
    attacked = _epochs(PerturbedTrainData(base, "noise", seed=0, p=1.0).loader(16, False, 0), 1)[0]
    assert torch.equal(m.train_x, m.features(attacked.float() / 127.5 - 1.0))
    assert not torch.equal(m.train_x, clean)


@pytest.mark.parametrize("name", ["visnet", "classmodel", "dnadet"])
def test_methods_that_train_from_scratch_are_refused(name):
    m = build_method(name, None, ["gan", "real"], RES)
    with pytest.raises(StageError) as e:
        immunize(m, None, None, "jpeg", _cfg(1), _stats())
    assert str(e.value) == (
        f"immunize: {name} cannot be immunized, its fit trains a new network from scratch; "
        "methods that can: postpool, gandct, knn, prnu"
    )
    assert IMMUNIZABLE == ("postpool", "gandct", "knn", "prnu")


# -- the stage functions on a store-backed split -------------------------------------------------------------


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> SplitManifest:
    root = tmp_path_factory.mktemp("robust")
    sources = {c: [(f"gan/{c}", write_store(root / c, c, 90, RES, 17 * i))] for i, c in enumerate(CLASSES)}
    return SplitManifest.from_frame(build_split(sources, {"train": 60, "test": 30}))


@pytest.fixture(scope="module")
def models(split, tmp_path_factory) -> dict[str, Path]:
    """A postpool model and the same model immunised against crop + resize (fixed seeds)."""
    out = tmp_path_factory.mktemp("models")
    train_classifier(split, _cfg(10), POSTPOOL, "postpool", out / "plain.pt", protocol="p")
    result = immunize_classifier(split, _cfg(5), out / "plain.pt", "crop", out / "crop.pt", protocol="p")
    assert result["train_images"] == 180 and result["steps"] == 5 * 11 and result["perturbation"] == "crop"
    return {"plain": out / "plain.pt", "crop": out / "crop.pt"}


def test_immunized_checkpoint(split, models, tmp_path):
    plain = load_checkpoint(models["plain"], "attribution_classifier")
    ckpt = load_checkpoint(models["crop"], "attribution_classifier")
    assert ckpt["model_name"] == "postpool" and ckpt["classes"] == CLASSES and ckpt["protocol"] == "p"
    assert ckpt["hparams"] == plain["hparams"] and ckpt["calibration"] is None
    assert ckpt["immunized"] == {"perturbation": "crop", "p": 0.5, "epochs": 5, "batch_size": 16, "seed": 0}
    assert method_from_checkpoint(ckpt).classes == CLASSES
    # same inputs and seed: the same bytes, whatever the loader workers (same file name: torch.save names the
    # archive inside the file after it)
    again = tmp_path / "again" / "crop.pt"
    immunize_classifier(split, _cfg(5), models["plain"], "crop", again, protocol="p", workers=2)
    assert again.read_bytes() == models["crop"].read_bytes()


def test_evaluate_robustness_curve_and_immunization(split, models, tmp_path):
    metrics, table = evaluate_robustness(split, models["plain"], models["crop"], "crop", batch_size=7, seed=0)
    points = perturb.curve("crop")
    assert list(metrics) == ["perturbation", "curve", "random", "classes", "test_images"]
    assert metrics["perturbation"] == "crop" and metrics["classes"] == CLASSES and metrics["test_images"] == 90
    assert [r["level"] for r in metrics["curve"]] == list(range(len(points)))
    assert [r["strength"] for r in metrics["curve"]] == [
        "identity",
        "crop:fraction=0.05,random=0,filter=bicubic",
        "crop:fraction=0.1,random=0,filter=bicubic",
        "crop:fraction=0.15,random=0,filter=bicubic",
        "crop:fraction=0.2,random=0,filter=bicubic",
    ]
    assert all(list(r) == list(CURVE_COLUMNS) for r in metrics["curve"])
    assert list(metrics["random"]) == [*CURVE_COLUMNS[2:], "what"]
    assert "perturb.image_rng(0, i)" in metrics["random"]["what"]
    # the CSV table: the curve, then the random row at level len(curve)
    assert list(table.columns) == list(CURVE_COLUMNS) and len(table) == len(points) + 1
    assert table.iloc[-1]["level"] == len(points) and table.iloc[-1]["strength"] == "random"
    pd.testing.assert_frame_equal(table.iloc[:-1], pd.DataFrame(metrics["curve"]))
    assert table.iloc[-1][list(CURVE_COLUMNS[2:])].to_dict() == {c: metrics["random"][c] for c in CURVE_COLUMNS[2:]}
    # level 0 = the clean test accuracy of evaluate_attribution (no TTA), for both models
    for name, col in (("plain", "plain"), ("crop", "immunized")):
        clean = evaluate_attribution(split, models[name], tmp_path / f"{name}.csv", batch_size=30)
        assert metrics["curve"][0][f"accuracy_{col}"] == clean["accuracy"]
        assert metrics["curve"][0][f"macro_f1_{col}"] == clean["macro_f1"]
    # the immunised model resists the strongest crop and random crops; the plain one does not
    strong = metrics["curve"][-1]
    assert metrics["curve"][0]["accuracy_plain"] > 0.95
    assert strong["accuracy_immunized"] > strong["accuracy_plain"] + 0.2, metrics
    assert metrics["random"]["accuracy_immunized"] > metrics["random"]["accuracy_plain"] + 0.2, metrics
    # another batch size and loader workers: the same attacked images, the same numbers
    again, table2 = evaluate_robustness(
        split, models["plain"], models["crop"], "crop", batch_size=90, seed=0, workers=2
    )
    assert again == metrics
    pd.testing.assert_frame_equal(table2, table)


def test_evaluate_robustness_refuses_other_classes(split, models, tmp_path):
    two = SplitManifest.from_frame(split.rows[split.rows["label"] != "smooth"])
    with pytest.raises(StageError, match="trained on classes"):
        evaluate_robustness(two, models["plain"], models["crop"], "crop", batch_size=8)


# -- AP of binary protocols ------------------------------------------------------------------------------------


def test_positive_class():
    assert positive_class(["dcgan", "real"]) == 0
    assert positive_class(["real", "sngan"]) == 1
    assert positive_class(["a", "b"]) == 1


def test_ap_of_a_binary_protocol_hand_checked(split, tmp_path, monkeypatch):
    rows = split.rows[split.rows["label"] != "smooth"]
    rows = rows.assign(label=rows["label"].astype(str).replace({"noise": "real"}))  # classes: periodic, real
    two = SplitManifest.from_frame(rows)
    assert two.classes == ("periodic", "real")
    train_classifier(two, _cfg(1), POSTPOOL, "postpool", tmp_path / "two.pt")
    y = two.part("test")["y"].to_numpy()
    assert (y == 0).sum() == (y == 1).sum() == 30  # 'periodic' (label 0) is the positive class
    pos = np.linspace(0.5, 0.9, 30)
    pos[[0, 1]] = 0.05, 0.04  # two periodic images ranked below every real one (no ties)
    neg = np.full(30, 0.1)
    neg[0] = 0.95  # one real image ranked first
    fake_score = np.empty(60)
    fake_score[y == 0], fake_score[y == 1] = pos, neg

    def fake_predict(method, images, device, tta, tta_vote):
        start = sum(seen)
        seen.append(len(images))
        s = fake_score[start : start + len(images)]
        scores = np.stack([s, 1 - s], 1).astype(np.float32)
        return scores, scores.argmax(1)

    seen: list[int] = []
    monkeypatch.setattr(evaluate_module, "predict", fake_predict)
    m = evaluate_attribution(two, tmp_path / "two.pt", tmp_path / "pred.csv", batch_size=16)
    # ranking: 1 real, 28 periodic, 29 real, 2 periodic. AP = mean over the 30 positives of the precision at
    # their rank: positives 1..28 at ranks 2..29 (precision j / (j + 1)), positives 29, 30 at ranks 59, 60.
    expected = (sum(j / (j + 1) for j in range(1, 29)) + 29 / 59 + 30 / 60) / 30
    assert m["ap"] == pytest.approx(expected, abs=1e-6)
    assert "class_modelling" not in m


def test_ap_is_null_for_more_classes(split, models, tmp_path):
    m = evaluate_attribution(split, models["plain"], tmp_path / "pred.csv", batch_size=30)
    assert m["ap"] is None and len(m["classes"]) == 3


def test_evaluate_attribution_merges_the_methods_extra_metrics(split, tmp_path):
    rows = split.rows.assign(source=split.rows["source"].astype(str).replace({"gan/smooth": "real/smooth"}))
    with_real = SplitManifest.from_frame(rows)
    train_classifier(with_real, _cfg(3), None, "classmodel", tmp_path / "cm.pt")
    m = evaluate_attribution(with_real, tmp_path / "cm.pt", tmp_path / "pred.csv", batch_size=30)
    cm = m["class_modelling"]
    assert cm["detection"]["real_class"] == "smooth" and list(cm["one_vs_rest"]) == ["noise", "periodic"]
    assert all(0 <= v <= 1 for v in (cm["detection"]["accuracy"], cm["detection"]["ap"], cm["detection"]["auroc"]))
    assert m["ap"] is None
