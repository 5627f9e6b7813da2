"""Fingerprint robustness (Yu et al. 2021 §2, attacks of §1.6): weight fake-quantisation, perturbation curves on a
toy decoder with known answers, fine-tuning snapshots on one trajectory, and the stage CLI on a tiny trained setup."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import tiny_params, write_params
from PIL import Image
from torch import nn

from ganprint import perturb
from ganprint.checkpoint import load_checkpoint
from ganprint.cli.main import main as cli
from ganprint.config import DetectFingerprintsCfg, EmbedFingerprintsCfg, load_params
from ganprint.data.store import ImageStoreWriter
from ganprint.fingerprints.detect import detect_fingerprints
from ganprint.fingerprints.embed import embed_fingerprints
from ganprint.fingerprints.robustness import (
    fake_quantize,
    finetune_checkpoints,
    finetune_snapshots,
    perturbation_rows,
    quantize_weights,
    quantized_tensors,
    read_curves,
)
from ganprint.fingerprints.train import train_fingerprint_autoencoder
from ganprint.generate import generate_images
from ganprint.nets.dcgan import DCGANGenerator
from ganprint.train.gan import finetune_gan, train_gan


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One torch thread: the 2-core machine is shared, and oversubscribed threads make tiny convs 100× slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# -- weight quantisation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [8, 4])
def test_fake_quantize_moves_each_weight_at_most_half_a_step(bits):
    w = torch.randn(16, 8, 3, 3, generator=torch.Generator().manual_seed(0)) * 0.1
    q = fake_quantize(w, bits)
    levels = 2 ** (bits - 1) - 1
    scale = w.abs().max() / levels
    assert q.shape == w.shape and q.dtype == w.dtype
    assert (q - w).abs().max() <= scale / 2 + 1e-7
    k = q / scale  # integers in [-levels, levels]
    assert torch.allclose(k, k.round(), atol=1e-4) and k.abs().max().round() == levels
    assert len(torch.unique(k.round())) <= 2 * levels + 1
    assert not torch.equal(q, w)
    assert torch.equal(fake_quantize(torch.zeros(3, 3), bits), torch.zeros(3, 3))


def test_fake_quantize_known_answer():
    # 2 bits: one level each side, scale = max|w| = 2: values round to -2, 0 or 2
    w = torch.tensor([[-2.0, -0.9, 0.9], [1.1, 2.0, 0.0]])
    assert fake_quantize(w, 2).tolist() == [[-2.0, 0.0, 0.0], [2.0, 2.0, 0.0]]
    with pytest.raises(ValueError, match="2..16"):
        fake_quantize(w, 1)


def test_quantize_weights_rounds_conv_and_linear_weights_only():
    torch.manual_seed(0)
    G = DCGANGenerator(resolution=32, z_dim=8, width=8)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    params = dict(G.named_parameters())
    names = quantize_weights(G, 8)
    assert names == quantized_tensors(G) == [n for n, p in params.items() if p.ndim >= 2]
    assert names  # the transposed convolutions
    after = G.state_dict()
    for k, v in before.items():
        assert after[k].shape == v.shape
        if k in names:
            step = v.abs().max() / 127
            assert not torch.equal(after[k], v), k
            assert (after[k] - v).abs().max() <= step / 2 + 1e-7, k
        else:  # biases, BatchNorm gains/offsets and running statistics stay float
            assert torch.equal(after[k], v), k


# -- perturbation curves on a toy decoder ------------------------------------------------------------------


class PixelDecoder(nn.Module):
    """Bit k = red pixel k (row-major) is above mid-grey: a decoder whose answers can be worked out by hand."""

    def __init__(self, bits: int):
        super().__init__()
        self.bits = bits

    def forward(self, x):  # (N, 3, H, W) in [0, 1] → (N, bits)
        return x[:, 0].flatten(1)[:, : self.bits] * 255.0 - 127.5


def _encode(bits: torch.Tensor, n: int, res: int = 8, seed: int = 0) -> np.ndarray:
    """n images whose first len(bits) red pixels sit 1..60 grey levels on the bit's side of 127.5."""
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, (n, res, res, 3), dtype=np.uint8)
    margin = rng.integers(1, 61, (n, len(bits)))
    red = imgs[:, :, :, 0].reshape(n, -1)
    red[:, : len(bits)] = np.where(bits.numpy() > 0.5, 127 + margin, 128 - margin)
    imgs[:, :, :, 0] = red.reshape(n, res, res)
    return imgs


