"""Every image transformation the project applies (PAPERS.md §1.6 attacks, §4.2 DNA-Det classes, §6 items 2–5).

One module, used by attribution robustness (Yu et al. 2019's five attacks + immunisation), DNA-Det's
transformation pre-training and the artificial-fingerprint robustness tests. All functions take and return
``uint8`` HWC RGB numpy images of the same size; every parameter is explicit; randomness comes only from a
``numpy.random.Generator`` argument, so the same seed gives the same bytes.

Libraries and filters, spelled out because they are part of the fingerprint (PAPERS §6 item 2):

* noise: ``img + sigma * N(0, 1)`` drawn by the Generator (float64), rounded half-to-even, clipped to 0..255.
* Gaussian blur: ``scipy.ndimage.gaussian_filter`` per channel, ``mode="mirror"`` (= OpenCV's default border
  ``BORDER_REFLECT_101``), kernel radius ``(kernel_size - 1) // 2``, or ``ceil(3 sigma)`` when no kernel size is
  given (OpenCV's rule for 8-bit images). The references fix sigma at 4 by accident (``sigmaX=cv2.BORDER_DEFAULT``,
  PAPERS §1.6); here sigma is always explicit.
* median blur: ``scipy.ndimage.median_filter`` with a ``size × size`` window, ``mode="nearest"`` (= the
  ``BORDER_REPLICATE`` of ``cv2.medianBlur``, which albumentations' MedianBlur calls).
* JPEG: Pillow's encoder (libjpeg), ``quality`` actually applied (the references pass it as a flag id, §1.6),
  chroma subsampling 4:2:0 (Pillow's and OpenCV's default), no optimisation, baseline, decoded by Pillow.
* resizes: Pillow ``Image.resize`` with a NAMED filter (``nearest``, ``box``, ``bilinear``, ``hamming``,
  ``bicubic``, ``lanczos``); Pillow antialiases when it shrinks (its filters widen with the scale factor), unlike
  cv2. ``cv2_cubic`` is a numpy re-implementation of OpenCV's ``INTER_CUBIC`` (Keys a = -0.75, half-pixel
  centres, replicated border, no antialiasing; float arithmetic, so it may differ by 1 grey level from OpenCV's
  fixed-point uint8 path), the filter the crop attack of the references uses.
* relighting: no code exists in the papers (they used SfSNet face relighting, §1.6); :func:`relight` is a
  documented substitute: global gain, gamma and a linear shading ramp.

Declarative layer: :class:`Perturbation` (``kind`` + params) with the string form ``"jpeg:quality=50"`` (aliases
such as ``q`` allowed on input; ``str()`` gives the canonical form), :func:`parse`, :func:`apply`,
:func:`apply_batch`, random-strength samplers :func:`sample` with the papers' ranges, the "each attack with
probability 0.5" wrapper :func:`random_attacks`, and fixed strengths for robustness curves in :data:`STRENGTHS`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

# --- helpers ---------------------------------------------------------------------------------------------
PIL_FILTERS: dict[str, int] = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
FILTERS: tuple[str, ...] = (*PIL_FILTERS, "cv2_cubic")

# DNA-Det's resize classes use albumentations Downscale with OpenCV interpolation codes 0-4 (PAPERS §4.2); their
# closest Pillow filters (INTER_AREA ~ box; Pillow's filters antialias when shrinking, OpenCV's do not, except AREA).
CV2_CODE_TO_FILTER: dict[int, str] = {0: "nearest", 1: "bilinear", 2: "bicubic", 3: "box", 4: "lanczos"}


def _check_image(img: np.ndarray) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        got = f"{img.dtype} array of shape {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise ValueError(f"image must be a uint8 (H, W, 3) numpy array, got {got}")
    return img


def _check_range(kind: str, name: str, value, lo, hi, *, integer: bool = False, odd: bool = False) -> None:
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.integer, np.floating))
    ok = ok and not isinstance(value, bool) and math.isfinite(float(value)) and lo <= value <= hi
    ok = ok and (not odd or int(value) % 2 == 1)
    if not ok:
        what = "an odd integer" if odd else "an integer" if integer else "a number"
        raise ValueError(f"{kind}: {name} must be {what} in [{lo}, {hi}], got {value!r}")


def _check_filter(kind: str, name: str, value: str) -> None:
    if value not in FILTERS:
        raise ValueError(f"{kind}: {name} must be one of {', '.join(FILTERS)}, got {value!r}")


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _cubic_weights(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    """Keys cubic convolution weights for the 4 taps at offsets -1, 0, 1, 2 from floor(x); t = x - floor(x)."""
    d = np.stack([1 + t, t, 1 - t, 2 - t], axis=-1)
    near = ((a + 2) * d - (a + 3)) * d * d + 1  # |d| <= 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a  # 1 < |d| < 2
    return np.where(d <= 1, near, far)


def _cv2_cubic_axis(x: np.ndarray, out_len: int, axis: int) -> np.ndarray:
    in_len = x.shape[axis]
    src = (np.arange(out_len) + 0.5) * (in_len / out_len) - 0.5  # half-pixel centres, as cv2.resize
    base = np.floor(src).astype(np.int64)
    w = _cubic_weights(src - base)  # (out_len, 4)
    idx = np.clip(base[:, None] + np.arange(-1, 3)[None, :], 0, in_len - 1)  # BORDER_REPLICATE
    taps = np.take(x, idx, axis=axis)  # axis replaced by (out_len, 4)
    shape = [1] * taps.ndim
    shape[axis], shape[axis + 1] = out_len, 4
    return (taps * w.reshape(shape)).sum(axis=axis + 1)


def resize_to(img: np.ndarray, height: int, width: int, filter: str = "bicubic") -> np.ndarray:
    """Resize a uint8 HWC image to ``(height, width)`` with a named filter (see the module docstring)."""
    _check_image(img)
    _check_filter("resize", "filter", filter)
    if (height, width) == img.shape[:2]:
        return img.copy()
    if filter == "cv2_cubic":
        x = _cv2_cubic_axis(img.astype(np.float64), height, 0)
        return _to_uint8(_cv2_cubic_axis(x, width, 1))
    return np.asarray(Image.fromarray(img).resize((width, height), resample=PIL_FILTERS[filter]))


# --- the transformations ---------------------------------------------------------------------------------
def identity(img: np.ndarray) -> np.ndarray:
    """The untouched image (a copy): DNA-Det's identity class and the 'clean' point of every curve."""
    return _check_image(img).copy()


