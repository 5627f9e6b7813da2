"""Protocol split manifests (DESIGN.md, build_split): which image of which store is train/val/test, with what label.

A split is a CSV manifest, ``store,key,sha1,label,split,source``, one row per image; classifiers and evaluations
read images through it one batch at a time (never a whole split in RAM) and depend on it rather than on whole
directories. Classes are sorted by name and the order is stored in every model (PAPERS.md §6: the reference
code's unsorted ``os.listdir`` label order is a known trap). Each source gives the protocol's number of images
per split; train, val and test never share an image, nor a photograph: the crops of the embedded demo come from
a few photographs, so real test crops are taken from photographs no training crop comes from. Each source's
images are drawn once (every class and test set listing it gets the same ones); DNA-Det's cross-seed loader
repeated the first seed's images nine times instead (PAPERS §4.4). Each row carries the image's sha1 from the
store's manifest, so a split built against an older store is detected when read.

No params or config imports here: callers pass plain class → sources maps and counts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ganprint.data.store import StoreError, iter_manifest
from ganprint.errors import StageError
from ganprint.io import atomic_path

SPLITS = ("train", "val", "test")
#: Test-class name of an open-set protocol's sources absent from training (PAPERS §7b); label y = -1.
UNKNOWN = "unknown"
COLUMNS = ("store", "key", "sha1", "label", "split", "source")
#: An embedded crop's manifest source is ``<photograph>#crop<i>``: the part before it is the crop's group.
GROUP_SEP = "#"


class SplitError(StageError):
    """A protocol asks for more images than a source has, or a split manifest is unusable."""


def _store_rows(store: str) -> list[tuple[str, str, str]]:
    """(key, sha1, group) of every image of ``store`` in key order, from the manifest beside it (no image data read).

    The group is what must never be split across train / val / test: the photograph of an embedded crop (the
    manifest source ``<photo>#crop<i>``), else the image itself (a file, a GAN sample).
    """
    manifest = Path(store).with_name("manifest.csv")
    if not manifest.is_file():
        raise StoreError(f"{manifest}: manifest of {store} not found; run the stage that writes the store first")
    try:
        rows = [(r["key"], r["sha1"], _group(r)) for r in iter_manifest(manifest)]
    except (KeyError, ValueError, UnicodeDecodeError) as e:
        raise StoreError(f"{manifest}: not a readable store manifest ({type(e).__name__}: {e})") from None
    # LMDB orders keys bytewise; ImageStoreWriter writes them in that order already, so this rarely sorts.
    if any(a[0] >= b[0] for a, b in zip(rows, rows[1:], strict=False)):
        rows.sort()
    return rows


def _group(row: dict) -> str:
    src = row.get("source", "")
    return src.split(GROUP_SEP, 1)[0] if GROUP_SEP in src else f"key:{row['key']}"


def _assign(rows: list[tuple[str, str, str]], need: dict[str, int], src: str, store: str) -> dict[str, list]:
    """Split one source's images into train / val / test without ever splitting a group (a photograph).

    Groups keep their first-appearance (key) order. Test takes whole groups from the end, val the groups before
    those, train the remaining groups from the start; within a split images are taken round-robin over its groups
    in key order, so train draws from every training photograph, not from the first one only. Each image is its
    own group for GAN samples and image folders: then train = the first keys, test = the last ones.
    """
    groups: dict[str, list[tuple[str, str]]] = {}
    for key, sha1, g in rows:
        groups.setdefault(g, []).append((key, sha1))
    order = list(groups)
    out: dict[str, list] = {s: [] for s in SPLITS}
    for split in ("test", "val"):
        got = 0
        while got < need[split] and order:
            g = order.pop()
            out[split].append(g)
            got += len(groups[g])
        if got < need[split]:
            break
        out[split].reverse()
    out["train"] = order
    taken: dict[str, list] = {}
    for split in SPLITS:
        have = sum(len(groups[g]) for g in out[split])
        if have < need[split]:
            photos = f" in {len(groups)} photographs" if len(groups) < len(rows) else ""
            raise SplitError(
                f"source {src} ({store}) has {len(rows)} images{photos}, fewer than its splits need: train "
                f"{need['train']} + val {need['val']} + test {need['test']}, which never share an image"
                f"{' or a photograph' if photos else ''}; lower the protocol's images (train / val / test per "
                "source), or generate more images"
            )
        members = [groups[g] for g in out[split]]
        picked = [m[i] for i in range(max(map(len, members), default=0)) for m in members if i < len(m)]
        taken[split] = sorted(picked[: need[split]])
    return taken


def build_split(
    classes: Mapping[str, Sequence[tuple[str, str]]],
    images: Mapping[str, int],
    test_classes: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> pd.DataFrame:
    """The split manifest of one protocol as a DataFrame with :data:`COLUMNS`.

    Args:
        classes: class name → [(source name, store path), ...] for train and val.
        images: images PER SOURCE for ``"train"``, ``"val"`` and ``"test"`` (a missing key = 0).
        test_classes: the same for test; None = ``classes``. Every test class must be a training class, or
            :data:`UNKNOWN` (``"unknown"``: an open-set protocol's sources absent from training).

    A source takes train and val images only when a train class lists it, test images only when a test class
    does (a training source's test share is reserved either way, so its train and val rows do not depend on the
    test classes); its images never appear in two splits, and neither does a photograph (:func:`_assign`). Rows are
    ordered by split (train, val, test), class name, source order, key. Raises :class:`SplitError` when a source
    has too few images and ``StoreError`` when a store's manifest is missing.
    """
    unknown = set(images) - set(SPLITS)
    if unknown:
        raise SplitError(f"build_split images name unknown splits {sorted(unknown)}; use {', '.join(SPLITS)}")
    if any(int(images.get(s, 0)) < 0 for s in SPLITS):
        raise SplitError(f"build_split images must be >= 0, got {dict(images)}")
    if not classes:
        raise SplitError("build_split needs at least one class")
    if UNKNOWN in classes:
        raise SplitError(f"{UNKNOWN!r} is reserved for the test sources absent from training; rename the class")
    test_classes = classes if test_classes is None else test_classes
    extra = sorted(set(test_classes) - set(classes) - {UNKNOWN})
    if extra:
        raise SplitError(
            f"test classes {extra} are not training classes {sorted(classes)}; a classifier only predicts "
            f"the classes it was trained on (name the test sources absent from training {UNKNOWN!r})"
        )
    plans = {s: _plan(test_classes if s == "test" else classes, s) for s in SPLITS}

    need: dict[str, dict[str, int]] = {}  # source → split → images
    store_of: dict[str, str] = {}
    source_of: dict[str, str] = {}
    for split, plan in plans.items():
        for _cls, src, store in plan:
            norm = os.path.normpath(store)
            if store_of.setdefault(src, store) != store:
                raise SplitError(f"source {src} names two stores: {store_of[src]} and {store}")
            if source_of.setdefault(norm, src) != src:
                raise SplitError(f"store {store} is named by two sources, {source_of[norm]} and {src}")
            need.setdefault(src, dict.fromkeys(SPLITS, 0))[split] = int(images.get(split, 0))
    for _cls, src, _store in plans["train"]:
        # a training source keeps its test share reserved even when this protocol does not test it, so every
        # protocol over the same training sources (one evaluating another's classifiers) has the same train
        # and val rows: the same model, the same validation images for its open-set threshold
        need[src]["test"] = int(images.get("test", 0))

    taken = {src: _assign(_store_rows(store_of[src]), n, src, store_of[src]) for src, n in need.items()}
    out = []
    for split, plan in plans.items():
        for cls, src, store in plan:
            out.extend((store, key, sha1, cls, split, src) for key, sha1 in taken[src][split])
    return pd.DataFrame(out, columns=list(COLUMNS), dtype=str)


def _plan(spec: Mapping[str, Sequence[tuple[str, str]]], what: str) -> list[tuple[str, str, str]]:
    """(class, source, store) in class (sorted) then source order; a source appears once per spec."""
    out, seen = [], {}
    for cls in sorted(spec):
        sources = list(spec[cls])
        if not sources:
            raise SplitError(f"{what} class {cls!r} has no sources")
        for src, store in sources:
            if src in seen:
                raise SplitError(
                    f"source {src} is listed twice in the {what} classes ({seen[src]!r} and {cls!r}); "
                    "a source belongs to one class"
                )
            seen[src] = cls
            out.append((cls, src, str(store)))
    return out


def write_split(df: pd.DataFrame, path: str | Path) -> None:
    """Write a split manifest atomically; the same rows always give the same bytes."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise SplitError(f"{path}: split rows lack columns {missing}")
    with atomic_path(path) as tmp:
        df.loc[:, list(COLUMNS)].to_csv(tmp, index=False, lineterminator="\n")


@dataclass(frozen=True, eq=False)
class SplitManifest:
    """A protocol's split: sorted class names and one row per image (columns :data:`COLUMNS`; ``store``,
    ``label``, ``split`` and ``source`` are categorical, ``key`` and ``sha1`` strings). ``classes`` are the
    known classes: test rows labelled :data:`UNKNOWN` are not one."""

    classes: tuple[str, ...]
    rows: pd.DataFrame

    @classmethod
    def from_frame(cls, df: pd.DataFrame, where: str = "split manifest") -> SplitManifest:
        """Check ``df`` (columns, split values, no image twice) and derive the sorted classes."""
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            raise SplitError(f"{where}: lacks columns {missing} (expected {', '.join(COLUMNS)}); rerun build_split")
        if df.empty:
            raise SplitError(f"{where}: has no rows; rerun build_split with images per class > 0")
        rows = df.loc[:, list(COLUMNS)].astype(str).reset_index(drop=True)
        bad = sorted(set(rows["split"]) - set(SPLITS))
        if bad:
            raise SplitError(f"{where}: unknown split value(s) {bad} (expected {', '.join(SPLITS)}); rerun build_split")
        dup = rows.duplicated(["store", "key"])
        if dup.any():
            r = rows[dup].iloc[0]
            raise SplitError(f"{where}: image {r['store']}:{r['key']} is listed twice; rerun build_split")
        # Repeated values as categories: ~160 instead of ~400 bytes per row (a paper-scale split has 10^5+ rows).
        rows = rows.astype({c: "category" for c in ("store", "label", "split", "source")})
        return cls(tuple(sorted(set(rows["label"]) - {UNKNOWN})), rows)

    def __len__(self) -> int:
        return len(self.rows)

    def part(self, split: str) -> pd.DataFrame:
        """Rows of ``split`` (train, val or test) in manifest order, plus ``y`` = index of the label in classes
        (-1 for :data:`UNKNOWN`)."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        df = self.rows[self.rows["split"] == split].reset_index(drop=True)
        index = {c: i for i, c in enumerate(self.classes)}
        y = df["label"].astype(str).map(index).fillna(-1).astype("int64")
        return df.assign(y=y)

    def stores(self) -> list[str]:
        """Every store the split reads, sorted (the workflow's inputs)."""
        return sorted(set(self.rows["store"]))


def read_split(path: str | Path) -> SplitManifest:
    """Load and check a split manifest written by :func:`write_split`."""
    path = Path(path)
    if not path.is_file():
        raise SplitError(f"{path}: split manifest not found; run build_split first")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise SplitError(
            f"{path}: not a readable split manifest ({type(e).__name__}: {e}); rerun build_split"
        ) from None
    return SplitManifest.from_frame(df, str(path))