def test_identity_is_the_clean_accuracy_and_stronger_noise_never_reads_more_bits():
    bits = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0])
    images = _encode(bits, 12)
    dec = PixelDecoder(len(bits))
    rows = perturbation_rows(images, dec, bits, ["noise", "jpeg"], seed=3, batch_size=5, device="cpu")
    noise = [r for r in rows if r["kind"] == "noise"]
    assert [r["strength"] for r in noise] == [0.0, 2.0, 5.0, 10.0, 15.0, 20.0]
    assert [r["perturbation"] for r in noise] == ["identity"] + [str(p) for p in perturb.STRENGTHS["noise"]]
    assert noise[0]["bit_accuracy"] == 1.0 and noise[0]["bit_accuracy_std"] == 0.0  # every bit encoded right
    acc = [r["bit_accuracy"] for r in noise]
    # image i draws the same N(0, 1) values at every sigma, so a flipped bit stays flipped as sigma grows
    assert all(a >= b for a, b in zip(acc, acc[1:], strict=False)) and acc[-1] < 1.0
    # known answer: the noisy red pixel of image i, by hand, from image i's own generator
    for r, sigma in zip(noise[1:], (2.0, 5.0, 10.0, 15.0, 20.0), strict=True):
        read = []
        for i, img in enumerate(images):
            z = np.random.default_rng(np.random.SeedSequence(3, spawn_key=(i,))).standard_normal(img.shape)
            red = np.clip(np.rint(img + sigma * z), 0, 255)[:, :, 0].ravel()[: len(bits)]
            read.append(((red > 127.5) == (bits.numpy() > 0.5)).mean())
        assert r["bit_accuracy"] == pytest.approx(float(np.mean(read)), abs=1e-6)
        assert r["bit_accuracy_std"] == pytest.approx(float(np.std(read)), abs=1e-6)
    jpeg = [r for r in rows if r["kind"] == "jpeg"]
    assert [r["strength"] for r in jpeg] == [100.0, 95.0, 90.0, 75.0, 50.0, 30.0, 10.0]
    assert jpeg[0]["bit_accuracy"] == 1.0
    want = np.mean(
        [((perturb.jpeg(img, 10)[:, :, 0].ravel()[:10] > 127.5) == (bits.numpy() > 0.5)).mean() for img in images]
    )
    assert jpeg[-1]["bit_accuracy"] == pytest.approx(float(want), abs=1e-6)


@pytest.mark.parametrize(
    ("steps", "fractions", "expected"),
    [(100, [0.25, 0.5, 1.0], [0, 25, 50, 100]), (2, [0.5, 1.0], [0, 1, 2]), (3, [0.1], [0, 1]), (0, [1.0], [0])],
)
def test_finetune_checkpoints(steps, fractions, expected):
    assert finetune_checkpoints(steps, fractions) == expected


# -- a tiny trained setup ----------------------------------------------------------------------------------


