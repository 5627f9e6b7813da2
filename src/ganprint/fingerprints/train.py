"""Train the StegaStamp-style fingerprint autoencoder (Yu et al. 2021, PAPERS.md §2.2, §7.1 item 9).

Loss = w_L2 · MSE(fingerprinted, image) + w_BCE · BCE(decoder(fingerprinted), bits), fresh random bits per
sample per step, one Adam over encoder and decoder. w_L2 stays 0 until the batch bit accuracy first passes
``bit_acc_threshold``; then, after ``l2_await`` more steps, it ramps linearly over ``l2_ramp`` steps to
``l2_weight`` (the reference's schedule). For small data the schedule is scaled by ``schedule_scale``: params keep
the paper's step counts (1000 / 3000) and the loop uses ``round(scale · l2_await)`` and
``max(1, round(scale · l2_ramp))``.

* Resume (as ``train_gan``'s, ``ganprint.train.gan``): every ``checkpoint_every`` steps (null = once per epoch,
  clipped to 100..5000 steps; the reference writes only every 5000 steps, so a small dataset never got one)
  ``<out>/resume.pt`` is written atomically with both nets, the optimiser, every generator state, the schedule's
  counter, the stuck-detector window and the stats rows; a rerun continues from it and, on the CPU, ends with
  byte-identical encoder.pt and decoder.pt. It carries a hash of the config and is removed after success.
* Curves: ``stats.jsonl`` grows row by row; at the end ``curves.csv`` (step, loss, bce, l2, w_l2, bit_acc, psnr,
  ssim of the training batch) is the DVC plot.
* Stuck at chance (ArtificialGANFingerprints issue #2: bit accuracy 0.5 for most runs): at step ``stuck_after``,
  if the schedule has not started and the mean batch bit accuracy of the last 50 steps is below 0.6, a
  :class:`StageError` says so and what to try.
"""

from __future__ import annotations

import json
import logging
import math
from collections import deque
from pathlib import Path

import torch
import torch.nn.functional as F

from ganprint.checkpoint import save_checkpoint, versions
from ganprint.config import TrainFingerprintAutoencoderCfg
from ganprint.data.store import ImageStore
from ganprint.errors import StageError
from ganprint.fingerprints.common import bit_accuracy, psnr, ssim
from ganprint.io import atomic_path, seed_everything
from ganprint.nets.stegastamp import StegaStampDecoder, StegaStampEncoder
from ganprint.train.common import EpochSampler, StatsWriter, check_finite, to_tensor
from ganprint.train.gan import Interrupted, _cpu_state, _load_resume, _write_curves, config_hash

log = logging.getLogger("ganprint")

RESUME = "resume.pt"
RESUME_KIND = "fingerprint_resume"
STUCK_WINDOW = 50  # batches averaged by the stuck-at-chance check
STUCK_BIT_ACCURACY = 0.6  # below this mean batch bit accuracy at step stuck_after, training is stuck


def schedule_steps(cfg: TrainFingerprintAutoencoderCfg) -> tuple[int, int]:
    """(await, ramp) in steps after scaling by ``cfg.schedule_scale``."""
    return round(cfg.schedule_scale * cfg.l2_await), max(1, round(cfg.schedule_scale * cfg.l2_ramp))


def l2_weight_at(step_since_threshold: int | None, cfg: TrainFingerprintAutoencoderCfg) -> float:
    """w_L2 = clip(w · (s − await) / ramp, 0, w), s counted from the first step past the threshold."""
    if step_since_threshold is None:
        return 0.0
    wait, ramp = schedule_steps(cfg)
    return float(min(max(cfg.l2_weight * (step_since_threshold - wait) / ramp, 0.0), cfg.l2_weight))


def checkpoint_interval(cfg: TrainFingerprintAutoencoderCfg, n_images: int) -> int:
    """Steps between resume checkpoints: ``cfg.checkpoint_every``, or (null) one epoch clipped to 100..5000."""
    if cfg.checkpoint_every is not None:
        return cfg.checkpoint_every
    return min(5000, max(100, math.ceil(n_images / cfg.batch_size)))


