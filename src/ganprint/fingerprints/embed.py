"""Embed fingerprints into a copy of a training set (Yu et al. 2021 embed_fingerprints.py, PAPERS.md §2.3, §2.4).

Writes the fingerprinted images as an LMDB store and ``embedded_fingerprints.txt`` in the reference format
(``<stem>.png <bits>`` per image); reports PSNR and SSIM of fingerprinted against original images (8-bit, as
stored) and the decoder's bit accuracy on them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ganprint.config import EmbedFingerprintsCfg
from ganprint.data.store import ImageStore, ImageStoreWriter, key_of
from ganprint.errors import StageError
from ganprint.fingerprints.common import bit_accuracy, bits_to_str, fingerprint_bits, psnr, ssim, write_fingerprint_file
from ganprint.fingerprints.compat import load_net
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
    seed: int = 42,
    label: str = "",
    device: torch.device | str = "cpu",
) -> dict:
    """Write ``images.lmdb``, ``manifest.csv``, ``embedded_fingerprints.txt``, ``samples.png`` into ``out_dir``.

    One fingerprint for all images when ``cfg.identical`` (one per model owner), else one per image; both drawn
    from ``seed`` (the fingerprint's, params ``fingerprints.<name>.seed``). Returns PSNR and SSIM of fingerprinted
    vs. original, the decoder's bit accuracy on the 8-bit fingerprinted images and the fingerprint itself (the bit
    string when identical, else null), so that readers need not parse the per-image file.
    """
    out_dir = Path(out_dir)
    store = ImageStore(data)
    enc = load_net(encoder, "encoder", device, resolution=store.shape[0])
    dec = load_net(decoder, "decoder", device, resolution=store.shape[0])
    n_bits = enc.model_args()["bits"]
    if store.shape[0] != enc.model_args()["resolution"]:
        raise StageError(
            f"{data}: images are {store.shape[0]} px but the encoder was trained at "
            f"{enc.model_args()['resolution']} px; retrain it on this dataset"
        )
    n = len(store)
    all_bits = fingerprint_bits(n_bits, seed, 1 if cfg.identical else n)
    names, rows, psnrs, ssims, accs, grid = [], [], [], [], [], []
    with ImageStoreWriter(out_dir / "images.lmdb", out_dir / "manifest.csv") as w:
        for start in range(0, n, cfg.batch_size):
            idx = list(range(start, min(start + cfg.batch_size, n)))
            x = to_tensor(store.read(idx), device, "01")
            bits = all_bits.expand(len(idx), -1) if cfg.identical else all_bits[idx]
            bits = bits.to(device)
            fp = to_uint8(enc(x, bits), "01")
            fp_t = to_tensor(fp, device, "01")
            psnrs.append(psnr(fp_t, x).cpu())
            ssims.append(ssim(fp_t, x).cpu())
            accs.append(bit_accuracy(dec(fp_t), bits).cpu())
            for i, img, b in zip(idx, fp, bits.cpu(), strict=True):
                w.add(img, source=f"{data}#{key_of(i)}", label=label, seed=seed)
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
        "seed": seed,
        "fingerprint": bits_to_str(all_bits[0]) if cfg.identical else None,
        "psnr_db": torch.cat(psnrs).mean().item(),
        "ssim": torch.cat(ssims).mean().item(),
        "bit_accuracy": acc.mean().item(),
        "bit_accuracy_min": acc.min().item(),
    }
