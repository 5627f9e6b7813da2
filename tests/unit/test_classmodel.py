"""Generator_Attribution class-modelling (PAPERS §3.2): networks, fit on synthetic sources, adding a source."""

from __future__ import annotations

import pytest
import torch
from _attr_synth import MemoryTrainData, TrainCfg, make_data, make_images, one_thread, to_float

from ganprint.attribution.methods.classmodel import ClassModelMethod, derived_seed
from ganprint.errors import StageError
from ganprint.hparams import ClassModelHps
from ganprint.nets.classmodel import ClassModelDetector, ClassModelHead
from ganprint.train.common import StatsWriter

RES = 16
SPEC = {"checker": "checker", "real": "real", "stripes": "stripes"}  # sorted: checker 0, real 1, stripes 2
HPS = ClassModelHps(patience=0)
CFG = TrainCfg(epochs=10, batch_size=16, seed=0)

_one_thread = pytest.fixture(scope="module", autouse=True)(one_thread)


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_module_sizes_and_shapes():
    det, head = ClassModelDetector(128), ClassModelHead(128)
    # PAPERS §3.2: "about 27k" + "about 21k" (PyTorch counts no BN running statistics; Keras 27,261 / 21,345)
    assert n_params(det) == 27_053 and n_params(head) == 21_217
    convs = [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0]) for m in det.modules()
             if isinstance(m, torch.nn.Conv2d)]  # fmt: skip
    assert convs == [(3, 3, 3, 1), (3, 8, 4, 2), (8, 16, 3, 1), (16, 16, 4, 2), (16, 32, 3, 1), (32, 32, 4, 2)]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in det.modules()) == 5  # every conv but the first
    logit, mid, feats = ClassModelDetector(32)(torch.zeros(2, 3, 32, 32))
    assert logit.shape == (2,) and mid.shape == (2, 16, 8, 8) and feats.shape == (2, 32, 4, 4)
    hl, hf = ClassModelHead(32)(mid)
    assert hl.shape == (2,) and hf.shape == (2, 32, 4, 4)
    # the DCT variant: one input channel, flatten head
    d = ClassModelDetector(32, in_channels=1, head="flatten")
    assert d.decision.fc.in_features == 32 * 4 * 4 and d(torch.zeros(2, 1, 32, 32))[0].shape == (2,)


def test_derived_seeds_depend_on_seed_and_name_only():
    assert derived_seed(0, "head:a") == derived_seed(0, "head:a")
    assert len({derived_seed(0, "head:a"), derived_seed(1, "head:a"), derived_seed(0, "head:b")}) == 3
    assert 0 <= derived_seed(5, "detector") < 2**63


@pytest.fixture(scope="module")
def data():
    return make_data(SPEC, 48, RES, seed=0), make_data(SPEC, 32, RES, seed=1)


@pytest.fixture(scope="module")
def trained(data):
    train, _ = data
    m = ClassModelMethod(HPS, sorted(SPEC), RES, "cpu")
    stats = StatsWriter(None, 0, "classmodel")
    out = m.fit(train, None, CFG, stats)
    return m, out, stats


def test_detector_scores_the_real_class_and_heads_the_others(trained):
    m, out, stats = trained
    assert m.detector_class == "real" and sorted(m.heads) == ["checker", "stripes"]
    assert not any(p.requires_grad for p in m.detector.parameters())  # frozen after fit
    assert out["steps"] == 3 * 10 * 9  # detector + 2 heads, 10 epochs of 9 batches each
    assert {"loss_det", "loss_checker", "loss_stripes"} <= {k for r in stats.rows for k in r}


def test_separates_three_sources(trained, data):
    m, _, _ = trained
    _, test = data
    x = to_float(test.images)
    with torch.no_grad():
        s = m.scores(x)
        assert s.shape == (len(x), 3) and ((s >= 0) & (s <= 1)).all()
        torch.testing.assert_close(s[:, 1], 1 - m.detect(x))  # real = 1 - P(fake)
        det_acc = ((m.detect(x) > 0.5) == (test.labels != 1)).float().mean().item()
    acc = (s.argmax(1) == test.labels).float().mean().item()
    assert acc > 0.9 and det_acc > 0.9
    assert m.features(x[:4]).shape == (4, 32 * 3)


