"""Grad-CAM / CAM heat-maps and the t-SNE figure (ganprint.report.interpret) for any attribution method."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _attr_synth import TrainCfg, make_data, one_thread, to_float
from PIL import Image
from torch import nn

from ganprint.attribution.methods.classmodel import ClassModelMethod
from ganprint.errors import StageError
from ganprint.hparams import ClassModelHps
from ganprint.report import interpret
from ganprint.train.common import StatsWriter

RES = 16
SPEC = {"checker": "checker", "real": "real", "stripes": "stripes"}

_one_thread = pytest.fixture(scope="module", autouse=True)(one_thread)


class LinearToy:
    """score_k(x) = <A, w_k> with A = the hooked layer's output = x: Grad-CAM has a closed form."""

    classes = ["a", "b"]

    def __init__(self, w: torch.Tensor):
        self.layer = nn.Identity()
        self.w = w  # (K, 3, H, W)

    def cam_layer(self):
        return self.layer

    def scores(self, x):
        return torch.einsum("nchw,kchw->nk", self.layer(x), self.w)


def test_grad_cam_known_answer():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(2, 3, 4, 4, generator=g)
    x = torch.randn(3, 3, 4, 4, generator=g)
    heat = interpret.grad_cam(LinearToy(w), x, 1)
    # α_c = mean_hw ∂score_1/∂A_c = mean_hw w_1c; cam = ReLU(Σ_c α_c x_c), min-max scaled per image
    alpha = w[1].mean((1, 2))
    cam = F.relu((alpha[None, :, None, None] * x).sum(1))
    lo, hi = cam.flatten(1).min(1).values, cam.flatten(1).max(1).values
    expected = (cam - lo[:, None, None]) / (hi - lo)[:, None, None]
    torch.testing.assert_close(heat, expected)
    assert interpret.grad_cam(LinearToy(w), x, torch.tensor([1, 1, 1])).equal(heat)


def test_grad_cam_needs_a_layer():
    toy = LinearToy(torch.ones(2, 3, 4, 4))
    toy.cam_layer = lambda: None
    with pytest.raises(StageError, match="no convolutional layer"):
        interpret.grad_cam(toy, torch.zeros(1, 3, 4, 4), 0)


@pytest.fixture(scope="module")
def trained():
    train = make_data(SPEC, 32, RES, seed=0)
    m = ClassModelMethod(ClassModelHps(patience=0), sorted(SPEC), RES, "cpu")
    m.fit(train, None, TrainCfg(epochs=6, batch_size=16, seed=0), StatsWriter(None, 0, "x"))
    test = make_data(SPEC, 6, RES, seed=1)
    return m, to_float(test.images), test.labels


def test_grad_cam_of_a_trained_method(trained):
    m, x, y = trained
    heat = interpret.grad_cam(m, x, y)
    assert heat.shape == (len(x), RES, RES)
    assert heat.min() >= 0 and heat.max() <= 1
    # a map spans [0, 1] exactly, or is all 0 where the layer has no positive evidence (ReLU of Grad-CAM)
    peak = heat.amax((1, 2))
    assert ((peak == 1) | (peak == 0)).all() and (peak == 1).float().mean() >= 0.5
    assert (heat[peak == 1].amin((1, 2)) == 0).all()  # not constant
    assert not any(p.grad is not None for p in m.detector.parameters())  # no side effects on the model


