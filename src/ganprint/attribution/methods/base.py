"""The attribution-method contract (one class per method of PAPERS §1.4–1.5, §1.7, §3.2, §4) and its training data.

Every method — a network trained by gradient steps, a kNN, a PRNU fingerprint correlator — is an
:class:`AttributionMethod`: built from its hyperparameter section, the SORTED class names (label i = classes[i],
PAPERS §6.1) and the image resolution; ``fit`` on a :class:`TrainData`; ``scores`` per class (higher = more
likely); ``state()`` / ``load_state()`` of tensors and plain python only (they go into a ``weights_only``
checkpoint). The generic stage code (:mod:`ganprint.attribution.train`, :mod:`ganprint.attribution.evaluate`,
``ganprint attribute``) only talks to this interface.

:class:`NeuralMethod` is the shared recipe of the softmax classifiers trained with Adam on cross-entropy
(Yu et al. 2019's postpool, Frank et al. 2020's gandct-conv): subclasses only build their network.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganprint.train.common import check_finite, from_uint8

from ..inputs import InputTransform

Batch = tuple[torch.Tensor, torch.Tensor]  # (N, 3, H, W) uint8, (N,) int64
IndexedBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # + (N,) int64 row indices


# ---------------------------------------------------------------------------------------------------------
# training data


class TrainData:
    """Images + labels a method trains on, streamed in batches (never all in memory for store-backed data).

    ``loader(batch_size, shuffle, seed)`` is an iterable of ``(uint8 (N, 3, H, W), int64 (N,))`` batches;
    iterate it once per epoch (a shuffling loader draws a new order each time; the sequence depends only on
    the seed). ``sources`` are the per-row source names (``gan/...``, ``real/...``), ``labels`` the per-row
    class indices, ``resolution`` the square image side.
    """

    sources: Sequence[str]
    labels: np.ndarray
    resolution: int

    def __len__(self) -> int:
        return len(self.labels)

    def loader(self, batch_size: int, shuffle: bool, seed: int, *, drop_last: bool = False) -> Iterable[Batch]:
        raise NotImplementedError

    def indexed_loader(
        self, batch_size: int, shuffle: bool, seed: int, *, drop_last: bool = False
    ) -> Iterable[IndexedBatch]:
        """:meth:`loader`'s batches (same order, same seed) with a third item: the (N,) int64 row indices of the
        images in this data. Per-image randomness keyed by the row (perturbations, immunisation) needs it."""
        raise NotImplementedError(f"{type(self).__name__} does not give the row indices of its batches")


class StoreTrainData(TrainData):
    """Split-manifest rows read from their LMDB stores through the seeded DataLoader (DESIGN.md, data feeding)."""

    def __init__(self, rows, *, workers: int = 0, device=None, verify_sha1: bool = True, memory_budget_mb=512.0):
        from ganprint.data.dataset import StoreImages

        self.dataset = StoreImages.from_rows(rows, verify_sha1=verify_sha1, memory_budget_mb=memory_budget_mb)
        self.sources = rows["source"].astype(str).tolist()
        self.labels = rows["y"].to_numpy(dtype=np.int64)
        h, w, _ = self.dataset.image_shape()
        if h != w:
            raise ValueError(f"attribution needs square images, the split's are {h}x{w}")
        self.resolution = h
        self.workers, self.device = workers, device

    def loader(self, batch_size: int, shuffle: bool, seed: int, *, drop_last: bool = False) -> Iterable[Batch]:
        from ganprint.data.dataset import make_loader

        return make_loader(
            self.dataset,
            batch_size,
            shuffle=shuffle,
            seed=seed,
            workers=self.workers,
            device=self.device,
            drop_last=drop_last,
        )

    def indexed_loader(
        self, batch_size: int, shuffle: bool, seed: int, *, drop_last: bool = False
    ) -> Iterable[IndexedBatch]:
        from ganprint.data.dataset import IndexedImages, make_loader

        # same length and sampler seed as loader(): the same order, with the row of each image
        return make_loader(
            IndexedImages(self.dataset),
            batch_size,
            shuffle=shuffle,
            seed=seed,
            workers=self.workers,
            device=self.device,
            drop_last=drop_last,
        )


class TensorTrainData(TrainData):
    """In-memory images (tests, benchmarks, ``attribute``): ``images`` uint8 (N, 3, R, R), ``labels`` (N,)."""

    def __init__(self, images: torch.Tensor, labels, sources: Sequence[str] | None = None):
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be uint8 (N, 3, R, R), got {images.dtype} {tuple(images.shape)}")
        self.images = images
        self.labels = np.asarray(labels, dtype=np.int64)
        if len(self.labels) != len(images):
            raise ValueError("one label per image")
        self.sources = list(sources) if sources is not None else [str(y) for y in self.labels]
        self.resolution = images.shape[-1]

    def loader(self, batch_size: int, shuffle: bool, seed: int, *, drop_last: bool = False) -> Iterable[Batch]:
        return _TensorLoader(self, batch_size, shuffle, seed, drop_last)

    def indexed_loader(
        self, batch_size: int, shuffle: bool, seed: int, *, drop_last: bool = False
    ) -> Iterable[IndexedBatch]:
        return _TensorLoader(self, batch_size, shuffle, seed, drop_last, indices=True)


class _TensorLoader:
    """Like a DataLoader over a :class:`TensorTrainData`: each iteration (epoch) draws a new order from one
    seeded generator, so epochs differ and the whole sequence depends only on the seed."""

    def __init__(
        self, data: TensorTrainData, batch_size: int, shuffle: bool, seed: int, drop_last: bool, indices: bool = False
    ):
        self.data, self.batch_size, self.shuffle, self.drop_last = data, batch_size, shuffle, drop_last
        self.indices = indices
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.data)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Batch | IndexedBatch]:
        n = len(self.data)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        labels = torch.from_numpy(self.data.labels)
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield (self.data.images[idx], labels[idx], idx) if self.indices else (self.data.images[idx], labels[idx])


# ---------------------------------------------------------------------------------------------------------
# the contract


class AttributionMethod:
    """An attribution method: images → per-class scores. See the module docstring for the contract."""

    input: str = "pixel"  # "pixel" or "dct" where a method supports the switch (hparam ``input``)
    softmax: bool = True  # scores are probabilities (rows sum to 1); False = independent one-vs-rest sigmoids

    def __init__(self, hps, classes: list[str], resolution: int, device="cpu"):
        if list(classes) != sorted(classes) or len(set(classes)) != len(classes):
            raise ValueError(f"classes must be sorted and unique (PAPERS §6.1), got {list(classes)}")
        if len(classes) < 2:
            raise ValueError(f"attribution needs at least two classes, got {list(classes)}")
        self.hps = hps
        self.classes = list(classes)
        self.resolution = int(resolution)
        self.device = torch.device(device)
        self.input = getattr(hps, "input", type(self).input)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def fit(self, train: TrainData, val: TrainData | None, train_cfg, stats) -> dict:
        """Train on ``train`` (``train_cfg``: epochs, batch_size, seed; ``stats``: a StatsWriter); returns metrics."""
        raise NotImplementedError

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, R, R) float in [-1, 1] → (N, K) per-class scores, higher = more likely."""
        raise NotImplementedError

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.scores(x).argmax(1)

    @torch.no_grad()
    def accuracy(self, data: TrainData, batch_size: int) -> float:
        """Share of ``data``'s images whose arg-max score is their label (train / val accuracy during ``fit``)."""
        right = total = 0
        for images, labels in data.loader(batch_size, shuffle=False, seed=0):
            pred = self.scores(from_uint8(images, self.device)).argmax(1).cpu()
            right += (pred == labels).sum().item()
            total += len(labels)
        return right / max(total, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, R, R) in [-1, 1] → (N, D) penultimate features (t-SNE, open-set)."""
        raise NotImplementedError

    def cam_layer(self) -> nn.Module | None:
        """The conv layer Grad-CAM hooks into; None for non-neural methods."""
        return None

    def extra_metrics(self, data: TrainData, batch_size: int) -> dict:
        """Method-specific test metrics on ``data`` (the test images of known classes), merged into the
        ``evaluate_attribution`` metrics; {} by default (classmodel: its detection and one-vs-rest results)."""
        return {}

    def state(self) -> dict:
        raise NotImplementedError

    def load_state(self, state: dict) -> None:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------------------
# softmax classifiers trained by Adam on cross-entropy


class NeuralMethod(AttributionMethod):
    """A network on the method's input transform; Adam(lr, (beta1, beta2), eps 1e-8), optional random hflip,
    softmax cross-entropy, no schedule / EMA / early stopping (Yu et al. 2019's recipe, PAPERS §1.4).

    Subclasses implement :meth:`build_net` (``self.transform.channels`` input channels, ``self.num_classes``
    logits); the net has ``features(x)`` → (N, D) and ``forward`` → logits. The hyperparameter section gives
    ``lr, beta1, beta2, hflip`` (and ``input`` where the switch applies).
    """

    log_every = 50

    def __init__(self, hps, classes, resolution, device="cpu"):
        super().__init__(hps, classes, resolution, device)
        self.transform = InputTransform(self.input)
        self.net = self.build_net().to(self.device)
        # the optimised path (benchmarks/attribution.py): bf16 autocast, channels_last, a torch.compile'd net
        self.autocast_dtype: torch.dtype | None = None
        self.channels_last = False
        self.compiled: nn.Module | None = None

    def build_net(self) -> nn.Module:
        raise NotImplementedError

    def _forward(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        z = self.transform(x)
        if self.channels_last:
            z = z.contiguous(memory_format=torch.channels_last)
        if self.autocast_dtype is None:
            return net(z)
        with torch.autocast(self.device.type, dtype=self.autocast_dtype):
            return net(z).float()

    def fit(self, train: TrainData, val: TrainData | None, train_cfg, stats) -> dict:
        hps = self.hps
        self.transform.fit(train, device=self.device)
        opt = torch.optim.Adam(self.net.parameters(), lr=hps.lr, betas=(hps.beta1, hps.beta2), eps=1e-8)
        rng = np.random.default_rng(train_cfg.seed)  # the flips; the data order has the loader's own generator
        # Full batches only; a set smaller than one batch trains on one short batch per epoch.
        drop_last = len(train) >= train_cfg.batch_size
        per_epoch = len(train) // train_cfg.batch_size if drop_last else 1
        total = train_cfg.epochs * per_epoch
        stats.total = total
        net = self.net if self.compiled is None else self.compiled
        self.net.train()
        loader = train.loader(train_cfg.batch_size, True, train_cfg.seed, drop_last=drop_last)  # one per run
        step, correct, seen = 0, 0, 0
        for _epoch in range(train_cfg.epochs):
            for images, labels in loader:
                x = from_uint8(images, self.device)
                if hps.hflip:  # the paper's only augmentation, p = 0.5 per image
                    flip = torch.from_numpy(rng.random(len(labels)) < 0.5).to(self.device)
                    x = torch.where(flip[:, None, None, None], x.flip(3), x)
                y = labels.to(self.device, non_blocking=True)
                logits = self._forward(net, x)
                loss = F.cross_entropy(logits, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                check_finite(loss, f"train_classifier ({type(self).__name__})", step)
                correct += (logits.argmax(1) == y).sum().item()
                seen += len(y)
                if step % self.log_every == 0 or step == total:
                    stats.add(step, loss=loss.item(), train_acc=correct / seen)
                    correct, seen = 0, 0
        self.net.eval()
        last = stats.rows[-1] if stats.rows else {"loss": math.nan, "train_acc": math.nan}
        return {"steps": step, "final_loss": last["loss"], "final_train_accuracy": last["train_acc"]}

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, K) pre-softmax scores; differentiable (Grad-CAM differentiates them), unlike :meth:`scores`."""
        self.net.eval()
        net = self.net if self.compiled is None else self.compiled
        return self._forward(net, x.to(self.device))

    @torch.no_grad()
    def scores(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), 1)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        self.net.eval()
        return self.net.features(self.transform(x.to(self.device)))

    def cam_layer(self) -> nn.Module | None:
        convs = [m for m in self.net.modules() if isinstance(m, nn.Conv2d) or type(m).__name__.endswith("Conv2d")]
        return convs[-1] if convs else None

    def state(self) -> dict:
        return {
            "net": {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()},
            "input": self.transform.state(),
        }

    def load_state(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.transform.load_state(state["input"])
        self.net.to(self.device).eval()
