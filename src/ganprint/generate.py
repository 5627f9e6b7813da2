"""Sample a trained generator into an image store; image i depends only on (generation seed, i).

DESIGN.md (Contracts, Seeds): the latent of image i comes from its own counter-based generator seeded with
(seed, i), and G runs in eval mode, so neither batch size nor device count changes which images exist.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ganprint.checkpoint import build_from_checkpoint, load_checkpoint
from ganprint.data.store import ImageStoreWriter
from ganprint.nets import GENERATORS
from ganprint.report.figures import save_grid
from ganprint.train.common import to_uint8

log = logging.getLogger("ganprint")


def latent(seed: int, index: int, z_dim: int) -> np.ndarray:
    """The latent of image ``index``: N(0, I) from a generator seeded with (seed, index) only."""
    return np.random.default_rng([seed, index]).standard_normal(z_dim).astype(np.float32)


@torch.no_grad()
def generate_images(
    model: str | Path,
    out_images: str | Path,
    out_manifest: str | Path,
    out_grid: str | Path,
    *,
    num_images: int,
    seed: int,
    batch_size: int,
    grid_images: int = 64,
    label: str = "",
    device: torch.device | str = "cpu",
) -> int:
    ckpt = load_checkpoint(model, "gan_generator")
    G = build_from_checkpoint(ckpt, GENERATORS, device)
    z_dim = ckpt["model_args"]["z_dim"]
    log.info("generating %d images from %s (seed %d)", num_images, model, seed)
    first = []
    with ImageStoreWriter(out_images, out_manifest) as w:
        for start in range(0, num_images, batch_size):
            idx = range(start, min(start + batch_size, num_images))
            z = torch.from_numpy(np.stack([latent(seed, i, z_dim) for i in idx])).to(device)
            images = to_uint8(G(z))
            for i, img in zip(idx, images, strict=True):
                w.add(img, source=f"seed{seed}/{i:08d}", label=label, seed=seed)
            if len(first) < grid_images:
                first.extend(images[: grid_images - len(first)])
    save_grid(np.stack(first), out_grid)
    return num_images
