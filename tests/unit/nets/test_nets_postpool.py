"""Yu et al. 2019 postpool classifier and the equalised-LR layers (PAPERS §1.4)."""

import math

import pytest
import torch
import torch.nn.functional as F

from ganprint.nets.layers import EqualizedConv2d, EqualizedLinear
from ganprint.nets.postpool import YuPostpoolClassifier


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv_plan(model: YuPostpoolClassifier) -> list[tuple[int, int]]:
    return [(m.in_channels, m.out_channels) for m in model.modules() if isinstance(m, EqualizedConv2d)]


def test_paper_configuration_channel_plan_and_size():
    torch.manual_seed(0)
    c = YuPostpoolClassifier(128, 5)
    # PAPERS §1.4 table: 3→16→32 | 32→32→64 | 64→64→128 | 128→128→256 | 256→256→512 | 4×4 conv 512
    assert conv_plan(c) == [
        (3, 16), (16, 32), (32, 32), (32, 64), (64, 64), (64, 128),
        (128, 128), (128, 256), (256, 256), (256, 512), (512, 512),
    ]  # fmt: skip
    assert c.dense[0].in_features == 8192 and c.dense[0].out_features == 512
    assert c.head.in_features == 512 and c.head.out_features == 5
    # 8.91 M in PAPERS (computed); exact count of this implementation:
    assert n_params(c) == 8_913_797
    assert round(n_params(c) / 1e6, 2) == 8.91
    x = torch.rand(2, 3, 128, 128) * 2 - 1
    assert c(x).shape == (2, 5)
    assert c.features(x).shape == (2, 512)


@pytest.mark.parametrize("resolution", [8, 16, 32, 64])
def test_shape_dtype_backward_miniature(resolution):
    torch.manual_seed(0)
    c = YuPostpoolClassifier(resolution, num_classes=3, fmap_base=256, fmap_max=128)
    x = torch.rand(4, 3, resolution, resolution) * 2 - 1  # (N, 3, R, R) in [-1, 1]
    logits = c(x)
    assert logits.shape == (4, 3) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    feats = c.features(x)
    assert feats.shape == (4, 128) and c.feature_dim == 128
    assert torch.equal(c.head(feats), logits)
    F.cross_entropy(logits, torch.tensor([0, 1, 2, 0])).backward()
    for name, p in c.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_miniature_widths_follow_absolute_resolution():
    # PAPERS §7.1: fmap_base 256 at 32² gives widths 16 … 128
    c = YuPostpoolClassifier(32, 5, fmap_base=256, fmap_max=128)
    assert conv_plan(c) == [(3, 16), (16, 32), (32, 32), (32, 64), (64, 64), (64, 128), (128, 128)]
    assert c.dense[0].in_features == 128 * 16


def test_switching_res_pools_without_convs():
    c = YuPostpoolClassifier(64, 5, fmap_base=256, fmap_max=128, switching_res=16)
    # convs at 64 and 32 only, then pool 16→8→4, then the 4×4 conv
    assert conv_plan(c) == [(3, 8), (8, 16), (16, 16), (16, 32), (32, 128)]
    assert sum(isinstance(m, torch.nn.AvgPool2d) for m in c.modules()) == 4
    assert c(torch.zeros(1, 3, 64, 64)).shape == (1, 5)


def test_same_seed_identical_outputs():
    def run():
        torch.manual_seed(7)
        c = YuPostpoolClassifier(32, 4, fmap_base=256, fmap_max=128)
        return c(torch.rand(3, 3, 32, 32) * 2 - 1)

    assert torch.equal(run(), run())


def test_equalized_conv_runtime_scale_and_init():
    torch.manual_seed(0)
    conv = EqualizedConv2d(64, 128, 3)
    fan_in = 64 * 9
    assert conv.scale == pytest.approx(math.sqrt(2.0 / fan_in))
    expected = (conv.weight * math.sqrt(2.0 / fan_in)).detach().flatten().tolist()
    assert conv.effective_weight().detach().flatten().tolist() == pytest.approx(expected, rel=1e-6)
    # stored weights are N(0, 1), biases zero
    assert conv.weight.std().item() == pytest.approx(1.0, abs=0.02)
    assert conv.weight.mean().item() == pytest.approx(0.0, abs=0.02)
    assert torch.equal(conv.bias, torch.zeros(128))


def test_equalized_linear_runtime_scale_and_gain():
    torch.manual_seed(0)
    lin = EqualizedLinear(8192, 512)
    assert lin.scale == pytest.approx(math.sqrt(2.0 / 8192))
    out = EqualizedLinear(512, 5, gain=1.0)
    assert out.scale == pytest.approx(1.0 / math.sqrt(512))
    x = torch.randn(4, 512)
    ref = x @ (out.weight * (1.0 / math.sqrt(512))).T + out.bias
    assert out(x).detach().flatten().tolist() == pytest.approx(ref.detach().flatten().tolist(), rel=1e-5, abs=1e-6)
    c = YuPostpoolClassifier(32, 5)
    assert c.head.gain == 1.0 and c.dense[0].gain == pytest.approx(math.sqrt(2.0))


def test_every_conv_uses_reflect_padding():
    c = YuPostpoolClassifier(32, 5, fmap_base=256, fmap_max=128)
    convs = [m for m in c.modules() if isinstance(m, EqualizedConv2d)]
    assert convs and all(m.padding_mode == "reflect" and m.kernel_size == 3 for m in convs)
    # functional check: equals torch's reflect-padded conv, and differs from zero padding at the border
    torch.manual_seed(0)
    conv = EqualizedConv2d(3, 4, 3)
    with torch.no_grad():
        conv.bias.normal_()
    ref = torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")
    zero = torch.nn.Conv2d(3, 4, 3, padding=1)
    with torch.no_grad():
        for m in (ref, zero):
            m.weight.copy_(conv.effective_weight())
            m.bias.copy_(conv.bias)
    x = torch.rand(2, 3, 8, 8) + 0.5
    y = conv(x)
    assert y.flatten().tolist() == pytest.approx(ref(x).flatten().tolist(), rel=1e-5, abs=1e-6)
    assert not torch.allclose(y[..., 0, :], zero(x)[..., 0, :])
    assert torch.allclose(y[..., 1:-1, 1:-1], zero(x)[..., 1:-1, 1:-1], atol=1e-5)


def test_no_normalisation_layers():
    c = YuPostpoolClassifier(32, 5)
    norms = (torch.nn.BatchNorm2d, torch.nn.InstanceNorm2d, torch.nn.LayerNorm, torch.nn.GroupNorm)
    assert not any(isinstance(m, norms) for m in c.modules())


def test_model_args_round_trip():
    c = YuPostpoolClassifier(16, 2, fmap_base=64, fmap_max=32)
    assert c.model_args() == {
        "resolution": 16, "num_classes": 2, "fmap_base": 64, "fmap_max": 32, "switching_res": 4, "in_channels": 3,
    }  # fmt: skip
    YuPostpoolClassifier(**c.model_args()).load_state_dict(c.state_dict())


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"resolution": 48, "num_classes": 5}, "power of two"),
    ({"resolution": 4, "num_classes": 5}, "power of two"),
    ({"resolution": 32, "num_classes": 0}, "num_classes"),
    ({"resolution": 32, "num_classes": 5, "switching_res": 32}, "switching_res"),
])  # fmt: skip
def test_bad_arguments_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        YuPostpoolClassifier(**kwargs)
