"""Detect fingerprints in image sets, score them, and attribute them (Yu et al. 2021, PAPERS.md §2.3–2.5).

:func:`detect_fingerprints` decodes any image store into ``detected_fingerprints.txt`` (reference format) and scores
it against a reference: the one fingerprint of an identical embedding, or image by image when the store is the
per-image fingerprinted set itself (same keys); otherwise the bit accuracy is null.

:func:`detect_dataset` is the stage: one job per dataset over its real images and every GAN of it (each embedded
file read once, one decoder load). On samples of GANs trained on fingerprinted data this is the paper's
"fingerprint bit accuracy"; on clean GANs it is the control against the dataset's first fingerprint (not 0.5: a
clean GAN decodes to one fixed pattern). It also writes the registry, calibrates the attribution threshold on the
real and clean-GAN images (:mod:`ganprint.fingerprints.registry`), and decodes the training-time sample grids
(``samples/stepNNNNNN.png``) into the bit accuracy by step.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganprint.config import DetectFingerprintsCfg
from ganprint.data.store import ImageStore, key_of
from ganprint.errors import StageError
from ganprint.fingerprints.common import bit_accuracy, bits_to_str, read_fingerprint_file, write_fingerprint_file
from ganprint.fingerprints.compat import load_net
from ganprint.fingerprints.registry import (
    NONE,
    attribute,
    calibrate_threshold,
    hamming,
    split_negatives,
    write_registry,
)
from ganprint.io import atomic_path
from ganprint.train.common import to_tensor

log = logging.getLogger("ganprint")
GRID_PAD = 2  # ganprint.report.figures.grid_image's default


@torch.no_grad()
def decode_store(dec, images: str | Path, batch_size: int, device) -> tuple[list[str], np.ndarray]:
    """Keys and decoded bits (N, n) in {0, 1} of every image of a store."""
    store = ImageStore(images)
    if store.shape[0] != dec.model_args()["resolution"]:
        store.close()
        raise StageError(
            f"{images}: {store.shape[0]} px images but the decoder reads {dec.model_args()['resolution']} px "
            "(the reference detector does not resize either)"
        )
    names, rows = [], []
    for start in range(0, len(store), batch_size):
        idx = list(range(start, min(start + batch_size, len(store))))
        rows.append((dec(to_tensor(store.read(idx), device, "01")) > 0).cpu().numpy())
        names.extend(key_of(i) for i in idx)
    store.close()
    return names, np.concatenate(rows).astype(np.uint8) if rows else np.zeros((0, dec.model_args()["bits"]))


def score(decoded: np.ndarray, target: np.ndarray) -> dict:
    """Bit accuracy statistics of decoded (N, n) against target (n,) or (N, n)."""
    logits = torch.from_numpy(2.0 * decoded.astype(np.float64) - 1.0)  # > 0 exactly where a bit reads 1
    acc = bit_accuracy(logits, torch.from_numpy(np.array(np.broadcast_to(target, decoded.shape)))).numpy()
    return {
        "bit_accuracy": float(acc.mean()),
        "bit_accuracy_std": float(acc.std()),
        "share_images_bit_accuracy_ge_0.9": float(np.mean(acc >= 0.9)),
    }


def _reference_target(reference: dict[str, torch.Tensor], names: list[str]) -> np.ndarray | None:
    distinct = {tuple(v.tolist()) for v in reference.values()}
    if len(distinct) == 1:
        return np.array(next(iter(distinct)), dtype=np.float64)
    if all(n in reference for n in names):  # the per-image fingerprinted set itself
        return np.stack([reference[n].numpy() for n in names]).astype(np.float64)
    return None


def detect_fingerprints(
    images: str | Path,
    decoder: str | Path,
    embedded: str | Path,
    cfg: DetectFingerprintsCfg,
    out_detected: str | Path,
    *,
    device: torch.device | str = "cpu",
) -> dict:
    """Decode every image of ``images``; write ``out_detected`` (reference format); score against ``embedded``."""
    with ImageStore(images) as s:
        res = s.shape[0]
    dec = load_net(decoder, "decoder", device, resolution=res)
    reference = read_fingerprint_file(embedded)
    names, decoded = decode_store(dec, images, cfg.batch_size, device)
    write_fingerprint_file(out_detected, names, decoded)
    target = _reference_target(reference, names)
    out = {"images": len(names), "bits": int(decoded.shape[1])}
    if target is None:
        out.update({"bit_accuracy": None, "note": f"{embedded}: one fingerprint per image; these images are not them"})
    else:
        out.update(score(decoded, target))
    return out


def read_grid(path: str | Path, tiles: int, resolution: int) -> np.ndarray:
    """The (tiles, R, R, 3) images of a sample grid written by ganprint.report.figures.save_grid."""
    img = np.asarray(Image.open(path).convert("RGB"))
    cols = math.ceil(math.sqrt(tiles))
    rows = math.ceil(tiles / cols)
    step = resolution + GRID_PAD
    if img.shape[:2] != (rows * step + GRID_PAD, cols * step + GRID_PAD):
        raise StageError(
            f"{path}: a {img.shape[1]}×{img.shape[0]} grid is not {tiles} tiles of {resolution} px; "
            "train_gan.grid_images must be the value the GAN was trained with"
        )
    out = []
    for i in range(tiles):
        r, q = divmod(i, cols)
        y, x = GRID_PAD + r * step, GRID_PAD + q * step
        out.append(img[y : y + resolution, x : x + resolution])
    return np.stack(out)


@torch.no_grad()
def bit_accuracy_by_step(dec, samples_dir: Path, target: np.ndarray, tiles: int, device) -> dict[int, float]:
    """Mean bit accuracy of the tiles of every ``samples/stepNNNNNN.png`` against ``target``, by step."""
    res = dec.model_args()["resolution"]
    out = {}
    for path in sorted(samples_dir.glob("step*.png")):
        m = re.fullmatch(r"step(\d+)\.png", path.name)
        if not m:
            continue
        x = to_tensor(read_grid(path, tiles, res), device, "01")
        decoded = (dec(x) > 0).cpu().numpy().astype(np.uint8)
        out[int(m.group(1))] = score(decoded, target)["bit_accuracy"]
    return out


def _write_by_step(path: Path, curves: dict[str, dict[int, float]]) -> None:
    steps = sorted({s for c in curves.values() for s in c})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["step", *curves])
    for s in steps:
        w.writerow([s, *(f"{c[s]:.6f}" if s in c else "" for c in curves.values())])
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")


def detect_dataset(
    dataset: str,
    decoder: str | Path,
    real: str | Path,
    gans: list[dict],
    fingerprints: dict[str, dict],
    cfg: DetectFingerprintsCfg,
    out_dir: str | Path,
    out_registry: str | Path,
    out_by_step: str | Path,
    *,
    grid_images: int = 16,
    device: torch.device | str = "cpu",
) -> dict:
    """One dataset: decode the real images and every GAN's samples, score, register, calibrate, attribute.

    ``gans``: ``{"name", "variant", "images", "subdir", "samples_dir"}`` per GAN (``subdir``: its folder under
    ``out_dir``); ``fingerprints``: name → ``{"embedded": path, "seed": int}`` (name = the variant trained on it).
    Writes ``out_dir/real/detected_fingerprints.txt`` and ``out_dir/<subdir>/detected_fingerprints.txt``, the
    registry and the bit accuracy by step; returns the metrics.
    """
    out_dir = Path(out_dir)
    with ImageStore(real) as s:
        res = s.shape[0]
    dec = load_net(decoder, "decoder", device, resolution=res)
    n_bits = dec.model_args()["bits"]
    # every embedded file is read once here
    fps, names, registry_rows = [], [], []
    for fp, info in fingerprints.items():
        ref = read_fingerprint_file(info["embedded"])
        distinct = {tuple(v.tolist()) for v in ref.values()}
        identical = len(distinct) == 1
        bits = np.array(next(iter(distinct)), dtype=np.uint8) if identical else None
        if bits is not None and len(bits) != n_bits:
            raise StageError(f"{info['embedded']}: {len(bits)}-bit fingerprints, but the decoder reads {n_bits}")
        models = [g["name"] for g in gans if g["variant"] == fp]
        registry_rows.append(
            {
                "fingerprint": fp,
                "dataset": dataset,
                "seed": info["seed"],
                "bits": bits_to_str(bits) if identical else "",
                "identical": identical,
                "models": models,
            }
        )
        if identical:
            fps.append(bits)
            names.append(fp)
    write_registry(out_registry, registry_rows)
    registered = np.stack(fps) if fps else np.zeros((0, n_bits), dtype=np.uint8)
    control = registered[0] if len(registered) else None  # clean GANs and real images are scored against it

    sets: dict[str, dict] = {}
    decoded: dict[str, np.ndarray] = {}
    for label, images, sub, variant in [("real", real, "real", "real")] + [
        (g["name"], g["images"], g["subdir"], g["variant"]) for g in gans
    ]:
        keys, bits = decode_store(dec, images, cfg.batch_size, device)
        write_fingerprint_file(out_dir / sub / "detected_fingerprints.txt", keys, bits)
        decoded[label] = bits
        own = variant in names
        target = registered[names.index(variant)] if own else control
        entry = {"variant": variant, "images": len(keys), "scored_against": variant if own else (names or [None])[0]}
        entry.update(score(bits, target) if target is not None and len(keys) else {"bit_accuracy": None})
        sets[label] = entry
    # attribution: negatives = real images and clean-GAN samples (no fingerprint); positives = fingerprinted GANs
    metrics: dict = {"dataset": dataset, "bits": n_bits, "registered": names, "target_fpr": cfg.target_fpr}
    negatives = [label for label, e in sets.items() if e["variant"] == "real" or e["variant"] == "clean"]
    if names:
        neg = np.concatenate([decoded[k] for k in negatives])
        cal, held = split_negatives(len(neg))
        t = calibrate_threshold(hamming(neg[cal], registered).min(1), cfg.target_fpr)
        fpr = float(np.mean(hamming(neg[held], registered).min(1) <= t)) if len(held) else None
        correct = total = 0
        for label, e in sets.items():
            who = attribute(decoded[label], registered, names, t)
            e["attributed"] = {k: who.count(k) / max(len(who), 1) for k in [*names, NONE] if who.count(k)}
            if e["variant"] in names:
                e["attribution_accuracy"] = who.count(e["variant"]) / max(len(who), 1)
                correct += who.count(e["variant"])
                total += len(who)
        metrics.update(
            {
                "threshold_hamming": t,
                "threshold_bit_accuracy": 1.0 - t / n_bits if t >= 0 else None,
                "calibration_images": int(len(cal)),
                "fpr_images": int(len(held)),
                "measured_fpr": fpr,
                "attribution_images": total,
                "attribution_accuracy": correct / total if total else None,
            }
        )
    else:
        metrics["note"] = (
            "no fingerprint is identical for all images (embed_fingerprints.identical: false): no registry"
        )
    metrics["sets"] = sets
    curves = {}
    for g in gans:
        if g["variant"] in names and g.get("samples_dir") is not None:
            curves[g["name"]] = bit_accuracy_by_step(
                dec, Path(g["samples_dir"]), registered[names.index(g["variant"])], grid_images, device
            )
    _write_by_step(Path(out_by_step), curves)
    return metrics
