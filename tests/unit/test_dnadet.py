"""DNA-Det (PAPERS §4.1–4.3): network, SupCon, uncertainty weighting, prediction, transformation pre-training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganprint import perturb as P
from ganprint.attribution.dnadet_pretrain import (
    TransformPairs,
    load_pretrained,
    paper_transform_classes,
    pretrain_dnadet,
    to_input,
    transform_accuracy,
    transform_classes,
)
from ganprint.checkpoint import CheckpointError
from ganprint.hparams import DNADetHps
from ganprint.nets.dnadet import (
    DNADetNet,
    UncertaintyWeights,
    dnadet_step,
    grid_patches,
    load_backbone,
    predict_image,
    random_patches,
    supcon_loss,
)


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """64 crops of 32×32 from four scikit-image photographs (3× subsampled 96×96 windows)."""
    from skimage import data

    srcs = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    rng = np.random.default_rng(0)
    out = []
    for i in range(64):
        p = srcs[i % 4]
        t, left = rng.integers(0, p.shape[0] - 96), rng.integers(0, p.shape[1] - 96)
        out.append(p[t : t + 96 : 3, left : left + 96 : 3])
    return np.stack(out)


@pytest.fixture
def one_thread():
    """Small nets run faster on one thread than on two contended ones (the machine is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def easy_cfg(**kw) -> DNADetHps:
    """Three easy classes (identity, strong blur, strong noise) on 16² patches of 32² images, a narrow net."""
    base = dict(
        width=8,
        proj_dim=16,
        patch_size=16,
        patches_per_image=4,
        pretrain_steps=200,
        pretrain_batch_size=12,
        pretrain_lr=3e-3,
        pt_jpeg_qualities=[],
        pt_double_jpeg_q1=[],
        pt_double_jpeg_q2=[],
        pt_blur_sigmas=[2.0],
        pt_median_sizes=[],
        pt_resize_scales=[],
        pt_noise_sigmas=[25.0],
    )
    return DNADetHps(**{**base, **kw})


# --- network -------------------------------------------------------------------------------------------
def test_shapes_and_paper_size():
    torch.manual_seed(0)
    m = DNADetNet(5, width=4, proj_dim=8)
    x = torch.rand(3, 3, 32, 48) * 2 - 1
    assert m(x).shape == (3, 5)
    logits, z = m.forward_train(x)
    assert logits.shape == (3, 5) and z.shape == (3, 8)
    assert torch.allclose(z.norm(dim=1), torch.ones(3))
    assert m.features(x).shape == (3, 32) and m.backbone(x).shape == (3, 32, 2, 3)
    assert m.cam_layer().kernel_size == (3, 3) and m.cam_layer().out_channels == 32
    paper = DNADetNet(5)  # nf 64: the reference Simple_CNN (backbone + 512→5 head) has 5.90 M parameters (§4.1)
    n = sum(p.numel() for p in [*paper.backbone.parameters(), *paper.classifier.parameters()])
    assert round(n / 1e6, 2) == 5.90
    assert [mod.out_channels for mod in paper.backbone.modules() if isinstance(mod, torch.nn.Conv2d)] == [
        64, 64, 128, 128, 256, 256, 512, 512,
    ]  # fmt: skip
    assert DNADetNet(**m.model_args()).model_args() == m.model_args()


def test_random_patches_are_windows_of_their_image():
    x = torch.arange(2 * 3 * 12 * 10, dtype=torch.float32).reshape(2, 3, 12, 10)
    p = random_patches(x, 4, 5, torch.Generator().manual_seed(0))
    assert p.shape == (2, 5, 3, 4, 4)
    for i in range(2):
        for k in range(5):
            flat = int(p[i, k, 0, 0, 0].item()) - i * 360  # value encodes (row, col) of the top-left pixel
            t, left = divmod(flat, 10)
            assert torch.equal(p[i, k], x[i, :, t : t + 4, left : left + 4])
    again = random_patches(x, 4, 5, torch.Generator().manual_seed(0))
    assert torch.equal(p, again)
    with pytest.raises(ValueError, match="patch size"):
        random_patches(x, 11, 1, torch.Generator())


def test_grid_patches():
    x = torch.arange(1 * 1 * 4 * 6, dtype=torch.float32).reshape(1, 1, 4, 6)
    g = grid_patches(x, 2)
    assert g.shape == (1, 6, 1, 2, 2)
    assert torch.equal(g[0, 4, 0], x[0, 0, 2:4, 2:4]) and torch.equal(g[0, 2, 0], x[0, 0, 0:2, 4:6])


# --- losses --------------------------------------------------------------------------------------------
def _supcon_direct(z: torch.Tensor, y: list[int], tau: float) -> float:
    """Khosla et al. Eq. 2 by loops over anchors, positives and the denominator."""
    n, total, anchors = len(y), 0.0, 0
    for i in range(n):
        pos = [p for p in range(n) if p != i and y[p] == y[i]]
        if not pos:
            continue
        denom = sum(math.exp(float(z[i] @ z[a]) / tau) for a in range(n) if a != i)
        total += -sum(math.log(math.exp(float(z[i] @ z[p]) / tau) / denom) for p in pos) / len(pos)
        anchors += 1
    return total / anchors


def test_supcon_known_answer_and_clustering():
    ang = torch.tensor([0.0, 0.3, 2.0, 2.4])
    z = torch.stack([ang.cos(), ang.sin()], 1)  # 4 unit vectors: two tight pairs
    clustered = supcon_loss(z[:, None], torch.tensor([0, 0, 1, 1]), tau=0.5)
    assert clustered.item() == pytest.approx(_supcon_direct(z, [0, 0, 1, 1], 0.5), rel=1e-6)
    shuffled = supcon_loss(z[:, None], torch.tensor([0, 1, 0, 1]), tau=0.5)
    assert shuffled.item() == pytest.approx(_supcon_direct(z, [0, 1, 0, 1], 0.5), rel=1e-6)
    assert clustered < shuffled
    # two views per sample: (B=2, V=2) is the same as 4 single-view samples with the labels repeated per view
    two_views = supcon_loss(torch.stack([z[[0, 2]], z[[1, 3]]], 1), torch.tensor([0, 1]), tau=0.3)
    assert two_views.item() == pytest.approx(_supcon_direct(z[[0, 2, 1, 3]], [0, 1, 0, 1], 0.3), rel=1e-5)
    # an anchor without positives is left out (the reference gives NaN)
    lone = supcon_loss(z[:3, None], torch.tensor([0, 0, 1]), tau=0.5)
    assert lone.item() == pytest.approx(_supcon_direct(z[:3], [0, 0, 1], 0.5), rel=1e-6)


def test_uncertainty_weights_formula_and_gradients(photos, one_thread):
    w = UncertaintyWeights(2)
    with torch.no_grad():
        w.log_vars.copy_(torch.tensor([0.5, -1.0]))
    a, b = torch.tensor(2.0), torch.tensor(3.0)
    assert w(a, b).item() == pytest.approx(math.exp(-0.5) * 2 + 0.5 + math.exp(1.0) * 3 - 1.0, rel=1e-6)
    torch.manual_seed(0)
    model, weights = DNADetNet(3, width=4, proj_dim=8), UncertaintyWeights(2)
    x = to_input(photos[:6], 1, "cpu")
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    loss, logs = dnadet_step(
        model, x, y, weights, patch_size=16, patches_per_image=3, generator=torch.Generator().manual_seed(0)
    )
    loss.backward()
    assert loss.item() == pytest.approx(logs["ce"] + logs["con"], rel=1e-5)  # s = 0 at the start
    # dL/ds_i = 1 - exp(-s_i) L_i = 1 - L_i at s = 0
    assert weights.log_vars.grad.tolist() == pytest.approx([1 - logs["ce"], 1 - logs["con"]], rel=1e-4)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.projection.parameters())
    ce_only, logs2 = dnadet_step(
        model, x, y, None, patch_size=16, patches_per_image=3, generator=torch.Generator().manual_seed(0),
        contrastive=False,
    )  # fmt: skip
    assert ce_only.item() == pytest.approx(logs2["ce"]) and "con" not in logs2


