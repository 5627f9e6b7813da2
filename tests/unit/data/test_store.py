"""ganprint.data.store: LMDB image store + manifest: exact round trip, refusals, atomic and deterministic."""

from __future__ import annotations

import hashlib
import os

import lmdb
import numpy as np
import pytest

from ganprint.data.store import (
    MANIFEST_FIELDS,
    ImageStore,
    ImageStoreWriter,
    StoreError,
    key_of,
    read_manifest,
)


def _images(n: int = 7, h: int = 8, w: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def _write(dirpath, images, manifest=True, **kw):
    path = dirpath / "images.lmdb"
    with ImageStoreWriter(path, dirpath / "manifest.csv" if manifest else None, **kw) as w:
        for i, img in enumerate(images):
            assert w.add(img, source=f"src/{i}", label="lab", seed=3) == key_of(i)
        assert len(w) == len(images)
    return path


def test_key_of():
    assert key_of(0) == "00000000"
    assert key_of(1234) == "00001234"


def test_round_trip_exact_pixels(tmp_path):
    images = _images()
    path = _write(tmp_path, images)
    assert sorted(os.listdir(tmp_path)) == ["images.lmdb", "manifest.csv"]
    with ImageStore(path) as s:
        assert len(s) == 7
        assert s.shape == (8, 6, 3)
        assert s.meta == {"count": 7, "height": 8, "width": 6, "channels": 3, "dtype": "uint8"}
        got = s.read(range(7))
        assert got.dtype == np.uint8 and got.shape == (7, 8, 6, 3)
        np.testing.assert_array_equal(got, images)
        np.testing.assert_array_equal(s[4], images[4])
        np.testing.assert_array_equal(s.read([6, 0, 6]), images[[6, 0, 6]])
        assert s.read([]).shape == (0, 8, 6, 3)


def test_on_disk_format_is_raw_pixels_under_index_keys_plus_one_meta_record(tmp_path):
    # DESIGN.md: key = %08d insertion index, value = the raw (H, W, 3) uint8 bytes; one JSON metadata record
    images = _images(n=3)
    path = _write(tmp_path, images)
    env = lmdb.open(str(path), subdir=False, readonly=True, lock=False)
    with env.begin() as txn:
        records = dict(txn.cursor())
    env.close()
    assert records == {
        **{key_of(i).encode(): images[i].tobytes() for i in range(3)},
        b"__meta__": b'{"channels": 3, "count": 3, "dtype": "uint8", "height": 8, "width": 6}',
    }


def test_round_trip_across_commits(tmp_path):
    images = _images(n=11)
    path = _write(tmp_path, images, commit_every=3)
    with ImageStore(path) as s:
        assert len(s) == 11
        np.testing.assert_array_equal(s.read(range(11)), images)


def test_index_out_of_range(tmp_path):
    path = _write(tmp_path, _images(n=3))
    with ImageStore(path) as s:
        with pytest.raises(IndexError, match=r"index 3 out of range 0\.\.2"):
            s.read([0, 3])
        with pytest.raises(IndexError, match=r"index -1 out of range"):
            s[-1]


def test_manifest_rows_and_sha1(tmp_path):
    images = _images(n=4)
    _write(tmp_path, images)
    rows = read_manifest(tmp_path / "manifest.csv")
    assert (tmp_path / "manifest.csv").read_text().splitlines()[0] == ",".join(MANIFEST_FIELDS)
    assert rows == [
        {
            "key": key_of(i),
            "source": f"src/{i}",
            "label": "lab",
            "seed": "3",
            "sha1": hashlib.sha1(images[i].tobytes()).hexdigest(),
        }
        for i in range(4)
    ]


def test_manifest_is_optional(tmp_path):
    _write(tmp_path, _images(n=2), manifest=False)
    assert os.listdir(tmp_path) == ["images.lmdb"]


def test_non_contiguous_input_is_stored_as_seen(tmp_path):
    big = _images(n=1, h=8, w=12)[0]
    view = big[:, ::2]  # (8, 6, 3), not contiguous
    path = _write(tmp_path, [view])
    with ImageStore(path) as s:
        np.testing.assert_array_equal(s[0], view)
    assert read_manifest(tmp_path / "manifest.csv")[0]["sha1"] == hashlib.sha1(np.ascontiguousarray(view)).hexdigest()


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4, 3), dtype=np.float32),
        np.zeros((4, 4), dtype=np.uint8),
        np.zeros((4, 4, 4), dtype=np.uint8),
    ],
)
def test_refuses_non_rgb_uint8(tmp_path, bad):
    with pytest.raises(StoreError, match=r"expected \(H, W, 3\) uint8"):
        with ImageStoreWriter(tmp_path / "images.lmdb") as w:
            w.add(bad)
    assert os.listdir(tmp_path) == []