def test_plain_cam_matches_the_pooled_layer_times_the_dense_weights(trained):
    m, x, _ = trained
    k = m.classes.index("checker")
    heat = interpret.class_activation_map(m, x, k)
    with torch.no_grad():
        feats = m.heads["checker"](m.detector(x)[1])[1]  # (N, 32, R/8, R/8), pooled into the head's Dense(1)
        cam = F.relu(torch.einsum("nchw,c->nhw", feats, m.heads["checker"].decision.fc.weight[0]))
    cam = F.interpolate(cam[:, None], size=(RES, RES), mode="bilinear", align_corners=False)[:, 0]
    lo, hi = cam.flatten(1).min(1).values[:, None, None], cam.flatten(1).max(1).values[:, None, None]
    expected = torch.where(hi > lo, (cam - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(cam))
    torch.testing.assert_close(heat, expected)
    assert heat.shape == (len(x), RES, RES) and heat.min() >= 0 and heat.max() <= 1


@pytest.mark.parametrize("kind", ["cam", "gradcam"])
def test_cam_grids_one_png_per_class(trained, tmp_path, kind):
    m, x, y = trained
    paths = interpret.save_cam_grids(m, x, y, tmp_path, kind=kind, per_class=4)
    assert sorted(paths) == sorted(SPEC)
    for cls, path in paths.items():
        assert path == tmp_path / f"cam_{cls}.png"
        img = Image.open(path)
        # 2 rows (images, heat-maps) × 4 images of 16 px with 2 px padding
        assert img.size == (4 * (RES + 2) + 2, 2 * (RES + 2) + 2)
        arr = np.asarray(img)
        assert not np.array_equal(arr[2 : 2 + RES, 2 : 2 + RES], arr[RES + 4 : 2 * RES + 4, 2 : 2 + RES])


def test_tsne_figure(trained, tmp_path):
    m, x, y = trained
    out = tmp_path / "tsne.png"
    emb = interpret.save_tsne(m, x, y, out, random_state=0)
    assert emb.shape == (len(x), 2) and np.isfinite(emb).all()
    assert out.stat().st_size > 0 and Image.open(out).size == (500, 500)
    again = interpret.save_tsne(m, x, y, tmp_path / "again.png", random_state=0)
    np.testing.assert_array_equal(again, emb)  # fixed random_state
    # perplexity is clipped for tiny N (sklearn refuses perplexity >= N)
    assert interpret.tsne_embedding(np.random.default_rng(0).normal(size=(5, 8)), perplexity=30).shape == (5, 2)


def test_grad_cam_of_visnet_reads_its_latent():
    from ganprint.attribution.methods.visnet import VisNetMethod
    from ganprint.hparams import VisNetHps

    m = VisNetMethod(VisNetHps(fmap_base=32, fmap_max=16, adv_weight=0.0), ["a", "b"], RES, "cpu")
    x = to_float(make_data({"a": "checker", "b": "stripes"}, 2, RES, seed=0).images)
    heat = interpret.grad_cam(m, x, 0)
    assert heat.shape == (4, RES, RES) and heat.min() >= 0 and heat.max() <= 1
    assert m.cam_layer() is m.ema.encoder.body[-2]


@pytest.mark.parametrize("method", ["postpool", "gandct", "visnet", "classmodel", "dnadet"])
def test_grad_cam_of_every_neural_method(method):
    """Every method with a conv layer explains itself: the heatmaps have the image's shape, lie in [0, 1] and
    are not all zero (a method whose scores run under no_grad must offer differentiable ``logits``)."""
    from ganprint.attribution.methods import build_method
    from ganprint.attribution.methods.base import TensorTrainData

    torch.manual_seed(0)  # dropout / init draws of methods that use the global generator: order-independent
    mem = make_data(SPEC, 8, RES, seed=4)
    data = TensorTrainData(mem.images, mem.labels, mem.sources)
    m = build_method(method, None, sorted(SPEC), RES, "cpu")
    if method == "dnadet":
        m.hps = m.hps.model_copy(update={"pretrain": False, "patch_size": 16, "patches_per_image": 2})
    m.fit(data, None, TrainCfg(epochs=1, batch_size=8, seed=0), StatsWriter(None, 100, method))
    x = to_float(data.images[:6])
    cams = [interpret.grad_cam(m, x, k) for k in range(len(SPEC))]  # one heatmap per class score
    assert all(c.shape == (6, RES, RES) and c.min() >= 0.0 and c.max() <= 1.0 for c in cams)
    # gradients reach the layer: some class's map is not all zero (a briefly trained net can have a class whose
    # Grad-CAM is all negative before the ReLU; a broken graph gives zeros, or an error, for every class)
    assert max(float(c.max()) for c in cams) > 0.0
    if hasattr(m, "logits") and method == "dnadet":
        torch.testing.assert_close(m.logits(x).softmax(1), m.scores(x))
