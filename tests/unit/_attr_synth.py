"""Synthetic sources for the attribution-method tests, and an in-memory TrainData (the contract's stand-in).

Every image is a smooth random colour field (bilinear-upsampled 4×4 noise) plus its source's high-frequency
pattern (mirror-symmetric left-right): ``real`` none, ``checker`` a ±1 checkerboard, ``stripes`` vertical
stripes of period 4, ``diag`` a period-3 diagonal ramp. The patterns are what a GAN fingerprint looks like to
these methods: obvious to a classifier, invisible in the low frequencies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

PATTERNS = ("real", "checker", "stripes", "diag")


def pattern(name: str, res: int) -> np.ndarray:
    """(3, res, res) float pattern in [-1, 1]."""
    yy, xx = np.mgrid[0:res, 0:res]
    xx = np.minimum(xx, res - 1 - xx)  # mirror-symmetric, so a left-right flip (training augmentation) keeps it
    if name == "real":
        p = np.zeros((res, res))
    elif name == "checker":
        p = np.where((yy + xx) % 2 == 0, 1.0, -1.0)
    elif name == "stripes":
        p = np.where(xx % 4 < 2, 1.0, -1.0)
    elif name == "diag":
        p = ((yy + 2 * xx) % 3 - 1.0).astype(float)
    else:
        raise ValueError(name)
    return np.stack([p, p * 0.5, -p])


def make_images(name: str, n: int, res: int, seed: int, amplitude: float = 24.0) -> torch.Tensor:
    """(n, 3, res, res) uint8 images of source ``name``."""
    g = torch.Generator().manual_seed(seed)
    base = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=(res, res), mode="bilinear", align_corners=False)
    img = 40.0 + 175.0 * base + amplitude * torch.from_numpy(pattern(name, res)).float()
    img = img + 4.0 * torch.randn(n, 3, res, res, generator=g)
    return img.round().clamp(0, 255).to(torch.uint8)


@dataclass
class TrainCfg:
    epochs: int
    batch_size: int
    seed: int


class MemoryTrainData:
    """The contract's TrainData over in-memory uint8 images: ``loader(batch_size, shuffle, seed)``, ``len()``,
    per-row ``sources`` (and per-row ``labels``)."""

    def __init__(self, images: torch.Tensor, labels, sources: list[str]):
        self.images = images
        self.labels = torch.as_tensor(labels, dtype=torch.int64)
        self.sources = list(sources)
        assert len(self.images) == len(self.labels) == len(self.sources)

    def __len__(self) -> int:
        return len(self.images)

    def loader(self, batch_size: int, shuffle: bool, seed: int):
        """Batches like the real loader's: a new order each time it is iterated, from a generator seeded once."""
        data = self

        class _Loader:
            def __init__(self):
                self.gen = torch.Generator().manual_seed(seed)

            def __iter__(self):
                n = len(data)
                order = torch.randperm(n, generator=self.gen) if shuffle else torch.arange(n)
                for i in range(0, n, batch_size):
                    idx = order[i : i + batch_size]
                    yield data.images[idx], data.labels[idx]

            def __len__(self):
                return (len(data) + batch_size - 1) // batch_size

        return _Loader()


def make_data(classes: dict[str, str], per_class: int, res: int, seed: int) -> MemoryTrainData:
    """``classes`` maps class name → pattern name (sorted names get labels 0..K-1); sources are
    ``real/<class>`` for the ``real`` pattern, ``gan/<class>`` otherwise."""
    names = sorted(classes)
    imgs, labels, sources = [], [], []
    for i, c in enumerate(names):
        imgs.append(make_images(classes[c], per_class, res, seed * 1000 + i))
        labels += [i] * per_class
        kind = "real" if classes[c] == "real" else "gan"
        sources += [f"{kind}/{c}"] * per_class
    return MemoryTrainData(torch.cat(imgs), labels, sources)


def to_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 127.5 - 1.0


def one_thread():
    """Generator for an autouse fixture: torch on one thread (2 shared cores; oversubscribed threads spin)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