def gaussian_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add i.i.d. Gaussian noise of std ``sigma`` on the 0–255 scale, round and clip (Yu et al.'s 'noise', §1.6)."""
    _check_image(img)
    _check_range("noise", "sigma", sigma, 0.0, 255.0)
    if sigma == 0:
        return img.copy()
    return _to_uint8(img + float(sigma) * rng.standard_normal(img.shape))


def gaussian_blur(img: np.ndarray, sigma: float, kernel_size: int | None = None) -> np.ndarray:
    """Gaussian blur with explicit ``sigma`` (pixels) by scipy.ndimage, per channel, mirror border.

    Args:
        sigma: standard deviation in pixels; 0 returns the image unchanged.
        kernel_size: odd window side; ``None`` = ``2 * ceil(3 sigma) + 1`` (OpenCV's rule for uint8).
    """
    _check_image(img)
    _check_range("blur", "sigma", sigma, 0.0, 100.0)
    if kernel_size is not None:
        _check_range("blur", "kernel_size", kernel_size, 1, 301, integer=True, odd=True)
    if sigma == 0 or kernel_size == 1:
        return img.copy()
    radius = int(math.ceil(3 * sigma)) if kernel_size is None else (int(kernel_size) - 1) // 2
    out = ndimage.gaussian_filter(
        img.astype(np.float64), sigma=(sigma, sigma, 0), mode="mirror", radius=(radius, radius, 0)
    )
    return _to_uint8(out)


def jpeg_bytes(img: np.ndarray, quality: int) -> bytes:
    """The JPEG file Pillow writes for ``img`` at ``quality`` (4:2:0, baseline, not optimised)."""
    _check_image(img)
    _check_range("jpeg", "quality", quality, 1, 100, integer=True)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(quality), subsampling="4:2:0", optimize=False)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    """Decode an encoded image (JPEG/PNG bytes) to uint8 HWC RGB with Pillow."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """JPEG-compress at ``quality`` (1..100) with Pillow and decode: the quality IS applied (PAPERS §6 item 4)."""
    return decode(jpeg_bytes(img, quality))


def double_jpeg(img: np.ndarray, q1: int, q2: int) -> np.ndarray:
    """JPEG at ``q1``, decode, JPEG at ``q2``, decode (DNA-Det's double-JPEG classes, §4.2)."""
    _check_range("double_jpeg", "q1", q1, 1, 100, integer=True)
    _check_range("double_jpeg", "q2", q2, 1, 100, integer=True)
    return jpeg(jpeg(img, q1), q2)


def median_blur(img: np.ndarray, size: int) -> np.ndarray:
    """Median filter with an odd ``size × size`` window per channel (scipy.ndimage, replicated border)."""
    _check_image(img)
    _check_range("median", "size", size, 1, 301, integer=True, odd=True)
    if size == 1:
        return img.copy()
    return ndimage.median_filter(img, size=(int(size), int(size), 1), mode="nearest")


def crop_offsets(
    height: int, width: int, fraction: float, rng: np.random.Generator | None = None
) -> tuple[int, int, int, int]:
    """``(top, left, crop_h, crop_w)`` of the crop that removes ``round(fraction * side)`` pixels per axis.

    With ``rng`` the removed pixels are split at random between the two borders (Generator_Attribution);
    without it, evenly, the odd pixel going to the bottom/right (Frank et al.'s symmetric crop).
    """
    _check_range("crop", "fraction", fraction, 0.0, 0.5)
    cut_h, cut_w = round(fraction * height), round(fraction * width)
    if rng is None:
        top, left = cut_h // 2, cut_w // 2
    else:
        top, left = int(rng.integers(0, cut_h + 1)), int(rng.integers(0, cut_w + 1))
    return top, left, height - cut_h, width - cut_w


def crop_resize(
    img: np.ndarray,
    fraction: float,
    rng: np.random.Generator | None = None,
    offsets: tuple[int, int] | None = None,
    filter: str = "bicubic",
) -> np.ndarray:
    """Crop ``fraction`` of each side (Yu et al.: 5–20 %), then resize back to the input size (§1.6).

    Args:
        fraction: share of each side length removed, in [0, 0.5].
        rng: draw the split of the removed pixels between the two borders at random; ``None`` = symmetric.
        offsets: explicit ``(top, left)`` of the crop (overrides ``rng``); each in ``[0, round(fraction * side)]``.
        filter: resize-back filter; ``bicubic`` is Pillow's (Keys a = -0.5), ``cv2_cubic`` the references'
            ``cv2.INTER_CUBIC`` (a = -0.75).
    """
    _check_image(img)
    _check_filter("crop", "filter", filter)
    h, w = img.shape[:2]
    top, left, ch, cw = crop_offsets(h, w, fraction, rng)
    if offsets is not None:
        top, left = offsets
        _check_range("crop", "offsets[0]", top, 0, h - ch, integer=True)
        _check_range("crop", "offsets[1]", left, 0, w - cw, integer=True)
    if ch < 1 or cw < 1:
        raise ValueError(f"crop: fraction {fraction} leaves no pixels of a {h}x{w} image")
    return resize_to(np.ascontiguousarray(img[top : top + ch, left : left + cw]), h, w, filter)


def resize(img: np.ndarray, scale: float, interpolation: str = "bicubic", back: bool = True) -> np.ndarray:
    """Resize by ``scale`` (side ``max(1, round(scale * side))``) with a named filter; back to the input size if
    ``back`` (DNA-Det's down-then-up classes, §4.2). With ``back=False`` the output has the scaled size."""
    _check_image(img)
    _check_range("resize", "scale", scale, 0.01, 8.0)
    _check_filter("resize", "interpolation", interpolation)
    h, w = img.shape[:2]
    small = resize_to(img, max(1, round(scale * h)), max(1, round(scale * w)), interpolation)
    return resize_to(small, h, w, interpolation) if back else small


def relight(
    img: np.ndarray, brightness: float = 1.0, gamma: float = 1.0, shading: float = 0.0, angle: float = 0.0
) -> np.ndarray:
    """A simple relighting model (a substitute for the papers' SfSNet relighting, which has no code, §1.6).

    With ``x`` the image in [0, 1] and ``u`` in [-1, 1] the pixel position projected on the unit direction at
    ``angle`` degrees (0 = left→right, 90 = top→bottom), normalised so the image's extreme pixels reach ±1:
    ``y = clip(brightness * x**gamma * (1 + shading * u), 0, 1)``, rounded to uint8. ``(1, 1, 0)`` is the
    identity; ``shading`` 0.3 makes one side 30 % brighter and the other 30 % darker, as a side light would.
    """
    _check_image(img)
    _check_range("relight", "brightness", brightness, 0.0, 10.0)
    _check_range("relight", "gamma", gamma, 0.05, 20.0)
    _check_range("relight", "shading", shading, -1.0, 1.0)
    _check_range("relight", "angle", angle, -360.0, 360.0)
    h, w = img.shape[:2]
    yy = np.linspace(-1.0, 1.0, h) if h > 1 else np.zeros(1)
    xx = np.linspace(-1.0, 1.0, w) if w > 1 else np.zeros(1)
    theta = math.radians(angle)
    u = math.cos(theta) * xx[None, :] + math.sin(theta) * yy[:, None]
    u = u / max(np.abs(u).max(), 1e-12)
    x = (img.astype(np.float64) / 255.0) ** gamma
    return _to_uint8(np.clip(brightness * x * (1.0 + shading * u)[:, :, None], 0.0, 1.0) * 255.0)


# --- declarative layer -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Param:
    name: str
    kind: type  # int, float or str
    default: Any = None  # None = required
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Kind:
    fn: Callable
    params: tuple[_Param, ...]
    uses_rng: bool = False  # the function takes the rng argument
    aliases: tuple[str, ...] = ()


KINDS: dict[str, _Kind] = {
    "identity": _Kind(identity, (), aliases=("none", "clean")),
    "noise": _Kind(gaussian_noise, (_Param("sigma", float),), uses_rng=True, aliases=("gaussian_noise",)),
    "blur": _Kind(
        gaussian_blur,
        (_Param("sigma", float), _Param("kernel_size", int, 0, ("k",))),  # 0 = from sigma
        aliases=("gaussian_blur",),
    ),
    "jpeg": _Kind(jpeg, (_Param("quality", int, aliases=("q",)),)),
    "double_jpeg": _Kind(double_jpeg, (_Param("q1", int), _Param("q2", int))),
    "median": _Kind(median_blur, (_Param("size", int, aliases=("k",)),), aliases=("median_blur",)),
    "crop": _Kind(
        crop_resize,
        (_Param("fraction", float, aliases=("f",)), _Param("random", int, 0), _Param("filter", str, "bicubic")),
        uses_rng=True,
        aliases=("crop_resize",),
    ),
    "resize": _Kind(
        resize,
        (_Param("scale", float, aliases=("s",)), _Param("interpolation", str, "bicubic", ("interp", "filter"))),
    ),
    "relight": _Kind(
        relight,
        (
            _Param("brightness", float, 1.0, ("b",)),
            _Param("gamma", float, 1.0, ("g",)),
            _Param("shading", float, 0.0),
            _Param("angle", float, 0.0),
        ),
    ),
}
_KIND_ALIASES = {a: k for k, spec in KINDS.items() for a in (k, *spec.aliases)}


def canonical_kind(kind: str) -> str:
    try:
        return _KIND_ALIASES[kind]
    except KeyError:
        raise ValueError(f"unknown perturbation kind {kind!r}; allowed: {', '.join(KINDS)}") from None


def _coerce(kind: str, p: _Param, value: Any) -> Any:
    if p.kind is str:
        return str(value)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{kind}: {p.name} must be a number, got {value!r}") from None
    if p.kind is int:
        if isinstance(value, bool) or not float(value).is_integer():
            raise ValueError(f"{kind}: {p.name} must be an integer, got {value!r}")
        return int(value)
    return float(value)


@dataclass(frozen=True)
class Perturbation:
    """One transformation: a ``kind`` of :data:`KINDS` and all its parameters (defaults filled in, validated).

    Build with ``Perturbation.make("jpeg", quality=50)``, :func:`parse` (``"jpeg:q=50"``) or
    :meth:`from_dict` (``{"kind": "jpeg", "quality": 50}``). ``str(p)`` is the canonical, parseable form
    (``"jpeg:quality=50"``), usable as a file-name component.
    """

    kind: str
    params: tuple[tuple[str, Any], ...] = field(default=())

    @classmethod
    def make(cls, kind: str, **params: Any) -> Perturbation:
        kind = canonical_kind(kind)
        spec = KINDS[kind]
        names = {a: p for p in spec.params for a in (p.name, *p.aliases)}
        values: dict[str, Any] = {}
        for key, value in params.items():
            if key not in names:
                allowed = ", ".join(p.name for p in spec.params) or "none"
                raise ValueError(f"{kind}: unknown parameter {key!r}; allowed: {allowed}")
            p = names[key]
            if p.name in values:
                raise ValueError(f"{kind}: parameter {p.name!r} given twice")
            values[p.name] = _coerce(kind, p, value)
        for p in spec.params:
            if p.name not in values:
                if p.default is None:
                    raise ValueError(f"{kind}: parameter {p.name!r} is required")
                values[p.name] = p.default
        out = cls(kind, tuple((p.name, values[p.name]) for p in spec.params))
        out._validate()
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Perturbation:
        d = dict(d)
        if "kind" not in d:
            raise ValueError(f"a perturbation mapping needs a 'kind' key, got {sorted(d)}")
        kind = d.pop("kind")
        return cls.make(kind, **d)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dict(self.params)}

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def uses_rng(self) -> bool:
        return self.kind == "noise" and self.kwargs["sigma"] > 0 or self.kind == "crop" and self.kwargs["random"]

    def __str__(self) -> str:
        if not self.params:
            return self.kind
        return self.kind + ":" + ",".join(f"{k}={_fmt(v)}" for k, v in self.params)

    def _validate(self) -> None:
        """Check every parameter's range without an image (raises ValueError naming the parameter)."""
        kw = self.kwargs
        k = self.kind
        if k == "noise":
            _check_range(k, "sigma", kw["sigma"], 0.0, 255.0)
        elif k == "blur":
            _check_range(k, "sigma", kw["sigma"], 0.0, 100.0)
            if kw["kernel_size"] != 0:
                _check_range(k, "kernel_size", kw["kernel_size"], 1, 301, integer=True, odd=True)
        elif k == "jpeg":
            _check_range(k, "quality", kw["quality"], 1, 100, integer=True)
        elif k == "double_jpeg":
            _check_range(k, "q1", kw["q1"], 1, 100, integer=True)
            _check_range(k, "q2", kw["q2"], 1, 100, integer=True)
        elif k == "median":
            _check_range(k, "size", kw["size"], 1, 301, integer=True, odd=True)
        elif k == "crop":
            _check_range(k, "fraction", kw["fraction"], 0.0, 0.5)
            _check_range(k, "random", kw["random"], 0, 1, integer=True)
            _check_filter(k, "filter", kw["filter"])
        elif k == "resize":
            _check_range(k, "scale", kw["scale"], 0.01, 8.0)
            _check_filter(k, "interpolation", kw["interpolation"])
        elif k == "relight":
            _check_range(k, "brightness", kw["brightness"], 0.0, 10.0)
            _check_range(k, "gamma", kw["gamma"], 0.05, 20.0)
            _check_range(k, "shading", kw["shading"], -1.0, 1.0)
            _check_range(k, "angle", kw["angle"], -360.0, 360.0)


