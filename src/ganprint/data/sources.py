"""Image sources of ``datasets.<name>.source``: embedded demo photos, folders, CelebA aligned, LSUN LMDB.

A source is read in two steps so that the caller can spread the work over a process pool and still get the
same bytes whatever the number of workers:

* :func:`list_items` lists the work items in a fixed order (file paths relative to the root, LMDB keys, or
  crop indices) — small picklable values, never pixels;
* :func:`make_processor` returns a picklable callable ``process(item) -> (image bytes | None, reason, name)``
  that turns one item into the raw ``(resolution, resolution, 3)`` uint8 bytes of one image, or ``None`` and
  the :data:`~ganprint.data.images.SKIP_REASONS` code of why it was skipped.

Crops follow PAPERS.md §1.2 (CelebA 128 px box at (89, 121); LSUN: centre square on the shorter side, then
resize) and §2.2 (CelebA CenterCrop 148).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ganprint.config import DatasetCfg
from ganprint.data.images import (
    FILTERS,
    ImageSkip,
    celeba_box,
    center_square_box,
    open_rgb,
)
from ganprint.errors import StageError

#: Extensions a folder source reads (any letter case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")

#: Embedded demo sets: the package that ships the photos, its data folder inside the wheel, the photos.
#: Only colour photographs that really are in the wheels (no skimage.data fetcher, nothing downloaded;
#: color.png is left out: it is a synthetic colour wheel, not a photograph).
EMBEDDED = {
    "skimage": (
        "scikit-image",
        "skimage",
        "data",
        (
            "astronaut.png",
            "chelsea.png",
            "coffee.png",
            "rocket.jpg",
            "motorcycle_left.png",
            "hubble_deep_field.jpg",
            "ihc.png",
        ),
    ),
    "sklearn": ("scikit-learn", "sklearn", "datasets/images", ("china.jpg", "flower.jpg")),
}


@dataclass
class Listing:
    """The work items of a source, in the order their images enter the store.

    Attributes:
        items: the work items (a list, or a lazy iterator for LSUN).
        count: how many items there are.
        ignored: entries a folder walk passed over, by why ('hidden', 'linked_folder', 'other_extension').
    """

    items: Iterable
    count: int
    ignored: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------
# listing


def embedded_photos(name: str) -> tuple[str, ...]:
    """Absolute paths of the photos of embedded set ``name`` ('skimage' | 'sklearn'), checked to exist."""
    if name not in EMBEDDED:
        raise StageError(f"unknown embedded set {name!r}; allowed: {', '.join(EMBEDDED)}")
    dist, module, sub, files = EMBEDDED[name]
    try:
        mod = __import__(module)
    except ImportError:
        raise StageError(
            f"embedded set {name!r} needs the {dist} package (its wheel ships the photos): pip install {dist}"
        ) from None
    folder = Path(os.path.dirname(mod.__file__)) / sub
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise StageError(
            f"embedded set {name!r}: {', '.join(missing)} not found in {folder}; this {dist} install lacks "
            f"the photos its wheel ships; reinstall it: pip install --force-reinstall {dist}"
        )
    return tuple(str(folder / f) for f in files)


def list_folder(root: str | Path) -> Listing:
    """Image files under ``root`` (nested), as '/'-separated paths relative to it, sorted.

    Hidden files and folders (name starting with '.') are passed over; symbolic links to folders below the
    root are not followed (so a link loop cannot hang the walk; ``root`` itself may be a link); extensions:
    :data:`IMAGE_EXTENSIONS`, any case.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root} (datasets.<name>.path in params.yaml)")
    items: list[str] = []
    ignored = {"hidden": 0, "linked_folder": 0, "other_extension": 0}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        keep = []
        for d in dirnames:
            if d.startswith("."):
                ignored["hidden"] += 1
            elif os.path.islink(os.path.join(dirpath, d)):
                ignored["linked_folder"] += 1  # not followed (followlinks=False): no loops, no double counts
            else:
                keep.append(d)
        dirnames[:] = keep
        rel_dir = os.path.relpath(dirpath, root)
        for f in filenames:
            if f.startswith("."):
                ignored["hidden"] += 1
            elif os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS:
                rel = f if rel_dir == "." else os.path.join(rel_dir, f)
                items.append(rel.replace(os.sep, "/"))
            else:
                ignored["other_extension"] += 1
    items.sort()
    return Listing(items, len(items), ignored)


