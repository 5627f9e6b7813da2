"""visNet (Yu et al. 2019, ``classifier_visNet``): attribution by learned model fingerprints (PAPERS §1.5).

Training, per step (the reference's order): one D_rec update (WGAN-GP: ``D(rec) − D(x)`` + 10·(‖∇D(mix)‖ − 1)²
+ 0.001·D(x)², real = x, fake = rec), then one EG update on softmax CE(logits) + 20·mean|rec − x| + 0.1·mean(−D(rec)).
Both optimisers are Adam β = (0, 0.99), lr 1e-3, ε 1e-8; images are flipped left-right with p = 0.5
(``lr_mirror_augment``). An EMA copy of EG (β 0.999) is what :meth:`scores` evaluates. ``adv_weight: 0`` drops
D_rec (the PAPERS §7.1 ablation).
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganprint.attribution.methods.base import AttributionMethod
from ganprint.errors import StageError
from ganprint.nets.visnet import VisNet, VisNetPatchDiscriminator
from ganprint.train.common import check_finite, from_uint8

log = logging.getLogger("ganprint")

_INIT_SEED = 0  # weights before fit (fit re-draws them from the training seed)


class VisNetMethod(AttributionMethod):
    """visNet behind the attribution-method interface. ``hps`` is a :class:`ganprint.hparams.VisNetHps`."""

    input = "pixel"

    def __init__(self, hps, classes: list[str], resolution: int, device="cpu"):
        super().__init__(hps, classes, resolution, device)
        self.device = torch.device(device)
        self._build(_INIT_SEED)

    # -- networks ---------------------------------------------------------------------------------------------
    def _build(self, seed: int) -> None:
        """Draw fresh weights from ``seed`` without touching the global RNG."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = VisNet(self.resolution, len(self.classes), self.hps.fmap_base, self.hps.fmap_max)
            self.d_rec = None
            if self.hps.adv_weight > 0:
                self.d_rec = VisNetPatchDiscriminator(
                    self.resolution, self.hps.d_fmap_base, self.hps.d_fmap_max, self.hps.mbstd_group
                )
        self.net.to(self.device)
        if self.d_rec is not None:
            self.d_rec.to(self.device)
        self.ema = copy.deepcopy(self.net).eval().requires_grad_(False)

    @torch.no_grad()
    def _update_ema(self, step: int) -> None:
        beta = self.hps.ema_beta
        if self.hps.ema_rampup:  # tf.train.ExponentialMovingAverage(num_updates=step)
            beta = min(beta, (1.0 + step) / (10.0 + step))
        for pe, p in zip(self.ema.parameters(), self.net.parameters(), strict=True):
            pe.lerp_(p, 1.0 - beta)  # ema = beta * ema + (1 - beta) * p

    def _d_step(self, x: torch.Tensor, opt_d: torch.optim.Optimizer, gen: torch.Generator) -> torch.Tensor:
        """One WGAN-GP update of D_rec (``D_rec_wgangp`` of the reference); returns its loss."""
        hps, d = self.hps, self.d_rec
        with torch.no_grad():
            rec = self.net.decoder(self.net.encoder(x))
        real_scores, rec_scores = d(x), d(rec)
        loss = (rec_scores - real_scores).mean()
        if hps.gp_weight > 0:
            t = torch.rand(len(x), 1, 1, 1, generator=gen).to(x.device)
            mixed = torch.lerp(x, rec, t).requires_grad_(True)
            (grad,) = torch.autograd.grad(d(mixed).sum(), mixed, create_graph=True)
            loss = loss + hps.gp_weight * (grad.flatten(1).norm(dim=1) - 1.0).square().mean()
        loss = loss + hps.drift * real_scores.square().mean()
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        return loss.detach()

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The EG loss terms on a batch (``EG_classification``): ``ce``, ``rec`` (weighted L1), ``adv``, ``loss``."""
        rec, _, logits = self.net(x)
        ce = F.cross_entropy(logits, y)
        rec_l1 = self.hps.rec_weight * (rec - x).abs().mean()
        adv = torch.zeros((), device=x.device)
        if self.d_rec is not None:
            self.d_rec.requires_grad_(False)  # the EG step moves EG only: no gradients into D_rec
            adv = self.hps.adv_weight * (-self.d_rec(rec)).mean()
            self.d_rec.requires_grad_(True)
        return {"loss": ce + rec_l1 + adv, "ce": ce, "rec": rec_l1, "adv": adv, "logits": logits}

    # -- the interface ----------------------------------------------------------------------------------------
    def fit(self, train, val, train_cfg, stats) -> dict:
        hps, seed = self.hps, int(train_cfg.seed)
        if len(train) == 0:
            raise StageError("visnet: no training images; raise the protocol's images.train")
        self._build(seed)
        betas = (hps.beta1, hps.beta2)
        opt = torch.optim.Adam(self.net.parameters(), lr=hps.lr, betas=betas, eps=1e-8)
        opt_d = None
        if self.d_rec is not None:
            opt_d = torch.optim.Adam(self.d_rec.parameters(), lr=hps.lr, betas=betas, eps=1e-8)
        rng = np.random.default_rng(seed)  # the flips; the data order is the loader's
        gen = torch.Generator().manual_seed(seed)  # the gradient-penalty mixing factors
        loader = train.loader(train_cfg.batch_size, shuffle=True, seed=seed)
        self.net.train()
        step, correct, seen = 0, 0, 0
        last: dict[str, float] = {}
        for _epoch in range(train_cfg.epochs):
            for images, labels in loader:
                x = from_uint8(images, self.device)
                if hps.hflip:  # p = 0.5 per image
                    flip = torch.from_numpy(rng.random(len(labels)) < 0.5).to(self.device)
                    x = torch.where(flip[:, None, None, None], x.flip(3), x)
                y = labels.to(self.device)
                d_loss = self._d_step(x, opt_d, gen) if self.d_rec is not None else torch.zeros(())
                terms = self.losses(x, y)
                opt.zero_grad(set_to_none=True)
                terms["loss"].backward()
                opt.step()
                step += 1
                self._update_ema(step)
                check_finite(terms["loss"].detach(), "visnet", step)
                correct += (terms["logits"].argmax(1) == y).sum().item()
                seen += len(y)
                last = {k: float(terms[k].detach()) for k in ("loss", "ce", "rec", "adv")} | {"d_loss": float(d_loss)}
                if step % 50 == 0:
                    stats.add(step, **last, train_acc=correct / seen)
                    correct, seen = 0, 0
        if step == 0:
            raise StageError("visnet: no training step ran; raise train_classifier.epochs above 0")
        if step % 50:
            stats.add(step, **last, train_acc=correct / seen)
        opt.zero_grad(set_to_none=True)
        if opt_d is not None:
            opt_d.zero_grad(set_to_none=True)
        self.net.eval()
        out = {"steps": step, "final_loss": last["loss"], "final_train_accuracy": stats.rows[-1]["train_acc"]}
        if val is not None and len(val):
            out["val_accuracy"] = self.accuracy(val, train_cfg.batch_size)
        return out

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, K) logits of the EMA network (Grad-CAM reads these rather than the saturating softmax)."""
        return self.ema(x.to(self.device))[2]

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), 1)  # (N, K), rows sum to 1

    def fingerprint(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, R, R): the image fingerprint x − rec of the EMA network."""
        return self.ema(x.to(self.device))[1]

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, R, R) in (-1, 1): the EMA network's reconstruction."""
        return self.ema(x.to(self.device))[0]

    def model_fingerprints(self) -> torch.Tensor:
        """(K, 3, R, R): the EMA network's fingerprint kernel (the stored, unscaled weights)."""
        return self.ema.fingerprints.model_fingerprints().detach()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3·R·R): the flattened image fingerprint, the input of the (linear) fingerprint layer."""
        return self.fingerprint(x).flatten(1)

    def cam_layer(self) -> nn.Module:
        """The EMA encoder's last 4×4 convolution (the spatial latent)."""
        return self.ema.encoder.latent_conv

    def state(self) -> dict:
        def sd(m: nn.Module) -> dict:
            return {k: v.detach().cpu().contiguous() for k, v in m.state_dict().items()}

        out = {"net": sd(self.net), "ema": sd(self.ema), "model_args": self.net.model_args()}
        if self.d_rec is not None:
            out["d_rec"] = sd(self.d_rec)
        return out

    def load_state(self, state: dict) -> None:
        if state["model_args"] != self.net.model_args():
            raise StageError(
                f"visnet: the checkpoint's network {state['model_args']} differs from the one these hyperparameters "
                f"build {self.net.model_args()}; retrain, or evaluate with the hyperparameters it was trained with"
            )
        self.net.load_state_dict(state["net"])
        self.ema.load_state_dict(state["ema"])
        if self.d_rec is not None and "d_rec" in state:
            self.d_rec.load_state_dict(state["d_rec"])
        self.net.eval()
