"""The GAN training loop: n_dis, EMA, seeds, kill + resume (byte-identical), divergence, samples, fine-tuning.

DCGAN at 16 px and width 8 for a few steps; the losses that need more than logits train a small fake D providing
features and a local map (tests/unit/gan_fakes.py) put in DCGAN's place in the network table.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from gan_fakes import FakeD
from PIL import Image

from ganprint import registry
from ganprint.checkpoint import load_checkpoint
from ganprint.config import GanCfg, TrainGanCfg
from ganprint.data.store import ImageStoreWriter
from ganprint.errors import StageError
from ganprint.hparams import DCGANHps
from ganprint.losses import LOSSES, NonsatLoss
from ganprint.train import gan as gan_mod
from ganprint.train.gan import Interrupted, ema_update, finetune_gan, train_gan


class Hps(DCGANHps):
    """DCGAN's section with the zoo's training fields (the archs branch adds them to DCGANHps itself)."""

    n_dis: int = 1
    ema: float = 0.0


ARCH = Hps(z_dim=8, width=8)
CFG = TrainGanCfg(steps=4, batch_size=8, log_every=1, checkpoint_every=0, sample_every=0, grid_images=4)


def _store(d: Path, n: int = 24, seed: int = 0, res: int = 16) -> Path:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    d.mkdir(parents=True, exist_ok=True)
    with ImageStoreWriter(d / "images.lmdb", d / "manifest.csv") as w:
        for s in small:
            w.add(np.asarray(Image.fromarray(s).resize((res, res), Image.Resampling.BILINEAR)))
    return d / "images.lmdb"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return _store(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def other_store(tmp_path_factory) -> Path:
    return _store(tmp_path_factory.mktemp("other"), seed=9)


def _gan(loss: str = "nonsat", seed: int = 0, variant: str = "clean") -> GanCfg:
    return GanCfg(dataset="tiny", arch="dcgan", loss=loss, variant=variant, seed=seed)


def _run(store, out, *, cfg=CFG, arch=ARCH, loss="nonsat", seed=0, **kw) -> dict:
    return train_gan(store, cfg, arch, _gan(loss, seed), out, **kw)


def _sd(path: Path, key: str = "state_dict") -> dict:
    return load_checkpoint(path, "gan_generator" if path.name == "G.pt" else "gan_discriminator")[key]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def fake_d(monkeypatch):
    """DCGAN's D replaced by a fake that also offers features and a local map (for infomax / ssgan)."""
    monkeypatch.setitem(gan_mod.DISCRIMINATORS, "dcgan", FakeD)


# -- optimiser steps, EMA, seeds ----------------------------------------------------------------------------------


def test_n_dis_2_steps_d_twice_per_g_step(store, tmp_path, monkeypatch):
    calls: list[int] = []
    real_step = torch.optim.Adam.step

    def counting(self, *a, **k):
        calls.append(len(self.param_groups[0]["params"]))
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", counting)
    _run(store, tmp_path / "a", arch=Hps(z_dim=8, width=8, n_dis=2), cfg=CFG.model_copy(update={"steps": 3}))
    n_g = len(list(gan_mod.GENERATORS["dcgan"](16, 8, 8).parameters()))
    n_d = len(list(gan_mod.DISCRIMINATORS["dcgan"](16, 8).parameters()))
    assert n_g != n_d
    assert calls == [n_d, n_d, n_g] * 3


def test_loss_heads_are_optimised_with_d_and_saved_in_d_pt(store, tmp_path, fake_d, monkeypatch):
    seen = []
    real_init = torch.optim.Adam.__init__

    def spy(self, params, *a, **k):
        params = list(params)
        seen.append(params)
        real_init(self, params, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "__init__", spy)
    _run(store, tmp_path, loss="ssgan", cfg=CFG.model_copy(update={"steps": 2}))
    d_params = {id(p) for p in seen[1]}
    ckpt = load_checkpoint(tmp_path / "D.pt", "gan_discriminator")
    head = ckpt["loss_state_dict"]
    assert {"rotation_head.bias", "rotation_head.parametrizations.weight.original"} <= set(head)
    assert len(seen[1]) == len(list(FakeD(16, 8).parameters())) + 2  # D's and the head's (weight, bias)
    assert not d_params & {id(p) for p in seen[0]}


def test_set_step_is_called_every_step(store, tmp_path, monkeypatch):
    made = []

    class Recording(FakeD):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            made.append(self)

    monkeypatch.setitem(gan_mod.DISCRIMINATORS, "dcgan", Recording)
    _run(store, tmp_path, cfg=CFG.model_copy(update={"steps": 3}))
    assert made[0].steps == [(1, 3), (2, 3), (3, 3)]