def _fmt(v: Any) -> str:
    if isinstance(v, float):  # repr round-trips exactly: parse(str(p)) == p
        return repr(v).removesuffix(".0")
    return str(v)


IDENTITY = Perturbation("identity")


def parse(spec: str | Mapping[str, Any] | Perturbation) -> Perturbation:
    """``"jpeg:q=50"``, ``"blur:sigma=1.5,k=7"``, ``"identity"`` or ``{"kind": "jpeg", "quality": 50}`` → spec."""
    if isinstance(spec, Perturbation):
        return spec
    if isinstance(spec, Mapping):
        return Perturbation.from_dict(spec)
    if not isinstance(spec, str):
        raise ValueError(f"a perturbation is a string like 'jpeg:q=50' or a mapping, got {type(spec).__name__}")
    kind, _, rest = spec.strip().partition(":")
    params: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"perturbation {spec!r}: expected key=value pairs after ':', got {item!r}")
        if key.strip() in params:
            raise ValueError(f"perturbation {spec!r}: parameter {key.strip()!r} given twice")
        params[key.strip()] = value.strip()
    return Perturbation.make(kind.strip(), **params)


def apply(img: np.ndarray, spec: str | Mapping[str, Any] | Perturbation, rng: np.random.Generator | None = None):
    """Apply one perturbation to a uint8 HWC image; ``rng`` is required by noise and random crops."""
    p = parse(spec)
    kw = p.kwargs
    if p.uses_rng and rng is None:
        raise ValueError(f"{p}: this perturbation is random; pass a numpy Generator as rng")
    if p.kind == "blur":
        return gaussian_blur(img, kw["sigma"], kw["kernel_size"] or None)
    if p.kind == "noise":
        return gaussian_noise(img, kw["sigma"], rng)
    if p.kind == "crop":
        return crop_resize(img, kw["fraction"], rng if kw["random"] else None, filter=kw["filter"])
    return KINDS[p.kind].fn(img, **kw)


