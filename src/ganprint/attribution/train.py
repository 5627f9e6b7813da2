"""Train an attribution classifier on a protocol's training split (Yu et al. 2019 §1.4 recipe by default).

Adam β = (0, 0.99), lr 1e-3, batch 32, random horizontal flip, softmax cross-entropy, inputs in [-1, 1].
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganprint.checkpoint import save_checkpoint
from ganprint.config import TrainClassifierCfg
from ganprint.io import seed_everything
from ganprint.nets import CLASSIFIERS
from ganprint.train.common import StatsWriter, check_finite, to_tensor

from .splits import Split

log = logging.getLogger("ganprint")


def train_classifier(
    split: Split,
    cfg: TrainClassifierCfg,
    method: str,
    out_model: str | Path,
    out_stats: str | Path | None = None,
    *,
    protocol: str = "",
    device: torch.device | str = "cpu",
) -> dict:
    """Train ``method`` on ``split``; write a checkpoint carrying the sorted class names. Returns metrics."""
    seed_everything(cfg.seed)
    images, labels = split.load()
    res = images.shape[1]
    model = CLASSIFIERS[method](
        resolution=res, num_classes=len(split.classes), fmap_base=cfg.fmap_base, fmap_max=cfg.fmap_max
    ).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8)
    rng = np.random.default_rng(cfg.seed)
    steps_per_epoch = max(1, len(labels) // cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    stats = StatsWriter(out_stats, total, f"train_classifier {protocol}/{method}")
    log.info(
        "training %s on %d images of %d classes %s (%d px) for %d steps",
        method,
        len(labels),
        len(split.classes),
        list(split.classes),
        res,
        total,
    )
    model.train()
    step, correct, seen = 0, 0, 0
    for _epoch in range(cfg.epochs):
        perm = rng.permutation(len(labels))
        for b in range(steps_per_epoch):
            idx = np.sort(perm[b * cfg.batch_size : (b + 1) * cfg.batch_size])
            x = to_tensor(images[idx], device)
            if cfg.hflip:  # the paper's only augmentation, p = 0.5 per image
                flip = torch.from_numpy(rng.random(len(idx)) < 0.5).to(device)
                x = torch.where(flip[:, None, None, None], x.flip(3), x)
            y = torch.from_numpy(labels[idx]).to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            check_finite(loss, "train_classifier", step)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(idx)
            if step % 50 == 0 or step == total:
                stats.add(step, loss=loss.item(), train_acc=correct / seen)
                correct, seen = 0, 0
    stats.close()
    save_checkpoint(
        out_model,
        kind="attribution_classifier",
        model=model.cpu(),
        model_name=method,
        classes=list(split.classes),
        protocol=protocol,
    )
    return {
        "train_images": int(len(labels)),
        "classes": list(split.classes),
        "steps": total,
        "final_loss": stats.rows[-1]["loss"],
        "final_train_accuracy": stats.rows[-1]["train_acc"],
    }
