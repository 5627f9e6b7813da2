"""ganprint.perturb: the attacks of Yu et al. 2019 (PAPERS §1.6), DNA-Det's transformations (§4.2), §6 items 2–5."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ganprint import perturb as P


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A 48×64 crop of scikit-image's astronaut photo (a natural image: JPEG behaves as on real data)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[100:244:3, 150:342:3])  # (48, 64, 3) uint8


def grey(h=32, w=32, v=128) -> np.ndarray:
    return np.full((h, w, 3), v, np.uint8)


def hf_energy(img: np.ndarray) -> float:
    """Mean squared discrete Laplacian: the high-frequency energy of an image."""
    x = img.astype(np.float64)
    lap = 4 * x[1:-1, 1:-1] - x[:-2, 1:-1] - x[2:, 1:-1] - x[1:-1, :-2] - x[1:-1, 2:]
    return float((lap**2).mean())


# --- noise ---------------------------------------------------------------------------------------------
def test_noise_sigma_zero_is_identity_and_noise_has_the_requested_std(photo):
    assert np.array_equal(P.gaussian_noise(photo, 0.0, np.random.default_rng(0)), photo)
    out = P.gaussian_noise(grey(64, 64), 10.0, np.random.default_rng(0))  # mid-grey: no clipping
    diff = out.astype(np.float64) - 128
    assert diff.std() == pytest.approx(10.0, rel=0.03)
    assert abs(diff.mean()) < 0.3


def test_noise_is_deterministic_for_a_seed_and_changes_with_it(photo):
    a = P.gaussian_noise(photo, 12.0, np.random.default_rng(5))
    b = P.gaussian_noise(photo, 12.0, np.random.default_rng(5))
    c = P.gaussian_noise(photo, 12.0, np.random.default_rng(6))
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)
    # known answer: the same draws by hand
    expect = np.clip(np.rint(photo + 12.0 * np.random.default_rng(5).standard_normal(photo.shape)), 0, 255)
    assert np.array_equal(a, expect.astype(np.uint8))


# --- JPEG ----------------------------------------------------------------------------------------------
def test_jpeg_applies_the_quality_byte_for_byte(photo):
    for q in (10, 50, 95):
        buf = io.BytesIO()
        Image.fromarray(photo).save(buf, format="JPEG", quality=q)  # Pillow's default subsampling is 4:2:0
        assert P.jpeg_bytes(photo, q) == buf.getvalue()
        assert np.array_equal(P.jpeg(photo, q), np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))
    assert P.jpeg_bytes(photo, 50) != P.jpeg_bytes(photo, 51)


def test_jpeg_lower_quality_smaller_file_and_larger_error(photo):
    sizes = [len(P.jpeg_bytes(photo, q)) for q in (95, 75, 30, 10)]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == 4
    errs = [np.abs(P.jpeg(photo, q).astype(int) - photo).mean() for q in (95, 75, 30, 10)]
    assert errs == sorted(errs) and errs[0] > 0
    out = P.jpeg(photo, 95)
    assert out.shape == photo.shape and out.dtype == np.uint8 and not np.array_equal(out, photo)


def test_double_jpeg_is_two_jpegs(photo):
    assert np.array_equal(P.double_jpeg(photo, 90, 40), P.jpeg(P.jpeg(photo, 90), 40))
    assert not np.array_equal(P.double_jpeg(photo, 90, 40), P.jpeg(photo, 40))


# --- blurs ---------------------------------------------------------------------------------------------
def test_blur_matches_a_direct_separable_convolution(photo):
    sigma, k = 1.3, 7
    r = k // 2
    t = np.arange(-r, r + 1)
    w = np.exp(-(t**2) / (2 * sigma**2))
    w /= w.sum()
    x = np.pad(photo.astype(np.float64), ((r, r), (r, r), (0, 0)), mode="reflect")  # = cv2 BORDER_REFLECT_101
    rows = sum(w[i] * x[i : i + photo.shape[0]] for i in range(k))
    both = sum(w[i] * rows[:, i : i + photo.shape[1]] for i in range(k))
    expect = np.clip(np.rint(both), 0, 255).astype(np.uint8)
    got = P.gaussian_blur(photo, sigma, kernel_size=k)
    assert np.abs(got.astype(int) - expect).max() <= 1  # float summation order only
    assert (got != expect).mean() < 0.01


def test_blur_removes_more_high_frequency_energy_at_larger_sigma(photo):
    assert np.array_equal(P.gaussian_blur(photo, 0.0), photo)
    energies = [hf_energy(P.gaussian_blur(photo, s)) for s in (0.5, 1.0, 2.0, 4.0)]
    assert hf_energy(photo) > energies[0] > energies[1] > energies[2] > energies[3]
    assert np.array_equal(P.gaussian_blur(grey(), 3.0), grey())  # a constant image stays constant


def test_median_blur_removes_an_impulse_and_matches_numpy(photo):
    img = np.zeros((9, 9, 3), np.uint8)
    img[4, 4] = 255
    assert not P.median_blur(img, 3).any()
    assert np.array_equal(P.median_blur(img, 1), img)
    x = np.pad(photo, ((2, 2), (2, 2), (0, 0)), mode="edge")  # cv2.medianBlur border: replicate
    win = np.lib.stride_tricks.sliding_window_view(x, (5, 5), axis=(0, 1))
    expect = np.median(win.reshape(*photo.shape, 25), axis=-1).astype(np.uint8)
    assert np.array_equal(P.median_blur(photo, 5), expect)


# --- crop, resize --------------------------------------------------------------------------------------
def test_crop_resize_keeps_size_and_changes_content(photo):
    out = P.crop_resize(photo, 0.1)
    assert out.shape == photo.shape and out.dtype == np.uint8 and not np.array_equal(out, photo)
    assert np.array_equal(P.crop_resize(photo, 0.0), photo)
    assert P.crop_offsets(100, 60, 0.1) == (5, 3, 90, 54)
    assert P.crop_offsets(100, 60, 0.15) == (7, 4, 85, 51)  # removes 15 / 9: the odd pixel goes bottom/right


def test_crop_resize_known_answer_with_nearest():
    img = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    out = P.crop_resize(img, 0.5, offsets=(1, 3), filter="nearest")  # 4×4 crop at (1, 3), ×2 nearest
    expect = np.repeat(np.repeat(img[1:5, 3:7], 2, axis=0), 2, axis=1)
    assert np.array_equal(out, expect)
    with pytest.raises(ValueError, match=r"offsets\[1\].*\[0, 4\]"):
        P.crop_resize(img, 0.5, offsets=(1, 5))


def test_crop_random_split_is_seeded(photo):
    a = P.crop_resize(photo, 0.2, np.random.default_rng(3))
    assert np.array_equal(a, P.crop_resize(photo, 0.2, np.random.default_rng(3)))
    offs = {P.crop_offsets(48, 64, 0.2, np.random.default_rng(s))[:2] for s in range(20)}
    assert len(offs) > 5 and all(0 <= t <= 10 and 0 <= le <= 13 for t, le in offs)


def test_resize_down_up_sizes_and_nearest_known_answer(photo):
    assert P.resize(photo, 0.5, "bilinear", back=False).shape == (24, 32, 3)
    out = P.resize(photo, 0.5, "bicubic")
    assert out.shape == photo.shape and not np.array_equal(out, photo)
    blocky = np.repeat(np.repeat(photo[::2, ::2], 2, axis=0), 2, axis=1)  # 2×2-constant blocks
    assert np.array_equal(P.resize(blocky, 0.5, "nearest"), blocky)
    # different filters give different images (the filter is part of the fingerprint, PAPERS §6 item 2)
    outs = [P.resize(photo, 0.5, f).tobytes() for f in ("nearest", "bilinear", "bicubic", "lanczos", "box")]
    assert len(set(outs)) == 5


def test_cv2_cubic_identity_constant_and_interpolates():
    img = (np.random.default_rng(0).random((10, 12, 3)) * 255).astype(np.uint8)
    assert np.array_equal(P.resize_to(img, 10, 12, "cv2_cubic"), img)
    assert np.array_equal(P.resize_to(grey(5, 7, 77), 13, 9, "cv2_cubic"), grey(13, 9, 77))
    ramp = np.repeat(np.repeat((np.arange(8) * 30)[None, :, None], 3, 2), 2, 0).astype(np.uint8)  # (2, 8, 3)
    up = P.resize_to(ramp, 2, 16, "cv2_cubic")
    # output 4 samples x = 4.5 / 2 - 0.5 = 1.75: taps 0..3 with Keys (a = -0.75) weights at t = 0.75, by hand:
    w = [-0.03515625, 0.26171875, 0.87890625, -0.10546875]
    assert np.allclose(P._cubic_weights(np.array(0.75)), w)
    assert up[0, 4, 0] == round(sum(wi * 30 * i for i, wi in enumerate(w))) == 51
    assert np.allclose(P._cubic_weights(np.array(0.5)), [-0.09375, 0.59375, 0.59375, -0.09375])
    assert not np.array_equal(P.resize_to(img, 20, 24, "cv2_cubic"), P.resize_to(img, 20, 24, "bicubic"))


def test_relight_model():
    img = grey(8, 10, 200)
    assert np.array_equal(P.relight(img), img)
    assert np.array_equal(P.relight(img, brightness=0.5), grey(8, 10, 100))
    assert np.array_equal(P.relight(grey(4, 4, 128), gamma=2.0), grey(4, 4, round(255 * (128 / 255) ** 2)))
    lit = P.relight(grey(6, 11, 100), shading=0.3)  # angle 0: left darker, right brighter, linear in x
    assert lit[0, 0, 0] == 70 and lit[0, -1, 0] == 130 and lit[0, 5, 0] == 100
    assert np.array_equal(lit[0], lit[-1])
    down = P.relight(grey(11, 6, 100), shading=0.3, angle=90)  # top→bottom
    assert down[0, 0, 0] == 70 and down[-1, 0, 0] == 130


# --- declarative layer ---------------------------------------------------------------------------------
def test_parse_forms_and_canonical_string():
    p = P.parse("jpeg:q=50")
    assert p == P.Perturbation.make("jpeg", quality=50) == P.parse({"kind": "jpeg", "quality": 50})
    assert str(p) == "jpeg:quality=50" and p.kwargs == {"quality": 50}
    assert str(P.parse("blur:sigma=1.5,k=7")) == "blur:sigma=1.5,kernel_size=7"
    assert str(P.parse("gaussian_noise:sigma=5")) == "noise:sigma=5"
    assert P.parse("none") == P.IDENTITY and str(P.IDENTITY) == "identity"
    assert P.parse("crop:f=0.1").kwargs == {"fraction": 0.1, "random": 0, "filter": "bicubic"}
    rng = np.random.default_rng(0)
    for spec in [*(s for v in P.STRENGTHS.values() for s in v), *(P.sample(k, rng) for k in P.KINDS)]:
        assert P.parse(str(spec)) == spec
        assert P.parse(spec.to_dict()) == spec


@pytest.mark.parametrize(
    "spec, message",
    [
        ("jpeg:q=150", r"jpeg: quality must be an integer in \[1, 100\], got 150"),
        ("jpeg:q=50.5", r"jpeg: quality must be an integer"),
        ("noise:sigma=-1", r"noise: sigma must be a number in \[0.0, 255.0\]"),
        ("median:size=4", r"median: size must be an odd integer in \[1, 301\]"),
        ("blur:sigma=1,k=4", r"blur: kernel_size must be an odd integer"),
        ("crop:fraction=0.7", r"crop: fraction must be a number in \[0.0, 0.5\]"),
        ("resize:scale=0.5,interp=cubic", r"resize: interpolation must be one of nearest, box"),
        ("relight:gamma=0", r"relight: gamma must be a number in \[0.05, 20.0\]"),
        ("double_jpeg:q1=90", r"double_jpeg: parameter 'q2' is required"),
        ("jpeg:quality=50,level=3", r"jpeg: unknown parameter 'level'; allowed: quality"),
        ("sharpen:amount=1", r"unknown perturbation kind 'sharpen'; allowed: identity, noise"),
        ("jpeg:50", r"expected key=value"),
    ],
)
def test_wrong_parameters_name_the_parameter_and_range(spec, message):
    with pytest.raises(ValueError, match=message):
        P.parse(spec)


def test_functions_validate_their_arguments(photo):
    with pytest.raises(ValueError, match=r"jpeg: quality must be an integer in \[1, 100\]"):
        P.jpeg(photo, 0)
    with pytest.raises(ValueError, match=r"blur: sigma"):
        P.gaussian_blur(photo, -0.5)
    with pytest.raises(ValueError, match=r"image must be a uint8 \(H, W, 3\)"):
        P.jpeg(photo.astype(np.float32), 50)
    with pytest.raises(ValueError, match="pass a numpy Generator"):
        P.apply(photo, "noise:sigma=5")


def test_every_strength_keeps_shape_dtype_and_is_deterministic(photo):
    for specs in P.STRENGTHS.values():
        for spec in specs:
            a = P.apply(photo, spec, np.random.default_rng(1))
            assert a.shape == photo.shape and a.dtype == np.uint8, spec
            assert not np.array_equal(a, photo), spec
            assert a.tobytes() == P.apply(photo, spec, np.random.default_rng(1)).tobytes(), spec
    assert np.array_equal(P.apply(photo, P.IDENTITY), photo)


def test_apply_batch_equals_the_loop(photo):
    batch = np.stack([photo, photo[::-1].copy(), 255 - photo])
    out = P.apply_batch(batch, "noise:sigma=7", np.random.default_rng(2))
    rng = np.random.default_rng(2)
    assert np.array_equal(out, np.stack([P.gaussian_noise(im, 7.0, rng) for im in batch]))
    assert not np.array_equal(out[0], P.apply(photo, "noise:sigma=7", P.image_rng(2, 0)))  # per-image rng differs
    one = P.apply(photo, "noise:sigma=7", P.image_rng(2, 5))
    assert np.array_equal(one, P.apply(photo, "noise:sigma=7", P.image_rng(2, 5)))


# --- random strengths ----------------------------------------------------------------------------------
def test_samplers_use_the_paper_ranges():
    rng = np.random.default_rng(0)
    sig = [P.sample("noise", rng).kwargs["sigma"] for _ in range(500)]
    assert 5.0 <= min(sig) < 5.5 and 19.5 < max(sig) <= 20.0
    qs = [P.sample("jpeg", rng).kwargs["quality"] for _ in range(2000)]
    assert all(isinstance(q, int) for q in qs) and min(qs) == 10 and max(qs) == 75
    fr = [P.sample("crop", rng).kwargs["fraction"] for _ in range(500)]
    assert 0.05 <= min(fr) < 0.06 and 0.19 < max(fr) <= 0.20
    draws = [P.sample("blur", rng).kwargs for _ in range(300)]
    blurs = {(b["kernel_size"], round(b["sigma"], 6)) for b in draws}
    assert blurs == {(1, 0.0), (3, 0.8), (5, 1.1), (7, 1.4), (9, 1.7)}


def test_random_attacks_probability_order_and_determinism(photo):
    out, applied = P.random_attacks(photo, np.random.default_rng(0), p=0.0)
    assert applied == [] and np.array_equal(out, photo)
    out, applied = P.random_attacks(photo, np.random.default_rng(0), p=1.0)
    assert [a.kind for a in applied] == ["blur", "crop", "jpeg", "noise"] and not np.array_equal(out, photo)
    a = P.random_attacks(photo, np.random.default_rng(9))
    b = P.random_attacks(photo, np.random.default_rng(9))
    assert a[0].tobytes() == b[0].tobytes() and a[1] == b[1]
    rng = np.random.default_rng(1)
    counts = {k: 0 for k in P.ATTACKS}
    for _ in range(200):
        for spec in P.random_attacks(grey(8, 8), rng)[1]:
            counts[spec.kind] += 1
    assert all(70 <= c <= 130 for c in counts.values()), counts  # Binomial(200, 0.5): ±4 std