def _smooth(n: int, res: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    return np.stack([np.asarray(Image.fromarray(s).resize((res, res), Image.Resampling.BILINEAR)) for s in small])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """tiny params; clean store; AE (3 steps); fingerprinted store; the tiny fingerprinted GAN trained on it."""
    root = tmp_path_factory.mktemp("fprob")
    data = tiny_params()
    data["fingerprint_robustness"] = {
        "kinds": ["noise", "crop"],
        "max_images": 6,
        "batch_size": 4,
        "seed": 0,
        "quantize_bits": [8, 4],
        "finetune_steps": 4,
        "finetune_fractions": [0.5, 1.0],
    }
    pfile = write_params(root / "params.yaml", data)
    params = load_params(pfile)
    clean = root / "data" / "clean" / "skimage"
    clean.mkdir(parents=True)
    with ImageStoreWriter(clean / "images.lmdb", clean / "manifest.csv") as w:
        for img in _smooth(24):
            w.add(img)
    fp_model = root / "fp"
    train_fingerprint_autoencoder(
        clean / "images.lmdb", params.train_fingerprint_autoencoder, fp_model / "encoder.pt", fp_model / "decoder.pt"
    )
    fp_data = root / "data" / "fingerprinted" / "skimage"
    embed_fingerprints(
        clean / "images.lmdb", fp_model / "encoder.pt", fp_model / "decoder.pt", EmbedFingerprintsCfg(), fp_data
    )
    gan = params.gan_list["skimage-dcgan-nonsat-fingerprinted-seed0"]
    gan_dir = root / "gan"
    train_gan(fp_data / "images.lmdb", params.train_gan, params.arch_hparams("dcgan"), gan, gan_dir)
    return {
        "root": root,
        "params_file": pfile,
        "params": params,
        "gan": gan,
        "gan_dir": gan_dir,
        "clean": clean / "images.lmdb",
        "decoder": fp_model / "decoder.pt",
        "embedded": fp_data / "embedded_fingerprints.txt",
    }


def _cli(s, out: Path, variant: str = "fingerprinted") -> int:
    return cli(
        [
            "fingerprint-robustness",
            "--params",
            str(s["params_file"]),
            *("--dataset", "skimage", "--arch", "dcgan", "--loss", "nonsat", "--variant", variant, "--seed", "0"),
            *("--model", str(s["gan_dir"] / "G.pt"), "--decoder", str(s["decoder"])),
            *("--embedded", str(s["embedded"]), "--data", str(s["clean"])),
            *("--out", str(out / "robustness"), "--metrics", str(out / "metrics.json")),
            *("--device", "cpu", "--threads", "1"),
        ]
    )


def test_stage_cli_writes_curves_metrics_and_figure(setup, tmp_path):
    assert _cli(setup, tmp_path) == 0
    assert sorted(p.name for p in (tmp_path / "robustness").iterdir()) == ["bit_accuracy.csv", "curves.png"]
    with Image.open(tmp_path / "robustness" / "curves.png") as im:
        assert im.format == "PNG" and im.size[0] > 100
    rows = read_curves(tmp_path / "robustness" / "bit_accuracy.csv")
    with open(tmp_path / "robustness" / "bit_accuracy.csv", newline="") as fh:
        assert next(csv.reader(fh)) == ["kind", "perturbation", "strength", "bit_accuracy_std", "bit_accuracy"]
    by_kind = {k: [r["strength"] for r in rows if r["kind"] == k] for k in dict.fromkeys(r["kind"] for r in rows)}
    assert by_kind == {
        "noise": [0.0, 2.0, 5.0, 10.0, 15.0, 20.0],
        "crop": [0.0, 0.05, 0.1, 0.15, 0.2],
        "quantize": [32.0, 8.0, 4.0],
        "finetune": [0.0, 2.0, 4.0],
    }
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["gan"] == "skimage-dcgan-nonsat-fingerprinted-seed0" and m["variant"] == "fingerprinted"
    assert m["images"] == 6 and m["bits"] == 8
    # the clean point is detect_fingerprints on the first max_images samples of generate_images
    p = setup["params"]
    samples = tmp_path / "samples"
    generate_images(
        setup["gan_dir"] / "G.pt",
        samples / "images.lmdb",
        samples / "manifest.csv",
        samples / "grid.png",
        num_images=6,
        seed=p.generate_images.seed,
        batch_size=6,
    )
    det = detect_fingerprints(
        samples / "images.lmdb", setup["decoder"], setup["embedded"], DetectFingerprintsCfg(), samples / "d.txt"
    )
    assert m["bit_accuracy_clean"] == pytest.approx(det["bit_accuracy"], abs=1e-6)
    clean_rows = [r for r in rows if r["perturbation"] in ("identity", "float32", "finetune:steps=0")]
    assert len(clean_rows) == 4  # noise, crop, quantize, finetune
    assert {r["bit_accuracy"] for r in clean_rows} == {round(det["bit_accuracy"], 6)}
    state = load_checkpoint(setup["gan_dir"] / "G.pt", "gan_generator")["state_dict"]
    names = [n for n, t in state.items() if t.ndim >= 2]
    assert m["quantize"]["tensors"] == names
    assert [q["strength"] for q in m["quantize"]["points"]] == [32.0, 8.0, 4.0]
    assert m["finetune"]["steps"] == 4 and [f["strength"] for f in m["finetune"]["points"]] == [0.0, 2.0, 4.0]
    assert set(m["perturbations"]) == {"noise", "crop"}
    # same params and seed: the same bytes
    assert _cli(setup, tmp_path / "again") == 0
    for rel in ("robustness/bit_accuracy.csv", "metrics.json", "robustness/curves.png"):
        assert (tmp_path / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes(), rel


def test_finetune_snapshots_lie_on_one_uninterrupted_run(setup, tmp_path):
    p, gan = setup["params"], setup["gan"]
    kw = dict(arch_cfg=p.arch_hparams("dcgan"), loss_cfg=p.loss_hparams("nonsat"), gan=gan, device="cpu")
    snaps = dict(
        finetune_snapshots(
            base_dir=setup["gan_dir"],
            data=setup["clean"],
            train_cfg=p.train_gan,
            steps=4,
            fractions=[0.5, 1.0],
            work_dir=tmp_path / "work",
            **kw,
        )
    )
    assert list(snaps) == [2, 4]
    for steps in (2, 4):  # dcgan without EMA: step k of a 4-step run is the k-step run's G
        out = tmp_path / f"s{steps}"
        finetune_gan(setup["clean"], p.train_gan, steps, base_dir=setup["gan_dir"], out_dir=out, **kw)
        ref = load_checkpoint(tmp_path / f"s{steps}" / "G.pt", "gan_generator")["state_dict"]
        assert all(torch.equal(ref[k], snaps[steps][k]) for k in ref), steps
    base = load_checkpoint(setup["gan_dir"] / "G.pt", "gan_generator")["state_dict"]
    assert not all(torch.equal(base[k], snaps[4][k]) for k in base)  # fine-tuning moved G


def test_stage_cli_refuses_a_clean_gan(setup, tmp_path, capsys):
    assert _cli(setup, tmp_path, variant="clean") == 2
    assert "skimage-dcgan-nonsat-clean-seed0 was not trained on fingerprinted data" in capsys.readouterr().err
    assert not (tmp_path / "metrics.json").exists()


def test_params_reject_unknown_kinds_and_bad_fractions(tmp_path):
    from ganprint.config import ConfigError

    for bad in ({"kinds": ["sharpen"]}, {"finetune_fractions": [0.5, 0.25]}, {"finetune_fractions": [1.5]}):
        data = tiny_params()
        data["fingerprint_robustness"] = {**data["fingerprint_robustness"], **bad}
        with pytest.raises(ConfigError, match="fingerprint_robustness"):
            load_params(write_params(tmp_path / "p.yaml", data))


def test_stage_runs_for_fingerprinted_gans_only_also_in_a_mixed_group():
    """A gans group of clean and fingerprinted GANs: one job per fingerprinted GAN in both front-ends."""
    from ganprint.config import is_fingerprint_variant, parse_params
    from ganprint.stages import STAGES, expand, render_dvc

    assert [is_fingerprint_variant(v) for v in ("fingerprinted", "fp-alice", "clean", "ft-sklearn")] == [
        True,
        True,
        False,
        False,
    ]
    data = tiny_params()
    data["gans"]["fingerprinted"].update(variant=["clean", "fingerprinted"], seed=[7, 8])
    data["protocols"]["closed_set"]["train"]["fingerprinted"] = ["gan/skimage-dcgan-nonsat-fingerprinted-seed8"]
    params = parse_params(data)
    st = STAGES["fingerprint_robustness"]
    jobs = expand(st, params)
    assert [(j["variant"], j["seed"]) for j in jobs] == [("fingerprinted", 7), ("fingerprinted", 8)]
    dvc = yaml.safe_load(render_dvc(params))["stages"]
    assert [n for n in dvc if n.startswith("fingerprint_robustness")] == ["fingerprint_robustness.fingerprinted"]
    matrix = dvc["fingerprint_robustness.fingerprinted"]["matrix"]
    assert matrix["variant"] == ["fingerprinted"] and matrix["seed"] == "${gans.fingerprinted.seed}"
    # the other per-GAN stages keep the whole group
    assert dvc["generate_images.fingerprinted"]["matrix"]["variant"] == "${gans.fingerprinted.variant}"