# --- prediction: one softmax ---------------------------------------------------------------------------
def test_predict_image_applies_softmax_once(one_thread):
    torch.manual_seed(0)
    m = DNADetNet(3, width=4, proj_dim=8)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    with torch.no_grad():  # BatchNorm running statistics of the data (a fresh net in eval mode is near-constant)
        for _ in range(30):
            m(grid_patches(x, 16).reshape(16, 3, 16, 16))
    m.eval()
    whole = predict_image(m, x, "whole")
    assert torch.allclose(whole.sum(1), torch.ones(4)) and torch.allclose(whole, m(x).softmax(1))
    patches = predict_image(m, x, "patches", patch_size=16)
    grid = grid_patches(x, 16).reshape(16, 3, 16, 16)
    mean_logits = m(grid).reshape(4, 4, 3).mean(1)
    assert torch.allclose(patches, mean_logits.softmax(1), atol=1e-6)  # softmax of the MEAN LOGITS
    assert not torch.allclose(patches, m(grid).softmax(1).reshape(4, 4, 3).mean(1), atol=1e-6)
    with torch.no_grad():  # confident logits: one softmax reaches ~1; a double softmax of K=3 caps at 0.576
        m.classifier[1].weight.mul_(1e4)
    assert predict_image(m, x).max().item() > 0.99


