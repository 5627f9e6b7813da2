"""Sample a trained generator into an image store; image i depends only on (generation seed, i).

DESIGN.md (Contracts, Seeds): the latent of image i comes from its own counter-based generator seeded with
(seed, i), of the kind the generator declares (its ``latent`` attribute: "normal" = N(0, I), "uniform" =
U[-1, 1] as MMD-GAN's g_resnet5, PAPERS §1.3), and G runs in eval mode, so neither batch size nor device count
changes which images exist. The manifest names each image's generation seed and index (``source`` =
``seed<seed>/<index:08d>``, ``seed`` = the generation seed) and the GAN (``label`` = its grid name).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import torch

from ganprint.checkpoint import build_from_checkpoint, load_checkpoint
from ganprint.data.store import ImageStoreWriter
from ganprint.errors import StageError
from ganprint.nets import GENERATORS
from ganprint.report.figures import save_grid
from ganprint.train.common import to_uint8

log = logging.getLogger("ganprint")


LATENTS = ("normal", "uniform")
SOURCE_RE = re.compile(r"^seed(\d+)/(\d+)$")  # a generated image's manifest source: seed<seed>/<index>


def latent(seed: int, index: int, z_dim: int, kind: str = "normal") -> np.ndarray:
    """The latent of image ``index``, from a generator seeded with (seed, index) only.

    Args:
        kind: "normal" → N(0, I); "uniform" → U[-1, 1]^z_dim (the generator's ``latent`` attribute).

    Returns:
        (z_dim,) float32.
    """
    rng = np.random.default_rng([seed, index])
    if kind == "normal":
        z = rng.standard_normal(z_dim)
    elif kind == "uniform":
        z = rng.uniform(-1.0, 1.0, z_dim)
    else:
        raise StageError(f"unknown latent kind {kind!r} (the generator's `latent` attribute); allowed: normal, uniform")
    return z.astype(np.float32)


def source_of(seed: int, index: int) -> str:
    """The manifest ``source`` of generated image ``index``; :func:`index_of_source` reads it back."""
    return f"seed{seed}/{index:08d}"


def index_of_source(source: str) -> tuple[int, int] | None:
    """(generation seed, index) of a generated image's manifest ``source``; None for any other source."""
    m = SOURCE_RE.match(source)
    return (int(m.group(1)), int(m.group(2))) if m else None


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
    """Sample images 0..num_images-1 of generator ``model`` into an image store, a manifest and a PNG grid.

    Image i is G(latent(seed, i)) with G in eval mode (BatchNorm running statistics, no dropout), so it does not
    depend on ``batch_size`` or on which device or process draws it.

    Args:
        label: the manifest's label of every image (the CLI passes the GAN's grid name).
    """
    ckpt = load_checkpoint(model, "gan_generator")
    G = build_from_checkpoint(ckpt, GENERATORS, device).eval()
    z_dim = G.z_dim
    kind = getattr(G, "latent", "normal")  # the zoo's contract; today's DCGAN predates the attribute
    log.info("generating %d images from %s (seed %d, %s latents)", num_images, model, seed, kind)
    first = []
    with ImageStoreWriter(out_images, out_manifest) as w:
        for start in range(0, num_images, batch_size):
            idx = range(start, min(start + batch_size, num_images))
            z = torch.from_numpy(np.stack([latent(seed, i, z_dim, kind) for i in idx])).to(device)
            images = to_uint8(G(z))
            for i, img in zip(idx, images, strict=True):
                w.add(img, source=source_of(seed, i), label=label, seed=seed)
            if len(first) < grid_images:
                first.extend(images[: grid_images - len(first)])
    save_grid(np.stack(first), out_grid)
    return num_images
