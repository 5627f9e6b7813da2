"""Detect fingerprints in any image set and score them against the embedded one (Yu et al. 2021, §2.3–2.5).

Run on samples of GANs trained on fingerprinted data this is the paper's 'fingerprint bit accuracy'; on GANs
trained on clean data it is the chance-level control (≈ 0.5).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ganprint.checkpoint import build_from_checkpoint, load_checkpoint
from ganprint.config import DetectFingerprintsCfg
from ganprint.data.store import ImageStore, key_of
from ganprint.errors import StageError
from ganprint.fingerprints.common import bit_accuracy, read_fingerprint_file, write_fingerprint_file
from ganprint.nets.stegastamp import StegaStampDecoder
from ganprint.train.common import to_tensor

log = logging.getLogger("ganprint")


@torch.no_grad()
def detect_fingerprints(
    images: str | Path,
    decoder: str | Path,
    embedded: str | Path,
    cfg: DetectFingerprintsCfg,
    out_detected: str | Path,
    *,
    device: torch.device | str = "cpu",
) -> dict:
    """Decode every image of ``images``; compare with the (identical) fingerprint in ``embedded``.

    Writes ``detected_fingerprints.txt`` in the reference format and returns bit-accuracy statistics.
    """
    dec = build_from_checkpoint(
        load_checkpoint(decoder, "fingerprint_decoder"), {"stegastamp": StegaStampDecoder}, device
    )
    reference = read_fingerprint_file(embedded)
    distinct = {tuple(v.tolist()) for v in reference.values()}
    if len(distinct) != 1:
        raise StageError(
            f"{embedded}: holds {len(distinct)} different fingerprints; detection against a "
            "model's fingerprint needs embed_fingerprints.identical: true"
        )
    target = next(iter(reference.values())).to(device)
    store = ImageStore(images)
    names, rows, accs = [], [], []
    for start in range(0, len(store), cfg.batch_size):
        idx = list(range(start, min(start + cfg.batch_size, len(store))))
        logits = dec(to_tensor(store.read(idx), device, "01"))
        accs.append(bit_accuracy(logits, target.expand(len(idx), -1)).cpu())
        rows.extend((logits > 0).float().cpu().numpy())
        names.extend(key_of(i) for i in idx)
    write_fingerprint_file(out_detected, names, rows)
    store.close()
    acc = torch.cat(accs).numpy()
    return {
        "images": len(acc),
        "bits": int(target.numel()),
        "bit_accuracy": float(acc.mean()),
        "bit_accuracy_std": float(acc.std()),
        "share_images_bit_accuracy_ge_0.9": float(np.mean(acc >= 0.9)),
    }