def apply_batch(
    images: np.ndarray, spec: str | Mapping[str, Any] | Perturbation, rng: np.random.Generator | None = None
) -> np.ndarray:
    """:func:`apply` to each image of an ``(N, H, W, 3)`` uint8 batch, in order, sharing ``rng``.

    For results that do not depend on how images are batched, give image ``i`` its own
    :func:`image_rng` and call :func:`apply` per image instead.
    """
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        raise ValueError(f"images must be a (N, H, W, 3) uint8 array, got shape {getattr(images, 'shape', None)}")
    p = parse(spec)
    out = np.empty_like(images)
    for i, img in enumerate(images):
        out[i] = apply(img, p, rng)
    return out


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The Generator of image ``index`` under ``seed``: a function of (seed, index) only.

    A spawned child of ``SeedSequence(seed)`` (numpy's recommended scheme), not ``default_rng([seed, index])``,
    which for ``index = 0`` is the very same stream as ``default_rng(seed)`` (trailing zeros do not change it).
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index),)))


# --- random strengths (training, immunisation) -----------------------------------------------------------
def opencv_sigma(kernel_size: int) -> float:
    """OpenCV's sigma for a kernel size when sigma <= 0 is passed: ``0.3 * ((k - 1) / 2 - 1) + 0.8``."""
    return 0.3 * ((kernel_size - 1) * 0.5 - 1) + 0.8


