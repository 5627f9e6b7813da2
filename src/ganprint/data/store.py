"""LMDB image store: one file per artifact, fixed-size uint8 RGB images, plus a CSV manifest.

DESIGN.md (Contracts): images live in LMDB stores (DVC handles one big file far better than many PNGs) with a
manifest (key, source, label, seed, sha1). Keys are ``%08d`` indices in insertion order; values are raw
``(H, W, 3)`` uint8 bytes. The store is written to a temporary file and renamed on close, so a killed job
never leaves a half-written store under its final name.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import lmdb
import numpy as np

from ganprint.errors import StageError
from ganprint.io import atomic_path

META_KEY = b"__meta__"
MANIFEST_FIELDS = ("key", "source", "label", "seed", "sha1")
_MAP_SIZE = 1 << 40  # virtual only: LMDB grows the file as pages are written


class StoreError(StageError):
    """An image store is missing, unreadable or not what the caller expected."""


def key_of(index: int) -> str:
    return f"{index:08d}"


class ImageStoreWriter:
    """Write same-sized uint8 RGB images into ``path`` (LMDB, single file) and a manifest CSV.

    Use as a context manager; the store and manifest appear under their final names only on success.
    """

    def __init__(self, path: str | Path, manifest: str | Path | None = None, *, commit_every: int = 1000):
        self.path = Path(path)
        self.manifest = Path(manifest) if manifest else None
        self.commit_every = commit_every
        self._shape: tuple[int, int, int] | None = None
        self._rows: list[dict] = []
        self._count = 0

    def __enter__(self) -> ImageStoreWriter:
        self._store_ctx = atomic_path(self.path)
        self._tmp = self._store_ctx.__enter__()
        self._tmp.unlink()  # lmdb creates the file itself
        # No fsync per commit: the file is a temporary until renamed, so one sync at the end is enough.
        self._env = lmdb.open(
            str(self._tmp), subdir=False, lock=False, map_size=_MAP_SIZE, meminit=True, sync=False, metasync=False
        )
        self._txn = self._env.begin(write=True)
        return self

    def add(self, image: np.ndarray, *, source: str = "", label: str = "", seed: int | str = "") -> str:
        """Append one ``(H, W, 3)`` uint8 image; returns its key."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise StoreError(f"expected (H, W, 3) uint8, got {image.shape} {image.dtype}")
        if self._shape is None:
            self._shape = tuple(image.shape)
        elif tuple(image.shape) != self._shape:
            raise StoreError(f"all images in a store share one size: {self._shape} vs {image.shape}")
        data = np.ascontiguousarray(image).tobytes()
        key = key_of(self._count)
        self._txn.put(key.encode(), data)
        self._rows.append(
            {
                "key": key,
                "source": source,
                "label": label,
                "seed": seed,
                "sha1": hashlib.sha1(data).hexdigest(),
            }
        )
        self._count += 1
        if self._count % self.commit_every == 0:
            self._txn.commit()
            self._txn = self._env.begin(write=True)
        return key

    def __len__(self) -> int:
        return self._count

    def __exit__(self, exc_type, exc, tb) -> None:
        empty = exc_type is None and self._count == 0
        if empty:
            exc_type, exc = StoreError, StoreError(f"{self.path}: refusing to write an empty image store")
        try:
            if exc_type is None:
                h, w, c = self._shape
                meta = {"count": self._count, "height": h, "width": w, "channels": c, "dtype": "uint8"}
                self._txn.put(META_KEY, json.dumps(meta, sort_keys=True).encode())
                self._txn.commit()
                self._env.sync(True)
            else:
                self._txn.abort()
        finally:
            self._env.close()
        if exc_type is None and self.manifest is not None:
            write_manifest(self.manifest, self._rows)
        self._store_ctx.__exit__(exc_type, exc, tb)  # renames on success, removes the temporary otherwise
        if empty:
            raise exc


def write_manifest(path: str | Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)


def read_manifest(path: str | Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class ImageStore:
    """Read-only random access to an image store written by :class:`ImageStoreWriter`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise StoreError(f"{self.path}: image store not found; run the stage that writes it first")
        try:
            self._env = lmdb.open(
                str(self.path), subdir=False, readonly=True, lock=False, readahead=False, max_readers=512
            )
            with self._env.begin() as txn:
                raw = txn.get(META_KEY)
        except lmdb.Error as e:
            raise StoreError(f"{self.path}: not a readable image store ({e})") from None
        if raw is None:
            raise StoreError(f"{self.path}: not an image store (no metadata record)")
        self.meta = json.loads(raw)
        self.shape = (self.meta["height"], self.meta["width"], self.meta["channels"])

    def __len__(self) -> int:
        return int(self.meta["count"])

    def __getitem__(self, index: int) -> np.ndarray:
        """Image ``index`` as ``(H, W, 3)`` uint8."""
        return self.read([index])[0]

    def read(self, indices) -> np.ndarray:
        """Images at ``indices`` as ``(N, H, W, 3)`` uint8."""
        indices = list(indices)
        out = np.empty((len(indices), *self.shape), dtype=np.uint8)
        with self._env.begin(buffers=True) as txn:
            for j, i in enumerate(indices):
                if not 0 <= i < len(self):
                    raise IndexError(f"{self.path}: index {i} out of range 0..{len(self) - 1}")
                buf = txn.get(key_of(i).encode())
                out[j] = np.frombuffer(buf, dtype=np.uint8).reshape(self.shape)
        return out

    def close(self) -> None:
        self._env.close()

    def __enter__(self) -> ImageStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
