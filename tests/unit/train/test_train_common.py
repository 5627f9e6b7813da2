"""ganprint.train.common: uint8 ↔ tensor conversions, the epoch sampler, stats.jsonl, the divergence check."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from ganprint.cli._common import StageError
from ganprint.train.common import EpochSampler, StatsWriter, check_finite, from_uint8, to_tensor, to_uint8

ALL = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=3)  # every uint8 value, (1, 16, 16, 3)


# -- to_tensor / to_uint8 ----------------------------------------------------------------------------------


def test_to_tensor_pm1_layout_and_range():
    x = to_tensor(ALL, "cpu")
    assert x.shape == (1, 3, 16, 16) and x.dtype == torch.float32
    assert x.min().item() == -1.0 and x.max().item() == 1.0
    assert x[0, :, 0, 0].tolist() == [-1.0, -1.0, -1.0]
    assert x[0, 0, 15, 15].item() == 1.0
    assert x[0, 0, 8, 0].item() == pytest.approx(128 / 127.5 - 1, abs=1e-7)  # pixel 128 (float32)


def test_to_tensor_01_range():
    x = to_tensor(ALL, "cpu", "01")
    assert x.min().item() == 0.0 and x.max().item() == 1.0
    assert x[0, 1, 0, 1].item() == pytest.approx(1 / 255)


def test_to_tensor_channel_order():
    img = np.zeros((2, 4, 5, 3), np.uint8)
    img[1, 2, 3] = [255, 0, 255]
    x = to_tensor(img, "cpu", "01")
    assert x.shape == (2, 3, 4, 5)
    assert x[1, :, 2, 3].tolist() == [1.0, 0.0, 1.0]
    assert x.sum().item() == 2.0


@pytest.mark.parametrize("value_range", ["pm1", "01"])
def test_from_uint8_matches_to_tensor_bit_for_bit(value_range):
    batch = torch.from_numpy(ALL).permute(0, 3, 1, 2)  # what a StoreImages loader yields: (N, 3, H, W) uint8
    a, b = from_uint8(batch, "cpu", value_range), to_tensor(ALL, "cpu", value_range)
    assert a.dtype == torch.float32 and a.shape == b.shape == (1, 3, 16, 16)
    assert torch.equal(a, b)


@pytest.mark.parametrize("value_range", ["pm1", "01"])
def test_uint8_round_trip_is_exact(value_range):
    out = to_uint8(to_tensor(ALL, "cpu", value_range), value_range)
    assert out.dtype == np.uint8 and out.shape == ALL.shape
    np.testing.assert_array_equal(out, ALL)


def test_to_uint8_rounds_and_clips():
    x = torch.tensor([-3.0, -1.0, 1.4 / 255, 1.6 / 255, 0.5, 1.0, 7.0]).view(1, 1, 1, 7).expand(1, 3, 1, 7)
    assert to_uint8(x, "01")[0, 0, :, 0].tolist() == [0, 0, 1, 2, 128, 255, 255]
    y = torch.tensor([-5.0, -1.0, 0.0, 1.0, 5.0]).view(1, 1, 1, 5).expand(1, 3, 1, 5)
    assert to_uint8(y)[0, 0, :, 0].tolist() == [0, 0, 128, 255, 255]  # 0 → 127.5 → 128 (half to even)


def test_to_uint8_layout():
    x = torch.zeros(2, 3, 4, 5)
    x[1, 2, 3, 4] = 1.0
    out = to_uint8(x, "01")
    assert out.shape == (2, 4, 5, 3)
    assert out[1, 3, 4].tolist() == [0, 0, 255] and out.sum() == 255


# -- EpochSampler ------------------------------------------------------------------------------------------


def test_sampler_covers_every_index_once_per_epoch():
    s = EpochSampler(12, 4, seed=3)
    for _epoch in range(3):
        batches = [s.next() for _ in range(3)]
        for b in batches:
            assert len(b) == 4 and b.dtype == np.int64
            assert list(b) == sorted(b)
        assert sorted(np.concatenate(batches).tolist()) == list(range(12))


def test_sampler_batches_are_sorted_slices_of_one_numpy_permutation_per_epoch():
    rng = np.random.default_rng(3)
    perms = np.concatenate([rng.permutation(10), rng.permutation(10)])  # two epochs
    s = EpochSampler(10, 4, seed=3)
    for k in range(5):  # batch 2 spans the epoch boundary: 2 from epoch 0, 2 from epoch 1
        assert s.next().tolist() == sorted(perms[4 * k : 4 * k + 4].tolist())


def test_sampler_batches_across_epoch_boundaries():
    s = EpochSampler(10, 4, seed=0)
    drawn = np.concatenate([s.next() for _ in range(5)])  # 20 indices = 2 epochs
    assert len(drawn) == 20
    assert np.bincount(drawn, minlength=10).tolist() == [2] * 10


def test_sampler_is_deterministic_per_seed():
    sa, sb, sc = EpochSampler(50, 8, seed=5), EpochSampler(50, 8, seed=5), EpochSampler(50, 8, seed=6)
    seq_a = [sa.next().tolist() for _ in range(20)]
    seq_b = [sb.next().tolist() for _ in range(20)]
    seq_c = [sc.next().tolist() for _ in range(20)]
    assert seq_a == seq_b
    assert seq_a != seq_c


def test_sampler_with_batch_equal_to_n():
    s = EpochSampler(5, 5, seed=1)
    for _ in range(3):
        assert s.next().tolist() == [0, 1, 2, 3, 4]


# -- StatsWriter / check_finite ----------------------------------------------------------------------------


def test_stats_writer_rounds_and_writes_jsonl(tmp_path):
    path = tmp_path / "stats.jsonl"
    w = StatsWriter(path, total=2, what="test")
    w.add(1, loss=0.1234567891, acc=1)
    w.add(2, loss=torch.tensor(2.0), acc=np.float32(0.5))
    assert w.rows == [{"step": 1, "loss": 0.123457, "acc": 1.0}, {"step": 2, "loss": 2.0, "acc": 0.5}]
    assert not path.exists()  # written on close only
    w.close()
    assert path.read_text() == '{"acc": 1.0, "loss": 0.123457, "step": 1}\n{"acc": 0.5, "loss": 2.0, "step": 2}\n'
    assert [json.loads(line) for line in path.read_text().splitlines()] == w.rows
    assert os.listdir(tmp_path) == ["stats.jsonl"]


def test_stats_writer_without_path(tmp_path):
    w = StatsWriter(None, total=1, what="x")
    w.add(1, loss=1.0)
    w.close()
    assert w.rows == [{"step": 1, "loss": 1.0}]


def test_check_finite():
    check_finite(torch.tensor(1.5), "ok", 1)
    with pytest.raises(StageError) as e:
        check_finite(torch.tensor(float("nan")), "train_gan", 7)
    assert str(e.value).startswith("train_gan: loss became nan at step 7; training diverged.")
    assert "no model was written" in str(e.value)
    with pytest.raises(StageError, match="loss became inf at step 2"):
        check_finite(torch.tensor(float("inf")), "x", 2)