BLUR_KERNELS: tuple[int, ...] = (1, 3, 5, 7, 9)  # Yu et al. 2019 (the paper; the code draws {3, 5, 7, 9})


def sample(kind: str, rng: np.random.Generator) -> Perturbation:
    """A random-strength perturbation of ``kind`` for training-time attacks / immunisation.

    Ranges (PAPERS §1.6 unless said otherwise):

    * ``noise``: sigma ~ U[5, 20] (0–255 scale).
    * ``jpeg``: quality ~ U{10, ..., 75} (integer, both ends included).
    * ``crop``: fraction ~ U[0.05, 0.20], symmetric (Frank et al., whose code follows Yu et al.), Pillow bicubic.
    * ``blur``: kernel size k uniform in {1, 3, 5, 7, 9} (the paper's set) with sigma = OpenCV's rule for k,
      ``0.3 ((k - 1)/2 - 1) + 0.8`` (0.8 .. 1.7; k = 1 is the identity). The references pass
      ``cv2.BORDER_DEFAULT`` (= 4) as sigma by mistake; our reading is that the kernel size was meant to set it.
    * ``double_jpeg``: q1, q2 ~ U{30, ..., 99} (DNA-Det's quality range, §4.2).
    * ``median``: size uniform in {3, 5, 7}.
    * ``resize``: scale ~ U[0.5, 0.9] with a filter uniform over nearest/bilinear/bicubic/box/lanczos, back to size.
    * ``relight``: brightness ~ U[0.7, 1.3], gamma ~ U[0.7, 1.4], shading ~ U[-0.3, 0.3], angle ~ U[0, 360).
    * ``identity``: the identity.
    """
    kind = canonical_kind(kind)
    if kind == "identity":
        return IDENTITY
    if kind == "noise":
        return Perturbation.make("noise", sigma=float(rng.uniform(5.0, 20.0)))
    if kind == "jpeg":
        return Perturbation.make("jpeg", quality=int(rng.integers(10, 76)))
    if kind == "crop":
        return Perturbation.make("crop", fraction=float(rng.uniform(0.05, 0.20)))
    if kind == "blur":
        k = int(rng.choice(BLUR_KERNELS))
        return Perturbation.make("blur", sigma=opencv_sigma(k) if k > 1 else 0.0, kernel_size=k)
    if kind == "double_jpeg":
        return Perturbation.make("double_jpeg", q1=int(rng.integers(30, 100)), q2=int(rng.integers(30, 100)))
    if kind == "median":
        return Perturbation.make("median", size=int(rng.choice([3, 5, 7])))
    if kind == "resize":
        scale = float(rng.uniform(0.5, 0.9))
        return Perturbation.make("resize", scale=scale, interpolation=CV2_CODE_TO_FILTER[int(rng.integers(0, 5))])
    # relight
    return Perturbation.make(
        "relight",
        brightness=float(rng.uniform(0.7, 1.3)),
        gamma=float(rng.uniform(0.7, 1.4)),
        shading=float(rng.uniform(-0.3, 0.3)),
        angle=float(rng.uniform(0.0, 360.0)),
    )


