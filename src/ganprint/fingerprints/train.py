"""Train the StegaStamp-style fingerprint autoencoder (Yu et al. 2021, PAPERS.md §2.2).

Loss = w_L2 · MSE(fingerprinted, image) + w_BCE · BCE(decoder(fingerprinted), bits), fresh random bits per
sample per step. w_L2 stays 0 until the batch bit accuracy first passes ``bit_acc_threshold``; then, after
``l2_await`` more steps, it ramps linearly over ``l2_ramp`` steps to ``l2_weight`` (the reference's schedule,
scaled by params for small data).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F

from ganprint.checkpoint import save_checkpoint
from ganprint.config import TrainFingerprintAutoencoderCfg
from ganprint.data.store import ImageStore
from ganprint.fingerprints.common import bit_accuracy, psnr
from ganprint.io import seed_everything
from ganprint.nets.stegastamp import StegaStampDecoder, StegaStampEncoder
from ganprint.train.common import EpochSampler, StatsWriter, check_finite, to_tensor

log = logging.getLogger("ganprint")


def l2_weight_at(step_since_threshold: int | None, cfg: TrainFingerprintAutoencoderCfg) -> float:
    """w_L2 = clip(w · (s − await) / ramp, 0, w), s counted from the first step past the threshold."""
    if step_since_threshold is None:
        return 0.0
    return float(min(max(cfg.l2_weight * (step_since_threshold - cfg.l2_await) / cfg.l2_ramp, 0.0), cfg.l2_weight))


def train_fingerprint_autoencoder(
    data: str | Path,
    cfg: TrainFingerprintAutoencoderCfg,
    out_encoder: str | Path,
    out_decoder: str | Path,
    out_stats: str | Path | None = None,
    *,
    device: torch.device | str = "cpu",
) -> dict:
    """Train encoder + decoder on the images of ``data``; returns final metrics on a fixed evaluation batch."""
    store = ImageStore(data)
    res = store.shape[0]
    seed_everything(cfg.seed)
    enc = StegaStampEncoder(resolution=res, bits=cfg.bits).to(device)
    dec = StegaStampDecoder(resolution=res, bits=cfg.bits).to(device)
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=cfg.lr)
    sampler = EpochSampler(len(store), cfg.batch_size, seed=cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    stats = StatsWriter(out_stats, cfg.steps, f"train_fingerprint_autoencoder {Path(data).parent.name}")
    since = None  # steps since the bit accuracy first passed the threshold
    for step in range(1, cfg.steps + 1):
        x = to_tensor(store.read(sampler.next()), device, "01")  # (N, 3, R, R) in [0, 1]
        bits = torch.randint(0, 2, (x.shape[0], cfg.bits), generator=gen).float().to(device)
        fp = enc(x, bits)
        logits = dec(fp)
        w_l2 = l2_weight_at(since, cfg)
        l2 = F.mse_loss(fp, x)
        bce = F.binary_cross_entropy_with_logits(logits, bits)
        loss = w_l2 * l2 + cfg.bce_weight * bce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        check_finite(loss, "train_fingerprint_autoencoder", step)
        acc = bit_accuracy(logits.detach(), bits).mean().item()
        if since is None and acc > cfg.bit_acc_threshold:
            since = 0
            log.info(
                "bit accuracy %.3f passed %.2f at step %d: L2 schedule starts",
                acc,
                cfg.bit_acc_threshold,
                step,
            )
        elif since is not None:
            since += 1
        if step % cfg.log_every == 0 or step == cfg.steps:
            stats.add(
                step,
                loss=loss.item(),
                bce=bce.item(),
                l2=l2.item(),
                w_l2=w_l2,
                bit_acc=acc,
                psnr=psnr(fp.detach(), x).mean().item(),
            )
    stats.close()
    metrics = evaluate_autoencoder(enc, dec, store, cfg, device)
    metrics["l2_schedule_started"] = since is not None
    metrics["steps"] = cfg.steps
    extra = {"params": {"bits": cfg.bits, "resolution": res}}
    save_checkpoint(out_encoder, kind="fingerprint_encoder", model=enc.cpu(), model_name="stegastamp", **extra)
    save_checkpoint(out_decoder, kind="fingerprint_decoder", model=dec.cpu(), model_name="stegastamp", **extra)
    store.close()
    return metrics


@torch.no_grad()
def evaluate_autoencoder(enc, dec, store: ImageStore, cfg, device, n: int = 512) -> dict:
    """Bit accuracy and PSNR on the first ``n`` images with fixed random bits (seed cfg.seed + 1)."""
    enc.eval(), dec.eval()
    n = min(n, len(store))
    x = to_tensor(store.read(range(n)), device, "01")
    bits = torch.randint(0, 2, (n, cfg.bits), generator=torch.Generator().manual_seed(cfg.seed + 1)).float().to(device)
    fp = enc(x, bits)
    fp_q = torch.round(fp * 255) / 255  # what survives writing the image as 8-bit
    return {
        "bit_accuracy": bit_accuracy(dec(fp_q), bits).mean().item(),
        "bit_accuracy_clean_images": bit_accuracy(dec(x), bits).mean().item(),
        "psnr_db": psnr(fp_q, x).mean().item(),
        "images": n,
    }
