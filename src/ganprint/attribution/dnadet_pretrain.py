"""DNA-Det pre-training on image-transformation classification (Yang et al. AAAI 2022, PAPERS.md §4.2).

The backbone first learns to tell which transformation (JPEG, double JPEG, blur, median, resize × filter, noise,
or none) was applied to an image, from patches, so that it attends to low-level traces rather than content;
attribution training then starts from it (§4.3). Every transformation comes from :mod:`ganprint.perturb`.

Per sample (§4.2): optional random crop (``pretrain_crop``; the paper crops 128) → the class's transformation →
resize by ``upsample`` (Pillow bicubic; the paper goes to 512², its default PIL filter, BICUBIC in Pillow ≥ 7) →
``patches_per_image`` random patches, each labelled with the class. Which images the paper pre-trained on is not
defined in the reference (§4.2); the caller chooses (real images in the paper, by its text).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from ganprint import perturb as P
from ganprint.checkpoint import load_checkpoint, save_checkpoint
from ganprint.errors import StageError
from ganprint.io import seed_everything
from ganprint.nets.dnadet import DNADetNet, UncertaintyWeights, dnadet_step, predict_image
from ganprint.train.common import StatsWriter, check_finite

log = logging.getLogger("ganprint")

KIND = "dnadet_pretrained"

# The reference's 24 second qualities of the double-JPEG classes, paired index by index with q = 30, 33, ..., 99.
PAPER_DOUBLE_JPEG_Q2 = (39, 99, 36, 93, 60, 75, 81, 39, 63, 69, 60, 87, 90, 48, 81, 75, 72, 78, 54, 33, 81, 30, 36, 99)


def paper_transform_classes() -> list[P.Perturbation]:
    """The reference's 170 classes (``data/transforms.py``, PAPERS §4.2), in its family order.

    Mapping from albumentations: GaussianBlur / MedianBlur kernel k (Gaussian sigma from k by OpenCV's rule, which
    cv2 applies when albumentations passes sigma 0); Downscale(scale, interpolation code) → down then up with the
    closest Pillow filter of the OpenCV code (:data:`ganprint.perturb.CV2_CODE_TO_FILTER`); GaussNoise var v →
    sigma = sqrt(v).
    """
    qs = list(range(30, 100, 3))  # 24 qualities
    out = [P.Perturbation.make("jpeg", quality=q) for q in qs]
    out += [P.Perturbation.make("double_jpeg", q1=a, q2=b) for a, b in zip(qs, PAPER_DOUBLE_JPEG_Q2, strict=True)]
    kernels = range(3, 30, 2)  # 14
    out += [P.Perturbation.make("blur", sigma=P.opencv_sigma(k), kernel_size=k) for k in kernels]
    out += [P.Perturbation.make("median", size=k) for k in kernels]
    scales = [round(0.15 + 0.05 * i, 2) for i in range(16)]  # 0.15 .. 0.90
    out += [
        P.Perturbation.make("resize", scale=s, interpolation=P.CV2_CODE_TO_FILTER[c]) for s in scales for c in range(5)
    ]
    out += [P.Perturbation.make("noise", sigma=float(np.sqrt(v))) for v in range(10, 50, 3)]  # 14
    return out


def transform_classes(hps) -> list[P.Perturbation]:
    """The pre-training class list of a :class:`ganprint.hparams.DNADetHps` (label i = class i)."""
    if hps.pretrain_class_set == "paper":
        return paper_transform_classes()
    out = [P.IDENTITY] if hps.pt_identity else []
    out += [P.Perturbation.make("jpeg", quality=q) for q in hps.pt_jpeg_qualities]
    out += [
        P.Perturbation.make("double_jpeg", q1=a, q2=b)
        for a, b in zip(hps.pt_double_jpeg_q1, hps.pt_double_jpeg_q2, strict=True)
    ]
    out += [P.Perturbation.make("blur", sigma=s) for s in hps.pt_blur_sigmas]
    out += [P.Perturbation.make("median", size=k) for k in hps.pt_median_sizes]
    out += [
        P.Perturbation.make("resize", scale=s, interpolation=f)
        for s in hps.pt_resize_scales
        for f in hps.pt_resize_interpolations
    ]
    out += [P.Perturbation.make("noise", sigma=s) for s in hps.pt_noise_sigmas]
    if len(set(out)) != len(out):
        raise StageError("dnadet: the pre-training class set has duplicate transformations; check the pt_* lists")
    if len(out) < 2:
        raise StageError(f"dnadet: pre-training needs at least 2 transformation classes, got {len(out)}")
    return out


def _as_sequence(images) -> Sequence[np.ndarray]:
    """Random access to uint8 HWC images: an (M, H, W, 3) array, an ImageStore, a list; other iterables are read."""
    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.dtype != np.uint8:
            raise StageError(
                f"dnadet pre-training: images must be uint8 (M, H, W, 3), got {images.dtype} {images.shape}"
            )
        return images
    if hasattr(images, "__getitem__") and hasattr(images, "__len__"):
        return images
    return [np.asarray(im) for im in images]


class TransformPairs:
    """(transformed image, class) pairs drawn deterministically: item ``i`` is a function of (seed, i) only.

    Item ``i`` has label ``i mod C`` (so every batch of C consecutive items is balanced) and draws, from
    :func:`ganprint.perturb.image_rng` ``(seed, i)``, the source image, the crop offsets and the
    transformation's own randomness.
    """

    def __init__(self, images, classes: Sequence[P.Perturbation], seed: int, crop: int = 0):
        self.images = _as_sequence(images)
        if len(self.images) == 0:
            raise StageError("dnadet pre-training: no images")
        self.classes, self.seed, self.crop = list(classes), int(seed), int(crop)

    def item(self, i: int) -> tuple[np.ndarray, int]:
        rng = P.image_rng(self.seed, i)
        label = i % len(self.classes)
        img = np.asarray(self.images[int(rng.integers(len(self.images)))])
        if self.crop:
            h, w = img.shape[:2]
            if self.crop > min(h, w):
                raise StageError(f"dnadet: pretrain_crop {self.crop} exceeds the {h}x{w} images; lower it")
            t, left = int(rng.integers(h - self.crop + 1)), int(rng.integers(w - self.crop + 1))
            img = np.ascontiguousarray(img[t : t + self.crop, left : left + self.crop])
        return P.apply(img, self.classes[label], rng), label

    def batch(self, start: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Items ``start .. start + size - 1`` as ``(size, H, W, 3)`` uint8 and ``(size,)`` int64."""
        items = [self.item(i) for i in range(start, start + size)]
        return np.stack([im for im, _ in items]), np.array([y for _, y in items], dtype=np.int64)


