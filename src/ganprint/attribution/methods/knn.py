"""kNN on pixels, the weakest baseline of Yu et al. 2019's Table 1 (PAPERS §1.7: ~28 % on CelebA, 5 sources).

Images in [-1, 1], optionally average-pooled by ``downscale``, flattened; scikit-learn's
``KNeighborsClassifier`` (brute force, Euclidean, uniform weights). ``fit`` streams the training data once and
keeps every training vector (that is what kNN is: the state grows with the training set, N · 3 · (R/d)² float32).
Scores = the fraction of the k neighbours in each class (rows sum to 1).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.neighbors import KNeighborsClassifier

from ganprint.train.common import from_uint8

from .base import AttributionMethod


class KNNMethod(AttributionMethod):
    def __init__(self, hps, classes, resolution, device="cpu"):
        super().__init__(hps, classes, resolution, device)
        if resolution % hps.downscale:
            raise ValueError(f"knn: downscale {hps.downscale} must divide the resolution {resolution}")
        self.train_x: torch.Tensor | None = None  # (N, D) float32
        self.train_y: torch.Tensor | None = None  # (N,) int64
        self.knn: KNeighborsClassifier | None = None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().float().cpu()
        if self.hps.downscale > 1:
            x = F.avg_pool2d(x, self.hps.downscale)
        return x.flatten(1)

    def _build(self) -> None:
        k = min(self.hps.k, len(self.train_y))
        self.knn = KNeighborsClassifier(n_neighbors=k, algorithm="brute", metric="euclidean", weights="uniform")
        # classes index 0..K-1 even when a class has no training image: fit on the rows, map columns below
        self.knn.fit(self.train_x.numpy(), self.train_y.numpy())

    def fit(self, train, val, train_cfg, stats) -> dict:
        xs, ys = [], []
        for images, labels in train.loader(train_cfg.batch_size, False, train_cfg.seed):
            xs.append(self.features(from_uint8(images, "cpu")))
            ys.append(labels.to(torch.int64))
        self.train_x, self.train_y = torch.cat(xs), torch.cat(ys)
        self._build()
        stats.total = 1
        stats.add(1, train_vectors=len(self.train_y))
        return {"steps": 0, "train_vectors": len(self.train_y), "feature_dim": int(self.train_x.shape[1])}

    @torch.no_grad()
    def scores(self, x: torch.Tensor) -> torch.Tensor:
        if self.knn is None:
            raise RuntimeError("knn: fit or load_state first")
        proba = self.knn.predict_proba(self.features(x).numpy())
        out = np.zeros((len(proba), self.num_classes), dtype=np.float32)
        out[:, self.knn.classes_] = proba
        return torch.from_numpy(out).to(x.device)

    def state(self) -> dict:
        return {"train_x": self.train_x.clone(), "train_y": self.train_y.clone()}

    def load_state(self, state: dict) -> None:
        self.train_x, self.train_y = state["train_x"], state["train_y"]
        self._build()