def test_ema_differs_from_raw_g_and_raw_g_is_the_g_of_a_run_without_ema(store, tmp_path):
    _run(store, tmp_path / "ema", arch=Hps(z_dim=8, width=8, ema=0.9))
    _run(store, tmp_path / "raw", arch=Hps(z_dim=8, width=8, ema=0.0))
    ema, raw = _sd(tmp_path / "ema" / "G.pt"), _sd(tmp_path / "ema" / "G.pt", "raw_state_dict")
    plain = load_checkpoint(tmp_path / "raw" / "G.pt", "gan_generator")
    assert "raw_state_dict" not in plain and plain["ema"] == 0.0
    for k, v in plain["state_dict"].items():  # EMA does not change the training: raw G == the run without EMA
        assert torch.equal(raw[k], v), k
    differs = [k for k, v in ema.items() if v.is_floating_point() and not torch.equal(v, raw[k])]
    assert "fc.weight" in differs and "blocks.0.weight" in differs
    assert torch.equal(ema["fc_bn.running_mean"], raw["fc_bn.running_mean"])  # buffers are copied


def test_ema_update_formula_and_decay_zero_is_a_copy():
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    a0 = a.weight.detach().clone()
    ema_update(a, b, 0.75)
    torch.testing.assert_close(a.weight, 0.75 * a0 + 0.25 * b.weight, rtol=0, atol=1e-7)
    ema_update(a, b, 0.0)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)


def test_seeds_data_seed_null_means_the_training_seed(store, tmp_path):
    _run(store, tmp_path / "null")
    _run(store, tmp_path / "same", cfg=CFG.model_copy(update={"data_seed": 0}))
    _run(store, tmp_path / "other", cfg=CFG.model_copy(update={"data_seed": 7}))
    g = {n: (tmp_path / n / "G.pt").read_bytes() for n in ("null", "same", "other")}
    assert g["null"] != g["other"]  # another data order, same init
    s_null, s_same = _sd(tmp_path / "null" / "G.pt"), _sd(tmp_path / "same" / "G.pt")
    assert all(torch.equal(s_null[k], s_same[k]) for k in s_null)
    ck = load_checkpoint(tmp_path / "other" / "G.pt", "gan_generator")
    assert ck["seeds"]["seed"] == 0 and ck["seeds"]["data_seed"] == 7 and ck["seeds"]["latent_seed"] == 0
    assert load_checkpoint(tmp_path / "null" / "D.pt", "gan_discriminator")["seeds"]["data_seed"] == 0


def test_amp_and_compile_are_ignored_on_cpu(store, tmp_path):
    _run(store, tmp_path / "fp32", cfg=CFG.model_copy(update={"steps": 2}))
    _run(store, tmp_path / "opt", cfg=CFG.model_copy(update={"steps": 2, "amp": "bf16", "compile": True}))
    for f in ("G.pt", "D.pt"):
        a, b = _sd(tmp_path / "fp32" / f), _sd(tmp_path / "opt" / f)
        assert all(torch.equal(a[k], b[k]) for k in a), f