def to_input(images: np.ndarray | torch.Tensor, upsample: int, device) -> torch.Tensor:
    """uint8 images ``(N, H, W, 3)`` numpy or ``(N, 3, H, W)`` tensor → float ``(N, 3, uH, uW)`` in [-1, 1].

    ``upsample`` > 1 resizes each image by that factor with Pillow bicubic first (the paper's 128 → 512).
    """
    if isinstance(images, torch.Tensor):
        images = images.permute(0, 2, 3, 1).cpu().numpy()
    if upsample > 1:
        h, w = images.shape[1:3]
        images = np.stack([P.resize_to(im, h * upsample, w * upsample, "bicubic") for im in images])
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def pretrain_dnadet(
    images: Iterable[np.ndarray] | np.ndarray,
    cfg,
    out_path: str | Path | None,
    seed: int = 0,
    device: torch.device | str = "cpu",
    stats_path: str | Path | None = None,
) -> tuple[DNADetNet, dict]:
    """Pre-train the DNA-Det backbone + a transformation head with CE (+ SupCon if ``cfg.pretrain_contrastive``).

    Args:
        images: uint8 HWC images with random access (an (M, H, W, 3) array, an ``ImageStore``, a list) or any
            iterable of them (then read into memory).
        cfg: a :class:`ganprint.hparams.DNADetHps`.
        out_path: checkpoint (kind ``dnadet_pretrained``, ``classes`` = the transformation specs); None = none.
        seed: seeds the initialisation, the data draws and the patch offsets.

    Returns the trained model (eval mode, on ``device``) and ``classes, steps, final_loss, final_patch_acc``.
    Same inputs and seed on CPU ⇒ the same checkpoint bytes.
    """
    seed_everything(seed)  # initialisation and dropout
    classes = transform_classes(cfg)
    data = TransformPairs(images, classes, seed, cfg.pretrain_crop)
    model = DNADetNet(len(classes), cfg.width, cfg.proj_dim, cfg.dropout).to(device)
    weighting = UncertaintyWeights(2).to(device) if cfg.pretrain_contrastive else None
    groups = [{"params": model.parameters(), "lr": cfg.pretrain_lr}]
    if weighting is not None:
        groups.append({"params": weighting.parameters(), "lr": cfg.lr_weights})
    opt = torch.optim.Adam(groups)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.lr_step, gamma=cfg.lr_gamma)
    gen = torch.Generator().manual_seed(seed)
    stats = StatsWriter(stats_path, cfg.pretrain_steps, "pretrain_dnadet")
    log.info("pre-training DNA-Det on %d transformation classes for %d steps", len(classes), cfg.pretrain_steps)
    model.train()
    logs: dict = {}
    for step in range(1, cfg.pretrain_steps + 1):
        imgs, labels = data.batch((step - 1) * cfg.pretrain_batch_size, cfg.pretrain_batch_size)
        x = to_input(imgs, cfg.upsample, device)
        loss, logs = dnadet_step(
            model,
            x,
            torch.from_numpy(labels).to(device),
            weighting,
            patch_size=cfg.patch_size,
            patches_per_image=cfg.patches_per_image,
            generator=gen,
            tau=cfg.tau,
            contrastive=cfg.pretrain_contrastive,
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()  # per iteration, as the reference
        check_finite(loss, "pretrain_dnadet", step)
        if step % 50 == 0 or step == cfg.pretrain_steps:
            stats.add(step, **logs)
    stats.close()
    model.eval()
    if out_path is not None:
        save_checkpoint(
            out_path,
            kind=KIND,
            model=model.cpu(),
            model_name="dnadet",
            classes=[str(c) for c in classes],
            hparams=cfg.model_dump(),
            seed=int(seed),
            steps=cfg.pretrain_steps,
        )
        model.to(device)
    info = {
        "classes": [str(c) for c in classes],
        "steps": cfg.pretrain_steps,
        "final_loss": logs.get("loss"),
        "final_patch_acc": logs.get("patch_acc"),
    }
    return model, info


def load_pretrained(path: str | Path) -> dict:
    """The ``dnadet_pretrained`` checkpoint at ``path`` (``state_dict``, ``model_args``, ``classes``, ``hparams``)."""
    return load_checkpoint(path, KIND)


@torch.no_grad()
def transform_accuracy(
    model: DNADetNet, images, classes: Sequence[P.Perturbation], seed: int, n: int, cfg, device="cpu"
) -> float:
    """Image-level accuracy of ``model`` on ``n`` fresh (image, transformation) pairs drawn under ``seed``."""
    data = TransformPairs(images, classes, seed, cfg.pretrain_crop)
    imgs, labels = data.batch(0, n)
    probs = predict_image(model, to_input(imgs, cfg.upsample, device), cfg.predict, cfg.patch_size)
    return float((probs.argmax(1).cpu().numpy() == labels).mean())
