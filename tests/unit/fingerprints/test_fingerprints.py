"""Artificial fingerprints (Yu et al. 2021): metrics, the reference file format, the L2 schedule, and a tiny
train → embed → detect run whose detected bit accuracy matches the one embed reports."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganprint.checkpoint import build_from_checkpoint, load_checkpoint
from ganprint.cli._common import StageError
from ganprint.config import DetectFingerprintsCfg, EmbedFingerprintsCfg, TrainFingerprintAutoencoderCfg
from ganprint.data.store import ImageStore, ImageStoreWriter, key_of, read_manifest
from ganprint.fingerprints.common import (
    bit_accuracy,
    bits_to_str,
    fingerprint_bits,
    psnr,
    read_fingerprint_file,
    str_to_bits,
    write_fingerprint_file,
)
from ganprint.fingerprints.detect import detect_fingerprints
from ganprint.fingerprints.embed import embed_fingerprints
from ganprint.fingerprints.train import l2_weight_at, train_fingerprint_autoencoder
from ganprint.nets.stegastamp import StegaStampDecoder, StegaStampEncoder
from ganprint.train.common import to_tensor, to_uint8

BITS = 8
N_IMAGES = 20
CFG = TrainFingerprintAutoencoderCfg(bits=BITS, steps=3, batch_size=8, log_every=1)


def _smooth(n: int, res: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    return np.stack([np.asarray(Image.fromarray(s).resize((res, res), Image.Resampling.BILINEAR)) for s in small])


def _store(path: Path, images: np.ndarray) -> Path:
    with ImageStoreWriter(path, path.parent / "manifest.csv") as w:
        for img in images:
            w.add(img)
    return path


def _nets(model_dir: Path) -> tuple[StegaStampEncoder, StegaStampDecoder]:
    enc = build_from_checkpoint(
        load_checkpoint(model_dir / "encoder.pt", "fingerprint_encoder"), {"stegastamp": StegaStampEncoder}
    )
    dec = build_from_checkpoint(
        load_checkpoint(model_dir / "decoder.pt", "fingerprint_decoder"), {"stegastamp": StegaStampDecoder}
    )
    return enc, dec


def _read(path: Path) -> np.ndarray:
    with ImageStore(path) as s:
        return s.read(range(len(s)))


def _share_read_right(logits: torch.Tensor, bits: torch.Tensor) -> np.ndarray:
    """Per-image share of bits read right, by hand: a bit reads 1 where its logit is > 0. Shape (N,)."""
    return ((logits > 0).float() == bits).double().mean(1).numpy()


def _psnr_db(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image PSNR in dB of uint8-scaled float images in [0, 1], in float64. Shape (N,)."""
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).reshape(len(a), -1).mean(1)
    return 10 * np.log10(1.0 / mse)


# -- bit accuracy, PSNR, bits ------------------------------------------------------------------------------


def test_bit_accuracy_exact():
    logits = torch.tensor([[1.0, -1.0, 2.0, -3.0], [0.0, 0.5, -0.5, 4.0]])
    bits = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    # row 0 reads 1010 vs 1000: 3/4; row 1 reads 0101 (a logit of 0 reads as 0) vs 1111: 2/4
    assert bit_accuracy(logits, bits).tolist() == pytest.approx([0.75, 0.5])


def test_psnr_exact():
    a = torch.zeros(2, 3, 4, 4)
    b = torch.full((2, 3, 4, 4), 0.1)
    b[1] = 0.5
    # MSE 0.01 → 20 dB; MSE 0.25 → 10·log10(4) dB
    assert psnr(a, b).tolist() == pytest.approx([20.0, 10 * math.log10(4)], rel=1e-5)
    assert psnr(a, a).tolist() == pytest.approx([120.0, 120.0])  # MSE clamped at 1e-12


def test_fingerprint_bits():
    one = fingerprint_bits(16, seed=42)
    assert one.shape == (1, 16) and one.dtype == torch.float32
    expect = torch.randint(0, 2, (1, 16), generator=torch.Generator().manual_seed(42)).float()
    assert one.tolist() == expect.tolist()  # uniform {0, 1} draws of a torch generator seeded with 42
    assert torch.equal(one, fingerprint_bits(16, seed=42))
    many = fingerprint_bits(16, seed=42, count=5)
    assert many.shape == (5, 16) and torch.equal(many[:1], one)
    assert not torch.equal(one, fingerprint_bits(16, seed=43))


