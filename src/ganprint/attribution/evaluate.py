"""Evaluate a trained attributor on a split's test part: accuracy, macro-F1, per-class, confusion.

Metrics follow the papers' conventions (PAPERS.md §6): attribution accuracy (Yu 2019), accuracy + macro-F1
(DNA-Det), computed with scikit-learn. Images stream through a DataLoader and predictions are written as they
come, so memory does not grow with the number of test images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from ganprint.checkpoint import build_from_checkpoint, load_checkpoint
from ganprint.data.dataset import StoreImages, make_loader
from ganprint.data.store import DEFAULT_MAP_BUDGET_MB
from ganprint.errors import StageError
from ganprint.io import atomic_path
from ganprint.nets import CLASSIFIERS
from ganprint.train.common import from_uint8

from .splits import SplitManifest


@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor, device) -> np.ndarray:
    """Softmax scores (N, K) float32 for a uint8 batch (N, 3, H, W)."""
    return torch.softmax(model(from_uint8(images, device)), 1).cpu().numpy()


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
) -> dict:
    """Score ``split.part(part)`` with the classifier at ``model_path``; write one predictions row per image.

    The predictions CSV has ``store,key,source,label,predicted,score_<class>...`` in split-manifest order.
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
        raise StageError(f"the split has no {part} images; rebuild it with {part}_per_class > 0")
    model = build_from_checkpoint(ckpt, CLASSIFIERS, device)
    data = StoreImages.from_rows(rows, verify_sha1=verify_sha1, memory_budget_mb=memory_budget_mb)
    res = data.image_shape()[0]
    if res != ckpt["model_args"]["resolution"]:
        raise StageError(
            f"{model_path}: trained on {ckpt['model_args']['resolution']} px images, the {part} split's are "
            f"{res} px; retrain the classifier on this split"
        )
    loader = make_loader(data, batch_size, shuffle=False, seed=0, workers=workers, device=device)
    labels = rows["y"].to_numpy()
    pred = np.empty(len(rows), dtype=np.int64)
    start = 0
    with atomic_path(out_predictions) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        for images, _ in loader:
            scores = predict(model, images, device)
            stop = start + len(scores)
            pred[start:stop] = scores.argmax(1)
            chunk = rows.iloc[start:stop]
            table = pd.DataFrame(
                {
                    "store": chunk["store"].to_numpy(),
                    "key": chunk["key"].to_numpy(),
                    "source": chunk["source"].to_numpy(),
                    "label": chunk["label"].to_numpy(),
                    "predicted": [classes[i] for i in pred[start:stop]],
                }
            )
            for i, c in enumerate(classes):
                table[f"score_{c}"] = scores[:, i].round(6)
            table.to_csv(fh, index=False, header=start == 0, lineterminator="\n")
            start = stop
    k = len(classes)
    cm = confusion_matrix(labels, pred, labels=list(range(k)))
    per_class = {c: float(cm[i, i] / cm[i].sum()) if cm[i].sum() else float("nan") for i, c in enumerate(classes)}
    per_source = pd.Series(labels == pred).groupby(rows["source"].to_numpy(), sort=True).mean()
    return {
        "accuracy": float(accuracy_score(labels, pred)),
        "macro_f1": float(f1_score(labels, pred, average="macro", labels=list(range(k)), zero_division=0)),
        "chance": 1.0 / k,
        "classes": classes,
        "per_class_accuracy": per_class,
        "per_source_accuracy": {s: float(v) for s, v in per_source.items()},
        "confusion_matrix": cm.tolist(),
        "test_images": int(len(labels)),
    }