_LMDB_ENVS: dict[tuple[int, str], tuple[object, tuple]] = {}


def _file_identity(path: Path) -> tuple:
    data = path / "data.mdb" if path.is_dir() else path
    try:
        st = os.stat(data)
    except OSError:
        return ()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def lmdb_env(path: str | Path, *, revalidate: bool = False):
    """The read-only LMDB environment at ``path``, opened once per process.

    py-lmdb refuses to open the same environment twice in one process, and an environment must not cross a
    fork(): the listing and the reads share this one, and a process pool over an LSUN source starts its
    workers with 'spawn' (see :attr:`Processor.fork_safe`). ``revalidate`` reopens it when the file on disk
    was replaced since (the listing asks for that once per run).
    """
    import lmdb

    path = Path(path)
    key = (os.getpid(), str(path))
    cached = _LMDB_ENVS.get(key)
    if cached is not None:
        env, ident = cached
        if not revalidate or ident == _file_identity(path):
            return env
        env.close()
        del _LMDB_ENVS[key]
    if not path.exists():
        raise FileNotFoundError(f"LSUN LMDB export not found: {path} (datasets.<name>.path in params.yaml)")
    try:
        env = lmdb.open(str(path), subdir=path.is_dir(), readonly=True, lock=False, readahead=False, max_readers=512)
    except lmdb.Error as e:
        raise StageError(
            f"{path}: not a readable LMDB database ({e}); 'lsun' expects the directory written by the "
            "official lsun tool (data.mdb inside)"
        ) from None
    _LMDB_ENVS[key] = (env, _file_identity(path))
    return env


def _lmdb_keys(path: str) -> Iterator[bytes]:
    with lmdb_env(path).begin() as txn:
        yield from txn.cursor().iternext(keys=True, values=False)


def list_lsun(path: str | Path) -> Listing:
    """Keys of an LSUN LMDB export in key order (lazy: LSUN categories hold millions of entries)."""
    count = lmdb_env(path, revalidate=True).stat()["entries"]
    return Listing(_lmdb_keys(str(path)), count)


def list_items(cfg: DatasetCfg) -> Listing:
    """The work items of ``cfg.source`` in their fixed order.

    * embedded: crop indices ``0 … num_images-1``;
    * folder, celeba: relative file paths, sorted;
    * lsun: LMDB keys in key order.
    """
    if cfg.source == "embedded":
        embedded_photos(cfg.path)
        return Listing(list(range(cfg.num_images)), cfg.num_images)
    if cfg.source in ("folder", "celeba"):
        return list_folder(cfg.path)
    if cfg.source == "lsun":
        return list_lsun(cfg.path)
    raise StageError(f"unknown source {cfg.source!r}")


# ---------------------------------------------------------------------------------------------------------
# processing (runs in worker processes: module-level caches are per process)

_PHOTO_CACHE: dict[str, Image.Image] = {}


def _photo(path: str) -> Image.Image:
    im = _PHOTO_CACHE.get(path)
    if im is None:
        try:
            im = open_rgb(path)
        except ImageSkip as e:
            raise StageError(f"{path}: embedded photo unreadable ({e}); reinstall the package that ships it") from None
        _PHOTO_CACHE[path] = im
    return im


def _lmdb_value(path: str, key: bytes) -> bytes | None:
    with lmdb_env(path).begin() as txn:
        return txn.get(key)


