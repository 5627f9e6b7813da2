"""Yu et al. 2019's robustness study (PAPERS §1.6): attacked test images, and immunisation by fine-tuning.

* :class:`PerturbedTrainData` wraps a :class:`~ganprint.attribution.methods.TrainData`: each image it yields is
  attacked with probability ``p`` by one attack ``kind`` at a random strength (:func:`ganprint.perturb.random_attacks`
  with ``kinds=(kind,)``: :func:`ganprint.perturb.sample`'s ranges, e.g. JPEG quality ~ U{10..75} actually applied,
  noise σ ~ U[5, 20]). The coin, the strength and the attack's own randomness of an image come from
  :func:`epoch_image_rng` ``(seed, epoch, row)``: they depend only on the seed, the epoch (the how-many-th
  iteration of that loader) and the image's row in the base data, never on the batch size, the shuffle order or
  the loader workers. The attacks run in the main process, on the uint8 batches the base loader yields.
* :func:`immunize` fine-tunes an already trained method on such data (the paper's immunisation: "fine-tune the
  trained classifier on perturbed training images"). Only methods whose ``fit`` continues from the current state
  can be immunised (:data:`IMMUNIZABLE`): the neural softmax classifiers (a fresh Adam on the trained network;
  their input transform is refitted on the perturbed data, a no-op for pixels, the DCT statistics for ``dct``) and
  the training-set methods kNN and PRNU, which are refitted on the perturbed data. visnet, classmodel and dnadet
  rebuild their networks in ``fit`` (they would train from scratch) and are refused.
* :func:`immunize_classifier` is the stage: a checkpoint in, the immunised checkpoint out.
* :func:`evaluate_robustness` scores the plain and the immunised model on the split's test images (known classes)
  at every fixed strength of :func:`ganprint.perturb.curve` and once at a random strength per image.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score

from ganprint import perturb
from ganprint.checkpoint import load_checkpoint
from ganprint.data.store import DEFAULT_MAP_BUDGET_MB
from ganprint.errors import StageError
from ganprint.io import seed_everything
from ganprint.registry import METHODS, load
from ganprint.train.common import StatsWriter

from .evaluate import macro_f1, predict
from .methods import StoreTrainData, TrainData, method_from_checkpoint
from .methods.base import Batch, IndexedBatch
from .splits import SplitManifest
from .train import save_method, train_val_data

log = logging.getLogger("ganprint")

IMMUNIZABLE = ("postpool", "gandct", "knn", "prnu")
"""Methods :func:`immunize` can fine-tune: their ``fit`` continues from the trained state (neural) or refits on
the data it is given (kNN, PRNU). The others (visnet, classmodel, dnadet) rebuild their networks in ``fit``."""

RANDOM_WHAT = (
    "every test image attacked once at a random strength: perturb.sample({kind!r}, rng) applied with the same "
    "rng = perturb.image_rng({seed}, i), i = the image's row in the test part"
)


def _check_kind(kind: str) -> str:
    kind = perturb.canonical_kind(kind)
    if kind not in perturb.STRENGTHS:
        raise ValueError(f"perturbation kind {kind!r} has no robustness curve; allowed: {', '.join(perturb.STRENGTHS)}")
    return kind


def epoch_image_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The Generator of training image ``index`` in ``epoch`` under ``seed``: :func:`ganprint.perturb.image_rng`'s
    scheme (a spawned child of ``SeedSequence(seed)``) with the key ``(epoch, index)``, so each epoch attacks the
    images anew."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(epoch), int(index))))


def _map_images(images: torch.Tensor, fn: Callable[[int, np.ndarray], np.ndarray]) -> torch.Tensor:
    """Apply ``fn(j, hwc uint8 image)`` to every image of a uint8 (N, 3, H, W) batch; returns a new batch."""
    hwc = images.permute(0, 2, 3, 1).numpy()
    out = np.empty(hwc.shape, dtype=np.uint8)
    for j in range(len(hwc)):
        out[j] = fn(j, np.ascontiguousarray(hwc[j]))
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


class PerturbedTrainData(TrainData):
    """``base``'s images, each attacked with probability ``p`` by attack ``kind`` at a random strength.

    See the module docstring. ``sources``, ``labels``, ``resolution`` and the batch order are ``base``'s; the base
    must give the row indices of its batches (:meth:`TrainData.indexed_loader`: StoreTrainData, TensorTrainData).
    Each ``loader(...)`` / ``indexed_loader(...)`` call returns a fresh loader whose first iteration is epoch 0.
    """

    def __init__(self, base: TrainData, kind: str, seed: int, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.base, self.kind, self.seed, self.p = base, _check_kind(kind), int(seed), float(p)
        self.sources = base.sources
        self.labels = base.labels
        self.resolution = base.resolution

    def __len__(self) -> int:
        return len(self.base)

    def perturb_image(self, img: np.ndarray, epoch: int, index: int) -> tuple[np.ndarray, list[perturb.Perturbation]]:
        """Row ``index``'s image (uint8 HWC) as epoch ``epoch`` sees it, and the attacks applied (none or one)."""
        rng = epoch_image_rng(self.seed, epoch, index)
        return perturb.random_attacks(img, rng, kinds=(self.kind,), p=self.p)

    def perturb_batch(self, images: torch.Tensor, indices: torch.Tensor, epoch: int) -> tuple[torch.Tensor, int]:
        """A uint8 (N, 3, H, W) batch of rows ``indices`` as epoch ``epoch`` sees it, and how many were attacked."""
        rows = indices.tolist()
        attacked = 0

        def one(j: int, img: np.ndarray) -> np.ndarray:
            nonlocal attacked
            out, applied = self.perturb_image(img, epoch, rows[j])
            attacked += bool(applied)
            return out

        return _map_images(images, one), attacked

    def loader(self, batch_size: int, shuffle: bool, seed: int, *, drop_last: bool = False) -> Iterable[Batch]:
        return _PerturbedLoader(self, self.base.indexed_loader(batch_size, shuffle, seed, drop_last=drop_last), False)

    def indexed_loader(
        self, batch_size: int, shuffle: bool, seed: int, *, drop_last: bool = False
    ) -> Iterable[IndexedBatch]:
        return _PerturbedLoader(self, self.base.indexed_loader(batch_size, shuffle, seed, drop_last=drop_last), True)


