"""visNet (Yu et al. 2019, PAPERS §1.5): networks, losses, training on synthetic sources, the fingerprint figure."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from _attr_synth import TrainCfg, make_data, one_thread, to_float
from PIL import Image

from ganprint.attribution.methods.visnet import VisNetMethod
from ganprint.hparams import VisNetHps
from ganprint.nets.layers import EqualizedConv2d
from ganprint.nets.visnet import FingerprintConv, VisNet, VisNetPatchDiscriminator, minibatch_stddev
from ganprint.report import fingerprints_figure as ff
from ganprint.train.common import StatsWriter

RES = 16
TINY = {"fmap_base": 64, "fmap_max": 32, "d_fmap_base": 32, "d_fmap_max": 16}
SPEC = {"a": "checker", "b": "stripes"}

_one_thread = pytest.fixture(scope="module", autouse=True)(one_thread)


def conv_plan(module: torch.nn.Module) -> list[tuple[int, int]]:
    return [(m.in_channels, m.out_channels) for m in module.modules() if isinstance(m, EqualizedConv2d)]


def test_paper_configuration_channel_plan():
    torch.manual_seed(0)
    net = VisNet(128, 5)  # fmap_base 1024, fmap_max 512
    # encoder = C_patch trunk, then two 512 convs at 4×4 (latent_res 4)
    assert conv_plan(net.encoder) == [
        (3, 16), (16, 32), (32, 32), (32, 64), (64, 64), (64, 128),
        (128, 128), (128, 256), (256, 256), (256, 512), (512, 512), (512, 512),
    ]  # fmt: skip
    # decoder: 512, 512 at 4×4, then nf(res-1) = 256, 128, 64, 32, 16 twice per stage, then toRGB
    assert conv_plan(net.decoder) == [
        (512, 512), (512, 512), (512, 256), (256, 256), (256, 128), (128, 128),
        (128, 64), (64, 64), (64, 32), (32, 32), (32, 16), (16, 16), (16, 3),
    ]  # fmt: skip
    ups = [m for m in net.decoder.modules() if isinstance(m, torch.nn.Upsample)]
    assert len(ups) == 5 and all(u.mode == "nearest" for u in ups)
    assert isinstance(list(net.decoder.body)[-1], torch.nn.Tanh)
    with torch.no_grad():
        z = net.encoder(torch.zeros(1, 3, 128, 128))
    assert z.shape == (1, 512, 4, 4)


def test_fingerprint_conv_is_a_bias_free_full_size_linear_layer():
    torch.manual_seed(0)
    net = VisNet(RES, 3, fmap_base=64, fmap_max=32)
    fc = net.fingerprints
    assert isinstance(fc, FingerprintConv)
    assert [n for n, _ in fc.named_parameters()] == ["weight"]  # no bias
    assert fc.weight.shape == (3, 3, RES, RES)  # [K, 3, R, R]: the K model fingerprints
    a, b = torch.randn(2, 3, RES, RES), torch.randn(2, 3, RES, RES)
    assert torch.equal(fc(torch.zeros(2, 3, RES, RES)), torch.zeros(2, 3))
    torch.testing.assert_close(fc(a + 2 * b), fc(a) + 2 * fc(b))
    # gain 1 equalised LR: logits = <fp, w_k> / sqrt(3 R²)
    torch.testing.assert_close(fc(a), torch.einsum("nchw,kchw->nk", a, fc.weight) / (3 * RES * RES) ** 0.5)


def test_forward_shapes_and_fingerprint_is_input_minus_reconstruction():
    torch.manual_seed(0)
    net = VisNet(RES, 2, fmap_base=64, fmap_max=32)
    x = torch.rand(4, 3, RES, RES) * 2 - 1
    rec, fp, logits = net(x)
    assert rec.shape == fp.shape == x.shape and logits.shape == (4, 2)
    assert rec.abs().max() < 1  # tanh
    assert torch.equal(fp, x - rec)


def test_d_rec_and_minibatch_stddev():
    torch.manual_seed(0)
    d = VisNetPatchDiscriminator(RES, fmap_base=32, fmap_max=16, mbstd_group=4)
    assert d(torch.randn(8, 3, RES, RES)).shape == (8,)
    # known answer: groups are strided (image i in group i mod M); std over the group, averaged over C, H, W
    x = torch.zeros(4, 1, 1, 1)
    x[:, 0, 0, 0] = torch.tensor([0.0, 1.0, 2.0, 5.0])  # group size 2 → groups {0, 2} and {1, 5}
    y = minibatch_stddev(x, 2)
    assert y.shape == (4, 2, 1, 1)
    torch.testing.assert_close(y[:, 1, 0, 0], torch.tensor([1.0, 2.0, 1.0, 2.0]), atol=1e-4, rtol=0)


@pytest.fixture(scope="module")
def data():
    return make_data(SPEC, 48, RES, seed=0), make_data(SPEC, 32, RES, seed=1)


@pytest.fixture(scope="module")
def trained(data):
    train, _ = data
    torch.manual_seed(123)  # fit must not depend on the global RNG
    m = VisNetMethod(VisNetHps(**TINY, lr=3e-3), sorted(SPEC), RES, "cpu")
    stats = StatsWriter(None, 0, "visnet")
    out = m.fit(train, None, TrainCfg(epochs=20, batch_size=16, seed=0), stats)
    return m, out, stats


def test_loss_terms_are_finite_and_the_reconstruction_improves(data):
    train, _ = data
    m = VisNetMethod(VisNetHps(**TINY, lr=3e-3), sorted(SPEC), RES, "cpu")
    x, y = to_float(train.images[::4]), train.labels[::4]
    m._build(0)  # the weights fit starts from (seed 0)
    with torch.no_grad():
        before = {k: float(v) for k, v in m.losses(x, y).items() if k != "logits"}
    assert all(np.isfinite(v) for v in before.values()) and before["adv"] != 0.0
    m.fit(train, None, TrainCfg(epochs=8, batch_size=16, seed=0), StatsWriter(None, 0, "visnet"))  # 48 steps
    with torch.no_grad():
        after = {k: float(v) for k, v in m.losses(x, y).items() if k != "logits"}
    assert all(np.isfinite(v) for v in after.values())
    assert after["rec"] < 0.95 * before["rec"]  # 20·L1 falls
    assert after["ce"] < before["ce"]


def test_separates_two_sources(trained, data):
    m, out, stats = trained
    _, test = data
    assert out["steps"] == 20 * 6
    with torch.no_grad():
        s = m.scores(to_float(test.images))
    torch.testing.assert_close(s.sum(1), torch.ones(len(s)))
    acc = (s.argmax(1) == test.labels).float().mean().item()
    assert acc > 0.9
    assert {"loss", "ce", "rec", "adv", "d_loss", "train_acc"} <= set(stats.rows[-1])
    assert m.features(to_float(test.images[:2])).shape == (2, 3 * RES * RES)


def test_same_seed_same_weights_and_state_round_trip(data, tmp_path):
    train, test = data
    cfg = TrainCfg(epochs=1, batch_size=16, seed=7)
    a = VisNetMethod(VisNetHps(**TINY), sorted(SPEC), RES, "cpu")
    b = VisNetMethod(VisNetHps(**TINY), sorted(SPEC), RES, "cpu")
    a.fit(train, None, cfg, StatsWriter(None, 0, "a"))
    torch.manual_seed(999)
    b.fit(train, None, cfg, StatsWriter(None, 0, "b"))
    sa, sb = a.state(), b.state()
    assert sa.keys() == sb.keys() == {"net", "ema", "d_rec", "model_args"}
    for part in ("net", "ema", "d_rec"):
        assert all(torch.equal(sa[part][k], sb[part][k]) for k in sa[part])
    torch.save(sa, tmp_path / "s.pt")
    c = VisNetMethod(VisNetHps(**TINY), sorted(SPEC), RES, "cpu")
    c.load_state(torch.load(tmp_path / "s.pt", weights_only=True))
    x = to_float(test.images[:5])
    with torch.no_grad():
        assert torch.equal(c.scores(x), a.scores(x))
    # the EMA, not the raw network, is what scores evaluates
    assert not torch.equal(sa["ema"]["fingerprints.weight"], sa["net"]["fingerprints.weight"])


def test_adv_weight_zero_drops_d_rec(data):
    m = VisNetMethod(VisNetHps(**TINY, adv_weight=0.0), sorted(SPEC), RES, "cpu")
    assert m.d_rec is None and "d_rec" not in m.state()


# == the fingerprint figure ===========================================================================================


def test_panels_follow_the_reference_ranges():
    kernels = torch.zeros(2, 3, 2, 2)
    kernels[0, :, 0, 0] = -3.0  # the joint minimum
    kernels[1, :, 1, 1] = 1.0  # the joint maximum
    panels = ff.model_fingerprint_panels(kernels)
    assert panels.shape == (2, 2, 2, 3) and panels.dtype == np.uint8
    assert panels[0, 0, 0].tolist() == [0, 0, 0] and panels[1, 1, 1].tolist() == [255, 255, 255]
    assert panels[1, 0, 0, 0] == round(3 / 4 * 255)  # 0 in [-3, 1], normalised jointly over both kernels
    fp = torch.tensor([[[-1.0, 0.0], [1.0, 0.5]]]).repeat(3, 1, 1)
    assert ff.image_fingerprint_panel(fp)[..., 0].tolist() == [[0, 128], [255, 191]]
    k = torch.ones(1, 3, 2, 2)
    k[0, 1, 0, 1] = -1.0  # pixel (0, 1): one channel's response negative → masked; (1, 0): all > 0
    fp = torch.full((3, 2, 2), 2.0)
    fp[:, 0, 0] = -2.0  # every channel's response < 0 → masked
    panels, intensity = ff.responses(fp, k)
    r = panels[0, ..., 0]  # channel 0: 0 ↦ 128, 2 ↦ round(7 / 10 · 255) = 178
    assert r.tolist() == [[128, 128], [178, 178]]
    assert intensity.tolist() == [12.0]  # two unmasked pixels × 3 channels × 2


def test_fingerprint_figure_is_a_png_with_every_panel(trained, data, tmp_path):
    m, _, _ = trained
    _, test = data
    path = tmp_path / "fp.png"
    out = ff.save_fingerprint_figure(m, to_float(test.images[0]), path, dpi=80)
    assert path.stat().st_size > 0
    img = Image.open(io.BytesIO(path.read_bytes()))
    img.verify()
    w, h = ff.figure_size(len(SPEC))
    assert Image.open(path).size == (round(w * 80), round(h * 80))
    assert out["predicted"] == "a"  # test image 0 is a checkerboard, class a
    assert set(out["intensity"]) == set(SPEC) and all(v >= 0 for v in out["intensity"].values())
    assert out["intensity"]["a"] != out["intensity"]["b"]
    # same inputs ⇒ same bytes (no timestamps in the PNG)
    ff.save_fingerprint_figure(m, to_float(test.images[0]), tmp_path / "again.png", dpi=80)
    assert (tmp_path / "again.png").read_bytes() == path.read_bytes()
