"""train_gan + generate_images on a tiny store: same seed ⇒ same bytes; image i depends only on (seed, i)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganprint.checkpoint import load_checkpoint
from ganprint.config import GanCfg, TrainGanCfg
from ganprint.data.store import ImageStore, ImageStoreWriter, read_manifest
from ganprint.errors import StageError
from ganprint.generate import generate_images, latent
from ganprint.hparams import DCGANHps
from ganprint.io import seed_everything
from ganprint.losses import nonsat_loss_dis, nonsat_loss_gen
from ganprint.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganprint.train.common import EpochSampler, to_tensor, to_uint8
from ganprint.train.gan import train_gan

CFG = TrainGanCfg(steps=3, batch_size=8, log_every=1)
ARCH = DCGANHps(z_dim=8, width=8)


def smooth_images(n: int, res: int = 32, seed: int = 0) -> np.ndarray:
    """(n, res, res, 3) uint8: upsampled 4×4 noise, a stand-in for photographs."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    return np.stack([np.asarray(Image.fromarray(s).resize((res, res), Image.Resampling.BILINEAR)) for s in small])


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("data")
    with ImageStoreWriter(d / "images.lmdb", d / "manifest.csv") as w:
        for img in smooth_images(40):
            w.add(img)
    return d / "images.lmdb"


def _train(store: Path, out: Path, seed: int = 0, cfg: TrainGanCfg = CFG) -> dict:
    gan = GanCfg(dataset="tiny", arch="dcgan", loss="nonsat", variant="clean", seed=seed)
    return train_gan(store, cfg, ARCH, gan, out, extra={"params": {"note": 1}})


