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

from ganprint.checkpoint import load_checkpoint
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

BITS = 8
N_IMAGES = 20
CFG = TrainFingerprintAutoencoderCfg(datasets=["tiny"], bits=BITS, steps=3, batch_size=8, log_every=1)


def _smooth(n: int, res: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    return np.stack([np.asarray(Image.fromarray(s).resize((res, res), Image.Resampling.BILINEAR)) for s in small])


def _store(path: Path, images: np.ndarray) -> Path:
    with ImageStoreWriter(path, path.parent / "manifest.csv") as w:
        for img in images:
            w.add(img)
    return path


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
    assert set(one.unique().tolist()) <= {0.0, 1.0}
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
    assert set(rows[0]) == {"step", "loss", "bce", "l2", "w_l2", "bit_acc", "psnr"}


def test_train_metrics(tiny):
    m = tiny["metrics"]
    assert set(m) == {
        "bit_accuracy",
        "bit_accuracy_clean_images",
        "psnr_db",
        "images",
        "l2_schedule_started",
        "steps",
    }
    assert 0.0 <= m["bit_accuracy"] <= 1.0
    assert 0.0 <= m["bit_accuracy_clean_images"] <= 1.0
    assert m["bit_accuracy"] * BITS * N_IMAGES == pytest.approx(round(m["bit_accuracy"] * BITS * N_IMAGES))
    assert m["images"] == N_IMAGES and m["steps"] == 3
    assert isinstance(m["l2_schedule_started"], bool)
    assert m["psnr_db"] > 0


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
    with ImageStore(fp_dir / "images.lmdb") as s, ImageStore(tiny["data"]) as clean:
        assert len(s) == N_IMAGES and s.shape == (32, 32, 3)
        assert not np.array_equal(s.read(range(3)), clean.read(range(3)))
    rows = read_manifest(fp_dir / "manifest.csv")
    assert [r["source"] for r in rows] == [f"{tiny['data']}#{key_of(i)}" for i in range(N_IMAGES)]
    assert {r["label"] for r in rows} == {"tiny/fp"} and {r["seed"] for r in rows} == {"42"}
    lines = (fp_dir / "embedded_fingerprints.txt").read_text().splitlines()
    expected = bits_to_str(fingerprint_bits(BITS, 42)[0])
    assert lines == [f"{key_of(i)}.png {expected}" for i in range(N_IMAGES)]  # identical: one fingerprint
    grid = Image.open(fp_dir / "samples.png")
    assert grid.size == (5 * 34 + 2, 4 * 34 + 2)  # 20 images: 5 columns, 4 rows


def test_embed_metrics(tiny):
    m = tiny["embed"]
    assert set(m) == {"images", "bits", "identical", "psnr_db", "bit_accuracy", "bit_accuracy_min"}
    assert (m["images"], m["bits"], m["identical"]) == (N_IMAGES, BITS, True)
    assert 0.0 <= m["bit_accuracy_min"] <= m["bit_accuracy"] <= 1.0
    assert m["psnr_db"] > 0


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
    assert 0.0 <= m["share_images_bit_accuracy_ge_0.9"] <= 1.0
    detected = read_fingerprint_file(out)
    assert list(detected) == [key_of(i) for i in range(N_IMAGES)]
    # the file holds what was read: its agreement with the target is the reported bit accuracy
    target = fingerprint_bits(BITS, 42)[0]
    acc = np.mean([(v == target).float().mean().item() for v in detected.values()])
    assert acc == pytest.approx(m["bit_accuracy"], abs=1e-6)


def test_detect_refuses_per_image_fingerprints(tiny, tmp_path):
    fp_dir = tmp_path / "per_image"
    m = embed_fingerprints(
        tiny["data"],
        tiny["model"] / "encoder.pt",
        tiny["model"] / "decoder.pt",
        EmbedFingerprintsCfg(identical=False, seed=3, batch_size=32),
        fp_dir,
    )
    assert m["identical"] is False
    embedded = fp_dir / "embedded_fingerprints.txt"
    per_image = fingerprint_bits(BITS, 3, N_IMAGES)
    assert embedded.read_text().splitlines() == [f"{key_of(i)}.png {bits_to_str(b)}" for i, b in enumerate(per_image)]
    distinct = len({tuple(b.tolist()) for b in per_image})
    out = tmp_path / "det" / "detected_fingerprints.txt"
    with pytest.raises(StageError) as e:
        detect_fingerprints(
            fp_dir / "images.lmdb", tiny["model"] / "decoder.pt", embedded, DetectFingerprintsCfg(), out
        )
    assert str(e.value) == (
        f"{embedded}: holds {distinct} different fingerprints; detection against a "
        "model's fingerprint needs embed_fingerprints.identical: true"
    )
    assert not out.parent.exists()


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
