"""Interpretability figures for any attribution method: Grad-CAM / CAM heat-maps and a t-SNE of its features.

Generator_Attribution (PAPERS §3.2) explains its pixel models with class activation maps (the GAP + Dense(1)
topology, Zhou et al. 2016) and its DCT models with Grad-CAM (Selvaraju et al. 2017); this module does both
for any method that exposes the conv layer to hook (``cam_layer()``, the attribution-method contract) and, for
plain CAM, ``cam_linear(k) -> (layer, weights)``. A method's optional ``logits(x)`` is differentiated when it
has one (the pre-softmax/pre-sigmoid scores Grad-CAM is defined on); otherwise ``scores(x)``.

Heat-maps are ReLU'd, upsampled bilinearly to the image and min-max scaled to [0, 1] per image. PNGs are written
without timestamps or software tags, so the same inputs give the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganprint.errors import StageError
from ganprint.io import atomic_path


def _score_fn(method):
    return getattr(method, "logits", None) or method.scores


def _class_index(index, n: int, device) -> torch.Tensor:
    idx = torch.as_tensor(index, dtype=torch.int64, device=device)
    return idx.expand(n) if idx.ndim == 0 else idx


def _normalise(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, h, w) ≥ 0 → (N, H, W) in [0, 1]: bilinear upsampling, then per-image min-max (all-zero stays 0)."""
    cam = F.interpolate(cam[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
    lo = cam.flatten(1).min(1).values[:, None, None]
    hi = cam.flatten(1).max(1).values[:, None, None]
    span = hi - lo
    return torch.where(span > 0, (cam - lo) / span.clamp_min(1e-12), torch.zeros_like(cam))


def _activations(layer: torch.nn.Module, fn, x: torch.Tensor):
    """Run ``fn(x)`` with a forward hook on ``layer``; return (output, the layer's output)."""
    seen: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        out = fn(x)
    finally:
        handle.remove()
    if not seen:
        raise StageError(f"the CAM layer {layer!r} was not run by the method's forward pass")
    return out, seen[-1]


def grad_cam(method, x: torch.Tensor, class_index) -> torch.Tensor:
    """Grad-CAM of ``method`` for class ``class_index`` (an int or one per image) on ``x`` (N, 3, H, W) in [-1, 1].

    Returns (N, H, W) float in [0, 1]: ReLU(Σ_c α_c A_c) with α_c the spatial mean of ∂score_k/∂A_c.
    """
    layer = method.cam_layer()
    if layer is None:
        raise StageError(f"{type(method).__name__} has no convolutional layer to explain (cam_layer() is None)")
    x = x.detach().clone().requires_grad_(True)  # a graph even when every parameter is frozen
    with torch.enable_grad():
        out, act = _activations(layer, _score_fn(method), x)
        idx = _class_index(class_index, len(x), out.device)
        picked = out.gather(1, idx[:, None]).sum()  # images are independent: the sum's gradient is per image
        (grad,) = torch.autograd.grad(picked, act)
    weights = grad.mean((2, 3), keepdim=True)  # α_c, (N, C, 1, 1)
    cam = F.relu((weights * act.detach()).sum(1))
    return _normalise(cam, x.shape[-2:]).detach().cpu()


@torch.no_grad()
def class_activation_map(method, x: torch.Tensor, class_index) -> torch.Tensor:
    """Plain CAM (Zhou et al. 2016) for methods ending in global pooling + linear: ReLU(Σ_c w_kc A_c).

    ``method.cam_linear(k)`` gives class k's pooled layer and its weights (C,). Returns (N, H, W) in [0, 1].
    """
    cam_linear = getattr(method, "cam_linear", None)
    if cam_linear is None or cam_linear(0) is None:
        raise StageError(f"{type(method).__name__} does not end in global pooling + linear; use grad_cam")
    idx = _class_index(class_index, len(x), "cpu")
    out = torch.zeros(len(x), *x.shape[-2:])
    for k in idx.unique().tolist():
        rows = (idx == k).nonzero()[:, 0]
        layer, w = cam_linear(k)
        _, act = _activations(layer, method.scores, x[rows])
        cam = F.relu((w.to(act.device)[None, :, None, None] * act).sum(1))
        out[rows] = _normalise(cam, x.shape[-2:]).cpu()
    return out


def has_plain_cam(method) -> bool:
    cam_linear = getattr(method, "cam_linear", None)
    return cam_linear is not None and cam_linear(0) is not None


def overlay(images: torch.Tensor, heat: torch.Tensor, alpha: float = 0.5) -> np.ndarray:
    """Images (N, 3, H, W) in [-1, 1] and heat-maps (N, H, W) in [0, 1] → (N, H, W, 3) uint8 ('jet' blend)."""
    from matplotlib import colormaps

    rgb = ((images.detach().cpu().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()
    colour = colormaps["jet"](heat.numpy())[..., :3]
    return np.round(255 * ((1 - alpha) * rgb + alpha * colour)).clip(0, 255).astype(np.uint8)


def save_cam_grids(
    method,
    images: torch.Tensor,
    labels,
    out_dir: str | Path,
    *,
    classes: list[str] | None = None,
    kind: str = "auto",
    per_class: int = 8,
) -> dict[str, Path]:
    """One PNG per class, ``<out_dir>/cam_<class>.png``: its images (top row) over their heat-maps for that
    class's own score (bottom row), up to ``per_class`` images.

    ``kind``: "gradcam", "cam" (plain CAM, methods ending in GAP + linear) or "auto" (CAM where it exists).
    ``images`` (N, 3, H, W) in [-1, 1]; ``labels`` (N,) class indices. Returns class → path.
    """
    if kind not in ("auto", "cam", "gradcam"):
        raise ValueError(f"kind must be auto, cam or gradcam, got {kind!r}")
    classes = list(classes if classes is not None else method.classes)
    labels = torch.as_tensor(labels, dtype=torch.int64)
    use_cam = kind == "cam" or (kind == "auto" and has_plain_cam(method))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for k, cls in enumerate(classes):
        rows = (labels == k).nonzero()[:, 0][:per_class]
        if len(rows) == 0:
            continue
        x = images[rows].float()
        heat = class_activation_map(method, x, k) if use_cam else grad_cam(method, x, k)
        originals = overlay(x, torch.zeros_like(heat), alpha=0.0)
        tiles = np.concatenate([originals, overlay(x, heat)])  # row 1: images, row 2: heat-maps
        path = out_dir / f"cam_{cls}.png"
        with atomic_path(path) as tmp:
            Image.fromarray(_rows_grid(tiles, len(rows))).save(tmp, format="PNG")
        written[cls] = path
    return written


def _rows_grid(tiles: np.ndarray, cols: int, pad: int = 2) -> np.ndarray:
    """Tiles (rows·cols, H, W, 3) → one mosaic with ``cols`` tiles per row."""
    n, h, w, c = tiles.shape
    rows = n // cols
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i, t in enumerate(tiles):
        r, q = divmod(i, cols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + q * (w + pad) : pad + q * (w + pad) + w] = t
    return out


def tsne_embedding(features: np.ndarray, *, perplexity: float = 30.0, random_state: int = 0) -> np.ndarray:
    """(N, D) → (N, 2) t-SNE (scikit-learn, PCA init), perplexity clipped to (N − 1) / 3 for small N."""
    from sklearn.manifold import TSNE

    n = len(features)
    if n < 3:
        raise StageError(f"t-SNE needs at least 3 images, got {n}")
    perplexity = float(max(1.0, min(perplexity, (n - 1) / 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=random_state)
    return tsne.fit_transform(np.asarray(features, dtype=np.float64))


UNKNOWN_COLOUR = "0.6"  # open-set test images (label -1): grey crosses


def features_of(method, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """``method.features`` of ``images`` (N, 3, H, W) in [-1, 1], in batches, as float32 on the CPU."""
    with torch.no_grad():
        chunks = [images[i : i + batch_size].float() for i in range(0, len(images), batch_size)]
        return torch.cat([method.features(c).float().cpu() for c in chunks])


def scatter_classes(emb: np.ndarray, labels, classes: list[str], title: str, out_path: str | Path) -> None:
    """A 2-D embedding as a PNG: one colour per class (label k = classes[k]); label -1 (unknown) in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = np.asarray(labels, dtype=np.int64)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for k, cls in enumerate(classes):
        sel = labels == k
        if sel.any():
            ax.scatter(emb[sel, 0], emb[sel, 1], s=12, color=cmap(k % cmap.N), label=cls)
    if (labels < 0).any():
        sel = labels < 0
        ax.scatter(emb[sel, 0], emb[sel, 1], s=12, color=UNKNOWN_COLOUR, marker="x", label="unknown")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


def save_tsne(
    method,
    images: torch.Tensor,
    labels,
    out_path: str | Path,
    *,
    classes: list[str] | None = None,
    perplexity: float = 30.0,
    random_state: int = 0,
    batch_size: int = 64,
) -> np.ndarray:
    """Scatter the t-SNE of ``method.features`` of ``images`` (N, 3, H, W) in [-1, 1], one colour per class;
    write it as a PNG to ``out_path``. Returns the (N, 2) embedding."""
    classes = list(classes if classes is not None else method.classes)
    labels = np.asarray(torch.as_tensor(labels), dtype=np.int64)
    feats = features_of(method, images, batch_size)
    emb = tsne_embedding(feats.numpy(), perplexity=perplexity, random_state=random_state)
    scatter_classes(emb, labels, classes, f"t-SNE of {type(method).__name__} features", out_path)
    return emb
