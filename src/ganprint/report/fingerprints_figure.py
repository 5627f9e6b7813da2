"""The visNet fingerprint figure of Yu et al. 2019's demo (``util_scripts.classify``; PAPERS §1.5).

Panels, as the reference renders them:

* the **model fingerprints**: the slices of the fingerprint kernel (the stored, unscaled variable), min-max
  normalised *jointly* over all K to [0, 255];
* the **image fingerprint** x − rec, [−1, 1] mapped to [0, 255];
* the **responses** fingerprint ⊙ model_fp_k, zeroed where the per-pixel minimum over channels is < 0,
  [−5, 5] mapped to [0, 255];
* the demo GIF's **bar plot** of response intensities; the intensity of model k is the sum of its (masked,
  hence non-negative) response.

The reference casts ``adjust_dynamic_range`` output to uint8 without clipping (values outside the range wrap
around); here they are rounded and clipped. The PNG has no timestamp or software tag: same inputs, same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganprint.io import atomic_path

PANEL_INCHES = 1.6  # side of one image panel
BAR_INCHES = 2.2  # height of the bar-plot row


def _to_uint8(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(…, 3, H, W) float with [lo, hi] → [0, 255] → (…, H, W, 3) uint8 (rounded, clipped)."""
    scaled = (x - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(x)
    return np.moveaxis(np.round(scaled).clip(0, 255).astype(np.uint8), -3, -1)


def model_fingerprint_panels(kernels) -> np.ndarray:
    """(K, 3, R, R) kernel → (K, R, R, 3) uint8, min-max normalised jointly over all K."""
    k = np.asarray(torch.as_tensor(kernels).detach().cpu(), dtype=np.float64)
    return _to_uint8(k, float(k.min()), float(k.max()))


def image_fingerprint_panel(fingerprint) -> np.ndarray:
    """(3, R, R) image fingerprint → (R, R, 3) uint8, [−1, 1] → [0, 255]."""
    return _to_uint8(np.asarray(torch.as_tensor(fingerprint).detach().cpu(), dtype=np.float64), -1.0, 1.0)


def responses(fingerprint, kernels) -> tuple[np.ndarray, np.ndarray]:
    """The image fingerprint's responses to the K model fingerprints.

    Returns ``(panels (K, R, R, 3) uint8 with [−5, 5] → [0, 255], intensity (K,) float)`` where the response
    ``fingerprint ⊙ kernel_k`` is zeroed at pixels whose minimum over channels is < 0 (the reference's
    "cleaner visualisation") and the intensity is the sum of what is left.
    """
    fp = np.asarray(torch.as_tensor(fingerprint).detach().cpu(), dtype=np.float64)  # (3, R, R)
    k = np.asarray(torch.as_tensor(kernels).detach().cpu(), dtype=np.float64)  # (K, 3, R, R)
    r = fp[None] * k
    r = np.where(r.min(axis=1, keepdims=True) < 0.0, 0.0, r)
    return _to_uint8(r, -5.0, 5.0), r.sum(axis=(1, 2, 3))


def figure_size(num_classes: int) -> tuple[float, float]:
    """(width, height) in inches: three image rows of max(3, K) panels, then the bar plot."""
    cols = max(3, num_classes)
    return cols * PANEL_INCHES, 3 * PANEL_INCHES + BAR_INCHES


def save_fingerprint_figure(method, image: torch.Tensor, out_path: str | Path, *, dpi: int = 100) -> dict:
    """Render the fingerprint figure of one image ``(3, R, R)`` in [−1, 1] for a trained visNet ``method``.

    ``method`` provides ``classes``, ``reconstruct(x)``, ``fingerprint(x)``, ``scores(x)`` and
    ``model_fingerprints()`` (:class:`ganprint.attribution.methods.visnet.VisNetMethod`). Writes a PNG of
    ``figure_size(K) × dpi`` pixels; returns ``predicted`` (class name), ``scores``, ``intensity`` (per class).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = list(method.classes)
    x = image.detach().float()[None]
    with torch.no_grad():
        rec = method.reconstruct(x)[0].cpu()
        fp = method.fingerprint(x)[0].cpu()
        scores = method.scores(x)[0].cpu().numpy()
        kernels = method.model_fingerprints().cpu()
    k = len(classes)
    cols = max(3, k)
    model_panels = model_fingerprint_panels(kernels)
    resp_panels, intensity = responses(fp, kernels)
    top = [
        ("input", _to_uint8(x[0].numpy(), -1.0, 1.0)),
        ("reconstruction", _to_uint8(rec.numpy(), -1.0, 1.0)),
        ("image fingerprint", image_fingerprint_panel(fp)),
    ]
    fig = plt.figure(figsize=figure_size(k), dpi=dpi)
    grid = fig.add_gridspec(4, cols, height_ratios=[PANEL_INCHES] * 3 + [BAR_INCHES])
    for col, (title, img) in enumerate(top):
        _panel(fig.add_subplot(grid[0, col]), img, title)
    for i, cls in enumerate(classes):
        _panel(fig.add_subplot(grid[1, i]), model_panels[i], f"model fp: {cls}")
        _panel(fig.add_subplot(grid[2, i]), resp_panels[i], f"response: {cls}")
    ax = fig.add_subplot(grid[3, :])
    pred = int(np.argmax(scores))
    colours = ["tab:red" if i == pred else "tab:blue" for i in range(k)]
    ax.bar(range(k), intensity, color=colours)
    ax.set_xticks(range(k), classes, fontsize=7)
    ax.set_ylabel("response intensity", fontsize=7)
    ax.set_title(f"predicted: {classes[pred]} (p = {scores[pred]:.3f})", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.subplots_adjust(left=0.06, right=0.98, top=0.95, bottom=0.08, hspace=0.45, wspace=0.15)
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return {
        "predicted": classes[pred],
        "scores": {c: float(s) for c, s in zip(classes, scores, strict=True)},
        "intensity": {c: float(v) for c, v in zip(classes, intensity, strict=True)},
    }


def _panel(ax, img: np.ndarray, title: str) -> None:
    ax.imshow(img, interpolation="nearest")
    ax.set_title(title, fontsize=7)
    ax.axis("off")