def test_bits_to_str_and_back():
    assert bits_to_str(torch.tensor([1.0, 0.0, 1.0, 1.0])) == "1011"
    assert bits_to_str(np.array([[0.0, 1.0]])) == "01"
    assert str_to_bits("0110").tolist() == [0.0, 1.0, 1.0, 0.0]
    for bad in ("", "012", "1 0"):
        with pytest.raises(ValueError, match="not a fingerprint bit string"):
            str_to_bits(bad)


def test_fingerprint_file_round_trip_in_reference_format(tmp_path):
    path = tmp_path / "fp" / "embedded_fingerprints.txt"
    rows = [torch.tensor([1.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0])]
    write_fingerprint_file(path, [key_of(0), key_of(1)], rows)
    assert path.read_text() == "00000000.png 101\n00000001.png 001\n"
    back = read_fingerprint_file(path)
    assert list(back) == ["00000000", "00000001"]
    assert back["00000000"].tolist() == [1.0, 0.0, 1.0]
    assert back["00000001"].tolist() == [0.0, 0.0, 1.0]


def test_fingerprint_file_rejects_bad_lines(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("a.png 101\n\nb.png 1x1\n")
    with pytest.raises(ValueError) as e:
        read_fingerprint_file(path)
    assert str(e.value) == f"{path}:3: expected '<name>.png <bits>', got 'b.png 1x1'"
    path.write_text("a.png\n")
    with pytest.raises(ValueError, match=":1: expected"):
        read_fingerprint_file(path)


def test_fingerprint_file_length_mismatch_writes_nothing(tmp_path):
    with pytest.raises(ValueError):
        write_fingerprint_file(tmp_path / "f.txt", ["a", "b"], [np.ones(3)])
    assert os.listdir(tmp_path) == []


# -- the L2 schedule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (None, 0.0),  # threshold not yet passed
        (0, 0.0),
        (150, 0.0),  # awaiting
        (200, 0.0),  # ramp starts
        (350, 2.5),  # mid-ramp: 10 · 150 / 600
        (500, 5.0),
        (800, 10.0),  # ramp done
        (10_000, 10.0),  # capped
    ],
)
def test_l2_weight_schedule(since, expected):
    cfg = TrainFingerprintAutoencoderCfg(l2_weight=10.0, l2_await=200, l2_ramp=600)
    w = l2_weight_at(since, cfg)
    assert type(w) is float
    assert w == pytest.approx(expected)


def test_l2_weight_without_await():
    cfg = TrainFingerprintAutoencoderCfg(l2_weight=4.0, l2_await=0, l2_ramp=1)
    assert [l2_weight_at(s, cfg) for s in (None, 0, 1, 2)] == [0.0, 0.0, 4.0, 4.0]


# -- train → embed → detect on a tiny store ----------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("fp")
    data = _store(root / "clean" / "images.lmdb", _smooth(N_IMAGES, 32))
    out = root / "model"
    metrics = train_fingerprint_autoencoder(data, CFG, out / "encoder.pt", out / "decoder.pt", out / "stats.jsonl")
    fp_dir = root / "fingerprinted"
    embed = embed_fingerprints(
        data, out / "encoder.pt", out / "decoder.pt", EmbedFingerprintsCfg(batch_size=7), fp_dir, label="tiny/fp"
    )
    return {"root": root, "data": data, "model": out, "metrics": metrics, "fp_dir": fp_dir, "embed": embed}


def test_train_writes_both_checkpoints(tiny):
    out = tiny["model"]
    assert sorted(os.listdir(out)) == ["decoder.pt", "encoder.pt", "stats.jsonl"]
    enc = load_checkpoint(out / "encoder.pt", "fingerprint_encoder")
    dec = load_checkpoint(out / "decoder.pt", "fingerprint_decoder")
    for ck in (enc, dec):
        assert ck["model_name"] == "stegastamp"
        assert ck["model_args"] == {"resolution": 32, "bits": BITS}
        assert ck["params"] == {"bits": BITS, "resolution": 32}
    rows = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert set(rows[0]) == {"step", "loss", "bce", "l2", "w_l2", "bit_acc", "psnr", "ssim"}


