"""Generator_Attribution transferable class-modelling: detector + one-vs-rest heads (PAPERS §3.2-3.3).

Fit, as the reference trains it:

1. the primary module learns real vs fake (any GAN) with binary cross-entropy (Adam lr 1e-3);
2. it is frozen (its BN layers then run in inference mode) and one secondary head per class learns
   "this class vs the rest" with binary cross-entropy on the frozen mid features (Adam lr 1e-4 in the paper).

Optional early stopping on the validation loss keeps each module's best weights (``EarlyStopping(patience,
restore_best_weights)`` + ``ModelCheckpoint`` of the reference). Scores are independent sigmoids (multi-label):
a GAN class's score is its head's P(this class); the real class (the one class whose sources are all
``real/<dataset>``) is scored by the detector, 1 − P(fake); the prediction is the argmax.

Decentralised by design: every module draws its initial weights and data order from its own seed, derived from
(train seed, module name), and only ever updates itself, so :meth:`ClassModelMethod.extend` adds a class by
training its head alone; the detector and the old heads are untouched and score byte-identically.
Adam uses the Keras defaults (β 0.9, 0.999, ε 1e-7).

Input (hparam ``input``, the reference trains both): ``pixel`` = RGB in [-1, 1] into the GAP head (the CAM
topology); ``dct`` = Frank et al.'s grey log-DCT standardised with the training set's per-coefficient statistics
(:mod:`ganprint.attribution.inputs`, computed once in :meth:`fit`) into the flatten head. :meth:`extend` keeps
the statistics of the first fit (they belong to the frozen detector), so old heads still score byte-identically.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganprint.attribution.inputs import InputTransform
from ganprint.attribution.methods.base import AttributionMethod
from ganprint.errors import StageError
from ganprint.nets.classmodel import ClassModelDetector, ClassModelHead, init_weights_
from ganprint.train.common import check_finite, from_uint8

log = logging.getLogger("ganprint")

REAL_PREFIX = "real/"  # a protocol source is real/<dataset> or gan/<gan name>
_KERAS_ADAM = {"betas": (0.9, 0.999), "eps": 1e-7}
_LOG_EVERY = 50


def derived_seed(seed: int, name: str) -> int:
    """A 63-bit seed that depends only on (seed, name): each module's own stream, whatever else is trained."""
    digest = hashlib.sha256(f"{int(seed)}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % 2**63


def row_labels(data, batch_size: int) -> np.ndarray:
    """Per-row labels of a TrainData: its ``labels`` if it has them, else one unshuffled pass of its loader."""
    labels = getattr(data, "labels", None)
    if labels is not None:
        return np.asarray(torch.as_tensor(labels), dtype=np.int64)
    return np.concatenate([y.numpy() for _, y in data.loader(batch_size, shuffle=False, seed=0)]).astype(np.int64)


def real_classes(data, classes: list[str], labels: np.ndarray) -> list[str]:
    """The classes all of whose rows come from ``real/`` sources (the detector's negatives)."""
    sources = np.asarray(data.sources, dtype=object)
    if len(sources) != len(labels):
        raise StageError(f"the training data has {len(labels)} labels but {len(sources)} sources")
    is_real = np.array([str(s).startswith(REAL_PREFIX) for s in sources], dtype=bool)
    return [c for i, c in enumerate(classes) if (labels == i).any() and is_real[labels == i].all()]


class ClassModelMethod(AttributionMethod):
    """Detector + one-vs-rest heads behind the attribution-method interface. ``hps``: :class:`ClassModelHps`."""

    input = "pixel"

    def __init__(self, hps, classes: list[str], resolution: int, device="cpu"):
        super().__init__(hps, classes, resolution, device)
        self.device = torch.device(device)
        self.input = hps.input
        self.transform = InputTransform(hps.input)  # dct: statistics from the training data (fit)
        self.head_kind = "gap" if hps.input == "pixel" else "flatten"  # the reference's choice per input
        self.in_channels = 3 if hps.input == "pixel" else 1
        self.detector = self._new_detector(0)
        self.heads: dict[str, ClassModelHead] = {}  # class name → head; built by fit / extend / load_state
        self.detector_class = ""  # the real class the detector scores ("" = every class has a head)
        self._step = 0

    # -- modules ----------------------------------------------------------------------------------------------
    def _new_detector(self, seed: int) -> ClassModelDetector:
        det = ClassModelDetector(self.resolution, self.in_channels, self.head_kind, self.hps.bn_momentum)
        init_weights_(det, self.hps.init_std, torch.Generator().manual_seed(seed))
        return det.to(self.device)

    def _new_head(self, seed: int) -> ClassModelHead:
        head = ClassModelHead(self.resolution, self.head_kind, bn_momentum=self.hps.bn_momentum)
        init_weights_(head, self.hps.init_std, torch.Generator().manual_seed(seed))
        return head.to(self.device)

    def _freeze(self, module: nn.Module) -> None:
        module.eval().requires_grad_(False)

    def _in(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, R, R) in [-1, 1] → the networks' input (the pixels, or the standardised log-DCT)."""
        return self.transform(x.to(self.device))

    def _mid(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.detector(self._in(x))[1]

    def _train(
        self,
        name: str,
        module: nn.Module,
        logit_fn: Callable[[torch.Tensor], torch.Tensor],
        target_of: torch.Tensor,
        data,
        val,
        train_cfg,
        seed: int,
        lr: float,
        stats,
    ) -> dict:
        """Train ``module`` alone: BCE(logit_fn(x), target_of[label]); early stopping on ``val`` if given."""
        module.train().requires_grad_(True)
        opt = torch.optim.Adam(module.parameters(), lr=lr, **_KERAS_ADAM)
        loader = data.loader(train_cfg.batch_size, shuffle=True, seed=seed)
        target_of = target_of.to(self.device)
        patience = self.hps.patience if val is not None and len(val) else 0
        best, best_state, wait, epochs_run = float("inf"), None, 0, 0
        steps = 0
        loss_sum, right, seen = 0.0, 0, 0
        for _epoch in range(train_cfg.epochs):
            module.train()
            for images, labels in loader:
                x = from_uint8(images, self.device)
                t = target_of[labels.to(self.device)]
                logit = logit_fn(x)
                loss = F.binary_cross_entropy_with_logits(logit, t)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                steps += 1
                self._step += 1
                check_finite(loss.detach(), f"classmodel {name}", self._step)
                loss_sum += float(loss.detach()) * len(t)
                right += ((logit.detach() > 0) == (t > 0.5)).sum().item()
                seen += len(t)
                if steps % _LOG_EVERY == 0:
                    stats.add(self._step, **{f"loss_{name}": loss_sum / seen, f"acc_{name}": right / seen})
                    loss_sum, right, seen = 0.0, 0, 0
            epochs_run += 1
            if patience:
                module.eval()
                vloss = self._val_loss(logit_fn, target_of, val, train_cfg.batch_size)
                if vloss < best:
                    best, wait = vloss, 0
                    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                else:
                    wait += 1
                    if wait >= patience:
                        break
        if steps == 0:
            raise StageError(f"classmodel {name}: no training step ran; raise train_classifier.epochs above 0")
        if seen:
            stats.add(self._step, **{f"loss_{name}": loss_sum / seen, f"acc_{name}": right / seen})
        if best_state is not None:
            module.load_state_dict(best_state)
        opt.zero_grad(set_to_none=True)  # a frozen module keeps no stale gradients
        self._freeze(module)
        out = {"steps": steps, "epochs": epochs_run, "final_loss": stats.rows[-1][f"loss_{name}"]}
        if best_state is not None:
            out["best_val_loss"] = best
        return out

    @torch.no_grad()
    def _val_loss(self, logit_fn, target_of: torch.Tensor, val, batch_size: int) -> float:
        total, n = 0.0, 0
        for images, labels in val.loader(batch_size, shuffle=False, seed=0):
            logit = logit_fn(from_uint8(images, self.device))
            t = target_of[labels.to(self.device)]
            total += float(F.binary_cross_entropy_with_logits(logit, t, reduction="sum"))
            n += len(t)
        return total / max(n, 1)

    def _train_head(self, cls: str, classes: list[str], data, val, train_cfg, stats) -> dict:
        seed = derived_seed(train_cfg.seed, f"head:{cls}")
        head = self._new_head(seed)
        target_of = torch.tensor([1.0 if c == cls else 0.0 for c in classes])  # one vs rest; real images are 0

        def logit_fn(x: torch.Tensor) -> torch.Tensor:
            return head(self._mid(x))[0]

        out = self._train(cls, head, logit_fn, target_of, data, val, train_cfg, seed, self.hps.lr_att, stats)
        self.heads[cls] = head
        return out

    # -- the interface ----------------------------------------------------------------------------------------
    def fit(self, train, val, train_cfg, stats) -> dict:
        if len(train) == 0:
            raise StageError("classmodel: no training images; raise the protocol's images.train")
        labels = row_labels(train, train_cfg.batch_size)
        reals = real_classes(train, self.classes, labels)
        if not reals:
            raise StageError(
                "classmodel: its detector learns real vs fake, but no class of this protocol has only real/<dataset> "
                "sources; add a real class to the protocol or use another method"
            )
        self._step = 0
        self.transform.fit(train, batch_size=train_cfg.batch_size, device=self.device)
        self.detector_class = reals[0] if len(reals) == 1 else ""
        seed = derived_seed(train_cfg.seed, "detector")
        self.detector = self._new_detector(seed)
        is_fake = torch.tensor([0.0 if c in reals else 1.0 for c in self.classes])

        def det_logit(x: torch.Tensor) -> torch.Tensor:
            return self.detector(self._in(x))[0]

        out = {"detector": self._train("det", self.detector, det_logit, is_fake, train, val, train_cfg, seed,
                                       self.hps.lr_det, stats)}  # fmt: skip
        self.heads = {}
        for cls in self.classes:
            if cls != self.detector_class:
                out[f"head_{cls}"] = self._train_head(cls, self.classes, train, val, train_cfg, stats)
        acc = self.accuracy(train, train_cfg.batch_size)
        stats.add(self._step, train_acc=acc)
        result = {"steps": self._step, "final_loss": out["detector"]["final_loss"], "final_train_accuracy": acc}
        result["modules"] = out
        result["detector_class"] = self.detector_class
        if val is not None and len(val):
            result["val_accuracy"] = self.accuracy(val, train_cfg.batch_size)
        return result

    def extend(self, new_data, new_classes: list[str], train_cfg, stats, val=None) -> dict:
        """Add ``new_classes``: train one head each on ``new_data``; the detector and the old heads stay as they are.

        ``new_data`` labels index the extended class list ``sorted(self.classes + new_classes)``; each new head
        learns its class against every other row of ``new_data`` (real images and/or samples of other sources),
        so ``new_data`` must hold both. Afterwards ``self.classes`` is the extended list.
        """
        new_classes = list(new_classes)
        if not new_classes:
            raise StageError("classmodel extend: no new classes given")
        clash = sorted(set(new_classes) & set(self.classes))
        if clash or len(set(new_classes)) != len(new_classes):
            raise StageError(f"classmodel extend: classes {clash or new_classes} are already known or repeated")
        if not self.heads and not self.detector_class:
            raise StageError("classmodel extend: the model is not trained; fit it (or load a checkpoint) first")
        classes = sorted(self.classes + new_classes)
        labels = row_labels(new_data, train_cfg.batch_size)
        if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
            raise StageError(f"classmodel extend: labels must index the extended classes {classes}")
        for cls in new_classes:
            pos = int((labels == classes.index(cls)).sum())
            if pos == 0 or pos == len(labels):
                raise StageError(
                    f"classmodel extend: class {cls!r} has {pos} of the {len(labels)} new images; its head needs "
                    "images of it and of other sources (real images at least)"
                )
        out = {}
        for cls in sorted(new_classes):
            out[f"head_{cls}"] = self._train_head(cls, classes, new_data, val, train_cfg, stats)
        self.classes = classes
        return {"steps": sum(v["steps"] for v in out.values()), "classes": classes, "modules": out}

    def _eval(self) -> None:
        self.detector.eval()
        for head in self.heads.values():
            head.eval()

    def _columns(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Per class, in class order: (N,) logit: −detector logit for the detector's real class, else its head's."""
        self._eval()
        det, mid, _ = self.detector(self._in(x))
        return [-det if c == self.detector_class else self.heads[c](mid)[0] for c in self.classes]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, K) per-class logits."""
        return torch.stack(self._columns(x), 1)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """(N, K) independent one-vs-rest probabilities. The sigmoid runs per column: on the stacked (N, K) tensor
        its vectorised and scalar-tail paths would round an element differently depending on K, and adding a
        class would change old columns in the last bit."""
        return torch.stack([torch.sigmoid(c) for c in self._columns(x)], 1)

    def detect(self, x: torch.Tensor) -> torch.Tensor:
        """(N,) P(fake) of the primary module."""
        self._eval()
        return torch.sigmoid(self.detector(self._in(x))[0])

    @torch.no_grad()
    def extra_metrics(self, data, batch_size: int) -> dict:
        """``class_modelling``: the paper's two tasks on ``data`` (test images of known classes).

        ``detection``: the primary module, real (``real_class``: the detector's real class, or the classes whose
        sources are all ``real/`` when several are) vs fake; ``accuracy`` at P(fake) > 0.5, ``ap`` and ``auroc``
        of P(fake) with fake as the positive class. ``one_vs_rest``: per class with a head, its sigmoid against
        "this class vs the rest" (every other image, real ones included): ``accuracy`` at 0.5 and ``ap``. AP and
        AUROC are null when the images hold only one of the two outcomes.
        """
        from sklearn.metrics import average_precision_score, roc_auc_score

        self._eval()
        ys, p_fake = [], []
        p_head: dict[str, list[torch.Tensor]] = {c: [] for c in self.heads}
        for images, labels in data.loader(batch_size, shuffle=False, seed=0):
            det, mid, _ = self.detector(self._in(from_uint8(images, self.device)))
            p_fake.append(torch.sigmoid(det).float().cpu())
            for c, head in self.heads.items():
                p_head[c].append(torch.sigmoid(head(mid)[0]).float().cpu())
            ys.append(labels.cpu())
        y = torch.cat(ys).numpy().astype(np.int64)
        reals = [self.detector_class] if self.detector_class else real_classes(data, self.classes, y)

        def binary(target: np.ndarray, score: np.ndarray, auroc: bool) -> dict:
            both = bool(target.any() and not target.all())
            out = {"accuracy": float(((score > 0.5) == target).mean()) if len(target) else float("nan"),
                   "ap": float(average_precision_score(target, score)) if both else None}  # fmt: skip
            if auroc:
                out["auroc"] = float(roc_auc_score(target, score)) if both else None
            return out

        is_fake = ~np.isin(y, [self.classes.index(c) for c in reals])
        detection = {"real_class": ", ".join(reals), **binary(is_fake, torch.cat(p_fake).numpy(), True)}
        one_vs_rest = {
            c: binary(y == self.classes.index(c), torch.cat(p_head[c]).numpy(), False) for c in sorted(self.heads)
        }
        return {"class_modelling": {"detection": detection, "one_vs_rest": one_vs_rest}}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 32·(1 + heads)): the pooled detection features, then each head's, in class order."""
        self._eval()
        _, mid, feats = self.detector(self._in(x))
        parts = [self.detector.decision.pool(feats)]
        parts += [h.decision.pool(h(mid)[1]) for c, h in sorted(self.heads.items())]
        return torch.cat(parts, 1)

    def cam_layer(self) -> nn.Module:
        """The mid features (¼ resolution): the one layer both the detector and every head read."""
        return self.detector.mid_layer

    def cam_linear(self, k: int) -> tuple[nn.Module, torch.Tensor] | None:
        """Class ``k``'s CAM pair (Zhou et al. 2016): the layer that is globally pooled into its Dense(1), and that
        Dense's weights (C,), negated for the detector-scored real class; None with the flatten (DCT) head."""
        if self.head_kind != "gap":
            return None
        cls = self.classes[k]
        if cls == self.detector_class:
            return self.detector.feature_layer, -self.detector.decision.fc.weight[0].detach()
        head = self.heads[cls]
        return head.feature_layer, head.decision.fc.weight[0].detach()

    def state(self) -> dict:
        def sd(m: nn.Module) -> dict:
            return {k: v.detach().cpu().contiguous() for k, v in m.state_dict().items()}

        return {
            "classes": list(self.classes),
            "detector_class": self.detector_class,
            "detector": sd(self.detector),
            "heads": {c: sd(h) for c, h in sorted(self.heads.items())},
            "model_args": self.detector.model_args(),
            "input": self.transform.state(),
        }

    def load_state(self, state: dict) -> None:
        if state["model_args"] != self.detector.model_args():
            raise StageError(
                f"classmodel: the checkpoint's detector {state['model_args']} differs from the one these "
                f"hyperparameters build {self.detector.model_args()}; evaluate with the ones it was trained with"
            )
        self.classes = list(state["classes"])
        self.transform.load_state(state.get("input", {"kind": "pixel"}))
        self.detector_class = state["detector_class"]
        self.detector.load_state_dict(state["detector"])
        self._freeze(self.detector)
        self.heads = {}
        for cls, sd in state["heads"].items():
            head = self._new_head(0)
            head.load_state_dict(sd)
            self._freeze(head)
            self.heads[cls] = head
