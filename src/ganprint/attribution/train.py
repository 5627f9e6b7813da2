"""Train any registered attribution method on a split's train part (Yu et al. 2019 §1.4 recipe for postpool).

The method comes from the registry (:func:`ganprint.attribution.methods.build_method`); ``fit`` streams the
split's stores batch by batch (DESIGN.md, data feeding), so memory does not grow with the number of training
images (kNN excepted: it keeps its training vectors by definition). The checkpoint (kind
``attribution_classifier``) carries ``model_name``, the sorted ``classes``, ``protocol``, ``resolution``, the
method's ``hparams`` and ``state`` and, when the split has a validation part, the open-set ``calibration``
(rejection threshold at a target TPR on the validation images, :mod:`ganprint.attribution.openset`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from ganprint.checkpoint import versions
from ganprint.data.store import DEFAULT_MAP_BUDGET_MB
from ganprint.errors import StageError
from ganprint.io import atomic_path, seed_everything
from ganprint.train.common import StatsWriter, from_uint8

from .methods import StoreTrainData, build_method
from .openset import calibrate, confidence, feature_stats, rejection_scores
from .splits import SplitManifest

log = logging.getLogger("ganprint")


@dataclass(frozen=True)
class TrainSettings:
    """How a method trains (``fit``'s ``train_cfg``): passes over the data, batch size, and the seed of the
    initial weights, the data order and the augmentation draws (a protocol's classifier seed)."""

    epochs: int
    batch_size: int
    seed: int


def save_method(path: str | Path, method, *, model_name: str, protocol: str = "", **extra) -> None:
    """Write a method's ``attribution_classifier`` checkpoint atomically (tensors and plain python only)."""
    payload = {
        "kind": "attribution_classifier",
        "model_name": model_name,
        "classes": list(method.classes),
        "protocol": protocol,
        "resolution": method.resolution,
        "hparams": method.hps.model_dump() if hasattr(method.hps, "model_dump") else dict(vars(method.hps)),
        "state": method.state(),
        "versions": versions(),
        **extra,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def train_val_data(split: SplitManifest, protocol: str = "", **load) -> tuple[StoreTrainData, StoreTrainData | None]:
    """The split's train part and its val part of known classes (None when empty), streamed from their stores."""
    rows = split.part("train")
    if rows.empty:
        raise StageError(f"protocol {protocol}: the split has no train images; raise the protocol's images.train")
    val_rows = split.part("val")
    val_rows = val_rows[val_rows["y"] >= 0]
    return StoreTrainData(rows, **load), (StoreTrainData(val_rows, **load) if len(val_rows) else None)


SCORE_NAMES = {
    "energy": "logsumexp of the logits (negative free energy)",
    "feature_distance": "minus the scaled distance of the features to the nearest training class mean",
}


def batch_rejection(method, x, tta: str, tta_vote: str, kind: str = "msp", stats: dict | None = None):
    """(scores (N, K) numpy, predicted (N,) numpy, rejection score (N,) numpy) of a float batch in [-1, 1]."""
    from .tta import tta_scores

    pred, scores = tta_scores(method.scores, x, tta, tta_vote)
    scores, pred = scores.float().cpu().numpy(), pred.cpu().numpy()
    conf = confidence(scores, pred) if kind == "msp" else rejection_scores(method, x, kind, stats)
    return scores, pred, conf


@torch.no_grad()
def calibrate_on(method, data, tpr: float, batch_size: int, tta: str = "none", tta_vote: str = "majority",
                 kind: str = "msp", stats: dict | None = None) -> dict:  # fmt: skip
    """Rejection threshold at ``tpr`` on ``data`` (known classes), with the given TTA and rejection score."""
    conf = []
    for images, _ in data.loader(batch_size, False, 0):
        conf.append(batch_rejection(method, from_uint8(images, method.device), tta, tta_vote, kind, stats)[2])
    import numpy as np

    out = calibrate(np.concatenate(conf), tpr)
    out |= {"split_part": "val", "tta": tta, "tta_vote": tta_vote, "kind": kind}
    if kind != "msp":
        out["score"] = SCORE_NAMES[kind]
    return out


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
    open_set_tpr: float = 0.95,
    open_set_score: str = "msp",
) -> dict:
    """Fit method ``method`` (hyperparameters ``method_cfg``) on ``split.part("train")``; write its checkpoint.

    ``train_cfg`` has ``epochs, batch_size, seed``. Same inputs and seed on CPU ⇒ the same checkpoint bytes,
    whatever ``workers`` is. With a validation part, the rejection threshold at ``open_set_tpr`` is calibrated
    on it and stored (score ``open_set_score``; ``feature_distance`` stores the training feature statistics too,
    ``open_set_stats``). Returns ``train_images, classes`` plus what the method's ``fit`` reports (neural
    methods: ``steps, final_loss, final_train_accuracy``) and ``open_set_calibration`` (None without val).
    """
    seed_everything(train_cfg.seed)  # the network's initial weights (the loaders and flips have their own seeds)
    load = {"workers": workers, "device": device, "verify_sha1": verify_sha1, "memory_budget_mb": memory_budget_mb}
    train, val = train_val_data(split, protocol, **load)
    model = build_method(method, method_cfg, list(split.classes), train.resolution, device)
    per_epoch = max(len(train) // train_cfg.batch_size, 1)
    stats = StatsWriter(out_stats, train_cfg.epochs * per_epoch, f"train_classifier {protocol}/{method}")
    log.info(
        "training %s on %d images of %d classes %s (%d px)",
        method,
        len(train),
        len(split.classes),
        list(split.classes),
        train.resolution,
    )
    result = model.fit(train, val, train_cfg, stats)
    stats.close()
    calibration = None
    open_set_stats = feature_stats(model, train, train_cfg.batch_size) if open_set_score == "feature_distance" else None
    if val is not None:
        calibration = calibrate_on(model, val, open_set_tpr, train_cfg.batch_size, kind=open_set_score,
                                   stats=open_set_stats)  # fmt: skip
        log.info("open-set threshold %.6f (TPR %.3f on %d val images)", calibration["threshold"],
                 calibration["tpr_val"], calibration["val_images"])  # fmt: skip
    extra = {} if open_set_stats is None else {"open_set_stats": open_set_stats}
    save_method(out_model, model, model_name=method, protocol=protocol, calibration=calibration, **extra)
    return {
        "train_images": len(train),
        "classes": list(split.classes),
        **result,
        "open_set_calibration": calibration,
    }