def test_train_metrics_recomputed_from_the_saved_nets(tiny):
    """The metrics are those of the saved nets on every image with bits from seed + 1, the fingerprinted image
    rounded to 8 bits (what survives writing it), recomputed here by hand."""
    m = tiny["metrics"]
    assert set(m) == {
        "bit_accuracy",
        "bit_accuracy_clean_images",
        "psnr_db",
        "ssim",
        "images",
        "l2_schedule_started",
        "l2_schedule_started_step",
        "l2_await_steps",
        "l2_ramp_steps",
        "checkpoint_every",
        "steps",
    }
    assert m["images"] == N_IMAGES and m["steps"] == 3
    enc, dec = _nets(tiny["model"])
    clean = _read(tiny["data"])
    x = torch.from_numpy(clean).permute(0, 3, 1, 2).float() / 255
    bits = torch.randint(0, 2, (N_IMAGES, BITS), generator=torch.Generator().manual_seed(CFG.seed + 1)).float()
    with torch.no_grad():
        fp_q = torch.round(enc(x, bits) * 255) / 255
        read = _share_read_right(dec(fp_q), bits)
        read_clean = _share_read_right(dec(x), bits)
    assert m["bit_accuracy"] == pytest.approx(read.mean(), abs=1e-6)
    assert m["bit_accuracy_clean_images"] == pytest.approx(read_clean.mean(), abs=1e-6)
    assert m["psnr_db"] == pytest.approx(_psnr_db(fp_q.numpy(), x.numpy()).mean(), rel=1e-5)
    # the schedule starts once a training batch reads more than bit_acc_threshold of its bits right
    rows = [json.loads(line) for line in (tiny["model"] / "stats.jsonl").read_text().splitlines()]
    assert m["l2_schedule_started"] is any(r["bit_acc"] > CFG.bit_acc_threshold for r in rows)
    assert [r["w_l2"] for r in rows] == [0.0, 0.0, 0.0]  # l2_await = 1000 steps: no L2 within 3 steps
    for r in rows:
        assert r["loss"] == pytest.approx(r["w_l2"] * r["l2"] + CFG.bce_weight * r["bce"], abs=2e-6)


def test_train_same_seed_same_bytes(tiny, tmp_path):
    out = tmp_path / "model"
    metrics = train_fingerprint_autoencoder(
        tiny["data"], CFG, out / "encoder.pt", out / "decoder.pt", out / "stats.jsonl"
    )
    assert metrics == tiny["metrics"]
    for name in ("encoder.pt", "decoder.pt", "stats.jsonl"):
        assert (out / name).read_bytes() == (tiny["model"] / name).read_bytes(), name


def test_embed_writes_the_promised_files(tiny):
    fp_dir = tiny["fp_dir"]
    assert sorted(os.listdir(fp_dir)) == ["embedded_fingerprints.txt", "images.lmdb", "manifest.csv", "samples.png"]
    with ImageStore(fp_dir / "images.lmdb") as s:
        assert len(s) == N_IMAGES and s.shape == (32, 32, 3)
        stored = s.read(range(N_IMAGES))
    # image i is the encoder's output on clean image i and the one fingerprint, rounded to 8 bits; computed in the
    # stage's batches of 7: a convolution's float sums may differ in the last bit with the batch size (one thread)
    enc, _ = _nets(tiny["model"])
    target = fingerprint_bits(BITS, 42)
    x = to_tensor(_read(tiny["data"]), "cpu", "01")
    with torch.no_grad():
        expect = np.concatenate(
            [to_uint8(enc(x[i : i + 7], target.expand(len(x[i : i + 7]), -1)), "01") for i in range(0, N_IMAGES, 7)]
        )
    np.testing.assert_array_equal(stored, expect)
    rows = read_manifest(fp_dir / "manifest.csv")
    assert [r["source"] for r in rows] == [f"{tiny['data']}#{key_of(i)}" for i in range(N_IMAGES)]
    assert {r["label"] for r in rows} == {"tiny/fp"} and {r["seed"] for r in rows} == {"42"}
    lines = (fp_dir / "embedded_fingerprints.txt").read_text().splitlines()
    expected = bits_to_str(fingerprint_bits(BITS, 42)[0])
    assert lines == [f"{key_of(i)}.png {expected}" for i in range(N_IMAGES)]  # identical: one fingerprint
    grid = Image.open(fp_dir / "samples.png")
    assert grid.size == (5 * 34 + 2, 4 * 34 + 2)  # 20 images: 5 columns, 4 rows


