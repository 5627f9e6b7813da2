"""GAN training per {dataset, arch, loss, variant, seed} (the design card's 'GAN training per seed').

The walking skeleton trains the DCGAN of Radford et al. 2016 with the non-saturating loss; architectures and
losses come from registries, so the GAN-zoo issue adds families without touching this loop.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ganprint.checkpoint import save_checkpoint
from ganprint.config import GanCfg, TrainGanCfg
from ganprint.data.store import ImageStore
from ganprint.hparams import DCGANHps
from ganprint.io import seed_everything
from ganprint.losses import LOSSES
from ganprint.nets import DISCRIMINATORS, GENERATORS
from ganprint.train.common import EpochSampler, StatsWriter, check_finite, to_tensor

log = logging.getLogger("ganprint")


def train_gan(
    data: str | Path,
    cfg: TrainGanCfg,
    arch_cfg: DCGANHps,
    gan: GanCfg,
    out_model: str | Path,
    out_stats: str | Path | None = None,
    *,
    device: torch.device | str = "cpu",
    extra: dict | None = None,
) -> dict:
    """Train G and D on the images of store ``data``; write the generator checkpoint to ``out_model``.

    Returns the last stats row. Same params and seed on CPU ⇒ byte-identical checkpoint.
    """
    store = ImageStore(data)
    res = store.shape[0]
    seed_everything(gan.seed)
    a = arch_cfg
    G = GENERATORS[gan.arch](resolution=res, z_dim=a.z_dim, width=a.width).to(device)
    D = DISCRIMINATORS[gan.arch](resolution=res, width=a.width).to(device)
    loss_dis, loss_gen = LOSSES[gan.loss]
    opt_g = torch.optim.Adam(G.parameters(), lr=a.lr_g, betas=(a.beta1, a.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=a.lr_d, betas=(a.beta1, a.beta2))
    sampler = EpochSampler(len(store), cfg.batch_size, seed=gan.seed)
    noise = torch.Generator(device="cpu").manual_seed(gan.seed)
    stats = StatsWriter(out_stats, cfg.steps, f"train_gan {gan.dataset}/{gan.arch}/{gan.variant}/seed{gan.seed}")
    log.info(
        "training %s/%s on %s (%d images, %d px) for %d steps on %s",
        gan.arch,
        gan.loss,
        data,
        len(store),
        res,
        cfg.steps,
        device,
    )
    row = {}
    for step in range(1, cfg.steps + 1):
        real = to_tensor(store.read(sampler.next()), device)
        z = torch.randn(real.shape[0], a.z_dim, generator=noise).to(device)
        # D step: real vs detached fakes
        fake = G(z)
        d_loss = loss_dis(D(real), D(fake.detach()))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        # G step on the same latents
        g_loss = loss_gen(D(fake))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        check_finite(d_loss + g_loss, "train_gan", step)
        if step % cfg.log_every == 0 or step == cfg.steps:
            row = {"loss_d": d_loss.item(), "loss_g": g_loss.item()}
            stats.add(step, **row)
    stats.close()
    save_checkpoint(
        out_model,
        kind="gan_generator",
        model=G.cpu(),
        model_name=gan.arch,
        gan={
            "dataset": gan.dataset,
            "arch": gan.arch,
            "loss": gan.loss,
            "variant": gan.variant,
            "seed": gan.seed,
        },
        **(extra or {}),
    )
    store.close()
    return row
