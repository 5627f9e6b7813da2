"""StegaStamp fingerprint encoder/decoder of Yu et al. 2021 (PAPERS §2.1)."""

import pytest
import torch
import torch.nn.functional as F

from ganprint.nets.stegastamp import StegaStampDecoder, StegaStampEncoder


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_match_paper_configuration():
    # PAPERS §2.1: 1.07 M encoder, 1.42 M decoder at R = 128, 100 bits
    enc, dec = StegaStampEncoder(128, 100), StegaStampDecoder(128, 100)
    assert n_params(enc) == 1_069_315
    assert n_params(dec) == 1_424_324
    assert round(n_params(enc) / 1e6, 2) == 1.07
    assert round(n_params(dec) / 1e6, 2) == 1.42
    assert dec.flat_dim == 128 * 128 * 128 // 32 // 32
    # the names the reference checkpoints use to read the fingerprint length
    assert enc.secret_dense.weight.shape[-1] == 100
    assert dec.dense[2].weight.shape[0] == 100


@pytest.mark.parametrize(("resolution", "flat_dim"), [(16, 128), (32, 128), (64, 512), (128, 2048)])
def test_shapes_range_backward(resolution, flat_dim):
    torch.manual_seed(0)
    bits = 8
    enc, dec = StegaStampEncoder(resolution, bits), StegaStampDecoder(resolution, bits)
    assert dec.flat_dim == flat_dim
    seen = []
    enc.residual.register_forward_hook(lambda _m, _i, o: seen.append(o))
    image = torch.rand(2, 3, resolution, resolution)  # (N, 3, R, R) in [0, 1]
    secret = torch.randint(0, 2, (2, bits)).float()  # (N, bits) in {0, 1}
    out = enc(image, secret)
    assert out.shape == image.shape and out.dtype == torch.float32
    # the output is the image itself, squashed into [0, 1] by a sigmoid on the last 1×1 conv (not a residual)
    assert torch.equal(out, torch.sigmoid(seen[0]))
    logits = dec(out)
    assert logits.shape == (2, bits) and logits.dtype == torch.float32
    loss = F.mse_loss(out, image) + F.binary_cross_entropy_with_logits(logits, secret)
    loss.backward()
    for name, p in [*enc.named_parameters(), *dec.named_parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_same_seed_identical_outputs():
    def run():
        torch.manual_seed(42)
        enc, dec = StegaStampEncoder(32, 16), StegaStampDecoder(32, 16)
        out = enc(torch.rand(2, 3, 32, 32), torch.randint(0, 2, (2, 16)).float())
        return out, dec(out)

    (a1, b1), (a2, b2) = run(), run()
    assert torch.equal(a1, a2) and torch.equal(b1, b2)


def test_every_bit_and_the_image_reach_the_encoder_output():
    torch.manual_seed(0)
    enc = StegaStampEncoder(32, 16)
    image = torch.rand(1, 3, 32, 32)
    secret = torch.randint(0, 2, (1, 16)).float()
    base = enc(image, secret)
    assert torch.equal(enc(image, secret.clone()), base)  # a pure function of (image, bits)
    flipped = secret.repeat(16, 1)
    flipped[range(16), range(16)] = 1 - flipped[range(16), range(16)]  # row k: bit k flipped
    changed = (enc(image.expand(16, -1, -1, -1), flipped) - base).abs().flatten(1).amax(1)
    assert (changed > 0).tolist() == [True] * 16
    assert not torch.equal(enc(image.flip(-1), secret), base)


def test_a_descent_step_lowers_the_autoencoder_loss_to_first_order():
    """Step −ε·g/‖g‖ on MSE + BCE in float64: the loss falls by ε‖g‖ (fails for a wrong or missing gradient)."""
    torch.manual_seed(0)
    enc, dec = StegaStampEncoder(16, 8).double(), StegaStampDecoder(16, 8).double()
    image = torch.rand(3, 3, 16, 16, dtype=torch.float64)
    secret = torch.randint(0, 2, (3, 8)).double()

    def loss() -> torch.Tensor:
        out = enc(image, secret)
        return F.mse_loss(out, image) + F.binary_cross_entropy_with_logits(dec(out), secret)

    params = [*enc.parameters(), *dec.parameters()]
    loss0 = loss()
    grads = torch.autograd.grad(loss0, params)
    norm = torch.sqrt(sum(g.square().sum() for g in grads))
    eps = 1e-5
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            p -= eps * g / norm
        loss1 = loss()
    assert (loss0 - loss1).item() == pytest.approx(eps * norm.item(), rel=1e-3)


def test_model_args_round_trip():
    for net in (StegaStampEncoder(16, 4), StegaStampDecoder(16, 4)):
        assert net.model_args() == {"resolution": 16, "bits": 4}
        type(net)(**net.model_args()).load_state_dict(net.state_dict())


@pytest.mark.parametrize(("resolution", "bits"), [(8, 4), (48, 4), (32, 0)])
def test_bad_arguments_rejected(resolution, bits):
    for cls in (StegaStampEncoder, StegaStampDecoder):
        with pytest.raises(ValueError):
            cls(resolution, bits)
