"""The interpret_attribution stage: the interpretability figures of one trained attribution method on one protocol.

Every job writes the same four files (a DVC matrix needs the same outputs for every method), under
``results/figures/attribution/<protocol>/<method>/``:

* ``cam.png``: Grad-CAM / CAM heat-map grids per class (:mod:`ganprint.report.interpret`; Generator_Attribution's
  explanations, PAPERS §3.2): for each class, its first ``cam_images`` test images (top row) over their heat-maps
  for that class's own score (bottom row). Methods without a conv layer to hook (``cam_layer()`` is None: kNN,
  PRNU) get a PNG that says so instead.
* ``tsne.png``: a t-SNE of ``features()`` of the split's test images, coloured by class (open-set ``unknown``
  test images in grey), at most ``tsne_images`` images, split evenly over the classes (first ones in manifest
  order).
* ``fingerprints.png``: visNet's fingerprint figure (Yu et al. 2019 demo, PAPERS §1.5;
  :mod:`ganprint.report.fingerprints_figure`) of the first test image, for methods that have model fingerprints
  (``model_fingerprints()``); a PNG saying why not for the others.
* ``interpret.json``: what each figure shows (or why it is a note), the images used, and the test accuracy of
  evaluate_attribution.

Images are chosen by position in the split manifest (no randomness); the t-SNE has a fixed ``random_state``; PNGs
have no timestamps or software tags. Same inputs ⇒ same bytes on the CPU.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganprint.checkpoint import load_checkpoint
from ganprint.errors import StageError
from ganprint.io import atomic_path, write_json
from ganprint.train.common import from_uint8

from . import interpret

log = logging.getLogger("ganprint")

FIGURES = ("cam.png", "tsne.png", "fingerprints.png")
SUMMARY = "interpret.json"


def first_per_class(rows: pd.DataFrame, total: int) -> pd.DataFrame:
    """At most ``total`` rows, split evenly over the label values (``y``; -1 = unknown included), the first rows
    of each in manifest order; the result keeps manifest order. The first labels take the remainder."""
    groups = sorted(rows["y"].unique(), key=lambda y: (y < 0, y))  # known classes first, then unknown
    if not groups:
        return rows.iloc[:0]
    base, extra = divmod(total, len(groups))
    keep = []
    for i, y in enumerate(groups):
        idx = rows.index[rows["y"] == y]
        keep += list(idx[: base + (1 if i < extra else 0)])
    return rows.loc[sorted(keep, key=rows.index.get_loc)]


def load_images(rows: pd.DataFrame, load: dict, batch_size: int) -> torch.Tensor:
    """The uint8 images (N, 3, R, R) of ``rows``, in row order."""
    from ganprint.attribution.methods import StoreTrainData

    data = StoreTrainData(rows, **load)
    return torch.cat([images for images, _ in data.loader(batch_size, False, 0)])


def note_png(path: str | Path, title: str, text: str) -> None:
    """A small PNG that says why a figure does not apply (so every job writes the same files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(5, 1.4), dpi=100)
    fig.text(0.5, 0.68, title, ha="center", va="center", fontsize=10, weight="bold")
    fig.text(0.5, 0.32, text, ha="center", va="center", fontsize=8, wrap=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


def cam_figure(method, images: torch.Tensor, labels, out_path: str | Path, *, kind: str, per_class: int) -> dict:
    """One PNG with, per class, a block of its images (top) over their heat-maps for its own score (bottom).

    ``images`` (N, 3, R, R) float in [-1, 1], ``labels`` (N,) class indices (negative ones ignored). Returns
    ``{"kind": "cam" | "gradcam", "images_per_class": {class: n}}``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if kind not in ("auto", "cam", "gradcam"):
        raise ValueError(f"kind must be auto, cam or gradcam, got {kind!r}")
    use_cam = kind == "cam" or (kind == "auto" and interpret.has_plain_cam(method))
    labels = torch.as_tensor(np.array(labels), dtype=torch.int64)
    blocks, counts = [], {}
    for k, cls in enumerate(method.classes):
        rows = (labels == k).nonzero()[:, 0][:per_class]
        counts[cls] = len(rows)
        if len(rows) == 0:
            continue
        x = images[rows].float()
        heat = interpret.class_activation_map(method, x, k) if use_cam else interpret.grad_cam(method, x, k)
        tiles = np.concatenate([interpret.overlay(x, torch.zeros_like(heat), alpha=0.0), interpret.overlay(x, heat)])
        blocks.append((cls, interpret._rows_grid(tiles, len(rows))))
    if not blocks:
        raise StageError("no test image of a known class to explain; raise the protocol's images.test")
    width = max(b.shape[1] for _, b in blocks)
    fig, axes = plt.subplots(len(blocks), 1, figsize=(max(3.0, width / 40), 1.0 + 1.6 * len(blocks)), dpi=100)
    for ax, (cls, block) in zip(np.atleast_1d(axes), blocks, strict=True):
        ax.imshow(block, interpolation="nearest")
        ax.set_title(f"{cls}: images / {'CAM' if use_cam else 'Grad-CAM'} of score '{cls}'", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
    return {"kind": "cam" if use_cam else "gradcam", "images_per_class": counts}


def tsne_figure(method, images: torch.Tensor, labels, out_path: str | Path, *, perplexity: float, seed: int,
                batch_size: int, title: str) -> dict:  # fmt: skip
    """t-SNE of ``method.features`` of ``images`` (N, 3, R, R) in [-1, 1], one colour per class, unknown (-1) grey."""
    feats = interpret.features_of(method, images, batch_size)
    emb = interpret.tsne_embedding(feats.numpy(), perplexity=perplexity, random_state=seed)
    interpret.scatter_classes(emb, labels, list(method.classes), title, out_path)
    return {"images": len(labels), "feature_dim": int(feats.shape[1]), "perplexity": float(perplexity)}


def interpret_attribution(
    split,
    model_path: str | Path,
    out_dir: str | Path,
    cfg,
    *,
    method_name: str = "",
    protocol: str = "",
    metrics_path: str | Path | None = None,
    device: torch.device | str = "cpu",
    workers: int = 0,
    memory_budget_mb: float = 512.0,
    verify_sha1: bool = True,
    extra: dict | None = None,
) -> dict:
    """Write :data:`FIGURES` and :data:`SUMMARY` into ``out_dir`` for the method at ``model_path`` on ``split``'s
    test part. ``cfg`` has ``cam_images, cam_kind, tsne_images, perplexity, seed, batch_size``; ``extra`` is added to
    the summary (the CLI: the resolved params). Returns the summary.
    """
    from ganprint.attribution.methods import method_from_checkpoint

    ckpt = load_checkpoint(model_path, "attribution_classifier")
    if list(ckpt["classes"]) != list(split.classes):
        raise StageError(
            f"{model_path}: trained on classes {ckpt['classes']}, the split has {list(split.classes)}; retrain the "
            "classifier (train_classifier) for this protocol"
        )
    method = method_from_checkpoint(ckpt, device)
    name = method_name or ckpt["model_name"]
    rows = split.part("test").reset_index(drop=True)
    if rows.empty or not (rows["y"] >= 0).any():
        raise StageError("the split has no test images of a known class; raise the protocol's images.test")
    load = {"workers": workers, "device": device, "verify_sha1": verify_sha1, "memory_budget_mb": memory_budget_mb}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict = {"protocol": protocol, "method": name, "classes": list(method.classes)}
    if metrics_path is not None:
        m = json.loads(Path(metrics_path).read_text(encoding="utf-8"))
        summary["test_accuracy"] = m.get("accuracy")

    # heat-maps: the first cam_images test images of each known class
    if method.cam_layer() is None:
        why = f"{name} has no convolutional layer to explain (cam_layer() is None): no Grad-CAM / CAM heat-map"
        note_png(out_dir / "cam.png", f"{name}: no heat-map", why)
        summary["cam"] = {"kind": "none", "reason": why}
    else:
        known = rows[rows["y"] >= 0]
        cam_rows = pd.concat([known[known["y"] == y].iloc[: cfg.cam_images] for y in sorted(known["y"].unique())])
        cam_rows = cam_rows.sort_index()
        x = from_uint8(load_images(cam_rows, load, cfg.batch_size), device)
        summary["cam"] = cam_figure(method, x, cam_rows["y"].to_numpy(), out_dir / "cam.png", kind=cfg.cam_kind,
                                    per_class=cfg.cam_images)  # fmt: skip

    # t-SNE of the features of at most tsne_images test images (unknown ones included, in grey)
    tsne_rows = first_per_class(rows, cfg.tsne_images)
    x = from_uint8(load_images(tsne_rows, load, cfg.batch_size), device)
    acc = summary.get("test_accuracy")
    title = f"t-SNE of {name} features, {protocol or 'test'} split" + (
        f" (test accuracy {100 * acc:.1f} %)" if acc is not None else ""
    )
    summary["tsne"] = tsne_figure(method, x, tsne_rows["y"].to_numpy(), out_dir / "tsne.png",
                                  perplexity=cfg.perplexity, seed=cfg.seed, batch_size=cfg.batch_size,
                                  title=title)  # fmt: skip

    # visNet's fingerprint figure of the first test image
    if hasattr(method, "model_fingerprints"):
        from .fingerprints_figure import save_fingerprint_figure

        first = rows[rows["y"] >= 0].iloc[:1]
        image = from_uint8(load_images(first, load, 1), device)[0]
        fig = save_fingerprint_figure(method, image, out_dir / "fingerprints.png")
        summary["fingerprints"] = {"image": f"{first['source'].iloc[0]}:{first['key'].iloc[0]}", **fig}
    else:
        why = f"{name} has no model fingerprints (only visNet, Yu et al. 2019 §1.5, learns them)"
        note_png(out_dir / "fingerprints.png", f"{name}: no fingerprint figure", why)
        summary["fingerprints"] = {"kind": "none", "reason": why}
    summary |= extra or {}
    write_json(out_dir / SUMMARY, summary)
    log.info("interpretability figures of %s/%s in %s", protocol, name, out_dir)
    return summary
