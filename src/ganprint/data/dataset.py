"""Streaming image datasets over LMDB stores and a seeded DataLoader (DESIGN.md, Contracts: data feeding).

Images are read one batch at a time, so memory does not grow with the number of images: a
:class:`StoreImages` holds only compact per-row arrays (store number, key, label, digest; about 70 bytes per
image, in numpy arrays rather than Python objects, so forked DataLoader workers do not copy them page by page
as reference counts change) plus the mapped store pages, which :class:`~ganprint.data.store.ImageStore`
bounds by ``memory_budget_mb`` per process, all stores together.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler

from ganprint.data.store import DEFAULT_MAP_BUDGET_MB, ImageStore, StoreError


class StoreImages(Dataset):
    """Images named by (store path, key) rows, read from their LMDB stores on demand.

    Item ``i`` is ``(image, label)``: ``image`` a ``(3, H, W)`` ``torch.uint8`` tensor, RGB, values 0..255 (the
    models' channel order; convert with :func:`ganprint.train.common.from_uint8`), ``label`` an ``int``. A
    DataLoader batch is therefore ``(N, 3, H, W)`` uint8 and ``(N,)`` int64.

    Stores are opened lazily in the process that reads them (a worker opens its own; nothing LMDB is
    pickled), one environment per store file per process. With ``sha1`` given, every read checks the image's
    bytes against it (hashing costs well under 1 % of a classifier step), so a split built against an older
    store stops with a ``StoreError`` instead of training on other images. ``memory_budget_mb`` bounds the
    resident mapped store pages of all stores together, per process.
    """

    def __init__(
        self,
        stores: Sequence[str],
        keys: Sequence[str],
        labels: Sequence[int],
        sha1: Sequence[str] | None = None,
        *,
        memory_budget_mb: float = DEFAULT_MAP_BUDGET_MB,
    ):
        if not len(stores) == len(keys) == len(labels) or (sha1 is not None and len(sha1) != len(keys)):
            raise ValueError("stores, keys, labels (and sha1) must have one entry per image")
        # Store numbers, not a fixed-width array of paths (100-character paths would cost 400 bytes a row).
        store_idx, paths = pd.factorize(np.asarray(stores, dtype=object), sort=True)
        self.store_paths: tuple[str, ...] = tuple(str(p) for p in paths)
        self._store_idx = store_idx.astype(np.int32)
        self._keys = np.asarray(keys, dtype=str)  # fixed-width unicode array, no per-row Python objects
        self._labels = np.asarray(labels, dtype=np.int64)
        # (N, 20) uint8, not an "S20" array: numpy strips trailing NUL bytes from "S" items, which would
        # corrupt every digest that ends in 0x00.
        self._sha1 = None
        if sha1 is not None:
            try:
                raw = b"".join(bytes.fromhex(h) for h in sha1)
            except (TypeError, ValueError):
                raw = b""
            if len(raw) != 20 * len(sha1):
                raise StoreError(
                    "a split manifest row has a malformed sha1 (40 hex digits expected); rerun build_split"
                )
            self._sha1 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 20)
        self.memory_budget_mb = memory_budget_mb
        self._stores: dict[int, ImageStore] = {}

    @classmethod
    def from_rows(
        cls, rows: pd.DataFrame, *, verify_sha1: bool = True, memory_budget_mb: float = DEFAULT_MAP_BUDGET_MB
    ) -> StoreImages:
        """From split-manifest rows (columns ``store``, ``key``, ``y`` and, to verify, ``sha1``)."""
        return cls(
            rows["store"].to_numpy(),
            rows["key"].to_numpy(),
            rows["y"].to_numpy(),
            rows["sha1"].to_numpy() if verify_sha1 else None,
            memory_budget_mb=memory_budget_mb,
        )

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def labels(self) -> np.ndarray:
        return self._labels

    def _store(self, k: int) -> ImageStore:
        s = self._stores.get(k)
        if s is None:
            s = self._stores[k] = ImageStore(self.store_paths[k], map_budget_mb=self.memory_budget_mb)
        return s

    def image_shape(self) -> tuple[int, int, int]:
        """``(H, W, 3)`` shared by every store; a ``StoreError`` when they differ."""
        shapes = {p: self._store(k).shape for k, p in enumerate(self.store_paths)}
        if len(set(shapes.values())) > 1:
            listed = ", ".join(f"{p} {s[0]}x{s[1]}" for p, s in shapes.items())
            raise StoreError(f"the images of one split must share one size: {listed}")
        return next(iter(shapes.values()))

    def _read(self, indices: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 for ``indices``, one LMDB transaction per store."""
        out = None
        for k in np.unique(self._store_idx[indices]):
            sel = np.flatnonzero(self._store_idx[indices] == k)
            rows = indices[sel]
            digests = None if self._sha1 is None else [d.tobytes().hex() for d in self._sha1[rows]]
            images = self._store(int(k)).read_keys(self._keys[rows].tolist(), digests)
            if out is None:
                out = np.empty((len(indices), *images.shape[1:]), dtype=np.uint8)
            out[sel] = images
        return out

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = self._read(np.array([i]))[0]
        return torch.from_numpy(image).permute(2, 0, 1), int(self._labels[i])

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, int]]:
        """A whole batch at once (the DataLoader's fetcher uses this): fewer transactions per image."""
        idx = np.asarray(indices, dtype=np.int64)
        images = torch.from_numpy(self._read(idx)).permute(0, 3, 1, 2)
        return [(images[j], int(self._labels[i])) for j, i in enumerate(idx)]


class IndexedImages(Dataset):
    """A :class:`StoreImages` whose item ``i`` is ``(image, label, i)``: a DataLoader batch then carries the (N,)
    int64 row indices too, so per-image randomness can be keyed by the row whatever the shuffle and batch size."""

    def __init__(self, base: StoreImages):
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        image, label = self.base[i]
        return image, label, int(i)

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, int, int]]:
        items = self.base.__getitems__(indices)
        return [(image, label, int(i)) for (image, label), i in zip(items, indices, strict=True)]


def _seed_worker(worker_id: int) -> None:
    # torch seeds each worker with base_seed + worker_id; numpy and random follow it, so any randomness a
    # dataset or transform adds later is a function of the loader seed too.
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    workers: int = 0,
    device: torch.device | str | None = None,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader whose batches depend only on (dataset, batch_size, shuffle, seed, drop_last).

    The shuffle has a generator of its own: DataLoader also draws its workers' base seed from ``generator``,
    once per epoch with ``workers=0`` but only once per run with persistent workers, so a shared generator
    would give other orders from the second epoch on depending on ``workers``. Memory is pinned only for CUDA.
    """
    if shuffle:
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
    else:
        sampler = SequentialSampler(dataset)
    cuda = device is not None and torch.device(device).type == "cuda"
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=workers,
        generator=torch.Generator().manual_seed(seed),  # workers' base seed only
        worker_init_fn=_seed_worker if workers > 0 else None,
        pin_memory=cuda,
        persistent_workers=workers > 0,
    )
