"""Protocol split manifests (DESIGN.md, build_split): which image of which store is train/val/test, with what label.

A split is a CSV manifest, ``store,key,sha1,label,split,source``, one row per image; classifiers and evaluations
read images through it one batch at a time (never a whole split in RAM) and depend on it rather than on whole
directories. Classes are sorted by name and the order is stored in every model (PAPERS.md §6: the reference
code's unsorted ``os.listdir`` label order is a known trap). A class's images are split evenly over its
sources; within a source, train takes the first images in key order, val the next ones and test the last
ones, so the three never overlap even when the test sources are the training sources. Each row carries the
image's sha1 from the store's manifest, so a split built against an older store is detected when read.

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


class SplitError(StageError):
    """A protocol asks for more images than a source has, or a split manifest is unusable."""


def _share(total: int, k: int) -> list[int]:
    """``total`` images over ``k`` sources as evenly as possible; the first sources take the remainder."""
    base, extra = divmod(total, k)
    return [base + (1 if i < extra else 0) for i in range(k)]


def _store_rows(store: str) -> list[tuple[str, str]]:
    """(key, sha1) of every image of ``store`` in key order, from the manifest beside it (no image data read)."""
    manifest = Path(store).with_name("manifest.csv")
    if not manifest.is_file():
        raise StoreError(f"{manifest}: manifest of {store} not found; run the stage that writes the store first")
    try:
        rows = [(r["key"], r["sha1"]) for r in iter_manifest(manifest)]
    except (KeyError, ValueError, UnicodeDecodeError) as e:
        raise StoreError(f"{manifest}: not a readable store manifest ({type(e).__name__}: {e})") from None
    # LMDB orders keys bytewise; ImageStoreWriter writes them in that order already, so this rarely sorts.
    if any(a[0] >= b[0] for a, b in zip(rows, rows[1:], strict=False)):
        rows.sort()
    return rows


def _plan(spec: Mapping[str, Sequence[tuple[str, str]]], per_class: int, what: str) -> list[tuple[str, str, str, int]]:
    """(class, source, store, count) in class (sorted) then source order; a source appears once per spec."""
    out, seen = [], {}
    for cls in sorted(spec):
        sources = list(spec[cls])
        if not sources:
            raise SplitError(f"{what} class {cls!r} has no sources")
        for (src, store), n in zip(sources, _share(per_class, len(sources)), strict=True):
            if src in seen:
                raise SplitError(
                    f"source {src} is listed twice in the {what} classes ({seen[src]!r} and {cls!r}); "
                    "a source belongs to one class"
                )
            seen[src] = cls
            out.append((cls, src, str(store), n))
    return out


def build_split(
    classes: Mapping[str, Sequence[tuple[str, str]]],
    counts: Mapping[str, int],
    test_classes: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> pd.DataFrame:
    """The split manifest of one protocol as a DataFrame with :data:`COLUMNS`.

    Args:
        classes: class name → [(source name, store path), ...] for train and val.
        counts: images per class for ``"train"``, ``"val"`` and ``"test"`` (a missing key = 0), split evenly
            over the class's sources.
        test_classes: the same for test; None = ``classes``. Every test class must be a training class, or
            :data:`UNKNOWN` (``"unknown"``: an open-set protocol's sources absent from training).

    Rows are ordered by split (train, val, test), class name, source order, key. Raises :class:`SplitError`
    when a source has fewer images than its train + val + test shares, and ``StoreError`` when a store's
    manifest is missing.
    """
    unknown = set(counts) - set(SPLITS)
    if unknown:
        raise SplitError(f"build_split counts name unknown splits {sorted(unknown)}; use {', '.join(SPLITS)}")
    if any(int(counts.get(s, 0)) < 0 for s in SPLITS):
        raise SplitError(f"build_split counts must be >= 0, got {dict(counts)}")
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
    plans = {s: _plan(test_classes if s == "test" else classes, int(counts.get(s, 0)), s) for s in SPLITS}

    need: dict[str, dict[str, int]] = {}  # source → split → images
    store_of: dict[str, str] = {}
    source_of: dict[str, str] = {}
    for split, plan in plans.items():
        for _cls, src, store, n in plan:
            norm = os.path.normpath(store)
            if store_of.setdefault(src, store) != store:
                raise SplitError(f"source {src} names two stores: {store_of[src]} and {store}")
            if source_of.setdefault(norm, src) != src:
                raise SplitError(f"store {store} is named by two sources, {source_of[norm]} and {src}")
            need.setdefault(src, dict.fromkeys(SPLITS, 0))[split] += n

    keys: dict[str, list[tuple[str, str]]] = {}
    for src, n in need.items():
        rows = keys[src] = _store_rows(store_of[src])
        total = sum(n.values())
        if total > len(rows):
            raise SplitError(
                f"source {src} ({store_of[src]}) has {len(rows)} images, fewer than the {total} its splits need "
                f"(train {n['train']} + val {n['val']} + test {n['test']}; they never overlap); lower "
                "build_split.train_per_class / val_per_class / test_per_class, or generate more images"
            )

    out = []
    for split, plan in plans.items():
        for cls, src, store, n in plan:
            rows, k = keys[src], need[src]
            if split == "train":
                take = rows[:n]
            elif split == "val":
                take = rows[k["train"] : k["train"] + n]
            else:
                take = rows[len(rows) - n :]
            out.extend((store, key, sha1, cls, split, src) for key, sha1 in take)
    return pd.DataFrame(out, columns=list(COLUMNS), dtype=str)


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
