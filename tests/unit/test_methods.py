"""Attribution methods (postpool, gandct, knn, prnu), the log-DCT input, TTA voting and open-set rejection."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.fft
import torch
from attr_synth import CLASSES, tensors, write_store

from ganprint.attribution.evaluate import evaluate_attribution
from ganprint.attribution.inputs import InputTransform, grey, log_dct
from ganprint.attribution.methods import TensorTrainData, build_method, method_from_checkpoint
from ganprint.attribution.openset import calibrate, open_set_metrics
from ganprint.attribution.splits import SplitManifest, build_split
from ganprint.attribution.train import train_classifier
from ganprint.attribution.tta import combine, transforms, tta_scores
from ganprint.checkpoint import load_checkpoint
from ganprint.errors import StageError
from ganprint.nets.gandct import GanDCTConv
from ganprint.registry import METHODS
from ganprint.train.common import StatsWriter

RES = 16
# per method: hyperparameters and epochs that separate the three synthetic sources in well under a second
SETUPS = {
    "knn": ({}, 1),
    "prnu": ({}, 1),
    "gandct": ({}, 5),
    "postpool": ({"fmap_base": 16, "fmap_max": 16, "lr": 3e-3}, 10),
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: the tiny nets are faster so, and the machine's cores are shared."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def data():
    return tensors(60, RES, 0), tensors(30, RES, 1)


def _fit(name, train, epochs=None, **over):
    hps_over, default_epochs = SETUPS[name]
    torch.manual_seed(0)
    m = build_method(name, METHODS[name].hparams(**(hps_over | over)), CLASSES, RES)
    cfg = SimpleNamespace(epochs=epochs or default_epochs, batch_size=16, seed=0)
    result = m.fit(TensorTrainData(*train), None, cfg, StatsWriter(None, 1, name))
    return m, result


def _x(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 127.5 - 1.0


# -- the log-DCT input ---------------------------------------------------------------------------------------


def test_dct_of_a_constant_grey_image_is_only_dc():
    v = 0.25
    c = log_dct(torch.full((2, 3, RES, RES), v))
    assert c.shape == (2, 1, RES, RES) and c.dtype == torch.float32
    # orthonormal DCT-II: DC = mean · R (sum / sqrt(R·R)); every other coefficient 0 → log(1e-12)
    assert c[0, 0, 0, 0].item() == pytest.approx(np.log(v * RES), rel=1e-6)
    rest = c[0, 0].flatten()[1:]
    assert torch.allclose(rest, torch.full_like(rest, np.log(1e-12)), rtol=1e-5)


def test_dct_equals_the_explicit_orthonormal_basis():
    x = torch.rand(1, 3, 8, 8) * 2 - 1
    n = np.arange(8)
    basis = np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / 16) * np.sqrt(2 / 8)
    basis[0] /= np.sqrt(2)  # D[k, n]: orthonormal DCT-II matrix
    g = grey(x.double())[0, 0].numpy()
    assert g == pytest.approx(0.299 * x[0, 0].numpy() + 0.587 * x[0, 1].numpy() + 0.114 * x[0, 2].numpy(), abs=1e-6)
    expected = np.log(np.abs(basis @ g @ basis.T) + 1e-12)
    np.testing.assert_allclose(log_dct(x)[0, 0].numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(basis @ basis.T, np.eye(8), atol=1e-12)
    np.testing.assert_allclose(scipy.fft.dctn(g, norm="ortho"), basis @ g @ basis.T, atol=1e-12)


def test_dct_transform_standardises_with_training_statistics(data):
    (xtr, ytr), _ = data
    t = InputTransform("dct")
    t.fit(TensorTrainData(xtr, ytr), batch_size=7)  # streamed in odd batches: the same statistics
    z = t(_x(xtr))
    assert z.shape == (len(xtr), 1, RES, RES)
    assert z.mean(0).abs().max().item() < 1e-4
    assert z.std(0, unbiased=False).sub(1).abs().max().item() < 1e-3
    assert t.mean.shape == (1, RES, RES) and t.std.shape == (1, RES, RES)
    u = InputTransform("dct")
    u.load_state(t.state())
    assert torch.equal(u(_x(xtr[:4])), t(_x(xtr[:4])))
    assert torch.equal(InputTransform("pixel")(_x(xtr[:4])), _x(xtr[:4]))
    with pytest.raises(ValueError, match="input must be one of"):
        InputTransform("fft")


def test_input_switch_sets_the_network_input():
    pp = build_method("postpool", METHODS["postpool"].hparams(input="dct", fmap_base=16, fmap_max=16), CLASSES, RES)
    assert pp.input == "dct" and pp.net.body[0].in_channels == 1
    gd = build_method("gandct", METHODS["gandct"].hparams(input="pixel"), CLASSES, RES)
    assert gd.input == "pixel" and gd.net.body[0].in_channels == 3
    assert build_method("gandct", None, CLASSES, RES).net.body[0].in_channels == 1  # paper default: dct


def test_gandct_network_layers():
    net = GanDCTConv(128, 1, in_channels=1)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1, 3, (3, 3)), (3, 8, (3, 3)), (8, 16, (3, 3)), (16, 32, (3, 3)),
    ]  # fmt: skip
    assert net.head.in_features == 32 * 32 * 32
    assert (
        sum(p.numel() for p in net.parameters()) == 30 + 224 + 1_168 + 4_640 + 32_769
    )  # 38.8k: "about 39k" (PAPERS §3.2), 1 output
    assert all(m.bias.abs().sum() == 0 for m in convs)
    assert net(torch.zeros(2, 1, 128, 128)).shape == (2, 1)


# -- every method separates the sources --------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SETUPS))
def test_method_separates_three_sources(name, data):
    train, (xte, yte) = data
    m, result = _fit(name, train)
    s = m.scores(_x(xte))
    assert s.shape == (len(xte), 3)
    if m.softmax:
        assert torch.allclose(s.sum(1), torch.ones(len(xte)), atol=1e-5)
    acc = (s.argmax(1).numpy() == yte).mean()
    assert acc > 0.9, (name, acc, result)
    assert torch.equal(m.predict(_x(xte)), s.argmax(1))
    assert m.features(_x(xte[:5])).shape[0] == 5


@pytest.mark.parametrize("name", list(SETUPS))
def test_state_round_trips_through_a_weights_only_checkpoint(name, data):
    train, (xte, _) = data
    m, _ = _fit(name, train, epochs=1)
    buf = io.BytesIO()
    torch.save({"state": m.state()}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)["state"]
    fresh = build_method(name, m.hps, CLASSES, RES)
    fresh.load_state(state)
    assert torch.equal(fresh.scores(_x(xte)), m.scores(_x(xte)))
    assert (m.cam_layer() is None) == (name in ("knn", "prnu"))


def test_neural_fit_is_deterministic(data):
    train, (xte, _) = data
    a, ra = _fit("gandct", train, epochs=2)
    b, rb = _fit("gandct", train, epochs=2)
    assert ra == rb and ra["steps"] == 2 * (180 // 16)
    assert all(torch.equal(a.state()["net"][k], b.state()["net"][k]) for k in a.state()["net"])


def test_prnu_scores_are_correlations(data):
    train, (xte, yte) = data
    m, _ = _fit("prnu", train, scores="correlation")
    s = m.scores(_x(xte))
    assert s.min() >= -1 and s.max() <= 1
    own = s[torch.arange(len(yte)), torch.from_numpy(yte)]
    assert own[: 2 * 30].min() > 0.5  # noise and periodic images correlate strongly with their own fingerprint
    assert m.fingerprint_images().shape == (3, RES, RES)


def test_knn_downscale_and_k(data):
    train, (xte, yte) = data
    m, result = _fit("knn", train, k=3, downscale=2)
    assert result["feature_dim"] == 3 * 8 * 8 and result["train_vectors"] == 180
    s = m.scores(_x(xte))
    assert set(np.unique(s.numpy() * 3).round(4)) <= {0.0, 1.0, 2.0, 3.0}  # fractions of 3 neighbours
    with pytest.raises(ValueError, match="downscale 3 must divide"):
        build_method("knn", METHODS["knn"].hparams(downscale=3), CLASSES, RES)


# -- TTA -------------------------------------------------------------------------------------------------------


def test_tta_identity_only_is_no_tta(data):
    train, (xte, _) = data
    m, _ = _fit("gandct", train, epochs=1)
    x = _x(xte)
    pred, scores = tta_scores(m.scores, x, "none", "majority")
    assert torch.equal(scores, m.scores(x)) and torch.equal(pred, m.scores(x).argmax(1))
    assert len(transforms("none")) == 1 and torch.equal(transforms("none")[0](x), x)


def test_tta_transforms_are_the_dihedral_group():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    for mode, n in (("flips", 4), ("rot_flips", 8)):
        outs = [t(x) for t in transforms(mode)]
        assert len(outs) == n and torch.equal(outs[0], x)
        assert len({tuple(o.flatten().tolist()) for o in outs}) == n  # all distinct
        assert all(sorted(o.flatten().tolist()) == list(range(16)) for o in outs)  # permutations of the pixels


def test_majority_vote_known_answers():
    stack = torch.tensor(
        [
            [[0.6, 0.4, 0.0], [0.5, 0.3, 0.2], [0.1, 0.2, 0.7]],
            [[0.6, 0.4, 0.0], [0.2, 0.5, 0.3], [0.4, 0.5, 0.1]],
            [[0.1, 0.9, 0.0], [0.2, 0.3, 0.5], [0.3, 0.6, 0.1]],
            [[0.1, 0.9, 0.0], [0.0, 0.1, 0.9], [0.1, 0.1, 0.8]],
        ]
    )  # (T=4, N=3, K=3)
    pred, scores = combine(stack, "majority")
    # image 0: 2 votes class 0, 2 votes class 1 → tie, mean scores 0.35 vs 0.65 → class 1
    # image 1: votes 0, 1, 2, 2 → class 2 (mean score of class 0 is not the winner's business)
    # image 2: votes 2, 1, 1, 2 → tie of 1 and 2; means 0.35 vs 0.425 → class 2
    assert pred.tolist() == [1, 2, 2]
    assert torch.allclose(scores, stack.mean(0))
    mpred, _ = combine(stack, "mean")
    assert mpred.tolist() == stack.mean(0).argmax(1).tolist() == [1, 2, 2]
    one = torch.tensor([[[0.9, 0.1]], [[0.4, 0.6]], [[0.45, 0.55]]])  # votes 0, 1, 1 but mean favours 0
    assert combine(one, "majority")[0].tolist() == [1] and combine(one, "mean")[0].tolist() == [0]


# -- open set ---------------------------------------------------------------------------------------------------


def test_calibrate_known_answer():
    conf = np.array([0.9, 0.2, 0.8, 0.7, 0.95, 0.6, 0.5, 0.99, 0.85, 0.3])
    c = calibrate(conf, 0.8)  # keep 8 of 10: threshold = the 8th largest = 0.5
    assert c["threshold"] == 0.5 and c["tpr_val"] == 0.8 and c["val_images"] == 10
    assert calibrate(conf, 1.0)["threshold"] == 0.2
    assert calibrate(conf, 0.05)["threshold"] == 0.99
    m = open_set_metrics(np.array([0.9, 0.8, 0.4, 0.3]), np.array([0, 1, 1, 0]), np.array([0, 0, -1, -1]), 0.5)
    assert m["auroc"] == 1.0 and m["known_tpr"] == 1.0 and m["unknown_tnr"] == 1.0
    assert m["accuracy_with_rejection"] == 0.75  # the second known image is accepted but misattributed


@pytest.fixture(scope="module")
def open_split(tmp_path_factory):
    root = tmp_path_factory.mktemp("openset")
    stores = {k: write_store(root / k, k, 40, RES, 10 + i) for i, k in enumerate([*CLASSES, "unknown"])}
    train = {k: [(f"gan/{k}", stores[k])] for k in CLASSES}
    test = train | {"unknown": [("gan/other", stores["unknown"])]}
    df = build_split(train, {"train": 20, "val": 10, "test": 10}, test)
    return SplitManifest.from_frame(df)


@pytest.mark.parametrize("name", ["prnu"])  # gandct's max softmax stays high on the stripes (AUROC 0.42)
def test_open_set_auroc_with_threshold_from_val(open_split, tmp_path, name):
    assert open_split.classes == tuple(CLASSES)
    test = open_split.part("test")
    assert (test.y == -1).sum() == 10 and set(test[test.y == -1].label) == {"unknown"}
    hps_over, epochs = SETUPS[name]
    hps = METHODS[name].hparams(**hps_over)
    cfg = SimpleNamespace(epochs=epochs * 3, batch_size=8, seed=0)
    metrics = train_classifier(open_split, cfg, hps, name, tmp_path / "model.pt", protocol="open")
    cal = metrics["open_set_calibration"]
    assert cal["val_images"] == 30 and cal["tpr_val"] >= 0.95
    ckpt = load_checkpoint(tmp_path / "model.pt", "attribution_classifier")
    assert ckpt["calibration"] == cal and ckpt["model_name"] == name
    m = evaluate_attribution(open_split, tmp_path / "model.pt", tmp_path / "pred.csv", batch_size=16)
    assert m["accuracy"] > 0.9 and m["test_images"] == 30
    o = m["open_set"]
    assert o["calibration"]["threshold"] == pytest.approx(cal["threshold"])  # same val, no TTA: same threshold
    assert o["unknown_images"] == 10 and o["known_images"] == 30
    assert o["auroc"] > 0.97, o
    assert o["accuracy_with_rejection"] > 0.85, o
    # TTA changes the scores, and the threshold is recalibrated on val with the same TTA
    m2 = evaluate_attribution(open_split, tmp_path / "model.pt", tmp_path / "p2.csv", batch_size=16, tta="flips")
    assert m2["tta"] == "flips" and m2["open_set"]["calibration"]["tta"] == "flips"
    assert (tmp_path / "p2.csv").read_text().splitlines()[1].split(",")[-2] == "flips"


def _open_set(split, tmp_path, name, kind, epochs=15, seed=0) -> tuple[dict, dict]:
    torch.manual_seed(0)
    cfg = SimpleNamespace(epochs=epochs, batch_size=8, seed=seed)
    metrics = train_classifier(split, cfg, METHODS[name].hparams(), name, tmp_path / f"{kind}.pt", open_set_score=kind)
    m = evaluate_attribution(split, tmp_path / f"{kind}.pt", tmp_path / f"{kind}.csv", batch_size=16,
                             open_set_score=kind)  # fmt: skip
    return metrics, m


def test_feature_distance_rejects_what_max_softmax_misses(open_split, tmp_path):
    """gandct on the open split: max softmax stays high on the unknown stripes (AUROC 0.42); the distance of
    the features to the nearest training class mean separates them better (0.73 here; training seeds 1, 2:
    0.67 → 0.80, 0.68 → 0.96). The energy score does NOT help here (0.22; seeds 1, 2: 0.26, 0.55): the
    stripes give large logits, so logsumexp ranks them as more known than the known images."""
    msp = _open_set(open_split, tmp_path, "gandct", "msp")[1]
    energy = _open_set(open_split, tmp_path, "gandct", "energy")[1]
    train_metrics, fd = _open_set(open_split, tmp_path, "gandct", "feature_distance")
    for m in (msp, energy, fd):
        assert m["accuracy"] == 1.0  # the same closed-set classifier; only the rejection score differs
    auroc = {k: m["open_set"]["auroc"] for k, m in (("msp", msp), ("energy", energy), ("fd", fd))}
    assert auroc["msp"] == pytest.approx(0.42, abs=0.01), auroc
    assert auroc["fd"] > auroc["msp"] + 0.25, auroc
    assert auroc["energy"] < auroc["msp"], auroc
    assert fd["open_set"]["score"] == "feature_distance"
    cal = fd["open_set"]["calibration"]
    assert cal["kind"] == "feature_distance" and cal["tpr_val"] >= 0.95
    assert train_metrics["open_set_calibration"]["threshold"] == pytest.approx(cal["threshold"])
    ckpt = load_checkpoint(tmp_path / "feature_distance.pt", "attribution_classifier")
    stats = ckpt["open_set_stats"]
    assert stats["mean"].shape[0] == 3 and stats["scale"].shape == stats["mean"].shape[1:]
    assert "open_set_stats" not in load_checkpoint(tmp_path / "msp.pt", "attribution_classifier")


def test_feature_stats_and_scores_known_answer():
    from ganprint.attribution.openset import feature_stats, rejection_scores

    class Ident:
        classes, num_classes, device = ["a", "b"], 2, torch.device("cpu")

        def features(self, x):
            raise NotImplementedError

    x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 4.0], [10.0, 8.0]])
    images = torch.zeros(2, 3, 1, 1)
    batch = (torch.zeros(4, 3, 1, 1, dtype=torch.uint8), torch.tensor([0, 0, 1, 1]))
    data = SimpleNamespace(loader=lambda batch_size, shuffle, seed: [batch])
    feats = Ident()
    feats.features = lambda z: x  # the four feature vectors, whatever the images
    st = feature_stats(feats, data, 4)
    torch.testing.assert_close(st["mean"], torch.tensor([[1.0, 0.0], [10.0, 6.0]]))
    # pooled within-class variance: dim 0 (1 + 1 + 0 + 0) / 4, dim 1 (0 + 0 + 4 + 4) / 4
    torch.testing.assert_close(st["scale"], torch.tensor([0.5, 2.0]).sqrt())
    feats.features = lambda z: torch.tensor([[1.0, 0.0], [1.0, 2.0]])
    got = rejection_scores(feats, images[:2], "feature_distance", st)
    np.testing.assert_allclose(got, [0.0, -(2.0 / 2.0**0.5)], rtol=1e-6)
    with pytest.raises(StageError, match="energy needs a method with logits"):
        rejection_scores(feats, images[:2], "energy")


def test_checkpoint_rebuilds_the_method(open_split, tmp_path):
    hps = METHODS["knn"].hparams(k=1)
    train_classifier(open_split, SimpleNamespace(epochs=1, batch_size=8, seed=0), hps, "knn", tmp_path / "m.pt")
    ckpt = load_checkpoint(tmp_path / "m.pt", "attribution_classifier")
    assert ckpt["hparams"] == {"k": 1, "downscale": 1} and ckpt["resolution"] == RES
    method = method_from_checkpoint(ckpt)
    assert type(method).__name__ == "KNNMethod" and method.classes == CLASSES
    assert method.train_x.shape == (60, 3 * RES * RES)
