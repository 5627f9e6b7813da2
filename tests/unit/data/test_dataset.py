"""ganprint.data.dataset: exact items from (store, key) rows, sha1 checks, seeded loaders equal for any workers."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ganprint.data.dataset import StoreImages, make_loader
from ganprint.data.store import ImageStoreWriter, StoreError, read_manifest

N = {"a": 13, "b": 9}


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, tuple[str, np.ndarray]]:
    """name → (store path, images); image i of store k has pixel (0, 0) = (i, k, 7)."""
    root = tmp_path_factory.mktemp("ds")
    rng = np.random.default_rng(0)
    out = {}
    for k, (name, n) in enumerate(N.items()):
        images = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
        images[:, 0, 0] = np.stack([np.arange(n), np.full(n, k), np.full(n, 7)], 1)
        with ImageStoreWriter(root / name / "images.lmdb", root / name / "manifest.csv") as w:
            for img in images:
                w.add(img)
        out[name] = (str(root / name / "images.lmdb"), images)
    return out


def _rows(stores, with_sha1: bool = True) -> pd.DataFrame:
    """All images of both stores, interleaved, labels a=0 b=1."""
    rows = []
    for k, name in enumerate(N):
        path, _ = stores[name]
        for r in read_manifest(Path(path).with_name("manifest.csv")):
            rows.append({"store": path, "key": r["key"], "sha1": r["sha1"], "y": k, "i": int(r["key"])})
    df = pd.DataFrame(rows).sort_values(["i", "y"], kind="stable").reset_index(drop=True)
    return df if with_sha1 else df.drop(columns="sha1")


def _ids(batch: torch.Tensor) -> list[tuple[int, int]]:
    """(store number, image index) of each image of a (N, 3, H, W) batch."""
    return [(int(x[1, 0, 0]), int(x[0, 0, 0])) for x in batch]


def test_items_are_exact_chw_uint8(stores):
    rows = _rows(stores)
    ds = StoreImages.from_rows(rows)
    assert len(ds) == 22 and ds.image_shape() == (8, 8, 3)
    assert ds.store_paths == tuple(sorted(stores[n][0] for n in N))
    for j in (0, 1, 5, 21):
        image, label = ds[j]
        k, i = int(rows.y[j]), int(rows.i[j])
        assert image.dtype == torch.uint8 and tuple(image.shape) == (3, 8, 8)
        np.testing.assert_array_equal(image.permute(1, 2, 0).numpy(), stores["ab"[k]][1][i])
        assert label == k and isinstance(label, int)
    items = ds.__getitems__([21, 0, 3, 3])
    assert [(_ids(im[None])[0], y) for im, y in items] == [((0, 12), 0), ((0, 0), 0), ((1, 1), 1), ((1, 1), 1)]
    np.testing.assert_array_equal(ds.labels, rows.y.to_numpy())


def test_a_wrong_sha1_stops_the_read(stores):
    rows = _rows(stores)
    rows.loc[4, "sha1"] = "0" * 40
    ds = StoreImages.from_rows(rows)
    ds[3]
    with pytest.raises(StoreError, match=r"image 00000002 does not match its sha1 in the split manifest"):
        ds[4]
    StoreImages.from_rows(rows, verify_sha1=False)[4]  # the check is optional
    no_digest = StoreImages.from_rows(_rows(stores, with_sha1=False), verify_sha1=False)
    assert no_digest[4][1] == 0
    rows.loc[5, "sha1"] = "abc"
    with pytest.raises(StoreError) as e:
        StoreImages.from_rows(rows)
    assert str(e.value) == "a split manifest row has a malformed sha1 (40 hex digits expected); rerun build_split"


def test_digests_ending_in_a_zero_byte_verify(tmp_path):
    # numpy "S" arrays drop trailing NUL bytes, which once turned such digests into false mismatches
    import hashlib

    candidates = np.zeros((4096, 4, 4, 3), np.uint8)
    candidates[:, 0, 0, :2] = np.stack([np.arange(4096) % 256, np.arange(4096) // 256], 1)
    img = next(im for im in candidates if hashlib.sha1(im.tobytes()).digest()[-1] == 0)
    with ImageStoreWriter(tmp_path / "images.lmdb", tmp_path / "manifest.csv") as w:
        w.add(img)
    digest = read_manifest(tmp_path / "manifest.csv")[0]["sha1"]
    assert digest.endswith("00")
    ds = StoreImages([str(tmp_path / "images.lmdb")], ["00000000"], [0], [digest])
    np.testing.assert_array_equal(ds[0][0].permute(1, 2, 0).numpy(), img)


def test_stores_of_different_sizes_are_refused(stores, tmp_path):
    with ImageStoreWriter(tmp_path / "images.lmdb") as w:
        w.add(np.zeros((16, 16, 3), np.uint8))
    ds = StoreImages([stores["a"][0], str(tmp_path / "images.lmdb")], ["00000000"] * 2, [0, 1])
    with pytest.raises(StoreError, match=r"^the images of one split must share one size: .* 8x8, .* 16x16$"):
        ds.image_shape()


def test_dataset_pickles_without_environments(stores):
    ds = StoreImages.from_rows(_rows(stores))
    ds[0], ds[20]
    copy = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(copy[20][0].numpy(), ds[20][0].numpy())


def _epochs(loader, n: int = 2) -> list[list[tuple[list[tuple[int, int]], list[int]]]]:
    return [[(_ids(x), y.tolist()) for x, y in loader] for _ in range(n)]


def test_same_seed_same_batches_with_0_or_2_workers(stores):
    ds = StoreImages.from_rows(_rows(stores))
    a = _epochs(make_loader(ds, 5, shuffle=True, seed=3, workers=0))
    b = _epochs(make_loader(ds, 5, shuffle=True, seed=3, workers=2))  # persistent workers over two epochs
    assert a == b
    for epoch in a:
        assert [len(y) for _, y in epoch] == [5, 5, 5, 5, 2]
        ids = [i for x, _ in epoch for i in x]
        assert sorted(ids) == sorted([(0, i) for i in range(13)] + [(1, i) for i in range(9)])  # each image once
        assert all(yy == k for x, y in epoch for (k, _), yy in zip(x, y, strict=True))  # labels travel along
    assert a[0] != a[1]  # reshuffled each epoch
    c = _epochs(make_loader(ds, 5, shuffle=True, seed=4), 1)
    assert c[0] != a[0]


def test_unshuffled_loader_keeps_row_order_and_drops_last_on_request(stores):
    rows = _rows(stores)
    ds = StoreImages.from_rows(rows)
    (epoch,) = _epochs(make_loader(ds, 4, shuffle=False, seed=0, workers=2), 1)
    assert [i for x, _ in epoch for i in x] == list(zip(rows.y, rows.i, strict=True))
    loader = make_loader(ds, 4, shuffle=True, seed=0, drop_last=True)
    assert len(loader) == 5 and [len(y) for _, y in loader] == [4] * 5


def test_loader_settings():
    ds = StoreImages([], [], [])
    cpu = make_loader(ds, 2, shuffle=False, seed=0)
    assert (cpu.pin_memory, cpu.persistent_workers, cpu.num_workers, cpu.worker_init_fn) == (False, False, 0, None)
    gpu = make_loader(ds, 2, shuffle=False, seed=0, workers=2, device="cuda:0")
    assert (gpu.pin_memory, gpu.persistent_workers, gpu.num_workers) == (True, True, 2)
    assert gpu.worker_init_fn is not None
