"""Figures: PNG sample grids and the paper figures (confusion matrices, robustness curves, training curves, sample
grids per source; issue 9 §5). Deterministic bytes: no timestamps or software tags in the files."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

from ganprint.io import atomic_path


def grid_image(images: np.ndarray, pad: int = 2) -> np.ndarray:
    """(N, H, W, 3) uint8 → one (rows·(H+pad)+pad, cols·(W+pad)+pad, 3) uint8 mosaic, near-square."""
    n, h, w, c = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        r, q = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        out[y : y + h, x : x + w] = img
    return out


def save_grid(images: np.ndarray, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(grid_image(images)).save(tmp, format="PNG")


# -- matplotlib figures of the paper results (issue 9 §5) ------------------------------------------------------
# Every figure is drawn with matplotlib's default style (a user matplotlibrc cannot change the bytes), at a fixed
# dpi, and saved without the Software tag: same inputs ⇒ same PNG bytes on one matplotlib version.
DPI = 100


@contextlib.contextmanager
def _pyplot():
    """matplotlib.pyplot on the Agg backend, inside the default style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.style.context("default"):  # the default style minus backend settings: a matplotlibrc is ignored
        yield plt


def _save(fig, path: str | Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * float(v):.1f} %"


def confusion_figure(metrics: dict, path: str | Path) -> None:
    """The confusion matrix of one evaluate_attribution ``none`` metrics JSON (rows = true class, columns =
    predicted, in ``metrics["classes"]`` order): each cell shows its count, its colour is the row-normalised
    fraction (so a class with few test images reads the same as one with many); accuracy and macro-F1 in the title.

    Raises:
        ValueError: the matrix is not square with one row per class.
    """
    classes = [str(c) for c in metrics["classes"]]
    cm = np.asarray(metrics["confusion_matrix"], dtype=np.int64)
    n = len(classes)
    if cm.shape != (n, n):
        raise ValueError(f"confusion_matrix has shape {cm.shape}, expected ({n}, {n}) for classes {classes}")
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape, float), where=rows > 0)
    what = "/".join(str(metrics[k]) for k in ("protocol", "method") if metrics.get(k))
    seed = f", seed {metrics['seed']}" if metrics.get("seed") is not None else ""
    title = f"{what}{seed}\naccuracy {_pct(metrics.get('accuracy'))}, macro-F1 {_pct(metrics.get('macro_f1'))}"
    side = max(3.6, 0.55 * n + 2.0)
    with _pyplot() as plt:
        fig, ax = plt.subplots(figsize=(side + 0.8, side))
        im = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if frac[i, j] > 0.5 else "black")  # fmt: skip
        ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(n), classes, fontsize=8)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
        fig.tight_layout()
        _save(fig, path)


def robustness_figure(metrics_by_kind: dict[str, dict], path: str | Path) -> None:
    """One panel per perturbation kind (the evaluate_attribution ``<kind>`` JSONs, in dict order): accuracy of the
    plain and the immunized model against the attack's level, the strength strings as tick labels, the accuracy
    under random-strength attacks (``random``) as two markers at the right, chance as a dotted line.

    Raises:
        ValueError: no kind, or a kind without a ``curve``.
    """
    if not metrics_by_kind:
        raise ValueError("robustness_figure: no perturbation kind to plot")
    kinds = list(metrics_by_kind)
    cols = min(len(kinds), 3)
    nrows = math.ceil(len(kinds) / cols)
    first = next(iter(metrics_by_kind.values()))
    what = "/".join(str(first[k]) for k in ("protocol", "method") if first.get(k))
    with _pyplot() as plt:
        fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.4 * nrows + 0.5), squeeze=False)
        for ax in axes.flat[len(kinds) :]:
            ax.axis("off")
        for ax, kind in zip(axes.flat, kinds, strict=False):
            m = metrics_by_kind[kind]
            curve = sorted(m.get("curve") or [], key=lambda r: r["level"])
            if not curve:
                raise ValueError(f"robustness_figure: the {kind} metrics have no 'curve'")
            x = [r["level"] for r in curve]
            for which, style in (("plain", "o-"), ("immunized", "s--")):
                pts = [(xi, r.get(f"accuracy_{which}")) for xi, r in zip(x, curve, strict=True)]
                pts = [(xi, y) for xi, y in pts if y is not None]
                if pts:
                    ax.plot(*zip(*pts, strict=True), style, label=which, color="C0" if which == "plain" else "C1")
            ticks, labels = list(x), [str(r.get("strength", r["level"])).replace(":", ":\n", 1) for r in curve]
            rnd = m.get("random") or {}
            if any(rnd.get(f"accuracy_{w}") is not None for w in ("plain", "immunized")):
                xr = max(x) + 1
                for which, marker, color in (("plain", "o", "C0"), ("immunized", "s", "C1")):
                    if rnd.get(f"accuracy_{which}") is not None:
                        ax.plot([xr], [rnd[f"accuracy_{which}"]], marker, color=color, fillstyle="none", ms=8)
                ticks.append(xr)
                labels.append("random")
            if m.get("classes"):
                ax.axhline(1.0 / len(m["classes"]), color="grey", ls=":", lw=1, label="chance")
            ax.set_xticks(ticks, labels, rotation=40, ha="right", fontsize=6)
            ax.set_ylim(0.0, 1.02)
            ax.set_ylabel("accuracy")
            ax.set_title(kind, fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="lower left")
        fig.suptitle(f"Robustness {what}: plain vs. immunized model".replace("  ", " "), fontsize=10)
        fig.tight_layout()
        _save(fig, path)