def test_refuses_mixed_shapes_and_leaves_nothing(tmp_path):
    with pytest.raises(StoreError) as e:
        with ImageStoreWriter(tmp_path / "images.lmdb", tmp_path / "manifest.csv") as w:
            w.add(np.zeros((8, 8, 3), np.uint8))
            w.add(np.zeros((8, 16, 3), np.uint8))
    assert str(e.value) == "all images in a store share one size: (8, 8, 3) vs (8, 16, 3)"
    assert os.listdir(tmp_path) == []


def test_refuses_empty_store(tmp_path):
    with pytest.raises(StoreError) as e:
        with ImageStoreWriter(tmp_path / "images.lmdb", tmp_path / "manifest.csv"):
            pass
    assert str(e.value) == f"{tmp_path / 'images.lmdb'}: refusing to write an empty image store"
    assert "images.lmdb" not in os.listdir(tmp_path)
    assert "manifest.csv" not in os.listdir(tmp_path)


def test_empty_store_leaves_no_tmp_file(tmp_path):
    with pytest.raises(StoreError):
        with ImageStoreWriter(tmp_path / "images.lmdb", tmp_path / "manifest.csv") as w:  # noqa: F841
            pass
    assert os.listdir(tmp_path) == []


def test_exception_inside_with_leaves_no_file(tmp_path):
    old = _write(tmp_path, _images(n=2, seed=1))  # an earlier good store must survive untouched
    before = old.read_bytes(), (tmp_path / "manifest.csv").read_bytes()
    with pytest.raises(KeyError):
        with ImageStoreWriter(old, tmp_path / "manifest.csv") as w:
            for img in _images(n=5):
                w.add(img)
            raise KeyError("boom")
    assert sorted(os.listdir(tmp_path)) == ["images.lmdb", "manifest.csv"]  # no tmp files
    assert (old.read_bytes(), (tmp_path / "manifest.csv").read_bytes()) == before


def test_exception_in_a_fresh_dir_leaves_nothing(tmp_path):
    out = tmp_path / "sub"
    with pytest.raises(RuntimeError):
        with ImageStoreWriter(out / "images.lmdb", out / "manifest.csv") as w:
            w.add(_images(n=1)[0])
            raise RuntimeError
    assert os.listdir(out) == []


def test_identical_inputs_give_identical_bytes(tmp_path):
    images = _images(n=9, h=16, w=16, seed=5)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    pa, pb = _write(a, images), _write(b, images)
    assert pa.read_bytes() == pb.read_bytes()
    assert (a / "manifest.csv").read_bytes() == (b / "manifest.csv").read_bytes()


def test_different_pixels_give_different_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    images = _images(n=3)
    changed = images.copy()
    changed[2, 0, 0, 0] ^= 1
    assert _write(a, images).read_bytes() != _write(b, changed).read_bytes()


def test_missing_store(tmp_path):
    with pytest.raises(StoreError) as e:
        ImageStore(tmp_path / "nope.lmdb")
    assert str(e.value) == f"{tmp_path / 'nope.lmdb'}: image store not found; run the stage that writes it first"


def test_a_non_store_file(tmp_path):
    junk = tmp_path / "junk.lmdb"
    junk.write_bytes(b"not an lmdb file " * 500)
    with pytest.raises(StoreError) as e:
        ImageStore(junk)
    assert str(e.value).startswith(f"{junk}: not a readable image store (")
    empty = tmp_path / "empty.lmdb"
    empty.write_bytes(b"")
    with pytest.raises(StoreError) as e:
        ImageStore(empty)
    assert str(e.value).startswith(f"{empty}: not a readable image store (")


def test_an_lmdb_without_metadata(tmp_path):
    path = tmp_path / "other.lmdb"
    env = lmdb.open(str(path), subdir=False, lock=False)
    with env.begin(write=True) as txn:
        txn.put(b"00000000", b"x" * 12)
    env.close()
    with pytest.raises(StoreError) as e:
        ImageStore(path)
    assert str(e.value) == f"{path}: not an image store (no metadata record)"


def test_a_directory_is_not_a_store(tmp_path):
    with pytest.raises(StoreError, match="image store not found"):
        ImageStore(tmp_path)


# -- streaming reads: keys, sha1 checks, bounded mapping, pickling ----------------------------------------


def test_read_keys_checks_sha1(tmp_path):
    images = _images(n=4)
    path = _write(tmp_path, images)
    digests = [r["sha1"] for r in read_manifest(tmp_path / "manifest.csv")]
    with ImageStore(path) as s:
        np.testing.assert_array_equal(s.read_keys(["00000003", "00000001"], [digests[3], digests[1]]), images[[3, 1]])
        np.testing.assert_array_equal(s.read_keys(["00000002"]), images[[2]])  # no digests: no check
        with pytest.raises(StoreError) as e:
            s.read_keys(["00000000", "00000001"], [digests[0], digests[0]])
        assert str(e.value) == (
            f"{path}: image 00000001 does not match its sha1 in the split manifest; the store changed since the "
            "split was built (rerun build_split)"
        )
        with pytest.raises(StoreError) as e:
            s.read_keys(["00000009"])
        assert str(e.value) == (
            f"{path}: no image under key '00000009'; the store changed since the split or manifest naming it "
            "was written (rerun build_split)"
        )


