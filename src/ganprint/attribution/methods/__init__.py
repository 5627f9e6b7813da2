"""Attribution methods (PAPERS §1.4–1.5, §1.7, §3.2, §4): one :class:`AttributionMethod` per registered name.

``build_method`` instantiates a method from :data:`ganprint.registry.METHODS`; ``method_from_checkpoint``
rebuilds a trained one from an ``attribution_classifier`` checkpoint (``model_name``, ``classes``,
``resolution``, ``hparams``, ``state``).
"""

from __future__ import annotations

from ganprint.registry import METHODS, load

from .base import AttributionMethod, NeuralMethod, StoreTrainData, TensorTrainData, TrainData


def build_method(name: str, hps, classes: list[str], resolution: int, device="cpu") -> AttributionMethod:
    """``METHODS[name]``'s class with ``hps`` (its hyperparameter section; None = the defaults)."""
    if name not in METHODS:
        raise ValueError(f"unknown attribution method {name!r}; registered: {', '.join(METHODS)}")
    entry = METHODS[name]
    if hps is None:
        hps = entry.hparams()
    return load(entry.impl)(hps, list(classes), resolution, device)


def method_from_checkpoint(ckpt: dict, device="cpu") -> AttributionMethod:
    """The trained method a loaded ``attribution_classifier`` checkpoint describes, ready to score."""
    name = ckpt["model_name"]
    hps = METHODS[name].hparams(**ckpt["hparams"]) if name in METHODS else None
    method = build_method(name, hps, ckpt["classes"], ckpt["resolution"], device)
    method.load_state(ckpt["state"])
    return method


__all__ = [
    "AttributionMethod",
    "NeuralMethod",
    "StoreTrainData",
    "TensorTrainData",
    "TrainData",
    "build_method",
    "method_from_checkpoint",
]
