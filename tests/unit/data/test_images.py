"""ganprint.data.images: robust loading (modes, EXIF, bad files), named-filter resize, paper crops."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
from PIL import Image

from ganprint.config import RESIZE_FILTERS
from ganprint.data.images import (
    FILTERS,
    SKIP_REASONS,
    ImageSkip,
    celeba_box,
    celeba_crop,
    center_square,
    load_rgb,
    open_rgb,
    resize,
)


def _rgb(h=24, w=32, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _reason(src, **kw) -> str:
    with pytest.raises(ImageSkip) as e:
        load_rgb(src, **kw)
    assert e.value.reason in SKIP_REASONS
    return e.value.reason


# ---------------------------------------------------------------------------------------------------------
# bad files


def test_empty_file(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    assert _reason(p) == "empty"
    assert _reason(b"") == "empty"


def test_text_file_named_png_is_not_an_image(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("hello, I am not a picture\n")
    assert _reason(p) == "not_an_image"


@pytest.mark.parametrize("frac", [0.1, 0.5, 0.95])
def test_truncated_jpeg_is_corrupt(tmp_path, frac):
    buf = io.BytesIO()
    Image.fromarray(_rgb(120, 160)).save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    p = tmp_path / "cut.jpg"
    p.write_bytes(data[: int(len(data) * frac)])
    assert _reason(p) == "corrupt"
    assert _reason(data[: int(len(data) * frac)]) == "corrupt"


def test_missing_file_and_link_loop_are_unreadable(tmp_path):
    assert _reason(tmp_path / "nope.jpg") == "unreadable"
    loop = tmp_path / "loop.jpg"
    os.symlink("loop.jpg", loop)
    assert _reason(loop) == "unreadable"


def test_decompression_bomb_is_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    for side in (12, 40):  # 144 px: PIL warns (1–2× the limit); 1600 px: PIL raises (> 2×)
        p = tmp_path / f"big{side}.png"
        Image.fromarray(_rgb(side, side)).save(p)
        assert _reason(p) == "too_large"


def test_too_small(tmp_path):
    p = tmp_path / "tiny.png"
    Image.fromarray(_rgb(1, 1)).save(p)
    assert _reason(p, min_side=16) == "too_small"
    p2 = tmp_path / "small.png"
    Image.fromarray(_rgb(20, 15)).save(p2)
    assert _reason(p2, min_side=16) == "too_small"
    assert load_rgb(p2, min_side=15).shape == (20, 15, 3)


def test_skip_pickles():
    e = pickle.loads(pickle.dumps(ImageSkip("corrupt", "bad")))
    assert (e.reason, e.detail) == ("corrupt", "bad")


# ---------------------------------------------------------------------------------------------------------
# modes


def test_rgb_png_round_trip_exact(tmp_path):
    a = _rgb()
    p = tmp_path / "a.png"
    Image.fromarray(a).save(p)
    out = load_rgb(p)
    assert out.dtype == np.uint8 and out.shape == (24, 32, 3)
    np.testing.assert_array_equal(out, a)
    np.testing.assert_array_equal(load_rgb(p.read_bytes()), a)


def test_grayscale_and_one_bit(tmp_path):
    g = np.arange(24 * 32, dtype=np.uint8).reshape(24, 32)
    Image.fromarray(g).save(tmp_path / "g.png")
    out = load_rgb(tmp_path / "g.png")
    np.testing.assert_array_equal(out, np.repeat(g[..., None], 3, axis=2))
    bits = Image.fromarray((g % 2).astype(bool))
    assert bits.mode == "1"
    bits.save(tmp_path / "b.png")
    out = load_rgb(tmp_path / "b.png")
    np.testing.assert_array_equal(out[..., 0], np.where(g % 2 == 1, 255, 0))


def test_rgba_composited_on_white(tmp_path):
    a = np.zeros((2, 3, 4), np.uint8)
    a[0, 0] = (255, 0, 0, 0)  # transparent red → white
    a[0, 1] = (255, 0, 0, 255)  # opaque red
    a[0, 2] = (200, 100, 50, 77)
    a[1, 0] = (0, 0, 0, 128)  # half black → grey: 255 · (1 − 128/255) = 127
    a[1, 1] = (0, 255, 0, 255)
    a[1, 2] = (0, 0, 0, 1)  # almost transparent black: 254
    Image.fromarray(a, "RGBA").save(tmp_path / "a.png")
    out = load_rgb(tmp_path / "a.png")
    assert out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 1].tolist() == [255, 0, 0]
    # "over" on white, rounded: c · α + 255 · (1 − α) with α = 77/255 → 238.39, 208.20, 193.10
    assert out[0, 2].tolist() == [round(c * 77 / 255 + 255 * (1 - 77 / 255)) for c in (200, 100, 50)]
    assert out[0, 2].tolist() == [238, 208, 193]
    assert out[1, 0].tolist() == [127, 127, 127]
    assert out[1, 1].tolist() == [0, 255, 0]
    assert out[1, 2].tolist() == [254, 254, 254]


def test_la_composited_on_white(tmp_path):
    a = np.array([[[0, 0], [0, 255]]], np.uint8)  # (1, 2, 2): transparent black, opaque black
    Image.fromarray(a, "LA").save(tmp_path / "la.png")
    out = load_rgb(tmp_path / "la.png")
    assert out.tolist() == [[[255, 255, 255], [0, 0, 0]]]


def test_palette_with_transparency(tmp_path):
    p = Image.new("P", (4, 1))
    p.putpalette([255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    p.putdata([0, 1, 0, 1])
    p.info["transparency"] = 0
    p.save(tmp_path / "p.png", transparency=0)
    assert Image.open(tmp_path / "p.png").mode == "P"
    out = load_rgb(tmp_path / "p.png")
    assert out.tolist() == [[[255, 255, 255], [0, 0, 255], [255, 255, 255], [0, 0, 255]]]


def test_sixteen_bit_grayscale_scaled(tmp_path):
    k = np.arange(256, dtype=np.uint16).reshape(16, 16)
    Image.fromarray(k * 257).save(tmp_path / "g16.png")  # 8-bit values written as 16 bit
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    out = load_rgb(tmp_path / "g16.png")
    np.testing.assert_array_equal(out[..., 1], k.astype(np.uint8))
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_int32_and_float_modes():
    def via_bytes(im: Image.Image) -> np.ndarray:
        buf = io.BytesIO()
        im.save(buf, "TIFF")
        return load_rgb(buf.getvalue())

    i = Image.fromarray(np.array([[0, 65535]], np.int32), "I")
    assert via_bytes(i)[..., 0].tolist() == [[0, 255]]
    i = Image.fromarray(np.array([[-10, 0, 10]], np.int32), "I")  # outside 16 bit: min–max
    assert via_bytes(i)[..., 0].tolist() == [[0, 128, 255]]
    f = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), "F")
    assert via_bytes(f)[..., 0].tolist() == [[0, 128, 255]]
    f = Image.fromarray(np.array([[0.0, 100.0, 200.0]], np.float32), "F")
    assert via_bytes(f)[..., 0].tolist() == [[0, 100, 200]]


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (16, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)  # red in CMYK
    assert Image.open(tmp_path / "c.jpg").mode == "CMYK"
    out = load_rgb(tmp_path / "c.jpg")
    assert out.shape == (8, 16, 3)
    # exactly PIL's CMYK → RGB conversion of the decoded pixels, which for this JPEG is red up to its loss
    with Image.open(tmp_path / "c.jpg") as im:
        np.testing.assert_array_equal(out, np.asarray(im.convert("RGB")))
    assert out[4, 8].tolist() == pytest.approx([255, 0, 0], abs=6)


def test_exif_orientation_6_is_applied(tmp_path):
    a = np.zeros((40, 80, 3), np.uint8)  # wide image: left half red, right half blue
    a[:, :40] = (255, 0, 0)
    a[:, 40:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.fromarray(a).save(tmp_path / "r.jpg", quality=95, exif=exif)
    out = load_rgb(tmp_path / "r.jpg")
    assert out.shape == (80, 40, 3)  # transposed
    # exactly the decoded (stored-orientation) pixels turned 90° clockwise: the left (red) half ends up on top
    with Image.open(tmp_path / "r.jpg") as im:
        decoded = np.asarray(im.convert("RGB"))
    assert decoded.shape == (40, 80, 3)
    np.testing.assert_array_equal(out, np.rot90(decoded, k=-1))
    assert out[10, 20].tolist() == pytest.approx([255, 0, 0], abs=8)
    assert out[70, 20].tolist() == pytest.approx([0, 0, 255], abs=8)


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(tmp_path / "a.gif").n_frames == 3
    out = load_rgb(tmp_path / "a.gif")
    assert out.shape == (8, 8, 3)
    assert out[0, 0].tolist() == [255, 0, 0]


def test_webp_and_bmp(tmp_path):
    a = _rgb()
    Image.fromarray(a).save(tmp_path / "a.bmp")
    np.testing.assert_array_equal(load_rgb(tmp_path / "a.bmp"), a)
    Image.fromarray(a).save(tmp_path / "a.webp", lossless=True)
    np.testing.assert_array_equal(load_rgb(tmp_path / "a.webp"), a)


def test_open_rgb_returns_loaded_rgb_image(tmp_path):
    a = _rgb()
    Image.fromarray(a).save(tmp_path / "a.png")
    im = open_rgb(tmp_path / "a.png")
    assert im.mode == "RGB" and im.size == (32, 24)
    np.testing.assert_array_equal(np.asarray(im), a)  # loaded: usable after the file is closed


# ---------------------------------------------------------------------------------------------------------
# resize and crops


@pytest.mark.parametrize("name", RESIZE_FILTERS)
def test_resize_names_each_filter(name):
    a = _rgb(40, 60)
    out = resize(a, 16, name)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    expect = np.asarray(Image.fromarray(a).resize((16, 16), FILTERS[name]))
    np.testing.assert_array_equal(out, expect)
    assert resize(Image.fromarray(a), (10, 20), name).size == (20, 10)


def test_resize_unknown_filter_and_identity():
    a = _rgb(16, 16)
    with pytest.raises(ValueError, match="lanczos"):
        resize(a, 8, "antialias")
    assert resize(a, 16, "lanczos") is a


def test_lanczos_is_pil_lanczos():
    assert FILTERS["lanczos"] == Image.Resampling.LANCZOS


@pytest.mark.parametrize(
    "h, w, top, left, side", [(20, 31, 0, 5, 20), (31, 20, 5, 0, 20), (10, 10, 0, 0, 10), (21, 20, 0, 0, 20)]
)
def test_center_square_on_the_shorter_side(h, w, top, left, side):
    a = _rgb(h, w)
    out = center_square(a)
    np.testing.assert_array_equal(out, a[top : top + side, left : left + side])
    pil = center_square(Image.fromarray(a))
    np.testing.assert_array_equal(np.asarray(pil), out)


def _coords(h: int, w: int) -> np.ndarray:
    """R = row, G = column, B = 7: every pixel says where it came from."""
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return np.stack([rows, cols, np.full_like(rows, 7)], axis=-1).astype(np.uint8)


def _where(crop: np.ndarray) -> tuple[int, int, int, int]:
    """(first row, first col, last row + 1, last col + 1) of a crop of :func:`_coords`."""
    return int(crop[0, 0, 0]), int(crop[0, 0, 1]), int(crop[-1, -1, 0]) + 1, int(crop[-1, -1, 1]) + 1


def test_celeba_yu2019_full_size_is_rows_57_185_cols_25_153():
    img = _coords(218, 178)
    out = celeba_crop(img, "yu2019")
    assert out.shape == (128, 128, 3)
    assert _where(out) == (57, 25, 185, 153)
    np.testing.assert_array_equal(out, img[57:185, 25:153])
    # the box is centred at (x, y) = (89, 121): mean of the kept row/col indices + 0.5
    assert out[..., 0].mean() + 0.5 == pytest.approx(121.0)
    assert out[..., 1].mean() + 0.5 == pytest.approx(89.0)
    np.testing.assert_array_equal(np.asarray(celeba_crop(Image.fromarray(img), "yu2019")), out)


def test_celeba_yu2019_half_size_is_a_64px_box_at_44_5_60_5():
    img = _coords(109, 89)
    out = celeba_crop(img, "yu2019")
    assert out.shape == (64, 64, 3)
    assert _where(out) == (29, 13, 93, 77)  # centre (45, 61): (44.5, 60.5) with edges rounded half up
    assert celeba_box(109, 89, "yu2019") == (29, 13, 64)


def test_celeba_yu2021_center_crop_148():
    img = _coords(218, 178)
    out = celeba_crop(img, "yu2021")
    assert out.shape == (148, 148, 3)
    assert _where(out) == (35, 15, 183, 163)  # torchvision CenterCrop(148) on 178×218
    assert celeba_box(109, 89, "yu2021") == (18, 8, 74)  # torchvision's round((109-74)/2) = round(17.5) = 18


def test_celeba_unknown_mode():
    with pytest.raises(ValueError, match="yu2019"):
        celeba_crop(_coords(218, 178), "tight")
