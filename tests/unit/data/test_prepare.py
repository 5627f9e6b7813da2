"""ganprint.data.prepare: a zoo of good and bad files → exact skip counts, exact store, identical bytes."""

from __future__ import annotations

import hashlib
import io
import json
import os

import lmdb
import numpy as np
import pytest
from PIL import Image

from ganprint.cli._common import StageError
from ganprint.config import DatasetCfg, PrepareDatasetCfg
from ganprint.data.images import center_square, load_rgb, resize
from ganprint.data.prepare import OUTPUTS, prepare_dataset
from ganprint.data.store import ImageStore, read_manifest

RES = 16


def _img(h, w, seed) -> np.ndarray:
    """A smooth-ish random picture (JPEG-friendly)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(h // 4, 1), max(w // 4, 1), 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BILINEAR))


GOOD = (
    "UPPER.JPG",
    "cmyk.jpg",
    "exif6.jpg",
    "gray16.png",
    "img.bmp",
    "img.webp",
    "nested/a/b/deep.png",
    "palette_t.png",
    "rgb.jpg",
    "rgba.png",
)
BAD = {
    "empty.jpg": "empty",
    "loop.jpg": "unreadable",
    "narrow.png": "too_small",
    "one.png": "too_small",
    "text.png": "not_an_image",
    "truncated.jpg": "corrupt",
}


def make_zoo(root) -> None:
    """Good files in every awkward format, bad files of every kind, and things a walk must pass over."""
    root.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_img(30, 40, 1)).save(root / "rgb.jpg", quality=90)
    Image.fromarray(_img(24, 24, 2)).save(root / "UPPER.JPG", format="JPEG", quality=90)
    (root / "nested/a/b").mkdir(parents=True)
    Image.fromarray(_img(20, 33, 3)).save(root / "nested/a/b/deep.png")
    Image.fromarray(_img(18, 18, 4)).save(root / "img.webp", lossless=True)
    Image.fromarray(_img(19, 25, 5)).save(root / "img.bmp")
    Image.fromarray(_img(20, 20, 6)).convert("CMYK").save(root / "cmyk.jpg", quality=90)
    rgba = np.dstack([_img(22, 22, 7), np.tile(np.arange(22, dtype=np.uint8) * 11, (22, 1))])
    Image.fromarray(rgba, "RGBA").save(root / "rgba.png")
    Image.fromarray(_img(20, 20, 8)[..., 0].astype(np.uint16) * 257).save(root / "gray16.png")
    pal = Image.fromarray(_img(20, 20, 9)).quantize(16)
    pal.save(root / "palette_t.png", transparency=3)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(_img(20, 40, 10)).save(root / "exif6.jpg", quality=90, exif=exif)
    # bad
    (root / "empty.jpg").write_bytes(b"")
    buf = io.BytesIO()
    Image.fromarray(_img(64, 64, 11)).save(buf, "JPEG", quality=90)
    (root / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (root / "text.png").write_text("not a picture\n")
    Image.fromarray(_img(1, 1, 12)).save(root / "one.png")
    Image.fromarray(_img(10, 40, 13)).save(root / "narrow.png")  # centre square 10 px < 16
    os.symlink("loop.jpg", root / "loop.jpg")  # a link to itself (ELOOP)
    # passed over
    Image.fromarray(_img(20, 20, 14)).save(root / ".hidden.jpg")
    (root / ".cache").mkdir()
    Image.fromarray(_img(20, 20, 15)).save(root / ".cache/x.png")
    (root / "notes.txt").write_text("x")
    Image.fromarray(_img(20, 20, 16)).save(root / "anim.gif")
    os.symlink("..", root / "nested/loop")  # folder link loop


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo") / "photos"
    make_zoo(root)
    return root


def _cfg(path, **kw) -> DatasetCfg:
    return DatasetCfg(source=kw.pop("source", "folder"), path=str(path), resolution=RES, **kw)


def _prep(**kw) -> PrepareDatasetCfg:
    kw.setdefault("workers", 1)
    kw.setdefault("max_skipped_fraction", 0.5)
    return PrepareDatasetCfg(**kw)


def _bytes(d) -> dict[str, bytes]:
    return {name: (d / name).read_bytes() for name in OUTPUTS}


def test_zoo_counts_and_store(zoo, tmp_path):
    rep = prepare_dataset(_cfg(zoo), _prep(), tmp_path, dataset_name="zoo")
    assert rep["listed"] == rep["seen"] == len(GOOD) + len(BAD) == 16
    assert rep["written"] == 10 and rep["skipped"] == 6
    assert rep["skipped_fraction"] == pytest.approx(6 / 16)
    assert rep["skipped_by_reason"] == {
        "empty": 1,
        "not_an_image": 1,
        "corrupt": 1,
        "unreadable": 1,
        "too_large": 0,
        "unsupported_mode": 0,
        "too_small": 2,
    }
    assert rep["skipped_examples"] == {
        "empty": ["empty.jpg"],
        "not_an_image": ["text.png"],
        "corrupt": ["truncated.jpg"],
        "unreadable": ["loop.jpg"],
        "too_small": ["narrow.png", "one.png"],
    }
    assert rep["ignored"] == {"hidden": 2, "linked_folder": 1, "other_extension": 2}
    assert (rep["resolution"], rep["resize_filter"], rep["source"], rep["min_source_size"]) == (
        RES,
        "lanczos",
        "folder",
        RES,
    )
    assert sorted(os.listdir(tmp_path)) == sorted(OUTPUTS)

    rows = read_manifest(tmp_path / "manifest.csv")
    assert [r["source"] for r in rows] == list(GOOD)  # sorted relative paths, good files only
    assert {r["label"] for r in rows} == {"zoo"} and {r["seed"] for r in rows} == {""}
    with ImageStore(tmp_path / "images.lmdb") as store:
        assert len(store) == 10 and store.shape == (RES, RES, 3)
        for i, rel in enumerate(GOOD):
            expect = resize(center_square(load_rgb(zoo / rel)), RES, "lanczos")
            np.testing.assert_array_equal(store[i], expect, err_msg=rel)
            assert rows[i]["sha1"] == hashlib.sha1(store[i].tobytes()).hexdigest()
            assert rows[i]["key"] == f"{i:08d}"
    # EXIF orientation 6 turned the 40×20 (w×h) file upright before the centre crop
    assert load_rgb(zoo / "exif6.jpg").shape == (40, 20, 3)


def test_zoo_byte_identical_across_runs_and_workers(zoo, tmp_path):
    outs = []
    for run, workers in (("a", 1), ("b", 1), ("c", 2)):
        prepare_dataset(_cfg(zoo), _prep(workers=workers), tmp_path / run, dataset_name="zoo")
        outs.append(_bytes(tmp_path / run))
    assert outs[0] == outs[1] == outs[2]


def test_samples_grid(zoo, tmp_path):
    prepare_dataset(_cfg(zoo), _prep(grid_images=6), tmp_path, dataset_name="zoo")
    grid = np.asarray(Image.open(tmp_path / "samples.png"))
    assert grid.shape == (2 * (RES + 2) + 2, 3 * (RES + 2) + 2, 3)  # 6 images: 3 columns, 2 rows, 2 px gaps
    with ImageStore(tmp_path / "images.lmdb") as store:
        np.testing.assert_array_equal(grid[2 : 2 + RES, 2 : 2 + RES], store[0])
        np.testing.assert_array_equal(grid[20 : 20 + RES, 38 : 38 + RES], store[5])
    assert json.loads((tmp_path / "report.json").read_text())["grid_images"] == 6


def test_limit_keeps_the_first_usable(zoo, tmp_path):
    rep = prepare_dataset(_cfg(zoo, limit=3), _prep(), tmp_path / "a", dataset_name="zoo")
    assert rep["written"] == 3
    # UPPER.JPG, cmyk.jpg, (empty.jpg skipped), exif6.jpg: stops after the third usable file
    assert rep["seen"] == 4 and rep["skipped_by_reason"]["empty"] == 1
    assert [r["source"] for r in read_manifest(tmp_path / "a/manifest.csv")] == list(GOOD[:3])
    prepare_dataset(_cfg(zoo, limit=3), _prep(workers=2), tmp_path / "b", dataset_name="zoo")
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")


def test_min_source_size_explicit(zoo, tmp_path):
    rep = prepare_dataset(_cfg(zoo), _prep(min_source_size=8), tmp_path, dataset_name="zoo")
    assert rep["skipped_by_reason"]["too_small"] == 1  # narrow.png (10 px square) now passes, upsampled
    assert rep["written"] == 11 and rep["min_source_size"] == 8


def test_skipped_share_over_the_limit(zoo, tmp_path):
    with pytest.raises(StageError) as e:
        prepare_dataset(_cfg(zoo), _prep(max_skipped_fraction=0.1), tmp_path, dataset_name="zoo")
    msg = str(e.value)
    assert msg.startswith(
        "datasets.zoo: 6 of 16 files skipped (37.5%), more than prepare_dataset.max_skipped_fraction = 0.1: "
    )
    assert msg.endswith(" Or, to accept the losses, raise prepare_dataset.max_skipped_fraction in params.yaml.")
    for part in (
        "empty 1",
        "corrupt 1",
        "not_an_image 1",
        "unreadable 1",
        "too_small 2 (e.g. narrow.png, one.png)",
    ):
        assert part in msg
    assert os.listdir(tmp_path) == []  # nothing under a final name (not even a temp file)


def test_nothing_usable(tmp_path):
    src = tmp_path / "bad"
    src.mkdir()
    (src / "a.jpg").write_bytes(b"")
    (src / "b.png").write_text("text")
    out = tmp_path / "out"
    with pytest.raises(StageError) as e:
        prepare_dataset(_cfg(src), _prep(max_skipped_fraction=1.0), out, dataset_name="bad")
    msg = str(e.value)
    assert msg.startswith(f"datasets.bad: no usable image in {src}: all 2 files were skipped (")
    assert "empty 1 (e.g. a.jpg)" in msg and "not_an_image 1 (e.g. b.png)" in msg
    assert not (out / "images.lmdb").exists() and not (out / "manifest.csv").exists()


def test_no_image_files(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "readme.txt").write_text("x")
    with pytest.raises(StageError, match=r"no image files \(\.jpg .jpeg .png .webp .bmp\)"):
        prepare_dataset(_cfg(tmp_path / "src"), _prep(), tmp_path / "out", dataset_name="e")


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="datasets.m"):
        prepare_dataset(_cfg(tmp_path / "nope"), _prep(), tmp_path / "out", dataset_name="m")


def test_celeba_folder(tmp_path):
    src = tmp_path / "celeba"
    src.mkdir()
    faces = []
    for i in range(5):
        a = _img(218, 178, 100 + i)
        faces.append(a)
        Image.fromarray(a).save(src / f"{i + 1:06d}.png")
    cfg = DatasetCfg(source="celeba", path=str(src), resolution=128, celeba_crop="yu2019")
    rep = prepare_dataset(cfg, _prep(workers=2), tmp_path / "out", dataset_name="celeba")
    assert rep["written"] == 5 and rep["celeba_crop"] == "yu2019"
    with ImageStore(tmp_path / "out/images.lmdb") as store:
        for i, a in enumerate(faces):
            np.testing.assert_array_equal(store[i], a[57:185, 25:153])


def test_lsun_lmdb_with_limit(tmp_path):
    db = tmp_path / "lsun"
    env = lmdb.open(str(db), map_size=1 << 26)
    pics = {}
    with env.begin(write=True) as txn:
        for i in range(6):
            key = hashlib.sha1(f"img{i}".encode()).hexdigest().encode()
            buf = io.BytesIO()
            a = _img(40, 56, 200 + i)
            Image.fromarray(a).save(buf, "WEBP", lossless=True)
            pics[key] = a
            txn.put(key, buf.getvalue() if i != 2 else b"broken")
    env.close()
    cfg = DatasetCfg(source="lsun", path=str(db), resolution=RES, limit=4)
    rep = prepare_dataset(cfg, _prep(), tmp_path / "out", dataset_name="lsun")
    assert rep["listed"] == 6 and rep["written"] == 4
    rows = read_manifest(tmp_path / "out/manifest.csv")
    keys = [r["source"].encode() for r in rows]
    assert keys == sorted(keys)
    with ImageStore(tmp_path / "out/images.lmdb") as store:
        for i, k in enumerate(keys):
            np.testing.assert_array_equal(store[i], resize(pics[k][:, 8:48], RES, "lanczos"))
    # a pool (spawned workers: an open LMDB environment must not cross a fork) gives the same bytes
    prepare_dataset(cfg, _prep(workers=2), tmp_path / "out2", dataset_name="lsun")
    assert _bytes(tmp_path / "out") == _bytes(tmp_path / "out2")


def test_embedded_byte_identical_across_workers(tmp_path):
    cfg = DatasetCfg(source="embedded", path="sklearn", num_images=120, seed=5, limit=3)  # limit: not embedded
    r1 = prepare_dataset(cfg, _prep(workers=1), tmp_path / "a", dataset_name="sk")
    prepare_dataset(cfg, _prep(workers=2), tmp_path / "b", dataset_name="sk")
    assert r1["written"] == 120 and r1["limit"] == 0
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
