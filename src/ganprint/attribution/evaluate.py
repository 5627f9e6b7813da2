"""Evaluate a trained attribution method on a split's test part: accuracy, macro-F1, per-class, confusion, open-set.

Metrics follow the papers' conventions (PAPERS.md §6): attribution accuracy (Yu 2019), accuracy + macro-F1
(DNA-Det), computed with scikit-learn over the test images of known classes, plus the average precision of the
non-real class when the protocol has two classes (``ap``, else null) and what the method's ``extra_metrics``
adds (classmodel: ``class_modelling``). Test images of the class ``unknown`` (an open-set protocol: sources
absent from training, PAPERS §7b) add the open-set metrics: AUROC
known vs unknown and the accuracy with rejection at the threshold calibrated on the split's validation part
(:mod:`ganprint.attribution.openset`). Optional test-time augmentation (:mod:`ganprint.attribution.tta`).
Images stream through a DataLoader and predictions are written as they come, so memory does not grow with
the number of test images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, average_precision_score, confusion_matrix, f1_score

from ganprint.checkpoint import load_checkpoint
from ganprint.data.store import DEFAULT_MAP_BUDGET_MB
from ganprint.errors import StageError
from ganprint.io import atomic_path
from ganprint.train.common import from_uint8

from .methods import StoreTrainData, method_from_checkpoint
from .openset import UNKNOWN, confidence, feature_stats, open_set_metrics, rejection_scores
from .splits import SplitManifest
from .train import calibrate_on
from .tta import tta_scores


def macro_f1(y, p) -> float:
    """Macro-F1 over the classes among the true and predicted labels (scikit-learn's default label set, as DNA-Det's
    utils/common.py computes it): a cross test of fewer classes than the model knows is not averaged with zeros
    for the classes it does not contain."""
    return float(f1_score(y, p, average="macro", zero_division=0))


@torch.no_grad()
def predict(method, images: torch.Tensor, device, tta: str = "none", tta_vote: str = "majority"):
    """A uint8 batch (N, 3, H, W) → (scores (N, K) float32 numpy, predicted (N,) int64 numpy) under ``tta``."""
    pred, scores = tta_scores(method.scores, from_uint8(images, device), tta, tta_vote)
    return scores.float().cpu().numpy(), pred.cpu().numpy()


def evaluate_attribution(
    split: SplitManifest,
    model_path: str | Path,
    out_predictions: str | Path,
    *,
    batch_size: int,
    device: torch.device | str = "cpu",
    part: str = "test",
    workers: int = 0,
    memory_budget_mb: float = DEFAULT_MAP_BUDGET_MB,
    verify_sha1: bool = True,
    tta: str = "none",
    tta_vote: str = "majority",
    open_set_tpr: float = 0.95,
    open_set_score: str = "msp",
) -> dict:
    """Score ``split.part(part)`` with the method at ``model_path``; write one predictions row per image.

    The predictions CSV has ``store,key,source,label,predicted,score_<class>...,tta,rejected`` in
    split-manifest order (``rejected``: below the open-set threshold; False when there is none). The rejection
    threshold is calibrated at ``open_set_tpr`` on the split's val part with the same TTA; without a val part
    the checkpoint's calibration (made at training time, no TTA) is used, if any. ``open_set_score``: the
    rejection score (:mod:`ganprint.attribution.openset`); ``feature_distance`` uses the checkpoint's training
    feature statistics, or computes them from the split's train part when the checkpoint has none.
    """
    ckpt = load_checkpoint(model_path, "attribution_classifier")
    classes = list(split.classes)
    if list(ckpt["classes"]) != classes:
        raise StageError(
            f"{model_path}: trained on classes {ckpt['classes']}, but the protocol's {part} split has "
            f"{classes}; retrain the classifier (train_classifier) for this protocol"
        )
    rows = split.part(part)
    if rows.empty:
        raise StageError(f"the split has no {part} images; raise the protocol's images.{part}")
    load = {"workers": workers, "device": device, "verify_sha1": verify_sha1, "memory_budget_mb": memory_budget_mb}
    data = StoreTrainData(rows, **load)
    if data.resolution != ckpt["resolution"]:
        raise StageError(
            f"{model_path}: trained on {ckpt['resolution']} px images, the {part} split's are "
            f"{data.resolution} px; retrain the classifier on this split"
        )
    method = method_from_checkpoint(ckpt, device)

    stats = None
    if open_set_score == "feature_distance":
        stats = ckpt.get("open_set_stats")
        if stats is None:
            stats = feature_stats(method, StoreTrainData(split.part("train"), **load), batch_size)
    val_rows = split.part("val")
    val_rows = val_rows[val_rows["y"] >= 0]
    if len(val_rows) and part != "val":
        val = StoreTrainData(val_rows, **load)
        calibration = calibrate_on(method, val, open_set_tpr, batch_size, tta, tta_vote, open_set_score, stats)
    else:
        calibration = ckpt.get("calibration")
        if calibration is not None and calibration.get("kind", "msp") != open_set_score:
            calibration = None  # calibrated for another score: its threshold means nothing here
    threshold = None if calibration is None else calibration["threshold"]

    labels = rows["y"].to_numpy()
    positive = positive_class(classes)
    pos_score = np.empty(len(rows), dtype=np.float64)  # the positive class's score (binary protocols: AP)
    pred = np.empty(len(rows), dtype=np.int64)
    conf = np.empty(len(rows), dtype=np.float64)
    start = 0
    with atomic_path(out_predictions) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        for images, _ in data.loader(batch_size, False, 0):
            scores, batch_pred = predict(method, images, device, tta, tta_vote)
            if open_set_score == "msp":
                batch_conf = confidence(scores, batch_pred)
            else:
                batch_conf = rejection_scores(method, from_uint8(images, device), open_set_score, stats)
            stop = start + len(scores)
            pred[start:stop] = batch_pred
            conf[start:stop] = batch_conf
            pos_score[start:stop] = scores[:, positive]
            chunk = rows.iloc[start:stop]
            table = pd.DataFrame(
                {
                    "store": chunk["store"].to_numpy(),
                    "key": chunk["key"].to_numpy(),
                    "source": chunk["source"].to_numpy(),
                    "label": chunk["label"].to_numpy(),
                    "predicted": [classes[i] for i in batch_pred],
                }
            )
            for i, c in enumerate(classes):
                table[f"score_{c}"] = scores[:, i].round(6)
            table["tta"] = tta
            table["rejected"] = False if threshold is None else conf[start:stop] < threshold
            table.to_csv(fh, index=False, header=start == 0, lineterminator="\n")
            start = stop

    k = len(classes)
    known = labels >= 0
    if not known.any():
        raise StageError(f"the {part} split has only {UNKNOWN!r} images; an open-set test needs known ones too")
    y, p = labels[known], pred[known]
    cm = confusion_matrix(y, p, labels=list(range(k)))
    # null (not NaN, which is no JSON) for a class without test images here (a protocol testing fewer classes)
    per_class = {c: float(cm[i, i] / cm[i].sum()) if cm[i].sum() else None for i, c in enumerate(classes)}
    per_source = pd.Series(y == p).groupby(rows["source"].to_numpy()[known], sort=True).mean()
    open_set = {"score": open_set_score, "calibration": calibration}
    if (~known).any():
        open_set |= open_set_metrics(conf, pred, labels, threshold)
    ap = None
    if k == 2 and (y == positive).any():
        ap = float(average_precision_score(y == positive, pos_score[known]))
    known_data = StoreTrainData(rows[known].reset_index(drop=True), **load) if (~known).any() else data
    extra = method.extra_metrics(known_data, batch_size)
    return {
        "accuracy": float(accuracy_score(y, p)),
        "macro_f1": macro_f1(y, p),
        "chance": 1.0 / k,
        "classes": classes,
        "per_class_accuracy": per_class,
        "per_source_accuracy": {s: float(v) for s, v in per_source.items()},
        "confusion_matrix": cm.tolist(),
        "ap": ap,
        "test_images": int(known.sum()),
        "tta": tta,
        "tta_vote": tta_vote,
        "open_set": open_set,
        **extra,
    }


def positive_class(classes: list[str]) -> int:
    """The class whose average precision a two-class protocol reports: the one not named ``real``; ``classes[1]``
    when neither or both are (for more classes the index means nothing: no AP is reported)."""
    not_real = [i for i, c in enumerate(classes) if c != "real"]
    return not_real[0] if len(classes) == 2 and len(not_real) == 1 else min(1, len(classes) - 1)