@dataclass(frozen=True)
class Processor:
    """``process(item) -> (bytes | None, reason, name)``: one work item → one image (picklable).

    Attributes:
        source: 'embedded' | 'folder' | 'celeba' | 'lsun'.
        root: folder or LMDB path ('' for embedded).
        resolution: output side in px.
        resize_filter: a config.RESIZE_FILTERS name.
        min_side: shorter side of the crop below which the item is 'too_small' (folder, celeba, lsun).
        celeba_crop: 'yu2019' | 'yu2021' (celeba).
        photos: absolute photo paths (embedded).
        photo_names: their manifest names (embedded).
        seed, crop_scale: embedded crop parameters.
    """

    source: str
    root: str
    resolution: int
    resize_filter: str
    min_side: int
    celeba_crop: str = "yu2019"
    photos: tuple[str, ...] = ()
    photo_names: tuple[str, ...] = ()
    seed: int = 0
    crop_scale: tuple[float, float] = (0.08, 0.5)

    @property
    def fork_safe(self) -> bool:
        """Whether pool workers may be forked from the caller (not with an LMDB environment open in it)."""
        return self.source != "lsun"

    def __call__(self, item) -> tuple[bytes | None, str, str]:
        if self.source == "embedded":
            return self._embedded(int(item))
        if self.source == "lsun":
            name = item.decode("ascii", "backslashreplace")
            try:
                data = _lmdb_value(self.root, item)
                if data is None:
                    raise ImageSkip("unreadable", "key vanished")
                return self._finish(open_rgb(data), center_square_box), "", name
            except ImageSkip as e:
                return None, e.reason, name
        try:
            im = open_rgb(os.path.join(self.root, item))
            if self.source == "celeba":
                return self._finish(im, self._celeba_box), "", item
            return self._finish(im, center_square_box), "", item
        except ImageSkip as e:
            return None, e.reason, item

    def _celeba_box(self, h: int, w: int) -> tuple[int, int, int]:
        return celeba_box(h, w, self.celeba_crop)

    def _finish(self, im: Image.Image, box_fn) -> bytes:
        """Crop (box from ``box_fn(h, w)``), check the size, resize to the resolution; raw RGB bytes."""
        w, h = im.size
        top, left, side = box_fn(h, w)
        if side < self.min_side:
            raise ImageSkip("too_small", f"crop side {side} < {self.min_side} px")
        im = im.crop((left, top, left + side, top + side))
        if side != self.resolution:
            im = im.resize((self.resolution, self.resolution), FILTERS[self.resize_filter])
        return im.tobytes()

    def _embedded(self, i: int) -> tuple[bytes, str, str]:
        """Crop ``i``: a function of (seed, i) and the photos only (DESIGN.md, Seeds)."""
        rng = np.random.default_rng([self.seed, i])
        k = int(rng.integers(len(self.photos)))
        photo = _photo(self.photos[k])
        w, h = photo.size
        short = min(w, h)
        frac = float(rng.uniform(self.crop_scale[0], self.crop_scale[1]))
        side = min(max(int(round(frac * short)), self.resolution), short)
        left = int(rng.integers(0, w - side, endpoint=True))
        top = int(rng.integers(0, h - side, endpoint=True))
        flip = bool(rng.random() < 0.5)
        im = photo.crop((left, top, left + side, top + side))
        if flip:
            im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if side != self.resolution:
            im = im.resize((self.resolution, self.resolution), FILTERS[self.resize_filter])
        return im.tobytes(), "", f"{self.photo_names[k]}#crop{i}"


def make_processor(cfg: DatasetCfg, *, resize_filter: str, min_side: int) -> Processor:
    """The worker for ``cfg`` (see :class:`Processor`); ``min_side`` 0 means the output resolution."""
    if resize_filter not in FILTERS:
        raise StageError(f"unknown resize filter {resize_filter!r}; allowed: {', '.join(FILTERS)}")
    min_side = min_side or cfg.resolution
    if cfg.source == "embedded":
        photos = embedded_photos(cfg.path)
        return Processor(
            source="embedded",
            root="",
            resolution=cfg.resolution,
            resize_filter=resize_filter,
            min_side=min_side,
            photos=photos,
            photo_names=tuple(os.path.basename(p) for p in photos),
            seed=cfg.seed,
            crop_scale=(float(cfg.crop_scale[0]), float(cfg.crop_scale[1])),
        )
    if cfg.source not in ("folder", "celeba", "lsun"):
        raise StageError(f"unknown source {cfg.source!r}")
    return Processor(
        source=cfg.source,
        root=str(cfg.path),
        resolution=cfg.resolution,
        resize_filter=resize_filter,
        min_side=min_side,
        celeba_crop=cfg.celeba_crop,
    )