class _PerturbedLoader:
    """Iterating it is one epoch (the count starts at 0 per loader); ``attacked`` / ``seen`` count the images."""

    def __init__(self, data: PerturbedTrainData, inner: Iterable[IndexedBatch], indices: bool):
        self.data, self.inner, self.indices = data, inner, indices
        self.epoch = 0
        self.attacked = self.seen = 0

    def __len__(self) -> int:
        return len(self.inner)

    def __iter__(self) -> Iterator[Batch | IndexedBatch]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        for images, labels, idx in self.inner:
            out, attacked = self.data.perturb_batch(images, idx, epoch)
            self.attacked += attacked
            self.seen += len(idx)
            yield (out, labels, idx) if self.indices else (out, labels)


# ---------------------------------------------------------------------------------------------------------
# immunisation


def method_name(method) -> str:
    """The registry name of a method object (its class's entry in :data:`ganprint.registry.METHODS`)."""
    for name, entry in METHODS.items():
        if type(method) is load(entry.impl):
            return name
    raise StageError(f"{type(method).__name__} is not a registered attribution method")


def immunize(method, train: TrainData, val: TrainData | None, kind: str, cfg, stats, p: float = 0.5) -> dict:
    """Fine-tune a trained ``method`` on ``train`` attacked by ``kind`` (:class:`PerturbedTrainData`, seed
    ``cfg.seed``, probability ``p``); ``cfg``: epochs, batch_size, seed. Neural methods continue from their weights
    with a fresh Adam; kNN and PRNU are refitted on the perturbed data. Returns what ``fit`` reports plus
    ``method, perturbation, p, immunization`` (``fine-tuned`` or ``refitted``)."""
    name = method_name(method)
    if name not in IMMUNIZABLE:
        raise StageError(
            f"immunize: {name} cannot be immunized, its fit trains a new network from scratch; "
            f"methods that can: {', '.join(IMMUNIZABLE)}"
        )
    data = PerturbedTrainData(train, kind, cfg.seed, p)
    seed_everything(cfg.seed)
    result = method.fit(data, val, cfg, stats)
    how = "refitted" if name in ("knn", "prnu") else "fine-tuned"
    return {"method": name, "perturbation": data.kind, "p": data.p, "immunization": how, **result}