@pytest.fixture(scope="module")
def trained(store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gan") / "seed0"
    _train(store, out)
    return out


# -- train_gan ---------------------------------------------------------------------------------------------


def test_train_gan_writes_model_and_stats(store, tmp_path):
    row = _train(store, tmp_path / "g")
    assert sorted(os.listdir(tmp_path / "g")) == [
        "D.pt",
        "G.pt",
        "loss_curves.csv",
        "samples.png",
        "stats.jsonl",
    ]
    assert set(row) == {"loss_d", "loss_g"}
    rows = [json.loads(line) for line in (tmp_path / "g" / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    # the returned row is the last logged one (stats.jsonl rounds to 6 decimals)
    assert rows[-1] == {"step": 3, "loss_d": round(row["loss_d"], 6), "loss_g": round(row["loss_g"], 6)}
    ckpt = load_checkpoint(tmp_path / "g" / "G.pt", "gan_generator")
    assert ckpt["model_name"] == "dcgan"
    assert ckpt["model_args"] == {"resolution": 32, "z_dim": 8, "width": 8}
    assert ckpt["gan"] == {"dataset": "tiny", "arch": "dcgan", "loss": "nonsat", "variant": "clean", "seed": 0}
    assert ckpt["params"] == {"note": 1}


def test_same_seed_same_bytes(store, trained, tmp_path):
    _train(store, tmp_path / "seed0")
    for name in ("G.pt", "D.pt", "stats.jsonl", "loss_curves.csv", "samples.png"):
        assert (tmp_path / "seed0" / name).read_bytes() == (trained / name).read_bytes(), name


def test_different_seed_different_model(store, trained, tmp_path):
    _train(store, tmp_path / "seed0", seed=1)  # same file name, other seed
    assert (tmp_path / "seed0" / "G.pt").read_bytes() != (trained / "G.pt").read_bytes()
    assert (tmp_path / "seed0" / "stats.jsonl").read_bytes() != (trained / "stats.jsonl").read_bytes()


def test_one_step_is_one_adam_step_of_d_then_g_on_the_nonsat_loss(store, tmp_path):
    """Re-do step 1 by hand: D descends the D loss, then G descends the G loss against the updated D.

    Adam's first step with bias correction moves each weight by −lr · g / (|g| + eps), i.e. by lr against the
    sign of its gradient, so the whole generator after one step is known exactly.
    """
    cfg = TrainGanCfg(steps=1, batch_size=8, log_every=1)
    row = _train(store, tmp_path, seed=3, cfg=cfg)
    after = load_checkpoint(tmp_path / "G.pt", "gan_generator")["state_dict"]

    seed_everything(3)
    G = DCGANGenerator(resolution=32, z_dim=8, width=8)
    D = DCGANDiscriminator(resolution=32, width=8)
    g0 = {k: v.clone() for k, v in G.state_dict().items()}
    with ImageStore(store) as s:
        real = to_tensor(s.read(EpochSampler(len(s), 8, seed=3).next()), "cpu")
    z = torch.randn(8, 8, generator=torch.Generator().manual_seed(3))

    def adam_first_step(params, grads, lr):
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= lr * g / (g.abs() + 1e-8)

    fake = G(z)
    loss_d = nonsat_loss_dis(D(real), D(fake.detach()))
    adam_first_step(list(D.parameters()), torch.autograd.grad(loss_d, list(D.parameters())), ARCH.lr_d)
    loss_g = nonsat_loss_gen(D(fake))
    names, params = zip(*G.named_parameters(), strict=True)
    grads_g = dict(zip(names, torch.autograd.grad(loss_g, params), strict=True))
    adam_first_step(list(G.parameters()), list(grads_g.values()), ARCH.lr_g)

    assert row["loss_d"] == pytest.approx(loss_d.item(), rel=1e-6)
    assert row["loss_g"] == pytest.approx(loss_g.item(), rel=1e-6)
    assert after.keys() == g0.keys()
    for name, value in G.state_dict().items():  # weights and the BatchNorm running statistics
        # tolerance: float32 rounding of the update (1e-6 relative), 200× below the step lr_g = 2e-4
        torch.testing.assert_close(after[name], value, rtol=1e-6, atol=1e-8, msg=name)
    # the direction, stated on its own: every weight with a clear gradient moved by lr_g against it
    for name, g in grads_g.items():
        moved = after[name] - g0[name]
        big = g.abs() > 1e-4  # where eps = 1e-8 in Adam's denominator changes the step by < 1e-4
        assert big.any(), name
        torch.testing.assert_close(moved[big], -ARCH.lr_g * g[big].sign(), rtol=1e-3, atol=0, msg=name)


def test_log_every_selects_stats_rows(store, tmp_path):
    cfg = TrainGanCfg(steps=3, batch_size=8, log_every=2)
    _train(store, tmp_path, cfg=cfg)
    steps = [line.split('"step": ')[1].rstrip("}") for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert steps == ["2", "3"]  # every 2nd step plus the last


# -- generate_images ---------------------------------------------------------------------------------------


def _generate(model: Path, out: Path, num_images: int, batch_size: int, seed: int = 5, grid_images: int = 64):
    n = generate_images(
        model,
        out / "images.lmdb",
        out / "manifest.csv",
        out / "samples.png",
        num_images=num_images,
        seed=seed,
        batch_size=batch_size,
        grid_images=grid_images,
        label="tiny/dcgan",
    )
    assert n == num_images
    with ImageStore(out / "images.lmdb") as s:
        return s.read(range(len(s)))


def test_latent_depends_only_on_seed_and_index():
    a = latent(5, 3, 8)
    assert a.dtype == np.float32 and a.shape == (8,)
    np.testing.assert_array_equal(a, latent(5, 3, 8))
    assert not np.array_equal(a, latent(5, 4, 8))
    assert not np.array_equal(a, latent(6, 3, 8))
    np.testing.assert_array_equal(a, np.random.default_rng([5, 3]).standard_normal(8).astype(np.float32))


def test_generate_writes_store_manifest_grid(trained, tmp_path):
    images = _generate(trained / "G.pt", tmp_path, num_images=9, batch_size=4, grid_images=4)
    assert sorted(os.listdir(tmp_path)) == ["images.lmdb", "manifest.csv", "samples.png"]
    assert images.shape == (9, 32, 32, 3) and images.dtype == np.uint8
    assert len({im.tobytes() for im in images}) == 9  # distinct latents, distinct images
    rows = read_manifest(tmp_path / "manifest.csv")
    assert [r["source"] for r in rows] == [f"seed5/{i:08d}" for i in range(9)]
    assert {r["label"] for r in rows} == {"tiny/dcgan"} and {r["seed"] for r in rows} == {"5"}
    grid = np.asarray(Image.open(tmp_path / "samples.png"))
    assert grid.shape == (2 * 34 + 2, 2 * 34 + 2, 3)  # 4 images, 2×2 mosaic, 2 px padding
    np.testing.assert_array_equal(grid[2:34, 36:68], images[1])


def test_batch_size_does_not_change_the_images(trained, tmp_path):
    a = _generate(trained / "G.pt", tmp_path / "a", num_images=9, batch_size=1)
    b = _generate(trained / "G.pt", tmp_path / "b", num_images=9, batch_size=7)
    np.testing.assert_array_equal(a, b)
    for name in ("images.lmdb", "manifest.csv", "samples.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_fewer_images_are_a_prefix(trained, tmp_path):
    five = _generate(trained / "G.pt", tmp_path / "five", num_images=5, batch_size=3)
    nine = _generate(trained / "G.pt", tmp_path / "nine", num_images=9, batch_size=4)
    np.testing.assert_array_equal(five, nine[:5])
    rows5 = read_manifest(tmp_path / "five" / "manifest.csv")
    assert rows5 == read_manifest(tmp_path / "nine" / "manifest.csv")[:5]


def test_image_i_is_the_eval_generator_at_latent_seed_i(trained, tmp_path):
    ckpt = load_checkpoint(trained / "G.pt", "gan_generator")
    G = DCGANGenerator(**ckpt["model_args"])
    G.load_state_dict(ckpt["state_dict"])
    G.eval()
    for seed in (5, 6):
        images = _generate(trained / "G.pt", tmp_path / f"s{seed}", num_images=3, batch_size=3, seed=seed)
        for i in range(3):
            with torch.no_grad():
                expect = to_uint8(G(torch.from_numpy(latent(seed, i, 8))[None]))[0]
            np.testing.assert_array_equal(images[i], expect, err_msg=f"seed {seed} image {i}")


def test_generate_refuses_a_non_generator(tmp_path, trained):
    from ganprint.checkpoint import CheckpointError

    torch.save({"kind": "fingerprint_decoder"}, tmp_path / "D.pt")
    with pytest.raises(CheckpointError, match="expected a gan_generator checkpoint, got 'fingerprint_decoder'"):
        _generate(tmp_path / "D.pt", tmp_path / "o", num_images=1, batch_size=1)
    assert not (tmp_path / "o").exists()


def test_batch_1_and_batch_64_give_byte_identical_images(trained, tmp_path):
    one = _generate(trained / "G.pt", tmp_path / "one", num_images=70, batch_size=1)
    many = _generate(trained / "G.pt", tmp_path / "many", num_images=70, batch_size=64)
    assert one.dtype == many.dtype == np.uint8
    assert one.tobytes() == many.tobytes()


def test_manifest_names_generation_seed_index_and_gan(trained, tmp_path):
    from ganprint.generate import index_of_source, source_of

    _generate(trained / "G.pt", tmp_path, num_images=3, batch_size=2, seed=17)
    rows = read_manifest(tmp_path / "manifest.csv")
    assert [(r["seed"], r["label"]) for r in rows] == [("17", "tiny/dcgan")] * 3
    assert [index_of_source(r["source"]) for r in rows] == [(17, 0), (17, 1), (17, 2)]
    assert source_of(17, 2) == "seed17/00000002"
    assert index_of_source("china.jpg") is None and index_of_source("data/x.lmdb#00000001") is None


def test_uniform_latent_is_u_minus1_1_from_seed_and_index():
    u = latent(5, 3, 1000, "uniform")
    assert u.dtype == np.float32 and -1.0 <= u.min() < -0.99 and 0.99 < u.max() <= 1.0
    np.testing.assert_array_equal(u, np.random.default_rng([5, 3]).uniform(-1.0, 1.0, 1000).astype(np.float32))
    np.testing.assert_array_equal(latent(5, 3, 8), latent(5, 3, 8, "normal"))
    with pytest.raises(StageError, match="unknown latent kind 'gamma'.*allowed: normal, uniform"):
        latent(5, 3, 8, "gamma")


def test_generation_draws_the_latent_kind_the_generator_declares(trained, tmp_path, monkeypatch):
    import ganprint.generate as gen

    class UniformDCGAN(DCGANGenerator):
        latent = "uniform"

    monkeypatch.setitem(gen.GENERATORS, "dcgan", UniformDCGAN)
    images = _generate(trained / "G.pt", tmp_path / "u", num_images=4, batch_size=3, seed=5)
    monkeypatch.undo()
    normal = _generate(trained / "G.pt", tmp_path / "n", num_images=4, batch_size=3, seed=5)
    ckpt = load_checkpoint(trained / "G.pt", "gan_generator")
    G = DCGANGenerator(**ckpt["model_args"])
    G.load_state_dict(ckpt["state_dict"])
    G.eval()
    with torch.no_grad():
        expect = to_uint8(G(torch.from_numpy(np.stack([latent(5, i, 8, "uniform") for i in range(4)]))))
    np.testing.assert_array_equal(images, expect)
    assert not np.array_equal(images, normal)
