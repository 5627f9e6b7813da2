"""ganprint.data.sources: listing order, the picklable per-item processor, embedded demo, CelebA, LSUN."""

from __future__ import annotations

import hashlib
import io
import os
import pickle

import lmdb
import numpy as np
import pytest
from PIL import Image

from ganprint.cli._common import StageError
from ganprint.config import DatasetCfg, PrepareDatasetCfg
from ganprint.data import sources
from ganprint.data.images import FILTERS, center_square, load_rgb, resize
from ganprint.data.prepare import prepare_dataset
from ganprint.data.sources import (
    EMBEDDED,
    Processor,
    embedded_photos,
    list_folder,
    list_items,
    list_lsun,
    make_processor,
)
from ganprint.data.store import ImageStore, read_manifest


def _img(h, w, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _coords(h: int, w: int) -> np.ndarray:
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return np.stack([rows, cols, np.full_like(rows, 7)], axis=-1).astype(np.uint8)


def _arr(data: bytes, res: int) -> np.ndarray:
    return np.frombuffer(data, np.uint8).reshape(res, res, 3)


# ---------------------------------------------------------------------------------------------------------
# folder listing


def test_list_folder_nested_sorted_hidden_and_links(tmp_path):
    for rel in ["b.png", "A.JPG", "sub/z.jpeg", "sub/deeper/c.webp", "d.bmp", "sub/.hidden.png", ".h/x.jpg"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_img(4, 4)).save(tmp_path / rel, format="PNG")
    (tmp_path / "notes.txt").write_text("x")
    os.symlink(".", tmp_path / "sub" / "loop")  # a folder link loop: must not hang, must not be followed
    os.symlink(tmp_path / "sub", tmp_path / "sublink")
    listing = list_folder(tmp_path)
    assert listing.items == ["A.JPG", "b.png", "d.bmp", "sub/deeper/c.webp", "sub/z.jpeg"]
    assert listing.count == 5
    assert listing.ignored == {"hidden": 2, "linked_folder": 2, "other_extension": 1}


def test_list_folder_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        list_folder(tmp_path / "nope")


def test_list_folder_root_may_be_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    Image.fromarray(_img(4, 4)).save(tmp_path / "real" / "a.png")
    os.symlink(tmp_path / "real", tmp_path / "link")
    assert list_folder(tmp_path / "link").items == ["a.png"]


# ---------------------------------------------------------------------------------------------------------
# processor


def test_processor_is_picklable():
    cfg = DatasetCfg(source="embedded", path="skimage")
    proc = make_processor(cfg, resize_filter="lanczos", min_side=0)
    assert pickle.loads(pickle.dumps(proc)) == proc
    assert proc.min_side == cfg.resolution  # 0 means the output resolution


def test_folder_center_crop_and_resize(tmp_path):
    a = _img(30, 50)
    Image.fromarray(a).save(tmp_path / "a.png")
    proc = make_processor(
        DatasetCfg(source="folder", path=str(tmp_path), resolution=16), resize_filter="bicubic", min_side=0
    )
    data, reason, name = proc("a.png")
    assert (reason, name) == ("", "a.png")
    np.testing.assert_array_equal(_arr(data, 16), resize(center_square(a), 16, "bicubic"))
    np.testing.assert_array_equal(_arr(data, 16), resize(a[:, 10:40], 16, "bicubic"))


def test_folder_skips_with_reason(tmp_path):
    Image.fromarray(_img(20, 12)).save(tmp_path / "narrow.png")  # centre square 12 < 16
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff")
    proc = make_processor(
        DatasetCfg(source="folder", path=str(tmp_path), resolution=16), resize_filter="box", min_side=0
    )
    assert proc("narrow.png") == (None, "too_small", "narrow.png")
    assert proc("bad.jpg") == (None, "not_an_image", "bad.jpg")  # a bare JPEG marker: no format PIL can identify
    assert proc("gone.png") == (None, "unreadable", "gone.png")
    # an explicit min_source_size below the resolution lets the 12 px square through (upsampled)
    proc = make_processor(
        DatasetCfg(source="folder", path=str(tmp_path), resolution=16), resize_filter="box", min_side=8
    )
    assert proc("narrow.png")[1] == ""


def test_celeba_full_size_exact_crop_no_resize(tmp_path):
    img = _coords(218, 178)
    Image.fromarray(img).save(tmp_path / "000001.png")
    cfg = DatasetCfg(source="celeba", path=str(tmp_path), resolution=128, celeba_crop="yu2019")
    data, reason, _ = make_processor(cfg, resize_filter="lanczos", min_side=0)("000001.png")
    assert reason == ""
    np.testing.assert_array_equal(_arr(data, 128), img[57:185, 25:153])
    # resolution 64: the same box, resized with the named filter
    cfg64 = DatasetCfg(source="celeba", path=str(tmp_path), resolution=64, celeba_crop="yu2019")
    data, _, _ = make_processor(cfg64, resize_filter="bilinear", min_side=0)("000001.png")
    np.testing.assert_array_equal(_arr(data, 64), resize(img[57:185, 25:153], 64, "bilinear"))
    # yu2021: CenterCrop(148) then resize to 128
    cfg21 = DatasetCfg(source="celeba", path=str(tmp_path), resolution=128, celeba_crop="yu2021")
    data, _, _ = make_processor(cfg21, resize_filter="lanczos", min_side=0)("000001.png")
    np.testing.assert_array_equal(_arr(data, 128), resize(img[35:183, 15:163], 128, "lanczos"))


def test_celeba_half_size(tmp_path):
    img = _coords(109, 89)
    Image.fromarray(img).save(tmp_path / "000001.png")
    cfg = DatasetCfg(source="celeba", path=str(tmp_path), resolution=64)
    data, reason, _ = make_processor(cfg, resize_filter="lanczos", min_side=0)("000001.png")
    assert reason == ""
    np.testing.assert_array_equal(_arr(data, 64), img[29:93, 13:77])
    cfg128 = DatasetCfg(source="celeba", path=str(tmp_path), resolution=128)
    assert make_processor(cfg128, resize_filter="lanczos", min_side=0)("000001.png")[1] == "too_small"


# ---------------------------------------------------------------------------------------------------------
# embedded demo


def _skimage_photos() -> dict:
    import skimage.data as d

    return {
        "astronaut.png": ((512, 512, 3), d.astronaut),
        "chelsea.png": ((300, 451, 3), d.chelsea),
        "coffee.png": ((400, 600, 3), d.coffee),
        "rocket.jpg": ((427, 640, 3), d.rocket),
        "motorcycle_left.png": ((500, 741, 3), lambda: d.stereo_motorcycle()[0]),
        "hubble_deep_field.jpg": ((872, 1000, 3), d.hubble_deep_field),
        "ihc.png": ((512, 512, 3), d.immunohistochemistry),
    }


def _sklearn_photos() -> dict:
    from sklearn.datasets import load_sample_image

    return {n: ((427, 640, 3), lambda n=n: load_sample_image(n)) for n in ("china.jpg", "flower.jpg")}


@pytest.mark.parametrize(("name", "photos"), [("skimage", _skimage_photos), ("sklearn", _sklearn_photos)])
def test_embedded_photos_ship_in_the_wheels(name, photos):
    """Each embedded photo loads to exactly the pixels its package's own loader gives (skimage.data, sklearn)."""
    paths = embedded_photos(name)
    expected = photos()
    assert [os.path.basename(p) for p in paths] == list(expected)
    for p in paths:
        shape, package_loader = expected[os.path.basename(p)]
        img = load_rgb(p)
        assert img.shape == shape, p
        np.testing.assert_array_equal(img, package_loader(), err_msg=p)


def test_embedded_missing_package_names_it(monkeypatch):
    monkeypatch.setitem(EMBEDDED, "skimage", ("scikit-image", "no_such_module_xyz", "data", ("a.png",)))
    with pytest.raises(StageError, match="pip install scikit-image"):
        embedded_photos("skimage")


def test_embedded_missing_photo_names_it(monkeypatch):
    monkeypatch.setitem(EMBEDDED, "sklearn", ("scikit-learn", "sklearn", "datasets/images", ("gone.jpg",)))
    with pytest.raises(StageError, match=r"gone\.jpg.*scikit-learn"):
        embedded_photos("sklearn")


def test_embedded_crop_depends_only_on_seed_and_index():
    cfg = DatasetCfg(source="embedded", path="sklearn", resolution=32, num_images=40, seed=3)
    proc = make_processor(cfg, resize_filter="lanczos", min_side=0)
    forward = [proc(i) for i in range(40)]
    backward = [proc(i) for i in reversed(range(40))][::-1]
    assert forward == backward
    other = make_processor(
        DatasetCfg(source="embedded", path="sklearn", num_images=5, seed=3),
        resize_filter="lanczos",
        min_side=0,
    )
    assert other(7) == forward[7]  # num_images does not change image i
    reseeded = make_processor(
        DatasetCfg(source="embedded", path="sklearn", seed=4), resize_filter="lanczos", min_side=0
    )
    assert reseeded(7)[0] != forward[7][0]
    names = [n for _, _, n in forward]
    assert names[7].endswith("#crop7") and names[7].split("#")[0] in ("china.jpg", "flower.jpg")
    assert {n.split("#")[0] for n in names} == {"china.jpg", "flower.jpg"}
    for data, reason, _ in forward:
        assert reason == "" and len(data) == 32 * 32 * 3
    assert len({d for d, _, _ in forward}) == 40


def test_embedded_crop_is_a_resized_crop_of_the_photo():
    """Crop side 1.0 × the shorter side: the image is some full-height square of the photo (maybe flipped)."""
    cfg = DatasetCfg(source="embedded", path="sklearn", resolution=16, crop_scale=[1.0, 1.0], seed=0)
    proc = make_processor(cfg, resize_filter="box", min_side=0)
    data, _, name = proc(0)
    photo = load_rgb(proc.photos[proc.photo_names.index(name.split("#")[0])])
    side = min(photo.shape[:2])
    cands = []
    for left in range(photo.shape[1] - side + 1):
        crop = photo[:, left : left + side]
        for c in (crop, crop[:, ::-1]):
            cands.append(resize(np.ascontiguousarray(c), 16, "box").tobytes())
    assert data in cands
    assert FILTERS["box"] == Image.Resampling.BOX


@pytest.mark.parametrize("name", ["skimage", "sklearn"])
def test_embedded_small_count_via_prepare(tmp_path, name):
    cfg = DatasetCfg(source="embedded", path=name, resolution=32, num_images=50, seed=0)
    rep = prepare_dataset(cfg, PrepareDatasetCfg(workers=1), tmp_path, dataset_name=name)
    assert rep["written"] == 50 and rep["skipped"] == 0
    rows = read_manifest(tmp_path / "manifest.csv")
    assert [r["seed"] for r in rows] == ["0"] * 50
    assert rows[3]["source"].endswith("#crop3")


@pytest.mark.parametrize("name", ["skimage", "sklearn"])
def test_embedded_default_count_2000_at_32px(tmp_path, name):
    cfg = DatasetCfg(source="embedded", path=name)  # defaults: 2000 crops at 32 px
    assert (cfg.num_images, cfg.resolution) == (2000, 32)
    rep = prepare_dataset(cfg, PrepareDatasetCfg(workers=2), tmp_path, dataset_name=name)
    assert rep["written"] == 2000
    sample = range(0, 2000, 97)
    with ImageStore(tmp_path / "images.lmdb") as store:
        assert len(store) == 2000 and store.shape == (32, 32, 3)
        imgs = store.read(sample)
    # image i is crop i of the processor, whichever of the 2 workers made it
    proc = make_processor(cfg, resize_filter="lanczos", min_side=0)
    for img, i in zip(imgs, sample, strict=True):
        data, reason, _ = proc(i)
        assert reason == "" and img.tobytes() == data, i
    rows = read_manifest(tmp_path / "manifest.csv")
    assert len(rows) == 2000 and len({r["sha1"] for r in rows}) == 2000


def test_list_items_embedded_checks_the_photos():
    listing = list_items(DatasetCfg(source="embedded", path="skimage", num_images=7))
    assert listing.items == list(range(7)) and listing.count == 7


# ---------------------------------------------------------------------------------------------------------
# LSUN LMDB export


def _jpeg(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def _webp(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "WEBP", lossless=True)
    return buf.getvalue()


def make_lsun(path, entries: dict[bytes, bytes]) -> None:
    """An LMDB directory like the official lsun export tool's: key = image id, value = encoded image."""
    env = lmdb.open(str(path), map_size=1 << 26)
    with env.begin(write=True) as txn:
        for k, v in entries.items():
            txn.put(k, v)
    env.close()


def test_lsun_keys_in_order_and_crop(tmp_path):
    a, b = _img(40, 60, 1), _img(50, 36, 2)
    ids = [hashlib.sha1(str(i).encode()).hexdigest().encode() for i in range(4)]
    db = tmp_path / "bedroom_train_lmdb"
    make_lsun(db, {ids[0]: _webp(a), ids[1]: _webp(b), ids[2]: b"not an image", ids[3]: b""})
    assert (db / "data.mdb").is_file()
    listing = list_lsun(db)
    assert listing.count == 4
    keys = list(listing.items)
    assert keys == sorted(ids)
    cfg = DatasetCfg(source="lsun", path=str(db), resolution=16)
    proc = make_processor(cfg, resize_filter="lanczos", min_side=0)
    got = {k: proc(k) for k in keys}
    np.testing.assert_array_equal(_arr(got[ids[0]][0], 16), resize(a[:, 10:50], 16, "lanczos"))
    np.testing.assert_array_equal(_arr(got[ids[1]][0], 16), resize(b[7:43], 16, "lanczos"))
    assert got[ids[2]] == (None, "not_an_image", ids[2].decode())
    assert got[ids[3]] == (None, "empty", ids[3].decode())


def test_lsun_not_lmdb(tmp_path):
    with pytest.raises(FileNotFoundError):
        list_lsun(tmp_path / "missing")
    (tmp_path / "x").mkdir()
    with pytest.raises(StageError, match="LMDB"):
        list_lsun(tmp_path / "x")


def test_unknown_filter():
    with pytest.raises(StageError, match="lanczos"):
        make_processor(DatasetCfg(source="folder", path="."), resize_filter="antialias", min_side=0)


def test_processor_dataclass_fields():
    p = Processor(source="folder", root="/x", resolution=16, resize_filter="box", min_side=16)
    assert p.celeba_crop == "yu2019"
    assert sources.IMAGE_EXTENSIONS == (".jpg", ".jpeg", ".png", ".webp", ".bmp")
