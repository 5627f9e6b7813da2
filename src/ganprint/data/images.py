"""Robust single-image loading, named-filter resizing and the paper crops (PAPERS.md §1.2 and §2.2).

Every image that enters the pipeline goes through :func:`open_rgb` / :func:`load_rgb`: EXIF orientation is
applied, every PIL mode is turned into 8-bit RGB (alpha composited on white, 16-bit and float scaled to 8 bit)
and files that cannot be used raise :class:`ImageSkip` with a short reason code the dataset report counts.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from typing import TypeVar

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from ganprint.config import CELEBA_CROPS, RESIZE_FILTERS

# A truncated file must fail loudly instead of being padded with grey (PIL's default, stated here on purpose).
ImageFile.LOAD_TRUNCATED_IMAGES = False

#: Reason codes of :class:`ImageSkip`, in the order the report lists them.
SKIP_REASONS = (
    "empty",
    "not_an_image",
    "corrupt",
    "unreadable",
    "too_large",
    "unsupported_mode",
    "too_small",
)

#: config.RESIZE_FILTERS name → PIL resampling filter ("lanczos" is PIL's former ``ANTIALIAS``, PAPERS §1.2).
FILTERS = {
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "box": Image.Resampling.BOX,
    "nearest": Image.Resampling.NEAREST,
}
assert set(FILTERS) == set(RESIZE_FILTERS)

# CelebA "aligned" frame and the two crops of the papers (PAPERS §1.2: 128 px box centred at (89, 121);
# §2.2: torchvision CenterCrop(148)).
CELEBA_W, CELEBA_H = 178, 218
_YU2019_SIDE, _YU2019_CX, _YU2019_CY = 128, 89, 121
_YU2021_SIDE = 148

_ORIENTATION = 0x0112
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}

Img = TypeVar("Img", np.ndarray, Image.Image)


class ImageSkip(Exception):
    """A file that cannot be used; ``reason`` is one of :data:`SKIP_REASONS`."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self):  # picklable across a process pool
        return (ImageSkip, (self.reason, self.detail))


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


# ---------------------------------------------------------------------------------------------------------
# loading


def open_rgb(src: str | os.PathLike | bytes, *, min_side: int = 0) -> Image.Image:
    """Decode a file (path) or an encoded image (bytes) into a loaded 8-bit RGB PIL image.

    Args:
        src: a path, or the encoded bytes of one image (e.g. an LSUN LMDB value).
        min_side: raise ``ImageSkip('too_small')`` when the shorter side is below this (0 = no check).

    Raises:
        ImageSkip: reason 'empty', 'not_an_image', 'corrupt', 'unreadable', 'too_large', 'unsupported_mode'
            or 'too_small'.
    """
    if isinstance(src, (bytes, bytearray, memoryview)):
        if len(src) == 0:
            raise ImageSkip("empty", "zero bytes")
        fp = io.BytesIO(src)
    else:
        fp = src
    try:
        with warnings.catch_warnings():
            # PIL warns between MAX_IMAGE_PIXELS and twice that and raises above; both are 'too_large' here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fp) as im:  # closes the file on exit; the decoded pixels stay usable
                if getattr(im, "n_frames", 1) > 1:
                    im.seek(0)  # animated: the first frame
                im.load()  # decode now: a truncated/corrupt file fails here (LOAD_TRUNCATED_IMAGES is False)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageSkip("too_large", str(e)) from None
    except UnidentifiedImageError:
        if not isinstance(fp, io.BytesIO) and _is_empty(fp):
            raise ImageSkip("empty", "zero bytes") from None
        raise ImageSkip("not_an_image", "not a recognised image format") from None
    except (FileNotFoundError, PermissionError, IsADirectoryError) as e:
        raise ImageSkip("unreadable", e.strerror or str(e)) from None
    except OSError as e:
        if e.errno is not None:  # ELOOP, EIO, …: the file system refused, the image may be fine
            raise ImageSkip("unreadable", e.strerror or str(e)) from None
        raise ImageSkip("corrupt", str(e)) from None
    except Exception as e:  # noqa: BLE001 - PIL plugins raise many types on malformed data
        raise ImageSkip("corrupt", f"{type(e).__name__}: {e}") from None
    im = _apply_exif_orientation(im)
    im = to_rgb(im)
    if min_side and min(im.size) < min_side:
        raise ImageSkip("too_small", f"{im.size[0]}x{im.size[1]} < {min_side} px")
    return im


def load_rgb(path: str | os.PathLike | bytes, *, min_side: int = 0) -> np.ndarray:
    """Load one image as ``(H, W, 3)`` uint8 RGB (EXIF orientation applied); see :func:`open_rgb`."""
    return np.asarray(open_rgb(path, min_side=min_side))


def _is_empty(path) -> bool:
    try:
        return os.path.getsize(path) == 0
    except OSError:
        return False