def immunize_classifier(
    split: SplitManifest,
    train_cfg,
    model_path: str | Path,
    kind: str,
    out_model: str | Path,
    out_stats: str | Path | None = None,
    *,
    p: float = 0.5,
    protocol: str = "",
    device: torch.device | str = "cpu",
    workers: int = 0,
    memory_budget_mb: float = DEFAULT_MAP_BUDGET_MB,
    verify_sha1: bool = True,
) -> dict:
    """Immunise the classifier at ``model_path`` against ``kind`` on ``split.part("train")``; write its checkpoint.

    ``train_cfg``: epochs, batch_size, seed of the fine-tuning. The checkpoint is an ``attribution_classifier``
    like the plain one (same model name, classes, hparams) with ``immunized = {perturbation, p, epochs,
    batch_size, seed}`` and no open-set calibration. Same inputs and seed on CPU ⇒ the same bytes.
    """
    ckpt = load_checkpoint(model_path, "attribution_classifier")
    if list(ckpt["classes"]) != list(split.classes):
        raise StageError(
            f"{model_path}: trained on classes {ckpt['classes']}, but the split has {list(split.classes)}; "
            "retrain the classifier (train_classifier) for this protocol"
        )
    load_kw = {"workers": workers, "device": device, "verify_sha1": verify_sha1, "memory_budget_mb": memory_budget_mb}
    train, val = train_val_data(split, protocol, **load_kw)
    method = method_from_checkpoint(ckpt, device)
    name = method_name(method)
    kind = _check_kind(kind)
    per_epoch = max(len(train) // train_cfg.batch_size, 1)
    stats = StatsWriter(out_stats, train_cfg.epochs * per_epoch, f"immunize_classifier {protocol}/{name}/{kind}")
    log.info("immunizing %s against %s (p = %.2f) on %d images", name, kind, p, len(train))
    result = immunize(method, train, val, kind, train_cfg, stats, p)
    stats.close()
    info = {"perturbation": kind, "p": float(p), "epochs": int(train_cfg.epochs),
            "batch_size": int(train_cfg.batch_size), "seed": int(train_cfg.seed)}  # fmt: skip
    save_method(out_model, method, model_name=name, protocol=ckpt.get("protocol", protocol), calibration=None,
                immunized=info)  # fmt: skip
    return {"train_images": len(train), "classes": list(split.classes), **result}


# ---------------------------------------------------------------------------------------------------------
# evaluation under attack


def _load(path: str | Path, classes: list[str], resolution: int, device):
    ckpt = load_checkpoint(path, "attribution_classifier")
    if list(ckpt["classes"]) != classes:
        raise StageError(
            f"{path}: trained on classes {ckpt['classes']}, but the protocol's test split has {classes}; "
            "retrain the classifier (train_classifier) for this protocol"
        )
    if ckpt["resolution"] != resolution:
        raise StageError(f"{path}: trained on {ckpt['resolution']} px images, the test split's are {resolution} px")
    return method_from_checkpoint(ckpt, device)


def attack_test_batch(
    images: torch.Tensor, rows: np.ndarray, kind: str, spec: perturb.Perturbation | None, seed: int
) -> torch.Tensor:
    """Test images (uint8 (N, 3, H, W)) of test-part rows ``rows`` attacked by ``spec`` (None = a random strength of
    ``kind`` per image), each with its own ``perturb.image_rng(seed, row)``."""

    def attack(j: int, img: np.ndarray) -> np.ndarray:
        rng = perturb.image_rng(seed, int(rows[j]))
        return perturb.apply(img, spec if spec is not None else perturb.sample(kind, rng), rng)

    return _map_images(images, attack)


def evaluate_robustness(
    split: SplitManifest,
    plain_model_path: str | Path,
    immunized_model_path: str | Path,
    kind: str,
    *,
    batch_size: int,
    device: torch.device | str = "cpu",
    seed: int = 0,
    workers: int = 0,
    memory_budget_mb: float = DEFAULT_MAP_BUDGET_MB,
    verify_sha1: bool = True,
) -> tuple[dict, pd.DataFrame]:
    """Accuracy and macro-F1 of the plain and the immunised model on the attacked test images of known classes.

    Levels: ``0..len(curve)-1`` = :func:`ganprint.perturb.curve` ``(kind)`` (level 0 the identity, = the clean
    accuracy without TTA), then level ``len(curve)`` = every image attacked once at a random strength,
    ``perturb.sample(kind, rng)`` then applied with the same ``rng`` = :func:`ganprint.perturb.image_rng`
    ``(seed, i)``, ``i`` the image's row in the split's test part. Noise at a fixed strength draws from the same
    ``image_rng(seed, i)``. So an attacked image depends only on (seed, i), not on the batch size or workers.

    Returns the metrics (``perturbation, curve, random, classes, test_images``; the caller adds ``protocol,
    method, seed``) and the curve as a DataFrame (``level, strength, accuracy_plain, accuracy_immunized,
    macro_f1_plain, macro_f1_immunized``; the random row has strength ``random``).
    """
    kind = _check_kind(kind)
    points: list[perturb.Perturbation | None] = [*perturb.curve(kind), None]  # None = a random strength per image
    classes = list(split.classes)
    rows = split.part("test")
    known = np.flatnonzero(rows["y"].to_numpy() >= 0)  # row i of the known rows = row known[i] of the test part
    if len(known) == 0:
        raise StageError("the split has no test images of known classes; rebuild it with test images per class > 0")
    load_kw = {"workers": workers, "device": device, "verify_sha1": verify_sha1, "memory_budget_mb": memory_budget_mb}
    data = StoreTrainData(rows.iloc[known].reset_index(drop=True), **load_kw)
    models = {
        "plain": _load(plain_model_path, classes, data.resolution, device),
        "immunized": _load(immunized_model_path, classes, data.resolution, device),
    }
    labels = data.labels
    pred = {m: np.empty((len(points), len(labels)), dtype=np.int64) for m in models}
    for images, _, idx in data.indexed_loader(batch_size, False, 0):
        test_rows = known[idx.numpy()]
        for level, spec in enumerate(points):
            attacked = attack_test_batch(images, test_rows, kind, spec, seed)
            for m, method in models.items():
                pred[m][level, idx.numpy()] = predict(method, attacked, device)[1]

    def scores(m: str, level: int) -> dict:
        y, p = labels, pred[m][level]
        return {
            f"accuracy_{m}": float(accuracy_score(y, p)),
            f"macro_f1_{m}": macro_f1(y, p),
        }

    table = []
    for level, spec in enumerate(points):
        row = {"level": level, "strength": "random" if spec is None else str(spec)}
        row |= scores("plain", level) | scores("immunized", level)
        table.append({c: row[c] for c in CURVE_COLUMNS})
    random = {c: table[-1][c] for c in CURVE_COLUMNS[2:]} | {"what": RANDOM_WHAT.format(kind=kind, seed=seed)}
    metrics = {
        "perturbation": kind,
        "curve": table[:-1],
        "random": random,
        "classes": classes,
        "test_images": len(labels),
    }
    return metrics, pd.DataFrame(table, columns=list(CURVE_COLUMNS))


CURVE_COLUMNS = ("level", "strength", "accuracy_plain", "accuracy_immunized", "macro_f1_plain", "macro_f1_immunized")
"""The robustness CSV (a DVC plot, x = level): one row per curve point, then the random-strength row."""
