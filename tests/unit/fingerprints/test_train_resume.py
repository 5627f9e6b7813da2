"""train_fingerprint_autoencoder: the scaled L2 schedule, the checkpoint interval, resume byte-identical to an
uninterrupted run, the curves (bit accuracy, PSNR, SSIM) and the stuck-at-chance error (PAPERS §2.2, §2.6 #2)."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
import torch

from ganprint.config import TrainFingerprintAutoencoderCfg
from ganprint.data.store import ImageStoreWriter
from ganprint.errors import StageError
from ganprint.fingerprints.common import ssim
from ganprint.fingerprints.train import (
    RESUME,
    _check_not_stuck,
    checkpoint_interval,
    l2_weight_at,
    schedule_steps,
    train_fingerprint_autoencoder,
)
from ganprint.train.gan import Interrupted

RES = 16
CFG = TrainFingerprintAutoencoderCfg(bits=8, steps=6, batch_size=8, log_every=1, checkpoint_every=2, stuck_after=0)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("fpdata") / "images.lmdb"
    rng = np.random.default_rng(0)
    with ImageStoreWriter(path, path.parent / "manifest.csv") as w:
        for img in rng.integers(0, 256, (20, RES, RES, 3), dtype=np.uint8):
            w.add(img)
    return path


def _train(data, out, cfg=CFG, **kw):
    return train_fingerprint_autoencoder(
        data, cfg, out / "encoder.pt", out / "decoder.pt", out / "stats.jsonl", out_curves=out / "curves.csv", **kw
    )


def test_schedule_scale_scales_the_papers_steps():
    paper = TrainFingerprintAutoencoderCfg(l2_weight=10.0, l2_await=1000, l2_ramp=3000, schedule_scale=0.2)
    direct = TrainFingerprintAutoencoderCfg(l2_weight=10.0, l2_await=200, l2_ramp=600)
    assert schedule_steps(paper) == (200, 600) and schedule_steps(direct) == (200, 600)
    for s in (None, 0, 199, 200, 350, 500, 800, 5000):
        assert l2_weight_at(s, paper) == l2_weight_at(s, direct)
    assert l2_weight_at(350, paper) == pytest.approx(2.5)  # 10 · 150 / 600
    # the ramp never shrinks to 0 steps
    assert schedule_steps(TrainFingerprintAutoencoderCfg(l2_await=3, l2_ramp=1, schedule_scale=0.1)) == (0, 1)


@pytest.mark.parametrize(
    ("every", "n", "batch", "expected"),
    [
        (None, 2000, 32, 100),  # an epoch is 63 steps: at least 100
        (None, 64_000, 32, 2000),  # one epoch
        (None, 10_000_000, 64, 5000),  # the reference's 5000 at most
        (7, 2000, 32, 7),
        (0, 2000, 32, 0),  # never
    ],
)
def test_checkpoint_interval(every, n, batch, expected):
    cfg = TrainFingerprintAutoencoderCfg(checkpoint_every=every, batch_size=batch)
    assert checkpoint_interval(cfg, n) == expected


def test_resume_is_byte_identical_to_an_uninterrupted_run(data, tmp_path):
    whole = tmp_path / "whole"
    m_whole = _train(data, whole)
    assert sorted(os.listdir(whole)) == ["curves.csv", "decoder.pt", "encoder.pt", "stats.jsonl"]  # no resume.pt
    killed = tmp_path / "killed"
    with pytest.raises(Interrupted):
        _train(data, killed, stop_after=3)
    assert (killed / RESUME).is_file() and not (killed / "encoder.pt").exists()
    state = torch.load(killed / RESUME, weights_only=True)
    assert state["step"] == 2 and state["kind"] == "fingerprint_resume"
    assert [json.loads(r)["step"] for r in (killed / "stats.jsonl").read_text().splitlines()] == [1, 2, 3]
    m_resumed = _train(data, killed)
    assert m_resumed == m_whole
    for name in ("encoder.pt", "decoder.pt", "stats.jsonl", "curves.csv"):
        assert (killed / name).read_bytes() == (whole / name).read_bytes(), name
    assert not (killed / RESUME).exists()


def test_resume_from_other_parameters_is_refused(data, tmp_path):
    out = tmp_path / "m"
    with pytest.raises(Interrupted):
        _train(data, out, stop_after=2)
    with pytest.raises(StageError, match="written with different parameters"):
        _train(data, out, cfg=CFG.model_copy(update={"lr": 1e-3}))


def test_curves_hold_bit_accuracy_psnr_and_ssim(data, tmp_path):
    out = tmp_path / "m"
    m = _train(data, out)
    with open(out / "curves.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    stats = [json.loads(r) for r in (out / "stats.jsonl").read_text().splitlines()]
    assert list(rows[0]) == ["step", "bce", "bit_acc", "l2", "loss", "psnr", "ssim", "w_l2"]
    assert [int(r["step"]) for r in rows] == [s["step"] for s in stats] == list(range(1, 7))
    assert [float(r["ssim"]) for r in rows] == [s["ssim"] for s in stats]
    assert all(-1.0 <= s["ssim"] <= 1.0 for s in stats)
    assert {"ssim", "psnr_db", "l2_await_steps", "l2_ramp_steps", "checkpoint_every"} <= set(m)
    assert (m["l2_await_steps"], m["l2_ramp_steps"], m["checkpoint_every"]) == (1000, 3000, 2)


def test_ssim_known_values():
    a = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert ssim(a, a).tolist() == pytest.approx([1.0, 1.0])
    s = ssim(a, 1.0 - a)
    assert s.shape == (2,) and (s < 0).all()  # inverted contrast: negative structure correlation


def test_stuck_at_chance_stops_with_advice(data, tmp_path):
    out = tmp_path / "m"
    cfg = CFG.model_copy(update={"bits": 32, "lr": 0.0, "stuck_after": 4, "checkpoint_every": 2})
    with pytest.raises(StageError) as e:
        _train(data, out, cfg=cfg)
    msg = str(e.value)
    assert "stuck at chance" in msg and "at step 4" in msg and "seed" in msg and "lr" in msg
    assert not (out / "encoder.pt").exists() and not (out / RESUME).exists()
    _check_not_stuck(0.6, 10, cfg)  # at the threshold: not stuck
    with pytest.raises(StageError, match="0.599"):
        _check_not_stuck(0.599, 10, cfg)
