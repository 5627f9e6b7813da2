"""The GAN zoo's networks (PAPERS §1.3, §4.4, §7.1): the contract every family keeps, and each family's own facts.

Contract (every registered arch, built from its params.yaml section at the demo defaults, 32 px): G output shape
and range, D ``forward_features`` shapes per the registry's ``provides``, ``model_args()`` rebuilds the same
network, one Adam step changes the weights. Family facts: ProGAN's schedule and fade-in continuity, SNGAN's
upsampling operators and spectral norm, the MMD-GAN pair's uniform latent and dof_dim, StyleGAN2's
batch-independent eval mode and resumable training noise, channel plans at 128 px.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize

from ganprint import registry
from ganprint.hparams import MimicryHps, MMDGANHps, ProGANHps, SNGANHps
from ganprint.nets import DISCRIMINATORS, GENERATORS
from ganprint.nets.layers import minibatch_stddev, pixel_norm
from ganprint.nets.mmdgan import DCGAN5Critic, ResNet5Generator
from ganprint.nets.progan import ProGANDiscriminator, ProGANGenerator, progan_stage
from ganprint.nets.sngan import SNGANDiscriminator, SNGANGenerator
from ganprint.nets.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator

ARCHS = list(registry.ARCHS)
R = 32


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build_pair(arch: str, resolution: int = R, loss: str | None = None, seed: int = 0):
    """G and D of ``arch`` at the demo defaults of its params.yaml section."""
    torch.manual_seed(seed)
    hps = registry.ARCHS[arch].hparams()
    g = GENERATORS[arch](resolution=resolution, **hps.generator_kwargs())
    d = DISCRIMINATORS[arch](resolution=resolution, **hps.discriminator_kwargs(loss))
    return g, d


def latents(g, n: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if g.latent == "uniform":
        return torch.rand(n, g.z_dim, generator=gen) * 2 - 1
    return torch.randn(n, g.z_dim, generator=gen)


# == the contract, every arch ==========================================================================================


def test_registered_archs_and_their_capabilities():
    assert ARCHS == ["dcgan", "progan", "sngan", "mimicry", "mmdgan", "stylegan2"]
    for arch in ARCHS:
        g, d = build_pair(arch, 16)
        assert g.latent == ("uniform" if arch == "mmdgan" else "normal")
        assert callable(g.set_step) and callable(d.set_step)


# Parameter counts at the demo defaults, 32 px (known answers; each G < 1 M, PAPERS §7.1)
PARAMS_32 = {
    "dcgan": (296_899, 167_841),
    "progan": (191_916, 130_401),
    "sngan": (421_571, 148_721),
    "mimicry": (421_571, 148_721),
    "mmdgan": (666_435, 291_408),
    "stylegan2": (301_111, 319_549),
}


@pytest.mark.parametrize("arch", ARCHS)
def test_parameter_counts_at_demo_defaults(arch):
    g, d = build_pair(arch)
    assert (n_params(g), n_params(d)) == PARAMS_32[arch]
    assert n_params(g) < 1_000_000


@pytest.mark.parametrize("arch", ARCHS)
def test_generator_output_shape_and_range(arch):
    g, _ = build_pair(arch)
    g.eval()
    with torch.no_grad():
        x = g(latents(g, 4))
    assert x.shape == (4, 3, R, R) and x.dtype == torch.float32
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert x.std() > 1e-4  # not a constant image (DCGAN's eval-mode output at init is small: N(0, 0.02) weights)


@pytest.mark.parametrize("arch", ARCHS)
def test_discriminator_forward_features_shapes_follow_provides(arch):
    g, d = build_pair(arch)
    provides = registry.ARCHS[arch].provides
    x = torch.rand(4, 3, R, R) * 2 - 1
    out, feat, local = d.forward_features(x)
    if "logit" in provides:
        assert out.shape == (4,) and d.out_dim == 1
    else:
        assert provides == {"embedding"} and out.shape == (4, d.out_dim) and d.out_dim == 16
    if "features" in provides:
        assert feat.shape == (4, d.feature_dim) and d.feature_dim > 0
    else:
        assert feat is None and d.feature_dim == 0
    if "local_features" in provides:
        assert local.shape == (4, d.local_dim, 8, 8) and d.local_dim > 0
    else:
        assert local is None and d.local_dim == 0
    d.eval()  # forward is forward_features' first output (eval: no spectral-norm power step between the calls)
    assert torch.equal(d(x), d.forward_features(x)[0])


@pytest.mark.parametrize("arch", ARCHS)
def test_model_args_round_trip_rebuilds_the_same_network(arch):
    g, d = build_pair(arch, 16)
    for net in (g, d):
        args = net.model_args()
        assert all(isinstance(v, int | float | str) for v in args.values())  # plain python: goes into checkpoints
        clone = type(net)(**args)
        assert {k: v.shape for k, v in clone.state_dict().items()} == {k: v.shape for k, v in net.state_dict().items()}
        clone.load_state_dict(net.state_dict())
        net.eval(), clone.eval()
    z = latents(g, 2)
    with torch.no_grad():
        clone = type(g)(**g.model_args())
        clone.load_state_dict(g.state_dict())
        clone.eval()
        assert torch.equal(clone(z), g(z))
        x = g(z)
        dclone = type(d)(**d.model_args())
        dclone.load_state_dict(d.state_dict())
        dclone.eval()
        assert torch.equal(dclone.forward_features(x)[0], d.forward_features(x)[0])


@pytest.mark.parametrize("arch", ARCHS)
def test_one_adam_step_changes_the_weights(arch):
    g, d = build_pair(arch, 16)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-3)
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    z = latents(g, 4)

    def score(x):  # logits, or for a critic embedding its mean
        out = d(x)
        return out if out.ndim == 1 else out.mean(1)

    def step(net, opt, loss) -> tuple[set[str], set[str]]:
        """One Adam step; (names of the parameters it moved, names that had a gradient)."""
        before = {k: p.detach().clone() for k, p in net.named_parameters()}
        opt.zero_grad(set_to_none=True)
        loss.backward()
        graded = {k for k, p in net.named_parameters() if p.grad is not None}
        opt.step()
        return {k for k, p in net.named_parameters() if not torch.equal(p, before[k])}, graded

    # D step (non-saturating), then G step
    moved_d, graded_d = step(d, opt_d, F.softplus(-score(real)).mean() + F.softplus(score(g(z).detach())).mean())
    moved_g, graded_g = step(g, opt_g, F.softplus(-score(g(z))).mean())
    for net, moved, graded in ((g, moved_g, graded_g), (d, moved_d, graded_d)):
        names = {k for k, _ in net.named_parameters()}
        assert moved == graded  # every parameter with a gradient moved, no other one
        # only ProGAN leaves parameters out: the toRGB / fromRGB layers of its earlier stages
        unused = {k.split(".")[0] + "." + k.split(".")[1] for k in names - graded}
        if arch == "progan":
            layer = "to_rgb" if net is g else "from_rgb"
            assert unused == {f"{layer}.{i}" for i in range(net.n_growth)}
        else:
            assert names == graded, sorted(names - graded)


def test_dcgan_forward_features_is_its_forward():
    g, d = build_pair("dcgan")
    x = torch.rand(3, 3, R, R) * 2 - 1
    out, feat, local = d.forward_features(x)
    assert torch.equal(out, d(x)) and local is None
    assert feat.shape == (3, 128 * 16) == (3, d.feature_dim)  # width 32 × min(8, 32/8) channels at 4×4, flattened
    assert torch.equal(d.fc(feat).squeeze(1), out)


# == shared layers =====================================================================================================


def test_minibatch_stddev_known_answer():
    x = torch.arange(2 * 8 * 1 * 2 * 2, dtype=torch.float32).view(8, 2, 2, 2) / 10
    y = minibatch_stddev(x, 4)
    assert y.shape == (8, 3, 2, 2) and torch.equal(y[:, :2], x)
    # group of image i = {i % 2, i % 2 + 2, i % 2 + 4, i % 2 + 6} (TF reshape [G, M, ...]): member std, averaged
    for i in range(8):
        members = x[i % 2 :: 2]
        expected = (members.var(0, unbiased=False) + 1e-8).sqrt().mean()
        assert torch.allclose(y[i, 2], expected.expand(2, 2))
    # 8 images of which pairs (0, 2, 4, 6) are identical: zero spread
    same = torch.ones(8, 1, 2, 2)
    assert torch.allclose(minibatch_stddev(same)[:, 1], torch.full((8, 2, 2), 1e-4))
    # a batch of 3 with group 4: groups of 3 (the largest divisor of 3 that is ≤ 4)
    assert minibatch_stddev(torch.randn(3, 2, 4, 4)).shape == (3, 3, 4, 4)


def test_pixel_norm_unit_mean_square():
    y = pixel_norm(torch.randn(5, 7, 3, 3) * 4)
    assert torch.allclose(y.square().mean(1), torch.ones(5, 3, 3), atol=1e-5)


# == ProGAN ============================================================================================================


def test_progan_schedule_known_values():
    # 3 growth steps (4 → 32), 700 steps, equal halves: phase P = 700 / 3.5 = 200, first 100 steps stable at 4 px
    assert progan_stage(0, 700, 3, 0.5) == (0, 1.0)
    assert progan_stage(99, 700, 3, 0.5) == (0, 1.0)
    assert progan_stage(100, 700, 3, 0.5) == (1, 0.0)
    assert progan_stage(150, 700, 3, 0.5) == (1, 0.5)
    assert progan_stage(250, 700, 3, 0.5) == (1, 1.0)
    assert progan_stage(300, 700, 3, 0.5) == (2, 0.0)
    assert progan_stage(500, 700, 3, 0.5) == (3, 0.0)
    assert progan_stage(699, 700, 3, 0.5) == (3, 1.0)
    assert progan_stage(700, 700, 3, 0.5) == (3, 1.0)
    assert progan_stage(10**6, 700, 3, 0.5) == (3, 1.0)
    assert progan_stage(5, 0, 3, 0.5) == (3, 1.0)  # no schedule: final stage
    # fade_fraction 0: no fading, K + 1 equal stages
    assert progan_stage(174, 700, 3, 0.0) == (0, 1.0) and progan_stage(175, 700, 3, 0.0) == (1, 1.0)


def test_progan_step_zero_is_the_low_stage_and_total_is_full_resolution():
    g, d = build_pair("progan")
    g.eval()
    z = latents(g, 2)
    with torch.no_grad():
        full = g(z)
        assert (g.stage, g.alpha, g.current_resolution) == (3, 1.0, 32)  # built: final stage
        g.set_step(0, 1000)
        d.set_step(0, 1000)
        assert g.current_resolution == 4 and d.current_resolution == 4
        low = g(z)
        assert low.shape == (2, 3, R, R)
        # a 4×4 image nearest-upsampled to 32: every 8×8 block is constant
        assert torch.equal(low, F.interpolate(low[:, :, ::8, ::8], scale_factor=8, mode="nearest"))
        # D at 4 px sees only the 4×4 average-pooled input
        x = torch.rand(2, 3, R, R) * 2 - 1
        pooled = F.interpolate(F.avg_pool2d(x, 8), scale_factor=8, mode="nearest")
        assert torch.allclose(d(x), d(pooled), atol=1e-5)
        g.set_step(1000, 1000)
        d.set_step(1000, 1000)
        assert g.current_resolution == 32 and (g.stage, g.alpha) == (3, 1.0)
        assert torch.equal(g(z), full)
        assert not torch.equal(full, F.interpolate(full[:, :, ::2, ::2], scale_factor=2, mode="nearest"))


def test_progan_fade_in_starts_where_the_previous_stage_ended():
    g, d = build_pair("progan")
    g.eval()
    z, x = latents(g, 2), torch.rand(4, 3, R, R) * 2 - 1
    with torch.no_grad():
        g.set_step(99, 700), d.set_step(99, 700)  # stable at 4 px
        g_prev, d_prev = g(z), d(x)
        g.set_step(100, 700), d.set_step(100, 700)  # fading 8 px in, alpha 0
        assert (g.stage, g.alpha) == (1, 0.0)
        assert torch.equal(g(z), g_prev)
        # D: pooling 32 → 8 → 4 instead of 32 → 4 only reorders the float sums
        torch.testing.assert_close(d(x), d_prev, rtol=0, atol=1e-6)
        g.set_step(150, 700), d.set_step(150, 700)  # alpha 0.5: a different image
        assert not torch.equal(g(z), g_prev)


def test_progan_widths_follow_fmap_base_and_max():
    g = ProGANGenerator(128, z_dim=16, width=64, fmap_base=1024)
    # nf(s) = min(1024 / 2^s, 64): 4 px uses nf(1) = 64 ... 64 px nf(5) = 32, 128 px nf(6) = 16
    assert [blk[1].out_channels for blk in g.blocks] == [64, 64, 64, 32, 16]
    assert g.dense.out_features == 64 * 16
    d = ProGANDiscriminator(128, width=64, fmap_base=1024)
    assert [m.out_channels for m in d.from_rgb] == [64, 64, 64, 64, 32, 16]
    assert d.dense0.out_features == 64 and d.feature_dim == 64
    assert ProGANGenerator(32, start_resolution=8, width=8, fmap_base=64, z_dim=8).n_growth == 2
    with pytest.raises(ValueError, match="power of two"):
        ProGANGenerator(32, start_resolution=6)
    with pytest.raises(ValueError, match="power of two"):
        ProGANHps(start_resolution=6)


def test_progan_training_output_is_linear_and_eval_output_clamped():
    g, _ = build_pair("progan")
    z = latents(g, 4)
    raw = g(z)
    g.eval()
    assert torch.equal(g(z), raw.clamp(-1, 1))


# == SNGAN / mimicry ===================================================================================================


def test_sngan_and_mimicry_differ_only_in_the_upsampling_default():
    assert SNGANHps().upsample == "nearest" and MimicryHps().upsample == "bilinear"
    assert SNGANHps().model_dump(exclude={"upsample"}) == MimicryHps().model_dump(exclude={"upsample"})
    assert registry.arch_module("sngan") == registry.arch_module("mimicry") == "src/ganprint/nets/sngan.py"


def test_sngan_upsample_modes_give_different_images_for_the_same_weights():
    torch.manual_seed(0)
    nearest = SNGANGenerator(R, z_dim=16, width=4, upsample="nearest").eval()
    bilinear = SNGANGenerator(R, z_dim=16, width=4, upsample="bilinear").eval()
    bilinear.load_state_dict(nearest.state_dict())
    z = torch.randn(2, 16)
    with torch.no_grad():
        a, b = nearest(z), bilinear(z)
    assert a.shape == b.shape and (a - b).abs().max() > 1e-3
    # deconv replaces the block's first conv and shortcut by 4×4 stride-2 transposed convs: other weights
    deconv = SNGANGenerator(R, z_dim=16, width=4, upsample="deconv")
    assert isinstance(deconv.blocks[0].c1, torch.nn.ConvTranspose2d) and deconv.blocks[0].c1.kernel_size == (4, 4)
    assert deconv.state_dict()["blocks.0.c1.weight"].shape != nearest.state_dict()["blocks.0.c1.weight"].shape
    assert deconv(z).shape == (2, 3, R, R)
    with pytest.raises(ValueError, match="upsample must be one of nearest, bilinear, deconv"):
        SNGANGenerator(R, upsample="bicubic")


def test_sngan_spectral_norm_on_every_d_layer():
    torch.manual_seed(0)
    d = SNGANDiscriminator(R, width=4)
    layers = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    assert len(layers) == 3 + 2 * 3 + 2 + 1  # optimized (c1, c2, sc), 2 down-blocks (c1, c2, sc), last block, linear
    assert all(parametrize.is_parametrized(m, "weight") for m in layers)
    # after some power iterations the largest singular value of every effective weight is 1
    x = torch.randn(4, 3, R, R)
    for _ in range(30):
        d(x)
    d.eval()
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert sigma.item() == pytest.approx(1.0, abs=0.02)
    # and no spectral norm on G
    assert not any(parametrize.is_parametrized(m) for m in SNGANGenerator(R, width=4).modules())


def test_sngan_channel_plans_at_128px_match_pfnet():
    # pfnet ch 64 at 128 px: G 1024 → 1024 → 512 → 256 → 128 → 64; D 64 → 128 → 256 → 512 → 1024 → 1024 (scaled by 1/16)
    g = SNGANGenerator(128, z_dim=8, width=4)
    assert g.c0 == 64 and [b.c2.out_channels for b in g.blocks] == [64, 32, 16, 8, 4]
    d = SNGANDiscriminator(128, width=4)
    assert [b.c2.out_channels for b in d.blocks] == [4, 8, 16, 32, 64, 64]
    assert [b.downsample for b in d.blocks[1:]] == [True, True, True, True, False]
    x = torch.rand(2, 3, 128, 128) * 2 - 1
    out, feat, local = d.forward_features(x)
    assert out.shape == (2,) and feat.shape == (2, 64) and local.shape == (2, 32, 8, 8) == (2, d.local_dim, 8, 8)
    with torch.no_grad():
        assert g.eval()(torch.randn(2, 8)).shape == (2, 3, 128, 128)


def test_sngan_d_sum_pool_features():
    torch.manual_seed(0)
    d = SNGANDiscriminator(R, width=4).eval()
    x = torch.rand(2, 3, R, R)
    h = x
    for block in d.blocks:
        h = block(h)
    out, feat, _ = d.forward_features(x)
    assert torch.allclose(feat, F.relu(h).sum(dim=(2, 3)))  # global SUM pool, not mean
    assert torch.allclose(out, d.l_out(feat).squeeze(1))


# == MMD-GAN pair ======================================================================================================


def test_mmdgan_generator_is_sigmoid_mapped_and_uses_pixel_shuffle():
    torch.manual_seed(0)
    g = ResNet5Generator(R, z_dim=8, width=4).eval()
    assert g.latent == "uniform"
    seen = []
    g.deconv.register_forward_hook(lambda _m, _i, out: seen.append(out))
    z = torch.rand(3, 8) * 2 - 1
    with torch.no_grad():
        x = g(z)
    assert torch.allclose(x, 2 * torch.sigmoid(seen[0]) - 1)
    assert g.deconv.kernel_size == (5, 5) and g.deconv.stride == (2, 2)
    shuffled = []
    g.blocks[0].c1.register_forward_hook(lambda _m, _i, out: shuffled.append(out.shape))
    with torch.no_grad():
        g(z)
    assert g.c0 == 16 and g.blocks[0].c2.out_channels == 8
    assert shuffled[0] == (3, 4 * 8, 4, 4)  # conv to 4·cout at 4×4, then depth-to-space to cout at 8×8


def test_mmdgan_plans_at_128px_match_the_reference():
    g = ResNet5Generator(128, z_dim=8, width=4)
    # reference width 64: 1024 (4×4) → 512 → 256 → 128 → 64, 4 up-blocks, deconv to 128 (scaled by 1/16)
    assert g.c0 == 64 and [b.c2.out_channels for b in g.blocks] == [32, 16, 8, 4]
    d = DCGAN5Critic(128, width=4, dof_dim=16)
    convs = [m for m in d.convs if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (c, (5, 5), (2, 2)) for c in (4, 8, 16, 32, 64)
    ]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())  # no BN: the losses use a GP
    assert d(torch.rand(2, 3, 128, 128)).shape == (2, 16)


def test_mmdgan_dof_dim_follows_the_loss():
    assert MMDGANHps().discriminator_kwargs("cramer")["dof_dim"] == 256
    assert MMDGANHps().discriminator_kwargs("mmd")["dof_dim"] == 16
    assert MMDGANHps().discriminator_kwargs()["dof_dim"] == 16
    assert MMDGANHps(dof_dim=32).discriminator_kwargs("cramer")["dof_dim"] == 32
    _, d = build_pair("mmdgan", 16, loss="cramer")
    assert d.out_dim == 256 and d(torch.rand(2, 3, 16, 16)).shape == (2, 256)


# == StyleGAN2 =========================================================================================================


def test_stylegan2_eval_is_deterministic_and_batch_independent():
    g, _ = build_pair("stylegan2")
    g.eval()
    z = latents(g, 4)
    with torch.no_grad():
        batch = g(z)
        again = g(z)
    assert torch.equal(batch, again)
    # batch independence in float64: in float32 the CPU conv/matmul kernels round differently per batch size
    # (up to ~1.4e-5 on outputs ~0.6 through 10 layers), an artefact of the kernels, not of the generator (no
    # batch statistic, and eval uses each layer's fixed noise map)
    g, z = g.double(), z.double()
    with torch.no_grad():
        batch = g(z)
        singles = torch.cat([g(z[i : i + 1]) for i in range(4)])
        reordered = g(z.flip(0)).flip(0)
    torch.testing.assert_close(singles, batch, rtol=0, atol=1e-12)
    torch.testing.assert_close(reordered, batch, rtol=0, atol=1e-12)
    assert int(g.calls) == 0  # eval forwards draw no noise


def test_stylegan2_noise_maps_are_seeded_buffers_and_training_noise_resumes():
    a = StyleGAN2Generator(16, z_dim=8, width=4, n_mlp=2)
    b = StyleGAN2Generator(16, z_dim=8, width=4, n_mlp=2)
    assert torch.equal(a.conv4.fixed_noise, b.conv4.fixed_noise)  # seeded at init, independent of torch's RNG
    assert "conv4.fixed_noise" in a.state_dict() and "calls" in a.state_dict()
    c = StyleGAN2Generator(16, z_dim=8, width=4, n_mlp=2, noise_seed=1)
    assert not torch.equal(a.conv4.fixed_noise, c.conv4.fixed_noise)
    with torch.no_grad():  # strengths start at 0: make the noise visible
        for m in a.modules():
            if hasattr(m, "noise_strength"):
                m.noise_strength.fill_(0.5)
    b.load_state_dict(a.state_dict())
    z = torch.randn(2, 8)
    with torch.no_grad():
        first, second = a(z), a(z)
        assert not torch.equal(first, second) and int(a.calls) == 2  # fresh noise per training forward
        assert torch.equal(b(z), first)  # a copy of the state draws the same noise stream: resumable
        b.load_state_dict(a.state_dict())
        assert torch.equal(b(z), a(z))


def test_stylegan2_demodulation_removes_the_style_scale():
    torch.manual_seed(0)
    g = StyleGAN2Generator(16, z_dim=8, width=4, n_mlp=2)
    w = g.mapping_network(torch.randn(3, 8))
    x = torch.randn(3, g.conv4.conv.cin, 4, 4)
    rgb_x = torch.randn(3, g.rgb4.conv.cin, 4, 4)
    with torch.no_grad():
        conv_out, rgb_out = g.conv4.conv(x, w), g.rgb4.conv(rgb_x, w)
        for affine in (g.conv4.conv.affine, g.rgb4.conv.affine):  # styles × 3
            affine.weight.mul_(3.0)
            affine.bias.mul_(3.0)
        # demodulated conv: the same output; toRGB (not demodulated): three times the output
        torch.testing.assert_close(g.conv4.conv(x, w), conv_out, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(g.rgb4.conv(rgb_x, w), 3 * rgb_out, rtol=1e-4, atol=1e-5)


def test_stylegan2_discriminator_plan():
    d = StyleGAN2Discriminator(32, width=4)
    assert d.from_rgb.out_channels == 4
    assert [b.c2.out_channels for b in d.blocks] == [8, 16, 32]  # 32 → 16 → 8 → 4 px, width · min(8, R/r)
    assert d.conv4.in_channels == 33  # + the minibatch-stddev channel
    out, feat, local = d.forward_features(torch.rand(4, 3, 32, 32))
    assert out.shape == (4,) and feat.shape == (4, 32) and local is None


# == resolutions =======================================================================================================


@pytest.mark.parametrize("cls", [ProGANGenerator, SNGANGenerator, ResNet5Generator, StyleGAN2Generator])
def test_resolution_must_be_a_power_of_two_at_least_16(cls):
    for bad in (8, 48, 2048):
        with pytest.raises(ValueError, match="power of two"):
            cls(bad)
