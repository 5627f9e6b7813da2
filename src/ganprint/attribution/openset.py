"""Open-set attribution: reject images of a source absent from training (PAPERS §7b, POSE-style evaluation).

Rejection score (``evaluate_attribution.open_set_score``; higher = more likely a known source):

* ``msp`` (default): the confidence of the predicted class: the max softmax probability for softmax methods, the
  max one-vs-rest sigmoid for class-modelling methods (both are simply the predicted class's score);
* ``energy``: the negative free energy ``logsumexp_k logit_k`` (Liu et al. 2020, "Energy-based
  Out-of-distribution Detection"); needs a method with ``logits`` (the neural ones; not kNN / PRNU);
* ``feature_distance``: minus the distance of ``features(x)`` to the nearest training class mean, each feature
  dimension scaled by its pooled within-class std from the training images (a diagonal Mahalanobis distance;
  Lee et al. 2018 use the full covariance). The statistics (:func:`feature_stats`) are computed once from the
  training data and stored in the checkpoint.

Energy and feature distance are computed on the images as they are (no TTA); the predicted class still uses TTA. A
threshold is calibrated on the split's validation images of the known classes at a target TPR (default 0.95:
95 % of known images accepted, POSE's "TNR at TPR 95"). On a test set with images labelled ``unknown``:
AUROC of known vs unknown (sklearn ``roc_auc_score``, known = positive, score = confidence; threshold-free),
TNR at the threshold, and the accuracy with rejection (a known image is right when accepted and correctly
attributed, an unknown one when rejected).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import roc_auc_score

from .splits import UNKNOWN  # the test-class name of sources absent from training

__all__ = ["OPEN_SET_SCORES", "UNKNOWN", "calibrate", "confidence", "feature_stats", "open_set_metrics",
           "rejection_scores"]  # fmt: skip

OPEN_SET_SCORES = ("msp", "energy", "feature_distance")


def confidence(scores: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(N, K) scores, (N,) predictions → (N,) the predicted class's score (higher = more likely known)."""
    return scores[np.arange(len(pred)), pred].astype(np.float64)


def feature_stats(method, data, batch_size: int) -> dict:
    """Per-class means (K, D) of ``method.features`` over ``data`` (a TrainData) and the pooled within-class std
    (D,) of each feature dimension, streamed once in float64; tensors (they go into the checkpoint)."""
    import torch

    from ganprint.train.common import from_uint8

    k = method.num_classes if hasattr(method, "num_classes") else len(method.classes)
    s = s2 = None
    n = torch.zeros(k, dtype=torch.float64)
    with torch.no_grad():
        for images, labels in data.loader(batch_size, False, 0):
            f = method.features(from_uint8(images, method.device)).detach().cpu().to(torch.float64)
            if s is None:
                s = torch.zeros(k, f.shape[1], dtype=torch.float64)
                s2 = torch.zeros(k, f.shape[1], dtype=torch.float64)
            y = torch.as_tensor(labels, dtype=torch.int64).cpu()
            s.index_add_(0, y, f)
            s2.index_add_(0, y, f.square())
            n += torch.bincount(y, minlength=k).to(torch.float64)
    if s is None or n.sum() == 0:
        raise ValueError("no training images to compute the feature statistics from")
    mean = s / n.clamp_min(1)[:, None]
    within = (s2 - n[:, None] * mean.square()).sum(0) / n.sum()  # Σ_k Σ_i (f_i − μ_k)² / N
    return {"mean": mean.float(), "scale": within.clamp_min(0).sqrt().clamp_min(1e-6).float()}


def rejection_scores(method, x, kind: str, stats: dict | None = None) -> np.ndarray:
    """(N,) rejection scores of ``x`` (float (N, 3, R, R) in [-1, 1]) for ``kind`` ``energy`` or
    ``feature_distance`` (``msp`` is :func:`confidence` of the scores); higher = more likely known."""
    import torch

    from ganprint.errors import StageError

    with torch.no_grad():
        if kind == "energy":
            if not hasattr(method, "logits"):
                raise StageError(
                    f"open_set_score energy needs a method with logits; {type(method).__name__} has none: "
                    "set evaluate_attribution.open_set_score to msp or feature_distance"
                )
            return torch.logsumexp(method.logits(x).float(), 1).cpu().numpy().astype(np.float64)
        if kind == "feature_distance":
            if stats is None:
                raise ValueError("feature_distance needs the training feature statistics (feature_stats)")
            f = method.features(x).detach().float().cpu()
            z = (f[:, None, :] - stats["mean"][None]) / stats["scale"]
            return (-z.square().sum(2).min(1).values.sqrt()).numpy().astype(np.float64)
    raise ValueError(f"open-set score must be one of {OPEN_SET_SCORES}, got {kind!r}")


def calibrate(conf_val: np.ndarray, tpr: float) -> dict:
    """The largest threshold t with mean(conf_val >= t) >= tpr (accept when confidence >= t)."""
    conf = np.sort(np.asarray(conf_val, dtype=np.float64))
    if not len(conf):
        raise ValueError("no validation images to calibrate the rejection threshold on")
    if not 0.0 < tpr <= 1.0:
        raise ValueError(f"target TPR must be in (0, 1], got {tpr}")
    n = len(conf)
    i = n - math.ceil(tpr * n - 1e-9)  # keep at least ceil(tpr · n) images at or above the threshold
    t = float(conf[i])
    return {
        "score": "predicted-class score (max softmax probability / max sigmoid)",
        "threshold": t,
        "target_tpr": float(tpr),
        "tpr_val": float(np.mean(conf >= t)),
        "val_images": int(n),
    }


def open_set_metrics(conf: np.ndarray, pred: np.ndarray, y: np.ndarray, threshold: float | None) -> dict:
    """Metrics on a test set whose unknown images have ``y == -1``; ``threshold`` None = AUROC only."""
    known = y >= 0
    out: dict = {"known_images": int(known.sum()), "unknown_images": int((~known).sum())}
    out["auroc"] = float(roc_auc_score(known, conf)) if known.any() and (~known).any() else None
    if threshold is None:
        out |= {"threshold": None, "accuracy_with_rejection": None, "known_tpr": None, "unknown_tnr": None}
        return out
    accept = conf >= threshold
    right = np.where(known, accept & (pred == y), ~accept)
    out |= {
        "threshold": float(threshold),
        "accuracy_with_rejection": float(right.mean()),
        "known_tpr": float(accept[known].mean()) if known.any() else None,
        "unknown_tnr": float((~accept[~known]).mean()) if (~known).any() else None,
    }
    return out