def test_class_modelling_metrics(trained, data):
    """extra_metrics: detection (real vs fake) and one-vs-rest per head, hand-checked against the module outputs."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    m, _, _ = trained
    _, test = data
    out = m.extra_metrics(test, batch_size=10)
    assert list(out) == ["class_modelling"]
    cm = out["class_modelling"]
    assert list(cm) == ["detection", "one_vs_rest"]
    det = cm["detection"]
    assert list(det) == ["real_class", "accuracy", "ap", "auroc"] and det["real_class"] == "real"
    y = test.labels.numpy()
    with torch.no_grad():
        x = to_float(test.images)
        p_fake = m.detect(x).numpy()
        scores = m.scores(x).numpy()
    is_fake = y != 1
    assert det["accuracy"] == pytest.approx(((p_fake > 0.5) == is_fake).mean()) and det["accuracy"] > 0.9
    assert det["ap"] == pytest.approx(average_precision_score(is_fake, p_fake), abs=1e-6) and det["ap"] > 0.9
    assert det["auroc"] == pytest.approx(roc_auc_score(is_fake, p_fake), abs=1e-6) and det["auroc"] > 0.9
    assert list(cm["one_vs_rest"]) == ["checker", "stripes"]  # the classes with a head
    for c, k in (("checker", 0), ("stripes", 2)):
        r = cm["one_vs_rest"][c]
        assert list(r) == ["accuracy", "ap"]
        assert r["accuracy"] == pytest.approx(((scores[:, k] > 0.5) == (y == k)).mean()) and r["accuracy"] > 0.9
        assert r["ap"] == pytest.approx(average_precision_score(y == k, scores[:, k]), abs=1e-6)
        assert 0.9 < r["ap"] <= 1.0
    # AP and AUROC need both outcomes: only fake images → null
    keep = y != 1
    sources = [s for s, k in zip(test.sources, keep, strict=True) if k]
    fakes = MemoryTrainData(test.images[keep], test.labels[keep], sources)
    only = m.extra_metrics(fakes, batch_size=10)["class_modelling"]["detection"]
    assert only["ap"] is None and only["auroc"] is None and 0 <= only["accuracy"] <= 1


def test_adding_a_source_trains_only_its_head(trained, data):
    m0, _, _ = trained
    _, test = data
    m = ClassModelMethod(HPS, sorted(SPEC), RES, "cpu")
    m.load_state(m0.state())
    fixed = torch.cat([to_float(test.images), to_float(make_images("diag", 16, RES, seed=77))])
    with torch.no_grad():
        before = m.scores(fixed)
    det_before = {k: v.clone() for k, v in m.detector.state_dict().items()}
    # the new source's owner trains its head on its own images against real ones and a sample of other sources'
    # (against real images alone a one-vs-rest head learns "fake", not "diag")
    classes = sorted([*SPEC, "diag"])  # checker, diag, real, stripes
    parts = [("diag", 48, "gan/diag"), ("real", 32, "real/r"), ("checker", 16, "gan/checker"),
             ("stripes", 16, "gan/stripes")]  # fmt: skip
    new = MemoryTrainData(
        torch.cat([make_images(p, n, RES, seed=5 + i) for i, (p, n, _) in enumerate(parts)]),
        [classes.index(p) for p, n, _ in parts for _ in range(n)],
        [s for _, n, s in parts for _ in range(n)],
    )
    out = m.extend(new, ["diag"], CFG, StatsWriter(None, 0, "extend"))
    assert m.classes == classes and out["steps"] == 10 * 7
    with torch.no_grad():
        after = m.scores(fixed)
    for k, c in enumerate(sorted(SPEC)):  # byte-identical outputs of the detector and the old heads
        assert torch.equal(after[:, classes.index(c)], before[:, k])
    assert all(torch.equal(v, det_before[k]) for k, v in m.detector.state_dict().items())
    # the new head recognises its source among the test images of all four
    p_diag = after[:, classes.index("diag")]
    is_diag = torch.arange(len(fixed)) >= len(test)
    assert ((p_diag > 0.5) == is_diag).float().mean().item() > 0.9
    # the new head is reproducible: same seed ⇒ the same weights
    m2 = ClassModelMethod(HPS, sorted(SPEC), RES, "cpu")
    m2.load_state(m0.state())
    m2.extend(new, ["diag"], CFG, StatsWriter(None, 0, "extend"))
    assert all(torch.equal(v, m2.heads["diag"].state_dict()[k]) for k, v in m.heads["diag"].state_dict().items())


def test_extend_refuses_bad_requests(trained):
    m0, _, _ = trained
    m = ClassModelMethod(HPS, sorted(SPEC), RES, "cpu")
    m.load_state(m0.state())
    only_new = MemoryTrainData(make_images("diag", 8, RES, seed=1), [1] * 8, ["gan/diag"] * 8)
    with pytest.raises(StageError, match="needs images of it and of other sources"):
        m.extend(only_new, ["diag"], CFG, StatsWriter(None, 0, "x"))
    with pytest.raises(StageError, match="already known"):
        m.extend(only_new, ["checker"], CFG, StatsWriter(None, 0, "x"))
    fresh = ClassModelMethod(HPS, sorted(SPEC), RES, "cpu")
    with pytest.raises(StageError, match="not trained"):
        fresh.extend(only_new, ["diag"], CFG, StatsWriter(None, 0, "x"))


def test_fit_needs_a_real_class():
    fakes = make_data({"a": "checker", "b": "stripes"}, 4, RES, seed=0)
    with pytest.raises(StageError, match="no class of this protocol has only real"):
        ClassModelMethod(HPS, ["a", "b"], RES, "cpu").fit(fakes, None, CFG, StatsWriter(None, 0, "x"))


def test_state_round_trip_through_a_weights_only_checkpoint(trained, data, tmp_path):
    m, _, _ = trained
    _, test = data
    torch.save(m.state(), tmp_path / "s.pt")
    other = ClassModelMethod(HPS, sorted(SPEC), RES, "cpu")
    other.load_state(torch.load(tmp_path / "s.pt", weights_only=True))
    x = to_float(test.images[:6])
    with torch.no_grad():
        assert torch.equal(other.scores(x), m.scores(x))


def test_early_stopping_keeps_the_best_validation_weights(data):
    train, _ = data
    val = make_data(SPEC, 8, RES, seed=3)
    m = ClassModelMethod(ClassModelHps(patience=2), sorted(SPEC), RES, "cpu")
    out = m.fit(train, val, TrainCfg(epochs=3, batch_size=16, seed=0), StatsWriter(None, 0, "es"))
    for mod in out["modules"].values():
        assert mod["epochs"] <= 3 and "best_val_loss" in mod
    # the detector that was kept has the best validation loss seen
    assert m._val_loss(lambda x: m.detector(x)[0], torch.tensor([1.0, 0.0, 1.0]), val, 16) == pytest.approx(
        out["modules"]["detector"]["best_val_loss"], rel=1e-6
    )


def test_dct_input_separates_the_sources(data, tmp_path):
    """input: dct (Generator_Attribution's DCT models): the grey log-DCT, standardised with the training set's
    statistics, into a 1-channel detector with flatten heads; it separates the synthetic sources, and the
    statistics travel in the state. The flatten head has 16x the GAP head's inputs: on the 48 images per class of
    the pixel tests it fits the training set and reaches ~0.7 on the test set; 128 per class (6 epochs) ~0.95."""
    from ganprint.attribution.inputs import InputTransform

    _, test = data
    train = make_data(SPEC, 128, RES, seed=0)
    m = ClassModelMethod(ClassModelHps(input="dct", patience=0), sorted(SPEC), RES, "cpu")
    assert m.detector.model_args()["in_channels"] == 1 and m.head_kind == "flatten"
    m.fit(train, None, TrainCfg(epochs=6, batch_size=16, seed=0), StatsWriter(None, 0, "dct"))
    ref = InputTransform("dct")
    ref.fit(train)
    assert torch.equal(m.transform.mean, ref.mean) and torch.equal(m.transform.std, ref.std)
    x = to_float(test.images)
    with torch.no_grad():
        s = m.scores(x)
    acc = (s.argmax(1) == test.labels).float().mean().item()
    assert acc > 0.9, acc
    assert m.cam_linear(0) is None  # no GAP with the flatten head: Grad-CAM explains it
    torch.save(m.state(), tmp_path / "s.pt")
    other = ClassModelMethod(ClassModelHps(input="dct", patience=0), sorted(SPEC), RES, "cpu")
    other.load_state(torch.load(tmp_path / "s.pt", weights_only=True))
    with torch.no_grad():
        assert torch.equal(other.scores(x), s)
    # without its statistics the DCT model cannot score: the transform refuses instead of guessing
    bare = ClassModelMethod(ClassModelHps(input="dct", patience=0), sorted(SPEC), RES, "cpu")
    with pytest.raises(RuntimeError, match="no statistics"):
        bare.scores(x[:2])
