"""Evaluate a trained attributor on a protocol's test split: accuracy, macro-F1, per-class, confusion.

Metrics follow the papers' conventions (PAPERS.md §6): attribution accuracy (Yu 2019), accuracy + macro-F1
(DNA-Det), computed with scikit-learn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from ganprint.checkpoint import build_from_checkpoint, load_checkpoint
from ganprint.errors import StageError
from ganprint.io import atomic_path
from ganprint.nets import CLASSIFIERS
from ganprint.train.common import to_tensor

from .splits import Split


@torch.no_grad()
def predict(model: torch.nn.Module, images: np.ndarray, batch_size: int, device) -> np.ndarray:
    """Softmax scores (N, K) for uint8 images (N, H, W, 3)."""
    out = []
    for s in range(0, len(images), batch_size):
        out.append(torch.softmax(model(to_tensor(images[s : s + batch_size], device)), 1).cpu())
    return torch.cat(out).numpy()


def evaluate_attribution(
    split: Split, model_path: str | Path, out_predictions: str | Path, *, batch_size: int, device="cpu"
) -> dict:
    ckpt = load_checkpoint(model_path, "attribution_classifier")
    if list(ckpt["classes"]) != list(split.classes):
        raise StageError(
            f"{model_path}: trained on classes {ckpt['classes']}, but the protocol's test split has "
            f"{list(split.classes)}; retrain the classifier (train_classifier) for this protocol"
        )
    model = build_from_checkpoint(ckpt, CLASSIFIERS, device)
    images, labels = split.load()
    scores = predict(model, images, batch_size, device)
    pred = scores.argmax(1)
    classes = list(split.classes)
    k = len(classes)
    cm = confusion_matrix(labels, pred, labels=list(range(k)))
    per_class = {c: float(cm[i, i] / cm[i].sum()) if cm[i].sum() else float("nan") for i, c in enumerate(classes)}
    sources = np.concatenate([[p.source] * len(p.indices) for p in split.parts])
    table = pd.DataFrame(
        {"source": sources, "label": [classes[i] for i in labels], "predicted": [classes[i] for i in pred]}
    )
    for i, c in enumerate(classes):
        table[f"score_{c}"] = scores[:, i].round(6)
    with atomic_path(out_predictions) as tmp:
        table.to_csv(tmp, index=False, lineterminator="\n")
    per_source = table.assign(ok=table.label == table.predicted).groupby("source", sort=True)["ok"].mean()
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
