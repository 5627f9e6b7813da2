"""Embed fingerprints into a copy of a training set (Yu et al. 2021 embed_fingerprints.py, PAPERS.md §2.3)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ganprint.checkpoint import build_from_checkpoint, load_checkpoint
from ganprint.config import EmbedFingerprintsCfg
from ganprint.data.store import ImageStore, ImageStoreWriter, key_of
from ganprint.errors import StageError
from ganprint.fingerprints.common import bit_accuracy, fingerprint_bits, psnr, write_fingerprint_file
from ganprint.nets.stegastamp import StegaStampDecoder, StegaStampEncoder
from ganprint.report.figures import save_grid
from ganprint.train.common import to_tensor, to_uint8

log = logging.getLogger("ganprint")


@torch.no_grad()
def embed_fingerprints(
    data: str | Path,
    encoder: str | Path,
    decoder: str | Path,
    cfg: EmbedFingerprintsCfg,
    out_dir: str | Path,
    *,
    label: str = "",
    device: torch.device | str = "cpu",
) -> dict:
    """Write ``images.lmdb``, ``manifest.csv``, ``embedded_fingerprints.txt``, ``samples.png`` into ``out_dir``.

    One fingerprint for all images when ``cfg.identical`` (one per model owner), else one per image; both drawn
    from ``cfg.seed``. Returns PSNR of fingerprinted vs. original and the decoder's bit accuracy on the 8-bit
    fingerprinted images.
    """
    out_dir = Path(out_dir)
    enc = build_from_checkpoint(
        load_checkpoint(encoder, "fingerprint_encoder"), {"stegastamp": StegaStampEncoder}, device
    )
    dec = build_from_checkpoint(
        load_checkpoint(decoder, "fingerprint_decoder"), {"stegastamp": StegaStampDecoder}, device
    )
    n_bits = enc.model_args()["bits"]
    store = ImageStore(data)
    if store.shape[0] != enc.model_args()["resolution"]:
        raise StageError(
            f"{data}: images are {store.shape[0]} px but the encoder was trained at "
            f"{enc.model_args()['resolution']} px; retrain it on this dataset"
        )
    n = len(store)
    all_bits = fingerprint_bits(n_bits, cfg.seed, 1 if cfg.identical else n)
    names, rows, psnrs, accs, grid = [], [], [], [], []
    with ImageStoreWriter(out_dir / "images.lmdb", out_dir / "manifest.csv") as w:
        for start in range(0, n, cfg.batch_size):
            idx = list(range(start, min(start + cfg.batch_size, n)))
            x = to_tensor(store.read(idx), device, "01")
            bits = all_bits.expand(len(idx), -1) if cfg.identical else all_bits[idx]
            bits = bits.to(device)
            fp = to_uint8(enc(x, bits), "01")
            fp_t = to_tensor(fp, device, "01")
            psnrs.append(psnr(fp_t, x).cpu())
            accs.append(bit_accuracy(dec(fp_t), bits).cpu())
            for i, img, b in zip(idx, fp, bits.cpu(), strict=True):
                w.add(img, source=f"{data}#{key_of(i)}", label=label, seed=cfg.seed)
                names.append(key_of(i))
                rows.append(b.numpy())
            if len(grid) < 64:
                grid.extend(fp[: 64 - len(grid)])
    write_fingerprint_file(out_dir / "embedded_fingerprints.txt", names, rows)
    save_grid(np.stack(grid), out_dir / "samples.png")
    store.close()
    acc = torch.cat(accs)
    return {
        "images": n,
        "bits": n_bits,
        "identical": cfg.identical,
        "psnr_db": torch.cat(psnrs).mean().item(),
        "bit_accuracy": acc.mean().item(),
        "bit_accuracy_min": acc.min().item(),
    }
