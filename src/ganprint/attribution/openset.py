"""Open-set attribution: reject images of a source absent from training (PAPERS §7b, POSE-style evaluation).

Rejection score = the confidence of the predicted class: the max softmax probability for softmax methods, the
max one-vs-rest sigmoid for class-modelling methods (both are simply the predicted class's score). A
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

__all__ = ["UNKNOWN", "calibrate", "confidence", "open_set_metrics"]


def confidence(scores: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(N, K) scores, (N,) predictions → (N,) the predicted class's score (higher = more likely known)."""
    return scores[np.arange(len(pred)), pred].astype(np.float64)


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
