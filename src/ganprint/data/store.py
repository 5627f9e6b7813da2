"""LMDB image store: one file per artifact, fixed-size uint8 RGB images, plus a CSV manifest.

DESIGN.md (Contracts): images live in LMDB stores (DVC handles one big file far better than many PNGs) with a
manifest (key, source, label, seed, sha1). Keys are ``%08d`` indices in insertion order; values are raw
``(H, W, 3)`` uint8 bytes. The store is written to a temporary file and renamed on close, so a killed job
never leaves a half-written store under its final name.

Memory (DESIGN.md, Contracts: data feeding): neither side holds a whole store. The writer streams manifest rows
to disk and commits every ``commit_every`` images or ``_COMMIT_BYTES``, whichever comes first. The reader maps
the file, and every page it touches counts towards the process's resident set (``RssFile``) until the map
goes away, so scanning a 10 GB store would show 10 GB of RSS; it therefore closes and lazily reopens its LMDB
environment once the process's file-backed resident memory has grown by ``map_budget_mb`` since the open (a
reopen costs ~0.1 ms; the pages stay in the page cache). It measures that growth (``/proc/self/statm``, 1 µs)
rather than counting image bytes because a read maps more than the image: fault-around and large page-cache
folios map neighbouring pages too, and counting bytes let a 32 MiB budget become ~150 MiB of RSS in a shuffled
epoch of 64 px images.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

import lmdb
import numpy as np

from ganprint.errors import StageError
from ganprint.io import atomic_path

META_KEY = b"__meta__"
MANIFEST_FIELDS = ("key", "source", "label", "seed", "sha1")
_MAP_SIZE = 1 << 40  # virtual only: LMDB grows the file as pages are written
_COMMIT_BYTES = 64 << 20  # a write transaction keeps its dirty pages in malloc'd memory until commit
DEFAULT_MAP_BUDGET_MB = 32.0  # mapped store pages a reader may keep resident before it remaps
_FAULT_WINDOW = 64 << 10  # Linux's default fault_around_bytes: what one page fault may map at least
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_STATM: dict = {"pid": None, "fd": None}


class StoreError(StageError):
    """An image store is missing, unreadable or not what the caller expected."""


def key_of(index: int) -> str:
    return f"{index:08d}"


class ImageStoreWriter:
    """Write same-sized uint8 RGB images into ``path`` (LMDB, single file) and a manifest CSV.

    Use as a context manager; the store and manifest appear under their final names only on success.
    Manifest rows go to a temporary file as they are added, so memory does not grow with the image count.
    """

    def __init__(self, path: str | Path, manifest: str | Path | None = None, *, commit_every: int = 1000):
        self.path = Path(path)
        self.manifest = Path(manifest) if manifest else None
        self.commit_every = commit_every
        self._shape: tuple[int, int, int] | None = None
        self._count = 0
        self._pending_bytes = 0

    def __enter__(self) -> ImageStoreWriter:
        self._manifest_ctx = self._manifest_fh = None
        if self.manifest is not None:
            self._manifest_ctx = atomic_path(self.manifest)
            tmp = self._manifest_ctx.__enter__()
            self._manifest_fh = open(tmp, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed in __exit__
            self._manifest_csv = csv.DictWriter(self._manifest_fh, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
            self._manifest_csv.writeheader()
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
        if self._manifest_fh is not None:
            row = {"key": key, "source": source, "label": label, "seed": seed, "sha1": hashlib.sha1(data).hexdigest()}
            self._manifest_csv.writerow(row)
        self._count += 1
        self._pending_bytes += len(data)
        if self._count % self.commit_every == 0 or self._pending_bytes >= _COMMIT_BYTES:
            self._txn.commit()
            self._txn = self._env.begin(write=True)
            self._pending_bytes = 0
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
            if self._manifest_fh is not None:
                self._manifest_fh.close()
                self._manifest_ctx.__exit__(exc_type, exc, tb)  # renamed on success, removed otherwise
        self._store_ctx.__exit__(exc_type, exc, tb)  # renames on success, removes the temporary otherwise
        if empty:
            raise exc


def write_manifest(path: str | Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)


def iter_manifest(path: str | Path) -> Iterator[dict]:
    """Manifest rows one at a time (a paper-scale manifest has 200k rows; callers keep only what they need)."""
    with open(path, newline="", encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def read_manifest(path: str | Path) -> list[dict]:
    return list(iter_manifest(path))


def _file_resident() -> int | None:
    """Bytes of file-backed memory resident in this process (``statm`` shared), or None without ``/proc``."""
    pid = os.getpid()
    if _STATM["pid"] != pid:  # an inherited descriptor reads the parent's /proc entry
        if _STATM["fd"] is not None:
            os.close(_STATM["fd"])
        try:
            fd = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            fd = None
        _STATM.update(pid=pid, fd=fd)
    if _STATM["fd"] is None:
        return None
    return int(os.pread(_STATM["fd"], 128, 0).split()[2]) * _PAGE


class _Mapping:
    """The one LMDB environment of a store file in this process, shared by every :class:`ImageStore` on it.

    LMDB forbids opening one file twice in a process (py-lmdb refuses), so two readers of the same store (a
    train and a val dataset, a pickled copy) must share an environment. ``release`` closes it; the next
    ``begin`` opens it again, so releasing never breaks another reader (reads hold the lock throughout).
    """

    def __init__(self, path: Path, ident: tuple[int, int]):
        self.path, self.ident = path, ident
        self.env: lmdb.Environment | None = None
        self.pid: int | None = None
        self.stale = False  # released by another reader while this one was busy: release at the next begin
        self.lock = threading.Lock()

    def begin(self, **kw) -> lmdb.Transaction:
        if self.env is not None and (self.pid != os.getpid() or self.stale):
            # Inherited across fork (a DataLoader worker): unmapping it here leaves the parent's copy intact.
            self.release()
        if self.env is None:
            if _file_id(self.path) != self.ident:
                raise StoreError(f"{self.path}: the store was replaced while being read; rerun this stage")
            if not _POOL["open"]:  # the first mapping of a round: what is resident now is not ours
                _POOL.update(resident0=_file_resident(), estimate=0)
            self.env = lmdb.open(
                str(self.path), subdir=False, readonly=True, lock=False, readahead=False, max_readers=512
            )
            self.pid = os.getpid()
            _POOL["open"].add(self.ident)
        return self.env.begin(**kw)

    def release(self) -> None:
        if self.env is not None:
            self.env.close()
        self.env, self.stale = None, False
        _POOL["open"].discard(self.ident)


# The store pages this process has mapped, all stores together: a round starts when the first mapping opens
# and ends when the growth of file-backed resident memory since then passes a reader's budget; then every
# mapping is released. (Per-mapping baselines fail: one store's release lowers the resident total that the
# other stores are measured against, and together they overshot a 32 MiB budget by 2x.)
_POOL: dict = {"open": set(), "resident0": None, "estimate": 0}


def _pool_grown() -> int:
    """Store bytes this process may hold mapped: measured growth this round, else the summed estimate."""
    now = _file_resident()
    return _POOL["estimate"] if now is None or _POOL["resident0"] is None else now - _POOL["resident0"]


def _release_all(current: _Mapping) -> None:
    """Unmap every store (the caller holds ``current.lock``; a store busy in another thread goes at its next read)."""
    for m in list(_MAPPINGS.values()):
        if m is current:
            m.release()
        elif m.lock.acquire(blocking=False):
            try:
                m.release()
            finally:
                m.lock.release()
        elif m.env is not None:
            m.stale = True
    _POOL["open"].clear()


_MAPPINGS: weakref.WeakValueDictionary[tuple[int, int], _Mapping] = weakref.WeakValueDictionary()


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _mapping(path: Path) -> _Mapping:
    ident = _file_id(path)
    m = _MAPPINGS.get(ident)
    if m is None:
        m = _MAPPINGS[ident] = _Mapping(path, ident)
    return m


def _after_fork_in_child() -> None:
    # A child starts with none of the parent's store pages resident (shared file mappings are not copied at
    # fork), so it starts a round of its own; its inherited environments are released at their next begin.
    _POOL.update(open=set(), resident0=None, estimate=0)
    for m in list(_MAPPINGS.values()):
        m.lock = threading.Lock()  # a lock held by another thread at fork time would never be released here


os.register_at_fork(after_in_child=_after_fork_in_child)


class ImageStore:
    """Read-only random access to an image store written by :class:`ImageStoreWriter`.

    ``map_budget_mb`` bounds the mapped store pages this process keeps resident, all stores together (None =
    unbounded): once its file-backed resident memory has grown by that much since the first store was mapped
    (or, without ``/proc``, once reads may have mapped that much at :attr:`map_cost` per image), every store
    is unmapped and mapped again at its next read. The environment is reopened in a forked child (LMDB
    environments must not cross ``fork``) and is not pickled, so an ``ImageStore`` can live inside a
    DataLoader's dataset. Thread-safe: reads of one store are serialised.
    """

    def __init__(self, path: str | Path, *, map_budget_mb: float | None = DEFAULT_MAP_BUDGET_MB):
        self.path = Path(path)
        self.map_budget = None if map_budget_mb is None else int(map_budget_mb * (1 << 20))
        if not self.path.is_file():
            raise StoreError(f"{self.path}: image store not found; run the stage that writes it first")
        self._map = _mapping(self.path)
        try:
            with self._map.lock, self._map.begin() as txn:
                raw = txn.get(META_KEY)
        except lmdb.Error as e:
            raise StoreError(f"{self.path}: not a readable image store ({e})") from None
        if raw is None:
            raise StoreError(f"{self.path}: not an image store (no metadata record)")
        self.meta = json.loads(raw)
        self.shape = (self.meta["height"], self.meta["width"], self.meta["channels"])
        self.image_bytes = self.shape[0] * self.shape[1] * self.shape[2]
        # Where /proc is missing: an estimate of what reading one image maps, the fault-around windows its bytes
        # span plus one for the B-tree leaf and one for a value that straddles a window boundary.
        self.map_cost = (-(-self.image_bytes // _FAULT_WINDOW) + 2) * _FAULT_WINDOW

    def release(self) -> None:
        """Unmap the store (its resident pages leave this process's RSS); the next read maps it again."""
        with self._map.lock:
            self._map.release()

    def __len__(self) -> int:
        return int(self.meta["count"])

    def __getitem__(self, index: int) -> np.ndarray:
        """Image ``index`` as ``(H, W, 3)`` uint8."""
        return self.read([index])[0]

    def read(self, indices) -> np.ndarray:
        """Images at ``indices`` as ``(N, H, W, 3)`` uint8."""
        indices = list(indices)
        for i in indices:
            if not 0 <= i < len(self):
                raise IndexError(f"{self.path}: index {i} out of range 0..{len(self) - 1}")
        return self.read_keys([key_of(i) for i in indices])

    def read_keys(self, keys: Sequence[str], sha1: Sequence[str] | None = None) -> np.ndarray:
        """Images under ``keys`` as ``(N, H, W, 3)`` uint8 (copies: valid after the store is closed).

        With ``sha1`` (hex digests, one per key, as in the manifest) each image's bytes are checked, so a split
        built against an older version of the store stops with a clear error instead of training on other images.
        """
        out = np.empty((len(keys), *self.shape), dtype=np.uint8)
        flat = out.reshape(len(keys), self.image_bytes)
        m = self._map
        with m.lock:
            with m.begin(buffers=True) as txn:
                for j, key in enumerate(keys):
                    buf = txn.get(key.encode())
                    if buf is None:
                        raise StoreError(
                            f"{self.path}: no image under key {key!r}; the store changed since the split or "
                            "manifest naming it was written (rerun build_split)"
                        )
                    if len(buf) != self.image_bytes:
                        raise StoreError(f"{self.path}: key {key!r} holds {len(buf)} bytes, not a {self.shape} image")
                    if sha1 is not None and hashlib.sha1(buf).hexdigest() != sha1[j]:
                        raise StoreError(
                            f"{self.path}: image {key} does not match its sha1 in the split manifest; the store "
                            "changed since the split was built (rerun build_split)"
                        )
                    flat[j] = np.frombuffer(buf, dtype=np.uint8)
            _POOL["estimate"] += len(keys) * self.map_cost
            if self.map_budget is not None and _pool_grown() > self.map_budget:
                _release_all(m)
        return out

    def close(self) -> None:
        self.release()

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_map"}  # an LMDB environment is per process

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._map = _mapping(self.path)

    def __enter__(self) -> ImageStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