# --- pre-training ---------------------------------------------------------------------------------------
def test_paper_class_set_is_the_references_170():
    classes = paper_transform_classes()
    assert len(classes) == 170 and len(set(classes)) == 170
    kinds = [c.kind for c in classes]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "jpeg": 24, "double_jpeg": 24, "blur": 14, "median": 14, "resize": 80, "noise": 14,
    }  # fmt: skip
    assert str(classes[0]) == "jpeg:quality=30" and str(classes[23]) == "jpeg:quality=99"
    assert classes[24].kwargs == {"q1": 30, "q2": 39} and classes[-1].kwargs["sigma"] == pytest.approx(7.0)
    assert classes[48].kwargs == {"sigma": pytest.approx(0.8), "kernel_size": 3}
    assert transform_classes(DNADetHps(pretrain_class_set="paper")) == classes


def test_custom_class_set_and_hparams_validation():
    classes = [str(c) for c in transform_classes(DNADetHps())]
    assert len(classes) == 14 and classes[0] == "identity" and "resize:scale=0.5,interpolation=nearest" in classes
    assert [str(c) for c in transform_classes(easy_cfg())] == [
        "identity",
        "blur:sigma=2,kernel_size=0",
        "noise:sigma=25",
    ]
    with pytest.raises(ValueError, match="pair index by index"):
        DNADetHps(pt_double_jpeg_q1=[90, 80])
    with pytest.raises(ValueError, match="unknown key 'patchsize'.*did you mean 'patch_size'"):
        DNADetHps.model_validate({"patchsize": 8})


def test_transform_pairs_are_a_function_of_seed_and_index(photos):
    classes = transform_classes(easy_cfg())
    a = TransformPairs(photos, classes, seed=3)
    imgs, labels = a.batch(5, 6)
    assert labels.tolist() == [2, 0, 1, 2, 0, 1] and imgs.shape == (6, 32, 32, 3) and imgs.dtype == np.uint8
    again, _ = TransformPairs(list(photos), classes, seed=3).batch(7, 2)
    assert np.array_equal(again, imgs[2:4])  # item i does not depend on the batch it is drawn in
    other, _ = TransformPairs(photos, classes, seed=4).batch(5, 6)
    assert not np.array_equal(other, imgs)
    cropped, _ = TransformPairs(photos, classes, seed=3, crop=16).batch(0, 2)
    assert cropped.shape == (2, 16, 16, 3)
    assert to_input(photos[:2], 2, "cpu").shape == (2, 3, 64, 64)


def test_pretraining_beats_chance_and_checkpoints(photos, tmp_path, one_thread):
    cfg = easy_cfg()
    model, info = pretrain_dnadet(photos, cfg, tmp_path / "pre.pt", seed=0)
    classes = transform_classes(cfg)
    # held-out draws (another seed): chance is 1/3
    acc_whole = transform_accuracy(model, photos, classes, seed=123, n=60, cfg=cfg)
    acc_patches = transform_accuracy(model, photos, classes, 123, 60, cfg.model_copy(update={"predict": "patches"}))
    assert acc_whole >= 0.75 and acc_patches >= 0.75, (acc_whole, acc_patches)
    assert info["steps"] == 200 and info["final_loss"] < 0.5
    ck = load_pretrained(tmp_path / "pre.pt")
    assert ck["classes"] == [str(c) for c in classes] and ck["hparams"]["width"] == 8 and ck["seed"] == 0
    fresh = DNADetNet(5, width=8, proj_dim=16)
    loaded = load_backbone(fresh, ck["state_dict"])
    assert not any(k.startswith("classifier.") for k in loaded)
    assert torch.equal(fresh.backbone[0][0].weight, model.backbone[0][0].weight)
    assert torch.equal(fresh.projection[2].weight, model.projection[2].weight)
    with pytest.raises(ValueError, match="same width"):
        load_backbone(DNADetNet(5, width=4, proj_dim=16), ck["state_dict"])
    with pytest.raises(CheckpointError, match="expected a attribution_classifier"):
        from ganprint.checkpoint import load_checkpoint

        load_checkpoint(tmp_path / "pre.pt", "attribution_classifier")