def train_fingerprint_autoencoder(
    data: str | Path,
    cfg: TrainFingerprintAutoencoderCfg,
    out_encoder: str | Path,
    out_decoder: str | Path,
    out_stats: str | Path | None = None,
    *,
    out_curves: str | Path | None = None,
    device: torch.device | str = "cpu",
    stop_after: int | None = None,
) -> dict:
    """Train encoder + decoder on the images of ``data``; returns final metrics on a fixed evaluation batch.

    ``resume.pt`` lives beside ``out_encoder``. ``stop_after``: raise :class:`Interrupted` after that step (tests:
    a killed job). Same params and seed on the CPU ⇒ byte-identical encoder.pt and decoder.pt, also across a kill
    and a resume.
    """
    out_dir = Path(out_encoder).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(device)
    store = ImageStore(data)
    res = store.shape[0]
    seed_everything(cfg.seed)
    enc = StegaStampEncoder(resolution=res, bits=cfg.bits).to(device)
    dec = StegaStampDecoder(resolution=res, bits=cfg.bits).to(device)
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=cfg.lr)
    sampler = EpochSampler(len(store), cfg.batch_size, seed=cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    every = checkpoint_interval(cfg, len(store))
    run_hash = config_hash({"train_fingerprint_autoencoder": cfg.model_dump(), "resolution": res, "n": len(store)})
    resume = out_dir / RESUME
    start, rows, since, window, passed_at = 0, [], None, deque(maxlen=STUCK_WINDOW), None
    if resume.is_file():
        st = _load_resume(resume, run_hash, kind=RESUME_KIND)
        enc.load_state_dict(st["encoder"])
        dec.load_state_dict(st["decoder"])
        opt.load_state_dict(st["opt"])
        sampler.rng.bit_generator.state = json.loads(st["sampler_rng"])
        sampler._perm = st["sampler_perm"].numpy().copy()
        gen.set_state(st["bits_rng"])
        torch.set_rng_state(st["torch_rng"])
        start, rows, since, passed_at = int(st["step"]), list(st["rows"]), st["since"], st["passed_at"]
        window.extend(st["window"])
        log.info("train_fingerprint_autoencoder: resuming from step %d (%s)", start, resume)
    stats = StatsWriter(
        out_stats, cfg.steps, f"train_fingerprint_autoencoder {Path(data).parent.name}", stream=True, rows=rows
    )
    try:
        for step in range(start + 1, cfg.steps + 1):
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
            window.append(acc)
            if since is None and acc > cfg.bit_acc_threshold:
                since, passed_at = 0, step
                log.info("bit accuracy %.3f passed %.2f at step %d: L2 schedule", acc, cfg.bit_acc_threshold, step)
            elif since is not None:
                since += 1
            if step % cfg.log_every == 0 or step == cfg.steps:
                fp_d = fp.detach()
                stats.add(
                    step,
                    loss=loss.item(),
                    bce=bce.item(),
                    l2=l2.item(),
                    w_l2=w_l2,
                    bit_acc=acc,
                    psnr=psnr(fp_d, x).mean().item(),
                    ssim=ssim(fp_d, x).mean().item(),
                )
            if cfg.stuck_after and step == cfg.stuck_after and since is None:
                _check_not_stuck(sum(window) / len(window), step, cfg)
            if every and step % every == 0 and step < cfg.steps:
                _save_resume(resume, run_hash, step, enc, dec, opt, sampler, gen, stats, since, passed_at, window)
            if stop_after is not None and step >= stop_after and step < cfg.steps:
                raise Interrupted(f"train_fingerprint_autoencoder: stopped after step {step} (stop_after)")
    except StageError:
        resume.unlink(missing_ok=True)  # a rerun would do exactly the same
        raise
    finally:
        stats.close()
    metrics = evaluate_autoencoder(enc, dec, store, cfg, device)
    metrics["l2_schedule_started"] = since is not None
    metrics["l2_schedule_started_step"] = passed_at
    metrics["steps"] = cfg.steps
    metrics["l2_await_steps"], metrics["l2_ramp_steps"] = schedule_steps(cfg)
    metrics["checkpoint_every"] = every
    extra = {"params": {"bits": cfg.bits, "resolution": res}}
    save_checkpoint(out_encoder, kind="fingerprint_encoder", model=enc.cpu(), model_name="stegastamp", **extra)
    save_checkpoint(out_decoder, kind="fingerprint_decoder", model=dec.cpu(), model_name="stegastamp", **extra)
    if out_curves is not None:
        _write_curves(stats.rows, Path(out_curves))
    store.close()
    resume.unlink(missing_ok=True)
    return metrics


def _check_not_stuck(mean_acc: float, step: int, cfg: TrainFingerprintAutoencoderCfg) -> None:
    if mean_acc >= STUCK_BIT_ACCURACY:
        return
    raise StageError(
        f"train_fingerprint_autoencoder: the mean batch bit accuracy of the last {STUCK_WINDOW} steps is "
        f"{mean_acc:.3f} at step {step} (chance: 0.5, threshold {STUCK_BIT_ACCURACY}); the decoder is stuck at "
        "chance (ArtificialGANFingerprints issue #2). Try another train_fingerprint_autoencoder.seed, a higher lr "
        f"(now {cfg.lr:g}) or a lower one if the loss jumps, fewer bits (now {cfg.bits}), a larger batch_size "
        f"(now {cfg.batch_size}), or more varied images; raise stuck_after (now {cfg.stuck_after}) to wait longer, "
        "0 turns the check off. No model was written."
    )


def _save_resume(path, run_hash, step, enc, dec, opt, sampler, gen, stats, since, passed_at, window) -> None:
    state = {
        "kind": RESUME_KIND,
        "config_hash": run_hash,
        "step": step,
        "encoder": _cpu_state(enc),
        "decoder": _cpu_state(dec),
        "opt": opt.state_dict(),
        "sampler_rng": json.dumps(sampler.rng.bit_generator.state),
        "sampler_perm": torch.from_numpy(sampler._perm.copy()),
        "bits_rng": gen.get_state(),
        "torch_rng": torch.get_rng_state(),
        "since": since,
        "passed_at": passed_at,
        "window": list(window),
        "rows": list(stats.rows),
        "versions": versions(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


@torch.no_grad()
def evaluate_autoencoder(enc, dec, store: ImageStore, cfg, device, n: int = 512) -> dict:
    """Bit accuracy, PSNR and SSIM on the first ``n`` images with fixed random bits (seed cfg.seed + 1)."""
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
        "ssim": ssim(fp_q, x).mean().item(),
        "images": n,
    }
