"""PNG export of an image store (DESIGN.md, Contracts: "PNG export and sample grids exist for people to look at").

A generated image is written as ``seed<index:06d>.png``, ``index`` being its index in the generation (read from
the manifest's ``source``, ``seed<S>/<index>``), the one-file-per-seed naming of NVlabs' generate.py
(STYLE.md); images of any other store (real or fingerprinted data, or a store with no manifest beside it) are
``image<index:06d>.png`` by their index in the store. Each file is written atomically; existing files are
refused unless ``overwrite``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PIL import Image

from ganprint.data.store import ImageStore, StoreError, iter_manifest, key_of
from ganprint.generate import index_of_source
from ganprint.io import atomic_path

log = logging.getLogger("ganprint")
STORE_FILE = "images.lmdb"
MANIFEST_FILE = "manifest.csv"


def resolve_store(path: str | Path) -> tuple[Path, Path | None]:
    """(images.lmdb, manifest.csv or None) of a store folder or a store file; StoreError when it is neither."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path}: no such file or folder; pass a store folder (with {STORE_FILE}) or an .lmdb file")
    if path.is_dir():
        store = path / STORE_FILE
        if not store.is_file():
            raise StoreError(f"{path}: not an image store folder (no {STORE_FILE} in it)")
    else:
        store = path
    manifest = store.parent / MANIFEST_FILE
    return store, manifest if manifest.is_file() else None


def png_names(store: Path, manifest: Path | None, count: int) -> list[str]:
    """File names of the first ``count`` images: ``seed%06d.png`` (generation index) or ``image%06d.png``."""
    names: list[str] = []
    if manifest is not None:
        for i, row in enumerate(iter_manifest(manifest)):
            if i == count:
                break
            if row.get("key") != key_of(i):
                raise StoreError(f"{manifest}: row {i} has key {row.get('key')!r}, expected {key_of(i)!r}")
            gen = index_of_source(row.get("source", ""))
            names.append(f"seed{gen[1]:06d}.png" if gen else f"image{i:06d}.png")
        if len(names) < count:
            raise StoreError(
                f"{manifest}: {len(names)} rows for {count} images of {store}; the store and its "
                "manifest do not belong together (rerun the stage that wrote them)"
            )
        kinds = {n[:4] for n in names}
        if len(kinds) > 1:
            raise StoreError(f"{manifest}: mixes generated and other sources; cannot name the files consistently")
    else:
        names = [f"image{i:06d}.png" for i in range(count)]
    if len(set(names)) != len(names):
        raise StoreError(f"{manifest}: two images share one generation index; the manifest is not one generation's")
    return names


def export_pngs(
    store: str | Path, out: str | Path, *, limit: int | None = None, overwrite: bool = False, batch_size: int = 256
) -> list[Path]:
    """Write the first ``limit`` images (all when None) of ``store`` as PNG files into ``out``.

    Args:
        store: a store folder (``images.lmdb`` + ``manifest.csv``) or an ``images.lmdb`` file.
        overwrite: replace existing files; without it an existing file stops the export before anything is written.

    Returns:
        The written paths, in store order.
    """
    store_file, manifest = resolve_store(store)
    out = Path(out)
    with ImageStore(store_file) as s:
        count = len(s) if limit is None else min(limit, len(s))
        names = png_names(store_file, manifest, count)
        paths = [out / n for n in names]
        existing = [p for p in paths if p.exists()]
        if existing and not overwrite:
            raise StoreError(
                f"{out}: {len(existing)} of the {count} files exist already (first: {existing[0].name}); "
                "pass --overwrite to replace them or choose another --out"
            )
        if out.exists() and not out.is_dir():
            raise StoreError(f"{out}: exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        for start in range(0, count, batch_size):
            idx = range(start, min(start + batch_size, count))
            for i, img in zip(idx, s.read(idx), strict=True):
                with atomic_path(paths[i]) as tmp:
                    Image.fromarray(img).save(tmp, format="PNG")
    log.info("exported %d images of %s to %s", count, store_file, out)
    return paths