def test_pretraining_is_byte_deterministic(photos, tmp_path, one_thread):
    cfg = easy_cfg(pretrain_steps=4, pretrain_contrastive=True)
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):  # same file name: torch.save writes it into the archive
        pretrain_dnadet(photos[:16], cfg, tmp_path / name / "pre.pt", seed=seed)
    a, b, c = ((tmp_path / n / "pre.pt").read_bytes() for n in "abc")
    assert a == b and a != c


# --- the attribution-method wrapper ---------------------------------------------------------------------
class _Data:
    """A TrainData over in-memory uint8 (N, 3, H, W) images (seeded shuffles, a new order per pass)."""

    def __init__(self, images: torch.Tensor, labels: np.ndarray):
        self.images, self.labels, self.sources = images, labels, [str(y) for y in labels]

    def __len__(self) -> int:
        return len(self.labels)

    def loader(self, batch_size, shuffle, seed, *, drop_last=False):
        gen = torch.Generator().manual_seed(seed)
        data = self

        class _L:
            def __iter__(self):
                n = len(data)
                order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
                stop = n - n % batch_size if drop_last else n
                for b in range(0, stop, batch_size):
                    idx = order[b : b + batch_size]
                    yield data.images[idx], torch.from_numpy(data.labels[idx.numpy()])

        return _L()


def test_dnadet_method_fits_scores_and_round_trips_its_state(photos, tmp_path, one_thread):
    import io
    from types import SimpleNamespace

    from ganprint.attribution.methods.dnadet import DNADetMethod
    from ganprint.train.common import StatsWriter

    # three "sources" that differ by a low-level trace: untouched, blurred, noisy
    specs = ["identity", "blur:sigma=2", "noise:sigma=25"]
    rng = np.random.default_rng(0)
    imgs = np.stack([P.apply(im, specs[i % 3], rng) for i, im in enumerate(photos)])
    labels = np.arange(64) % 3
    as_t = torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous()
    train = _Data(as_t[:48], labels[:48])
    hps = easy_cfg(pretrain_steps=20, lr=3e-3, pretrain_max_images=32)
    method = DNADetMethod(hps, ["a", "b", "c"], 32)
    stats = StatsWriter(tmp_path / "stats.jsonl", 0, "test")
    out = method.fit(train, None, SimpleNamespace(epochs=50, batch_size=12, seed=0), stats)
    assert out["steps"] == 200 == stats.total and out["pretrain"]["source"] == "fit"
    assert out["pretrain"]["images"] == 32
    x = as_t[48:].float() / 127.5 - 1
    s = method.scores(x)
    assert s.shape == (16, 3) and torch.allclose(s.sum(1), torch.ones(16))
    acc = (s.argmax(1).numpy() == labels[48:]).mean()
    assert acc >= 0.625, acc  # chance 1/3: P(>= 10 of 16 right by chance) < 0.01; seeds 0-3 give 0.75-0.875
    assert method.features(x).shape == (16, 64) and method.cam_layer() is method.net.backbone[-1][0]
    buf = io.BytesIO()
    torch.save(method.state(), buf)
    again = DNADetMethod(hps, ["a", "b", "c"], 32)
    again.load_state(torch.load(io.BytesIO(buf.getvalue()), weights_only=True))
    assert torch.equal(again.scores(x), s)
    with pytest.raises(ValueError, match="sorted"):
        DNADetMethod(hps, ["b", "a"], 32)


def test_dnadet_method_loads_a_pretrained_checkpoint(photos, tmp_path, one_thread):
    from types import SimpleNamespace

    from ganprint.attribution.methods.dnadet import DNADetMethod
    from ganprint.train.common import StatsWriter

    hps = easy_cfg(pretrain_steps=3)
    pre, _ = pretrain_dnadet(photos[:16], hps, tmp_path / "pre.pt", seed=0)
    method = DNADetMethod(hps, ["a", "b"], 32)
    method.pretrained_path = tmp_path / "pre.pt"
    train = _Data(torch.from_numpy(photos[:8]).permute(0, 3, 1, 2).contiguous(), np.arange(8) % 2)
    out = method.fit(train, None, SimpleNamespace(epochs=0, batch_size=4, seed=0), StatsWriter(None, 0, "t"))
    assert out["steps"] == 0 and out["pretrain"]["source"] == str(tmp_path / "pre.pt")
    assert torch.equal(method.net.backbone[2][0].weight, pre.backbone[2][0].weight)