def test_map_budget_unmaps_every_store_once_resident_pages_grow_past_it(tmp_path):
    images = _images(n=40, h=64, w=64)  # 12 KiB each, 480 KiB: far past the first fault-around window
    a, b = _write(tmp_path / "a", images), _write(tmp_path / "b", images)
    with ImageStore(a, map_budget_mb=64) as sa, ImageStore(b, map_budget_mb=0) as sb:
        np.testing.assert_array_equal(sa.read([39]), images[[39]])
        assert sa._map.env is not None  # 64 MiB is far off
        np.testing.assert_array_equal(sb.read([20, 39]), images[[20, 39]])  # maps new pages: past budget 0
        assert sb._map.env is None and sa._map.env is None  # every store is unmapped, not only the one read
        np.testing.assert_array_equal(sa.read([38]), images[[38]])  # and mapped again on demand
        assert sa._map.env is not None
    with ImageStore(a, map_budget_mb=None) as s:
        s.read(range(40))
        assert s._map.env is not None and s.map_budget is None


def test_map_budget_without_proc_uses_an_estimate(tmp_path, monkeypatch):
    from ganprint.data import store as store_module

    monkeypatch.setattr(store_module, "_file_resident", lambda: None)
    images = _images(n=10, h=32, w=32)  # 3 KiB each
    path = _write(tmp_path, images)
    cost = 3 * 64 * 1024  # 3 KiB may map 64 KiB fault-around windows: its own, one for a straddle, the leaf's
    with ImageStore(path, map_budget_mb=8 * cost / 2**20) as s:  # unmapped after more than 8 images
        assert s.map_cost == cost and s.map_budget == 8 * cost
        np.testing.assert_array_equal(s.read(range(8)), images[:8])
        assert s._map.env is not None and store_module._POOL["estimate"] == 8 * cost
        np.testing.assert_array_equal(s.read([8]), images[[8]])
        assert s._map.env is None
        np.testing.assert_array_equal(s.read([9, 0]), images[[9, 0]])
        assert store_module._POOL["estimate"] == 2 * cost  # a new round
    big = _write(tmp_path / "big", _images(n=1, h=128, w=256))  # 96 KiB: two windows of its own
    with ImageStore(big) as s:
        assert s.map_cost == 4 * 64 * 1024


def test_store_pickles_without_its_environment(tmp_path):
    import pickle

    images = _images(n=3)
    with ImageStore(_write(tmp_path, images)) as s:
        s.read([0])
        blob = pickle.dumps(s)
        assert b"lmdb" not in blob.replace(b"images.lmdb", b"")  # no environment inside
        copy = pickle.loads(blob)
        assert copy.shape == s.shape and copy._map is s._map  # one environment per file per process
        np.testing.assert_array_equal(copy.read(range(3)), images)
        copy.close()
        np.testing.assert_array_equal(s.read([1]), images[[1]])  # closing one reader never breaks another


def test_two_readers_of_one_store(tmp_path):
    images = _images(n=3)
    path = _write(tmp_path, images)
    a, b = ImageStore(path), ImageStore(path)  # py-lmdb refuses a second environment on one file
    np.testing.assert_array_equal(a.read([0]), images[[0]])
    np.testing.assert_array_equal(b.read([2]), images[[2]])
    a.close()
    np.testing.assert_array_equal(b.read([1]), images[[1]])
    b.close()


def test_forked_child_opens_its_own_environment(tmp_path):
    images = _images(n=3)
    with ImageStore(_write(tmp_path, images)) as s:
        s.read([0])
        parent_env = s._map.env
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: must not reuse the parent's LMDB environment
            ok = s.read([2]).tobytes() == images[2].tobytes() and s._map.env is not parent_env
            os.write(w, b"1" if ok else b"0")
            os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        assert os.read(r, 1) == b"1"
        os.close(r)
        assert s._map.env is parent_env  # the parent's environment is untouched
        np.testing.assert_array_equal(s.read([1]), images[[1]])


def test_manifest_is_streamed_not_kept(tmp_path):
    with ImageStoreWriter(tmp_path / "images.lmdb", tmp_path / "manifest.csv") as w:
        w.add(_images(n=1)[0])
        assert not hasattr(w, "_rows")  # rows go to a temporary file as they come
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".manifest.csv.tmp-")] != []
    assert sorted(os.listdir(tmp_path)) == ["images.lmdb", "manifest.csv"]
