"""Proactive attribution with artificial fingerprints (beyond Yu et al. 2021; issue 8 item 5).

A registry maps each fingerprint (one per model owner: params ``fingerprints``) to its bits and to the GANs
trained on data carrying it. An image is attributed to the registered fingerprint nearest in Hamming distance when
that distance is at most a threshold; otherwise it is "no fingerprint". The threshold is calibrated for a target
false-positive rate on images that carry no fingerprint (real images and samples of clean GANs) and never assumed
from chance: a clean GAN's samples all decode to one fixed pattern (issue 8: 0.46–0.47 bit accuracy), so their
distances are not binomial(n, 0.5). The negatives are split in two, alternately: one half sets the threshold, the
other measures the FPR reported.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ganprint.io import atomic_path

NONE = "none"  # the attribution of an image within the threshold of no registered fingerprint
REGISTRY_COLUMNS = ("fingerprint", "dataset", "seed", "bits", "identical", "models")


def write_registry(path: str | Path, rows: list[dict]) -> None:
    """CSV, one row per fingerprint: name, dataset, seed, bit string ('' when one per image), identical, models
    (the GANs trained on it, ';'-separated)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=REGISTRY_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "models": ";".join(r["models"]), "identical": str(bool(r["identical"])).lower()})
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")


def read_registry(path: str | Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["models"] = [m for m in r["models"].split(";") if m]
        r["identical"] = r["identical"] == "true"
        r["seed"] = int(r["seed"])
    return rows


def hamming(decoded: np.ndarray, fingerprints: np.ndarray) -> np.ndarray:
    """(N, n) and (K, n) bits in {0, 1} → (N, K) Hamming distances."""
    d = np.asarray(decoded, dtype=np.int16)[:, None, :] != np.asarray(fingerprints, dtype=np.int16)[None, :, :]
    return d.sum(-1)


def calibrate_threshold(negative_min_distance: np.ndarray, target_fpr: float) -> int:
    """The largest integer Hamming threshold t with share(distance <= t) <= ``target_fpr`` on the negatives; -1
    when even t = 0 exceeds it (then nothing is ever attributed)."""
    d = np.sort(np.asarray(negative_min_distance))
    if len(d) == 0:
        raise ValueError("no calibration images")
    for cand in np.unique(d):
        if np.searchsorted(d, cand, side="right") / len(d) > target_fpr:
            return int(cand) - 1  # every integer below the first distance that lets too many through
    return int(d[-1])


def attribute(decoded: np.ndarray, fingerprints: np.ndarray, names: list[str], threshold: int) -> list[str]:
    """The registered name nearest each decoded string within ``threshold``, else :data:`NONE` (ties: first)."""
    if len(names) == 0:
        return [NONE] * len(decoded)
    dist = hamming(decoded, fingerprints)
    best = dist.argmin(1)
    return [names[b] if dist[i, b] <= threshold else NONE for i, b in enumerate(best)]


def split_negatives(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Alternate images: even positions calibrate the threshold, odd ones measure the FPR."""
    idx = np.arange(n)
    return idx[0::2], idx[1::2]