def test_embed_metrics_recomputed_from_the_written_images(tiny):
    m = tiny["embed"]
    assert set(m) == {
        "images",
        "bits",
        "identical",
        "seed",
        "fingerprint",
        "psnr_db",
        "ssim",
        "bit_accuracy",
        "bit_accuracy_min",
    }
    assert (m["images"], m["bits"], m["identical"], m["seed"]) == (N_IMAGES, BITS, True, 42)
    assert m["fingerprint"] == bits_to_str(fingerprint_bits(BITS, 42))
    assert 0.0 < m["ssim"] <= 1.0
    stored, clean = _read(tiny["fp_dir"] / "images.lmdb"), _read(tiny["data"])
    assert m["psnr_db"] == pytest.approx(_psnr_db(stored / 255, clean / 255).mean(), rel=1e-5)
    _, dec = _nets(tiny["model"])
    with torch.no_grad():
        logits = dec(torch.from_numpy(stored).permute(0, 3, 1, 2).float() / 255)
    read = _share_read_right(logits, fingerprint_bits(BITS, 42).expand(N_IMAGES, -1))
    assert m["bit_accuracy"] == pytest.approx(read.mean(), abs=1e-6)
    assert m["bit_accuracy_min"] == pytest.approx(read.min(), abs=1e-6)


def test_detect_on_the_fingerprinted_images_matches_embed(tiny, tmp_path):
    out = tmp_path / "det" / "detected_fingerprints.txt"
    m = detect_fingerprints(
        tiny["fp_dir"] / "images.lmdb",
        tiny["model"] / "decoder.pt",
        tiny["fp_dir"] / "embedded_fingerprints.txt",
        DetectFingerprintsCfg(batch_size=6),
        out,
    )
    assert os.listdir(out.parent) == ["detected_fingerprints.txt"]
    assert set(m) == {"images", "bits", "bit_accuracy", "bit_accuracy_std", "share_images_bit_accuracy_ge_0.9"}
    assert (m["images"], m["bits"]) == (N_IMAGES, BITS)
    assert m["bit_accuracy"] == pytest.approx(tiny["embed"]["bit_accuracy"], abs=1e-6)
    detected = read_fingerprint_file(out)
    assert list(detected) == [key_of(i) for i in range(N_IMAGES)]
    # the file holds what was read: its agreement with the target gives every reported statistic
    target = fingerprint_bits(BITS, 42)[0]
    acc = np.array([(v == target).double().mean().item() for v in detected.values()])
    assert m["bit_accuracy"] == pytest.approx(acc.mean(), abs=1e-6)
    assert m["bit_accuracy_std"] == pytest.approx(acc.std(), abs=1e-6)
    assert m["share_images_bit_accuracy_ge_0.9"] == np.count_nonzero(acc >= 0.9) / N_IMAGES


def test_detect_per_image_fingerprints(tiny, tmp_path):
    fp_dir = tmp_path / "per_image"
    m = embed_fingerprints(
        tiny["data"],
        tiny["model"] / "encoder.pt",
        tiny["model"] / "decoder.pt",
        EmbedFingerprintsCfg(identical=False, batch_size=32),
        fp_dir,
        seed=3,
    )
    assert m["identical"] is False and m["fingerprint"] is None
    embedded = fp_dir / "embedded_fingerprints.txt"
    per_image = fingerprint_bits(BITS, 3, N_IMAGES)
    assert embedded.read_text().splitlines() == [f"{key_of(i)}.png {bits_to_str(b)}" for i, b in enumerate(per_image)]
    out = tmp_path / "det" / "detected_fingerprints.txt"
    # on the per-image fingerprinted set itself, image by image: the embed's bit accuracy
    d = detect_fingerprints(
        fp_dir / "images.lmdb", tiny["model"] / "decoder.pt", embedded, DetectFingerprintsCfg(), out
    )
    assert d["bit_accuracy"] == pytest.approx(m["bit_accuracy"], abs=1e-6)
    # on other images (other keys) there is no model fingerprint to score against
    other = _store(tmp_path / "other" / "images.lmdb", _smooth(N_IMAGES + 3, 32, seed=5))  # 3 unknown keys
    d2 = detect_fingerprints(other, tiny["model"] / "decoder.pt", embedded, DetectFingerprintsCfg(), out)
    assert d2["bit_accuracy"] is None and "one fingerprint per image" in d2["note"]
    assert len(read_fingerprint_file(out)) == N_IMAGES + 3


def test_embed_refuses_another_resolution(tiny, tmp_path):
    data = _store(tmp_path / "big" / "images.lmdb", _smooth(2, 64))
    with pytest.raises(StageError) as e:
        embed_fingerprints(
            data, tiny["model"] / "encoder.pt", tiny["model"] / "decoder.pt", EmbedFingerprintsCfg(), tmp_path / "o"
        )
    assert str(e.value) == (
        f"{data}: images are 64 px but the encoder was trained at 32 px; retrain it on this dataset"
    )
    assert not (tmp_path / "o").exists()