def _apply_exif_orientation(im: Image.Image) -> Image.Image:
    try:
        orientation = im.getexif().get(_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - broken metadata is no reason to drop a decodable image
        return im
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        try:
            return ImageOps.exif_transpose(im)
        except Exception:  # noqa: BLE001
            return im
    return im


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode → 8-bit RGB.

    * alpha (RGBA, LA, PA, palette or RGB/L with a transparency key) is composited on white;
    * 16-bit (``I;16*``) scales 0…65535 → 0…255; ``I`` does the same when its values fit 16 bit, else min–max;
    * ``F`` keeps 0…1 (×255) or 0…255 as is, else min–max;
    * grey, 1-bit, palette, CMYK and YCbCr convert with PIL.

    Raises:
        ImageSkip: 'unsupported_mode' for a mode PIL cannot convert to RGB.
    """
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return im
    if mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = im if mode == "RGBA" else im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode.startswith("I;16") or mode in ("I", "F"):
        return Image.fromarray(_to_uint8(np.asarray(im), mode)).convert("RGB")
    try:
        return im.convert("RGB")
    except (ValueError, OSError) as e:
        raise ImageSkip("unsupported_mode", f"cannot convert mode {mode} to RGB ({e})") from None


def _to_uint8(a: np.ndarray, mode: str) -> np.ndarray:
    """One-channel 16-bit / int32 / float32 pixels → uint8 (see :func:`to_rgb`)."""
    a = a.astype(np.float64)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if mode.startswith("I;16") or (mode == "I" and lo >= 0 and hi <= 65535):
        out = a / 257.0  # 65535 / 255: exact for values written as v * 257 from 8 bit
    elif mode == "F" and lo >= 0 and hi <= 1:
        out = a * 255.0
    elif mode == "F" and lo >= 0 and hi <= 255:
        out = a
    else:
        out = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------------------
# resizing and crops (work on (H, W, 3) uint8 arrays and on PIL images alike; return the type given)


def resize(img: Img, size: int | tuple[int, int], filter_name: str) -> Img:
    """Resize to ``size`` (an int for a square, or ``(height, width)``) with the named PIL filter.

    Args:
        img: ``(H, W, 3)`` uint8 array or a PIL image.
        size: output side, or ``(height, width)``.
        filter_name: one of config.RESIZE_FILTERS (lanczos, bicubic, bilinear, box, nearest); no default on
            purpose: every resize in the pipeline names its filter.
    """
    if filter_name not in FILTERS:
        raise ValueError(f"unknown resize filter {filter_name!r}; allowed: {', '.join(RESIZE_FILTERS)}")
    h, w = (size, size) if isinstance(size, int) else size
    pil = Image.fromarray(img) if isinstance(img, np.ndarray) else img
    if pil.size == (w, h):
        return img
    out = pil.resize((w, h), FILTERS[filter_name])
    return np.asarray(out) if isinstance(img, np.ndarray) else out


def _size_hw(img) -> tuple[int, int]:
    if isinstance(img, np.ndarray):
        return int(img.shape[0]), int(img.shape[1])
    return img.size[1], img.size[0]


def crop_box(img: Img, top: int, left: int, side: int) -> Img:
    """The ``side``×``side`` square at (``top``, ``left``); rows top:top+side, cols left:left+side."""
    if isinstance(img, np.ndarray):
        return img[top : top + side, left : left + side]
    return img.crop((left, top, left + side, top + side))


def center_square_box(h: int, w: int) -> tuple[int, int, int]:
    """(top, left, side) of the centred square on the shorter side.

    The correct crop; GANDCTAnalysis' ``crop_lsun.py`` keeps a strip of width y−x instead (PAPERS §1.2).
    """
    side = min(h, w)
    return (h - side) // 2, (w - side) // 2, side


def center_square(img: Img) -> Img:
    """Centre crop to a square on the shorter side (LSUN, folders; PAPERS §1.2)."""
    return crop_box(img, *center_square_box(*_size_hw(img)))


def celeba_box(h: int, w: int, mode: str) -> tuple[int, int, int]:
    """(top, left, side) of the CelebA crop on an ``h``×``w`` aligned image, scaled from the 178×218 frame.

    * ``yu2019`` (Yu et al. 2019, PAPERS §1.2): 128 px box centred at (x, y) = (89, 121) → rows 57:185, cols
      25:153 at full size. On a smaller copy the box and its centre scale with the image (89×109: a 64 px box
      centred at (44.5, 60.5)); edges round half up, which gives exactly 57:185 / 25:153 at full size and
      rows 29:93, cols 13:77 at half size.
    * ``yu2021`` (Yu et al. 2021, PAPERS §2.2): torchvision ``CenterCrop(148)`` (side scaled likewise), with
      torchvision's own rounding ``int(round((H - side) / 2))``.
    """
    scale = min(w / CELEBA_W, h / CELEBA_H)
    if mode == "yu2019":
        side = min(_round_half_up(_YU2019_SIDE * scale), h, w)
        cx, cy = _YU2019_CX * w / CELEBA_W, _YU2019_CY * h / CELEBA_H
        top, left = _round_half_up(cy - side / 2), _round_half_up(cx - side / 2)
    elif mode == "yu2021":
        side = min(_round_half_up(_YU2021_SIDE * scale), h, w)
        top, left = int(round((h - side) / 2.0)), int(round((w - side) / 2.0))
    else:
        raise ValueError(f"unknown CelebA crop {mode!r}; allowed: {', '.join(CELEBA_CROPS)}")
    top = min(max(top, 0), h - side)
    left = min(max(left, 0), w - side)
    return top, left, side


def celeba_crop(img: Img, mode: str) -> Img:
    """The CelebA crop ``mode`` ('yu2019' | 'yu2021') of an aligned image; see :func:`celeba_box`."""
    return crop_box(img, *celeba_box(*_size_hw(img), mode))
