"""Protocol splits: which images of which store carry which label (protocols are data, DESIGN.md).

Classes are sorted by name and the mapping is stored in every model (PAPERS.md §6: the reference code's
unsorted ``os.listdir`` label order is a known trap). A class's images are split evenly over its sources;
training takes the first images of each source, testing the last ones, so the two never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganprint.config import Params
from ganprint.data.store import ImageStore
from ganprint.errors import StageError
from ganprint.paths import source_store


class SplitError(StageError):
    """A protocol asks for more images than a source has."""


@dataclass(frozen=True)
class Part:
    store: str
    indices: tuple[int, ...]
    label: int
    source: str


@dataclass(frozen=True)
class Split:
    classes: tuple[str, ...]
    parts: tuple[Part, ...]

    def __len__(self) -> int:
        return sum(len(p.indices) for p in self.parts)

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """All images (N, H, W, 3) uint8 and labels (N,) int64, in part order."""
        xs, ys = [], []
        for p in self.parts:
            with ImageStore(p.store) as s:
                xs.append(s.read(p.indices))
            ys.append(np.full(len(p.indices), p.label, dtype=np.int64))
        return np.concatenate(xs), np.concatenate(ys)


def _share(total: int, k: int) -> list[int]:
    base, extra = divmod(total, k)
    return [base + (1 if i < extra else 0) for i in range(k)]


def _per_source(params: Params, protocol: str, split: str, images_per_class: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for srcs in params.protocol_sources(protocol, split).values():
        for src, count in zip(srcs, _share(images_per_class, len(srcs)), strict=True):
            out[src] = out.get(src, 0) + count
    return out


def protocol_split(params: Params, protocol: str, split: str, images_per_class: int | None = None) -> Split:
    """The ``train`` or ``test`` split of ``protocol`` (images per class from the params by default)."""
    per_class = {
        "train": params.train_classifier.images_per_class,
        "test": params.evaluate_attribution.images_per_class,
    }
    if images_per_class is not None:
        per_class[split] = images_per_class
    other = "test" if split == "train" else "train"
    used_other = _per_source(params, protocol, other, per_class[other])
    classes = tuple(sorted(params.protocol_sources(protocol, "train")))
    sources = params.protocol_sources(protocol, split)
    parts = []
    for label, cls in enumerate(classes):
        srcs = sources[cls]
        for src, count in zip(srcs, _share(per_class[split], len(srcs)), strict=True):
            path = source_store(params, src)
            with ImageStore(path) as s:
                n = len(s)
            if count + used_other.get(src, 0) > n:
                raise SplitError(
                    f"protocol {protocol}: source {src} has {n} images, fewer than the "
                    f"{count + used_other.get(src, 0)} its train and test splits need (they never overlap); "
                    "generate more images (generate_images.num_images, datasets.<name>.num_images) or lower "
                    "train_classifier.images_per_class / evaluate_attribution.images_per_class"
                )
            idx = range(count) if split == "train" else range(n - count, n)
            parts.append(Part(path, tuple(idx), label, src))
    return Split(classes, tuple(parts))


def split_stores(params: Params, protocol: str) -> list[str]:
    """Every store a protocol reads (for the workflow's inputs)."""
    out = []
    for split in ("train", "test"):
        for srcs in params.protocol_sources(protocol, split).values():
            out.extend(source_store(params, s) for s in srcs)
    return sorted(set(out))
