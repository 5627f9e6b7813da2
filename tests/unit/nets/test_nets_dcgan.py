"""DCGAN generator/discriminator: shapes, ranges, gradients, determinism, exact sizes, init (PAPERS §7.1)."""

import pytest
import torch

from ganprint.nets.dcgan import DCGANDiscriminator, DCGANGenerator


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def assert_all_grads_finite_nonzero(module: torch.nn.Module) -> None:
    for name, p in module.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize(("resolution", "width"), [(16, 16), (32, 64), (64, 8), (128, 4)])
def test_generator_shape_dtype_range_backward(resolution, width):
    torch.manual_seed(0)
    g = DCGANGenerator(resolution, z_dim=16, width=width)
    last_conv = g.blocks[-2]
    assert isinstance(last_conv, torch.nn.ConvTranspose2d) and last_conv.out_channels == 3
    seen = []
    last_conv.register_forward_hook(lambda _m, _i, out: seen.append(out))
    z = torch.randn(4, 16)
    x = g(z)  # (N, 3, R, R) in [-1, 1]
    assert x.shape == (4, 3, resolution, resolution)
    assert x.dtype == torch.float32
    # the range comes from a tanh on the last transposed conv, exactly (DCGAN §3)
    assert torch.equal(x, torch.tanh(seen[0]))
    (x * torch.randn_like(x)).sum().backward()
    assert_all_grads_finite_nonzero(g)


@pytest.mark.parametrize(("resolution", "width"), [(16, 16), (32, 64), (64, 8), (128, 4)])
def test_discriminator_shape_dtype_backward(resolution, width):
    torch.manual_seed(0)
    d = DCGANDiscriminator(resolution, width=width)
    x = torch.rand(4, 3, resolution, resolution) * 2 - 1
    logits = d(x)
    assert logits.shape == (4,)
    assert logits.dtype == torch.float32
    (logits * torch.randn(4)).sum().backward()
    assert_all_grads_finite_nonzero(d)


def test_channel_plan_mirrors_dcgan():
    # 4×4 map has width * min(8, R/8) channels; the last hidden map (R/2) has width
    g = DCGANGenerator(64, width=64)
    assert g.fc.out_features == 512 * 16
    tconvs = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels) for m in tconvs] == [(512, 256), (256, 128), (128, 64), (64, 3)]
    d = DCGANDiscriminator(64, width=64)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(m.in_channels, m.out_channels) for m in convs] == [(3, 64), (64, 128), (128, 256), (256, 512)]
    assert d.fc.in_features == 512 * 16
    # width capped at 8x for large R: 4×4 map at R = 256 still has 8 * width channels
    assert DCGANGenerator(256, width=4).fc.out_features == 32 * 16


def test_parameter_counts_exact():
    # R = 32, defaults: G 64·4096 + BN(256) + 256·128·16 + BN(128) + 128·64·16 + BN(64) + 64·3·16 + 3
    assert n_params(DCGANGenerator(32)) == 921_475
    # D 3·64·16 + 64 + 64·128·16 + BN(128) + 128·256·16 + BN(256) + 4096 + 1
    assert n_params(DCGANDiscriminator(32)) == 663_361


def test_same_seed_identical_outputs():
    def run():
        torch.manual_seed(123)
        g, d = DCGANGenerator(32, width=16), DCGANDiscriminator(32, width=16)
        x = g(torch.randn(4, g.z_dim))
        return x, d(x)

    (x1, l1), (x2, l2) = run(), run()
    assert torch.equal(x1, x2) and torch.equal(l1, l2)


def test_dcgan_init_statistics():
    torch.manual_seed(0)
    g, d = DCGANGenerator(64, width=64), DCGANDiscriminator(64, width=64)
    w = g.blocks[0].weight
    assert w.std().item() == pytest.approx(0.02, rel=0.02)
    assert w.mean().item() == pytest.approx(0.0, abs=1e-3)
    bn = g.blocks[1]
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.01)
    assert bn.weight.std().item() == pytest.approx(0.02, rel=0.3)
    assert torch.equal(bn.bias, torch.zeros_like(bn.bias))
    assert torch.equal(d.blocks[0].bias, torch.zeros_like(d.blocks[0].bias))
    assert d.fc.weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_model_args_round_trip():
    for net in (DCGANGenerator(16, z_dim=8, width=4), DCGANDiscriminator(16, width=4)):
        clone = type(net)(**net.model_args())
        clone.load_state_dict(net.state_dict())  # same architecture ⇒ loads strictly
    g = DCGANGenerator(16, z_dim=8, width=4)
    assert g.model_args() == {"resolution": 16, "z_dim": 8, "width": 4}
    assert g.resolution == 16 and g.z_dim == 8


@pytest.mark.parametrize("resolution", [8, 24, 2048, 32.0])
def test_bad_resolution_rejected(resolution):
    with pytest.raises(ValueError, match="power of two"):
        DCGANGenerator(resolution)
    with pytest.raises(ValueError, match="power of two"):
        DCGANDiscriminator(resolution)