# -- kill + resume ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "arch"),
    [("wgangp", Hps(z_dim=8, width=8, n_dis=2, ema=0.9)), ("ssgan", Hps(z_dim=8, width=8, ema=0.5))],
    ids=["wgangp-dcgan-ndis2-ema", "ssgan-fakeD-ema"],
)
def test_kill_and_resume_is_byte_identical(store, tmp_path, monkeypatch, loss, arch):
    if loss == "ssgan":
        monkeypatch.setitem(gan_mod.DISCRIMINATORS, "dcgan", FakeD)
    cfg = CFG.model_copy(update={"steps": 5, "checkpoint_every": 2, "log_every": 1})
    _run(store, tmp_path / "full", cfg=cfg, arch=arch, loss=loss)
    out = tmp_path / "killed"
    with pytest.raises(Interrupted):
        _run(store, out, cfg=cfg, arch=arch, loss=loss, stop_after=3)
    assert (out / "resume.pt").is_file() and not (out / "G.pt").exists() and not (out / "D.pt").exists()
    assert [r["step"] for r in _rows(out / "stats.jsonl")] == [1, 2, 3]  # written as it went
    resume = torch.load(out / "resume.pt", weights_only=True)
    assert resume["step"] == 2 and [r["step"] for r in resume["rows"]] == [1, 2]
    _run(store, out, cfg=cfg, arch=arch, loss=loss)  # the rerun: continues from step 2, redoes step 3
    for name in ("G.pt", "D.pt", "stats.jsonl", "loss_curves.csv", "samples.png"):
        assert (out / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name
    assert not (out / "resume.pt").exists()  # removed after success


def test_resume_from_other_params_is_refused(store, tmp_path):
    cfg = CFG.model_copy(update={"steps": 4, "checkpoint_every": 1})
    with pytest.raises(Interrupted):
        _run(store, tmp_path, cfg=cfg, stop_after=2)
    with pytest.raises(StageError, match=r"resume.pt: written with different parameters .*delete it to start over"):
        _run(store, tmp_path, cfg=cfg, arch=Hps(z_dim=8, width=8, lr_g=1e-3))
    assert not (tmp_path / "G.pt").exists()
    (tmp_path / "resume.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(StageError, match="not a resume checkpoint that loads safely"):
        _run(store, tmp_path, cfg=cfg)


# -- divergence ---------------------------------------------------------------------------------------------------


class NanLoss(NonsatLoss):
    def d_loss(self, D, real, fake, step):
        loss, logs = super().d_loss(D, real, fake, step)
        return loss * (float("nan") if step >= 2 else 1.0), logs


def test_nan_stops_with_the_step_and_leaves_no_model(store, tmp_path, monkeypatch):
    monkeypatch.setitem(LOSSES, "nonsat", NanLoss)
    cfg = CFG.model_copy(update={"checkpoint_every": 1})
    with pytest.raises(StageError) as e:
        _run(store, tmp_path, cfg=cfg)
    assert str(e.value).startswith("train_gan: D loss became nan at step 2; training diverged. Try a lower")
    assert "no model was written" in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.jsonl"]  # no G.pt, D.pt, resume.pt
    assert [r["step"] for r in _rows(tmp_path / "stats.jsonl")] == [1]


def test_divergence_limit(store, tmp_path):
    with pytest.raises(StageError, match=r"D loss exceeded train_gan.divergence_limit 0.001: .* at step 1"):
        _run(store, tmp_path, cfg=CFG.model_copy(update={"divergence_limit": 1e-3}))
    assert not (tmp_path / "G.pt").exists()


# -- samples, stats, curves ----------------------------------------------------------------------------------------


def test_sample_grids_at_the_right_steps_and_curves(store, tmp_path):
    cfg = CFG.model_copy(update={"steps": 5, "sample_every": 2, "log_every": 2})
    _run(store, tmp_path, cfg=cfg, loss="hinge")
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step000002.png", "step000004.png"]
    grid = np.asarray(Image.open(tmp_path / "samples.png"))
    assert grid.shape == (2 * 18 + 2, 2 * 18 + 2, 3)  # 4 images of 16 px, 2×2 mosaic
    early = np.asarray(Image.open(tmp_path / "samples" / "step000002.png"))
    assert early.shape == grid.shape and not np.array_equal(early, grid)  # same latents, G moved
    rows = _rows(tmp_path / "stats.jsonl")
    assert [r["step"] for r in rows] == [2, 4, 5]
    lines = (tmp_path / "loss_curves.csv").read_text().splitlines()
    assert lines[0] == "step,loss_d,loss_g"
    assert [ln.split(",")[0] for ln in lines[1:]] == ["2", "4", "5"]
    assert float(lines[-1].split(",")[1]) == rows[-1]["loss_d"]


def test_sampling_does_not_change_training(store, tmp_path):
    _run(store, tmp_path / "a")
    _run(store, tmp_path / "b", cfg=CFG.model_copy(update={"sample_every": 1}))
    assert (tmp_path / "a" / "G.pt").read_bytes() == (tmp_path / "b" / "G.pt").read_bytes()


@pytest.mark.parametrize("loss", ["infomax", "ssgan", "cramer", "mmd"])
def test_every_aux_or_embedding_loss_trains_through_the_loop(store, tmp_path, monkeypatch, loss):
    emb = 8 if "embedding" in registry.LOSSES[loss].needs else 0
    monkeypatch.setitem(gan_mod.DISCRIMINATORS, "dcgan", lambda resolution, width: FakeD(resolution, width, emb))
    hps = registry.LOSSES[loss].hparams(**({"nrkhs": 16} if loss == "infomax" else {}))
    row = _run(store, tmp_path, loss=loss, loss_cfg=hps, cfg=CFG.model_copy(update={"steps": 2}))
    assert np.isfinite(row["loss_d"]) and np.isfinite(row["loss_g"])
    assert {"loss_d", "loss_g"} < set(_rows(tmp_path / "stats.jsonl")[-1])


# -- fine-tuning ---------------------------------------------------------------------------------------------------


def test_finetune_starts_from_the_base_changes_it_and_records_it(store, other_store, tmp_path):
    arch = Hps(z_dim=8, width=8, ema=0.5)
    _run(store, tmp_path / "base", arch=arch)
    base = load_checkpoint(tmp_path / "base" / "G.pt", "gan_generator")
    gan = _gan(variant="ft-other")
    assert gan.base == _gan() and gan.finetune_dataset == "other"
    finetune_gan(other_store, CFG, 3, arch, gan, tmp_path / "base", tmp_path / "ft")
    ft = load_checkpoint(tmp_path / "ft" / "G.pt", "gan_generator")
    assert ft["steps"] == 3 and ft["gan"]["variant"] == "ft-other"
    assert ft["finetuned_from"]["gan"] == base["gan"]
    assert len(ft["finetuned_from"]["G_sha256"]) == 64
    assert not torch.equal(ft["state_dict"]["fc.weight"], base["state_dict"]["fc.weight"])
    # with learning rates 0 the parameters stay those of the base (raw G, EMA and D were all loaded)
    frozen = Hps(z_dim=8, width=8, ema=0.5, lr_g=0.0, lr_d=0.0)
    _run(store, tmp_path / "base0", arch=frozen)
    finetune_gan(other_store, CFG, 2, frozen, gan, tmp_path / "base0", tmp_path / "ft0")
    for f, key in (("G.pt", "state_dict"), ("G.pt", "raw_state_dict"), ("D.pt", "state_dict")):
        a, b = _sd(tmp_path / "base0" / f, key), _sd(tmp_path / "ft0" / f, key)
        for k in a:
            if "running" not in k and "num_batches" not in k:
                assert torch.equal(a[k], b[k]), (f, key, k)


def test_finetune_refuses_a_base_of_another_gan(store, other_store, tmp_path):
    _run(store, tmp_path / "base", seed=1)
    with pytest.raises(StageError, match="not the base"):
        finetune_gan(other_store, CFG, 1, ARCH, _gan(variant="ft-other", seed=0), tmp_path / "base", tmp_path / "ft")
    assert not (tmp_path / "ft").exists()


# -- the CLIs ------------------------------------------------------------------------------------------------------


def test_train_gan_and_finetune_gan_clis(tmp_path, monkeypatch):
    from conftest import tiny_params, write_params

    from ganprint.cli import finetune_gan as ft_cli
    from ganprint.cli import train_gan as train_cli

    monkeypatch.chdir(tmp_path)
    params = tiny_params()
    params["gans"]["finetuned"] = {
        "dataset": ["skimage"],
        "arch": ["dcgan"],
        "loss": ["nonsat"],
        "variant": ["ft-sklearn"],
        "seed": [0],
    }
    params["finetune_gan"] = {"steps": 2}
    write_params(tmp_path / "params.yaml", params)
    _store(tmp_path / "data/clean/skimage", res=32)
    _store(tmp_path / "data/clean/sklearn", seed=3, res=32)
    sel = ["--dataset", "skimage", "--arch", "dcgan", "--loss", "nonsat", "--seed", "0", "--device", "cpu"]
    base = tmp_path / "results/models/gan/skimage/dcgan/nonsat/clean/seed0"
    argv = [*sel, "--variant", "clean", "--data", "data/clean/skimage/images.lmdb", "--out", str(base)]
    assert train_cli.main(argv) == 0
    # a fine-tuned variant is refused by train-gan, a trained one by finetune-gan
    ft_out = tmp_path / "results/models/gan/skimage/dcgan/nonsat/ft-sklearn/seed0"
    assert train_cli.main([*sel, "--variant", "ft-sklearn", "--data", "x", "--out", str(ft_out)]) == 2
    base_args = ["--base-model", str(base / "G.pt"), "--base-discriminator", str(base / "D.pt")]
    assert ft_cli.main([*sel, "--variant", "clean", *base_args, "--out", str(ft_out)]) == 2
    assert not ft_out.exists()
    assert ft_cli.main([*sel, "--variant", "ft-sklearn", *base_args, "--out", str(ft_out)]) == 0
    ck = load_checkpoint(ft_out / "G.pt", "gan_generator")
    assert ck["steps"] == 2 and ck["finetuned_from"]["gan"]["variant"] == "clean"
    resolved = json.loads((ft_out / "resolved_config.json").read_text())
    assert resolved["base"] == "skimage-dcgan-nonsat-clean-seed0"
    assert resolved["finetune_gan"] == {"steps": 2} and resolved["selectors"]["variant"] == "ft-sklearn"
    assert [r["step"] for r in _rows(ft_out / "stats.jsonl")] == [1, 2]
