"""DNA-Det as an attribution method (Yang et al. AAAI 2022, PAPERS.md §4.1–4.3) on the method contract.

``fit``: (1) the backbone is pre-trained on image-transformation classification (:mod:`..dnadet_pretrain`),
either loaded from a ``dnadet_pretrained`` checkpoint named by :attr:`DNADetMethod.pretrained_path` or, when
that is unset and ``hps.pretrain`` is on, trained in place on a seeded random subset of the training images
(at most ``pretrain_max_images``; the transformation labels are self-made, the source labels are not used; the
paper pre-trains on real images, §4.2); (2) patchwise training: CE + SupCon on random patches, combined by
learned uncertainty weights, Adam with StepLR stepped per iteration (§4.3). ``scores``: softmax probabilities
from the whole image (``predict: whole``, the paper's test protocol) or from the mean patch logits.

Not replicated from the reference: its balanced sampler (one image per class per item); batches come from the
generic shuffled loader, and the SupCon loss ignores anchors without a positive (there are none when
``patches_per_image`` >= 2, since the patches of one image are positives of each other).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganprint.nets.dnadet import (
    DNADetNet,
    UncertaintyWeights,
    dnadet_step,
    grid_patches,
    load_backbone,
    predict_image,
)
from ganprint.train.common import check_finite

from ..dnadet_pretrain import load_pretrained, pretrain_dnadet, to_input
from .base import AttributionMethod, TrainData


class DNADetMethod(AttributionMethod):
    input = "pixel"
    log_every = 50
    pretrained_path: str | Path | None = None  # a dnadet_pretrained checkpoint; None = pre-train inside fit

    def __init__(self, hps, classes: list[str], resolution: int, device="cpu"):
        super().__init__(hps, classes, resolution, device)
        self.net = DNADetNet(len(self.classes), hps.width, hps.proj_dim, hps.dropout).to(self.device)
        self.weighting = UncertaintyWeights(2).to(self.device)
        self.pretrain_info: dict = {}

    # --- inputs ---------------------------------------------------------------------------------------
    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Float (N, 3, R, R) in [-1, 1] → the net's input (upsampled by ``hps.upsample`` with Pillow bicubic)."""
        if self.hps.upsample == 1:
            return x.to(self.device)
        u8 = ((x.detach().float().cpu() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
        return to_input(u8, self.hps.upsample, self.device)

    # --- training -------------------------------------------------------------------------------------
    def _pretrain(self, train: TrainData, seed: int) -> None:
        hps = self.hps
        if self.pretrained_path is not None:
            ck = load_pretrained(self.pretrained_path)
            load_backbone(self.net, ck["state_dict"])
            self.pretrain_info = {"source": str(self.pretrained_path), "classes": list(ck["classes"])}
            return
        if not hps.pretrain:
            return
        kept: list[np.ndarray] = []
        for images, _labels in train.loader(min(256, hps.pretrain_max_images), True, seed):
            kept.extend(images.permute(0, 2, 3, 1).numpy())
            if len(kept) >= hps.pretrain_max_images:
                break
        pre, info = pretrain_dnadet(np.stack(kept[: hps.pretrain_max_images]), hps, None, seed, self.device)
        load_backbone(self.net, pre.state_dict())
        self.pretrain_info = {"source": "fit", "images": min(len(kept), hps.pretrain_max_images), **info}

    def fit(self, train: TrainData, val: TrainData | None, train_cfg, stats) -> dict:
        hps, seed = self.hps, int(train_cfg.seed)
        self._pretrain(train, seed)
        torch.manual_seed(seed)  # dropout
        opt = torch.optim.Adam(
            [
                {"params": self.net.parameters(), "lr": hps.lr},
                {"params": self.weighting.parameters(), "lr": hps.lr_weights},
            ]
        )
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=hps.lr_step, gamma=hps.lr_gamma)
        gen = torch.Generator().manual_seed(seed)  # patch offsets
        drop_last = len(train) >= train_cfg.batch_size
        per_epoch = len(train) // train_cfg.batch_size if drop_last else 1
        total = train_cfg.epochs * per_epoch
        stats.total = total
        loader = train.loader(train_cfg.batch_size, True, seed, drop_last=drop_last)
        self.net.train()
        step, logs = 0, {}
        for _epoch in range(train_cfg.epochs):
            for images, labels in loader:
                x = to_input(images, hps.upsample, self.device)
                loss, logs = dnadet_step(
                    self.net,
                    x,
                    labels.to(self.device),
                    self.weighting,
                    patch_size=hps.patch_size,
                    patches_per_image=hps.patches_per_image,
                    generator=gen,
                    tau=hps.tau,
                    contrastive=hps.contrastive,
                )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                check_finite(loss, "train_classifier (dnadet)", step)
                if step % self.log_every == 0 or step == total:
                    stats.add(step, **logs)
        self.net.eval()
        return {
            "steps": step,
            "final_loss": logs.get("loss", math.nan),
            "final_train_accuracy": logs.get("patch_acc", math.nan),
            "pretrain": self.pretrain_info,
        }

    # --- inference ------------------------------------------------------------------------------------
    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities (N, K): one softmax, of the whole-image logits or of the mean patch logits (§4.1)."""
        return predict_image(self.net, self._prepare(x), self.hps.predict, self.hps.patch_size)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable logits (N, K) of the prediction ``scores`` takes the softmax of (Grad-CAM needs them)."""
        self.net.eval()
        inp = self._prepare(x)
        if self.hps.predict == "whole":
            return self.net(inp)
        p = grid_patches(inp, self.hps.patch_size)  # (N, P, C, s, s): the mean patch logits, as predict_image
        return self.net(p.flatten(0, 1)).reshape(p.shape[0], p.shape[1], -1).mean(1)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        self.net.eval()
        return self.net.features(self._prepare(x))

    def cam_layer(self) -> nn.Module | None:
        return self.net.cam_layer()

    def state(self) -> dict:
        return {
            "net": {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()},
            "weighting": self.weighting.log_vars.detach().cpu().clone(),
            "pretrain": {k: v for k, v in self.pretrain_info.items() if k != "classes"},
        }

    def load_state(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        with torch.no_grad():
            self.weighting.log_vars.copy_(state["weighting"])
        self.pretrain_info = dict(state.get("pretrain", {}))
        self.net.to(self.device).eval()
