"""Train an attribution classifier on a split's train part (Yu et al. 2019 §1.4 recipe by default).

Adam β = (0, 0.99), lr 1e-3, batch 32, random horizontal flip, softmax cross-entropy, inputs in [-1, 1].
Batches stream from the split's stores through a seeded DataLoader (DESIGN.md, data feeding), so memory does
not grow with the number of training images.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganprint.checkpoint import save_checkpoint
from ganprint.data.dataset import StoreImages, make_loader
from ganprint.data.store import DEFAULT_MAP_BUDGET_MB
from ganprint.errors import StageError
from ganprint.io import seed_everything
from ganprint.nets import CLASSIFIERS
from ganprint.train.common import StatsWriter, check_finite, from_uint8

from .splits import SplitManifest

log = logging.getLogger("ganprint")


def train_classifier(
    split: SplitManifest,
    train_cfg,
    method_cfg,
    method: str,
    out_model: str | Path,
    out_stats: str | Path | None = None,
    *,
    protocol: str = "",
    device: torch.device | str = "cpu",
    workers: int = 0,
    memory_budget_mb: float = DEFAULT_MAP_BUDGET_MB,
    verify_sha1: bool = True,
) -> dict:
    """Train ``method`` on ``split.part("train")``; write a checkpoint carrying the sorted class names.

    ``train_cfg`` has ``epochs, batch_size, seed``; ``method_cfg`` has ``fmap_base, fmap_max, lr, beta1,
    beta2, hflip``. Same inputs and seed on CPU ⇒ the same checkpoint bytes, whatever ``workers`` is.
    Returns ``train_images, classes, steps, final_loss, final_train_accuracy``.
    """
    seed_everything(train_cfg.seed)
    rows = split.part("train")
    if rows.empty:
        raise StageError(f"protocol {protocol}: the split has no train images; rebuild it with train_per_class > 0")
    data = StoreImages.from_rows(rows, verify_sha1=verify_sha1, memory_budget_mb=memory_budget_mb)
    res = data.image_shape()[0]
    model = CLASSIFIERS[method](
        resolution=res, num_classes=len(split.classes), fmap_base=method_cfg.fmap_base, fmap_max=method_cfg.fmap_max
    ).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=method_cfg.lr, betas=(method_cfg.beta1, method_cfg.beta2), eps=1e-8)
    rng = np.random.default_rng(train_cfg.seed)  # the flips; the data order has the loader's own generator
    # Full batches only, as before; a split smaller than one batch trains on one short batch per epoch.
    loader = make_loader(
        data,
        train_cfg.batch_size,
        shuffle=True,
        seed=train_cfg.seed,
        workers=workers,
        device=device,
        drop_last=len(data) >= train_cfg.batch_size,
    )
    total = train_cfg.epochs * len(loader)
    stats = StatsWriter(out_stats, total, f"train_classifier {protocol}/{method}")
    log.info(
        "training %s on %d images of %d classes %s (%d px) for %d steps",
        method,
        len(data),
        len(split.classes),
        list(split.classes),
        res,
        total,
    )
    model.train()
    step, correct, seen = 0, 0, 0
    for _epoch in range(train_cfg.epochs):
        for images, labels in loader:
            x = from_uint8(images, device)
            if method_cfg.hflip:  # the paper's only augmentation, p = 0.5 per image
                flip = torch.from_numpy(rng.random(len(labels)) < 0.5).to(device)
                x = torch.where(flip[:, None, None, None], x.flip(3), x)
            y = labels.to(device, non_blocking=True)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            check_finite(loss, "train_classifier", step)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
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
        "train_images": len(data),
        "classes": list(split.classes),
        "steps": total,
        "final_loss": stats.rows[-1]["loss"],
        "final_train_accuracy": stats.rows[-1]["train_acc"],
    }
