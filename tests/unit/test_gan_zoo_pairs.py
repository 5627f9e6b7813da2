"""Every family × each loss it is compatible with trains through the real training loop (issue 'GAN zoo', check 1).

At 32 px with the narrowest widths each family allows, two G steps (n_dis from the family's section): the
checkpoint's generator has the right output shape and range, the weights moved away from their initialisation,
and every logged loss value is finite. Incompatible pairs are refused by the config (tests/unit/test_config.py).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from ganprint import registry
from ganprint.checkpoint import build_from_checkpoint, load_checkpoint
from ganprint.config import GanCfg, TrainGanCfg, incompatibility
from ganprint.data.store import ImageStoreWriter
from ganprint.io import seed_everything
from ganprint.nets import GENERATORS
from ganprint.train.gan import build_gan, train_gan

PAIRS = [(a, lo) for a in registry.ARCHS for lo in registry.LOSSES if not incompatibility(a, lo)]
NARROW = {"dcgan": 8, "progan": 8, "sngan": 4, "mimicry": 4, "mmdgan": 4, "stylegan2": 4}
CFG = TrainGanCfg(steps=2, batch_size=4, log_every=1, checkpoint_every=0, sample_every=0, grid_images=4)
RES = 32


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("zoo")
    rng = np.random.default_rng(0)
    with ImageStoreWriter(d / "images.lmdb", d / "manifest.csv") as w:
        for _ in range(12):
            w.add(rng.integers(0, 256, (RES, RES, 3), dtype=np.uint8))
    return d / "images.lmdb"


def test_every_family_has_compatible_losses():
    per_arch = {a: {lo for a2, lo in PAIRS if a2 == a} for a in registry.ARCHS}
    assert per_arch["mmdgan"] == {"cramer", "mmd"}
    assert {"infomax", "ssgan"} <= per_arch["mimicry"] and "infomax" in per_arch["sngan"]
    assert all(per_arch[a] for a in registry.ARCHS)
    assert len(PAIRS) == 24


@pytest.mark.parametrize(("arch", "loss"), PAIRS, ids=[f"{a}-{lo}" for a, lo in PAIRS])
def test_pair_trains(store, tmp_path, arch, loss):
    torch.set_num_threads(1)
    hps = registry.ARCHS[arch].hparams(width=NARROW[arch], z_dim=16)
    gan = GanCfg(dataset="zoo", arch=arch, loss=loss, variant="clean", seed=3)
    train_gan(store, CFG, hps, gan, tmp_path)

    seed_everything(gan.seed)  # the loop builds G first after seeding with the training seed
    init_g, _ = build_gan(arch, RES, hps, loss)
    ckpt = load_checkpoint(tmp_path / "G.pt", "gan_generator")
    G = build_from_checkpoint(ckpt, GENERATORS)
    raw = ckpt.get("raw_state_dict", ckpt["state_dict"])
    moved = [k for k, v in init_g.state_dict().items() if v.is_floating_point() and not torch.equal(v, raw[k])]
    assert moved, f"{arch}/{loss}: no weight changed in two steps"

    z = torch.randn(3, G.z_dim) if G.latent == "normal" else torch.rand(3, G.z_dim) * 2 - 1
    with torch.no_grad():
        x = G(z)
    assert x.shape == (3, 3, RES, RES)
    assert x.min() >= -1.0 and x.max() <= 1.0

    rows = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    values = [v for r in rows for k, v in r.items() if k != "step"]
    assert values and all(math.isfinite(v) for v in values), rows