def _read_jsonl(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def training_curves_figure(stats_jsonl_paths: dict[str, str | Path], path: str | Path) -> None:
    """Training curves of classifiers: their ``stats.jsonl`` (StatsWriter rows ``{"step", <value>...}``), one line
    per label and logged loss (left panel: keys starting with ``loss``) and accuracy (right: ``train_acc`` and keys
    starting with ``acc``). Methods that are not trained iteratively (kNN, PRNU: one row without a loss) are named
    under the panels instead.
    """
    plotted, flat = {"loss": 0, "acc": 0}, []
    with _pyplot() as plt:
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
        for i, (label, p) in enumerate(stats_jsonl_paths.items()):
            rows = _read_jsonl(p)
            keys = sorted({k for r in rows for k in r if k != "step"})
            loss_keys = [k for k in keys if k.startswith("loss")]
            acc_keys = [k for k in keys if k == "train_acc" or k.startswith("acc")]
            if len(rows) < 2 or not (loss_keys or acc_keys):
                flat.append(label)
                continue
            for ax, ks, kind, main in ((ax_loss, loss_keys, "loss", "loss"), (ax_acc, acc_keys, "acc", "train_acc")):
                for j, k in enumerate(ks):
                    pts = [(r["step"], r[k]) for r in rows if r.get(k) is not None]
                    ax.plot(*zip(*pts, strict=True), color=f"C{i % 10}", ls=("-", "--", ":", "-.")[j % 4], lw=1.2,
                            label=label if k == main else f"{label} {k}")  # fmt: skip
                    plotted[kind] += 1
        for ax, kind, ylabel in ((ax_loss, "loss", "training loss"), (ax_acc, "acc", "training accuracy")):
            ax.set_xlabel("step")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            if plotted[kind]:
                ax.legend(fontsize=7)
            else:
                ax.text(0.5, 0.5, "nothing logged", ha="center", va="center", transform=ax.transAxes)
        if flat:
            fig.text(0.5, 0.01, "not trained iteratively (no curve): " + ", ".join(flat), ha="center", fontsize=8)
        fig.tight_layout(rect=(0, 0.05 if flat else 0, 1, 1))
        _save(fig, path)


def gan_curves_figure(csv_paths: dict[str, str | Path], path: str | Path) -> None:
    """GAN training losses: one small panel per GAN (label = its name) with ``loss_d`` and ``loss_g`` of its
    ``loss_curves.csv`` (train_gan: ``step`` + every logged column) against the step.

    Raises:
        ValueError: no GAN.
    """
    import pandas as pd

    if not csv_paths:
        raise ValueError("gan_curves_figure: no GAN to plot")
    labels = list(csv_paths)
    cols = min(len(labels), 4)
    nrows = math.ceil(len(labels) / cols)
    with _pyplot() as plt:
        fig, axes = plt.subplots(nrows, cols, figsize=(3.4 * cols, 2.6 * nrows + 0.3), squeeze=False)
        for ax in axes.flat[len(labels) :]:
            ax.axis("off")
        for ax, label in zip(axes.flat, labels, strict=False):
            df = pd.read_csv(csv_paths[label])
            for col, color in (("loss_d", "C3"), ("loss_g", "C0")):
                if col in df:
                    ax.plot(df["step"], df[col], color=color, lw=1.0, label=col)
            ax.set_title(label, fontsize=7)
            ax.tick_params(labelsize=6)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
        fig.suptitle("GAN training losses (D and G) against the step", fontsize=10)
        fig.tight_layout()
        _save(fig, path)


def source_grid_figure(grids: dict[str, str | Path], path: str | Path, *, per_row: int = 6) -> None:
    """The sample grids (``samples.png``) of a protocol's sources side by side, each titled with its source name
    (``per_row`` per row).

    Raises:
        ValueError: no grid. FileNotFoundError: a grid is missing.
    """
    if not grids:
        raise ValueError("source_grid_figure: no sample grid")
    names = list(grids)
    cols = min(len(names), per_row)
    nrows = math.ceil(len(names) / cols)
    with _pyplot() as plt:
        fig, axes = plt.subplots(nrows, cols, figsize=(2.4 * cols, 2.6 * nrows), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, name in zip(axes.flat, names, strict=False):
            with Image.open(grids[name]) as im:
                ax.imshow(np.asarray(im.convert("RGB")), interpolation="nearest")
            ax.set_title(name, fontsize=7, wrap=True)
        fig.tight_layout()
        _save(fig, path)