ATTACKS: tuple[str, ...] = ("blur", "crop", "jpeg", "noise")  # Generator_Attribution's 'multi' order (§1.6)


def random_attacks(
    img: np.ndarray, rng: np.random.Generator, kinds: Sequence[str] = ATTACKS, p: float = 0.5
) -> tuple[np.ndarray, list[Perturbation]]:
    """Each attack of ``kinds``, in order, applied with probability ``p`` at a :func:`sample`\\ d strength.

    Yu et al. 2019 / Frank et al. apply an attack with probability 0.5 per image; with the default ``kinds`` this
    is Generator_Attribution's 'multi' mode (blur → crop → JPEG → noise, each p = 0.5). A single kind, e.g.
    ``kinds=("jpeg",)``, is the per-attack immunisation setting. Returns the image and the perturbations applied.
    Draw order per kind: the coin, then (if heads) the strength, then the perturbation's own randomness.
    """
    _check_range("random_attacks", "p", p, 0.0, 1.0)
    applied: list[Perturbation] = []
    out = _check_image(img)
    for kind in kinds:
        if rng.random() < p:
            spec = sample(kind, rng)
            out = apply(out, spec, rng)
            applied.append(spec)
    return (out.copy() if not applied else out), applied


# --- fixed strengths (robustness curves) -----------------------------------------------------------------
STRENGTHS: dict[str, tuple[Perturbation, ...]] = {
    "noise": tuple(Perturbation.make("noise", sigma=s) for s in (2.0, 5.0, 10.0, 15.0, 20.0)),
    "blur": tuple(Perturbation.make("blur", sigma=s) for s in (0.5, 1.0, 1.5, 2.0, 3.0)),
    "jpeg": tuple(Perturbation.make("jpeg", quality=q) for q in (95, 90, 75, 50, 30, 10)),
    "double_jpeg": tuple(Perturbation.make("double_jpeg", q1=90, q2=q) for q in (90, 75, 50, 30)),
    "median": tuple(Perturbation.make("median", size=k) for k in (3, 5, 7)),
    "crop": tuple(Perturbation.make("crop", fraction=f) for f in (0.05, 0.10, 0.15, 0.20)),
    "resize": tuple(Perturbation.make("resize", scale=s) for s in (0.9, 0.75, 0.5, 0.25)),
    "relight": tuple(Perturbation.make("relight", brightness=b) for b in (0.6, 0.8, 1.2, 1.4))
    + tuple(Perturbation.make("relight", shading=s) for s in (0.2, 0.4)),
}
"""Per kind, the fixed strengths of a robustness curve, mildest first (the clean point is :data:`IDENTITY`)."""


def curve(kind: str) -> list[Perturbation]:
    """``[IDENTITY, *STRENGTHS[kind]]``: the points of a robustness curve for ``kind``."""
    return [IDENTITY, *STRENGTHS[canonical_kind(kind)]]


def parse_all(specs: Iterable[str | Mapping[str, Any]]) -> list[Perturbation]:
    return [parse(s) for s in specs]
