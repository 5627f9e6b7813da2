"""Checkpoints that carry their model args, params section and versions; loaded with ``weights_only=True``."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import torch

from ganprint.errors import StageError
from ganprint.io import atomic_path


class CheckpointError(StageError):
    """A checkpoint is missing, not ours, or of the wrong kind."""


def versions() -> dict:
    import numpy

    from ganprint import __version__

    return {
        "ganprint": __version__,
        "torch": str(torch.__version__),
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


def save_checkpoint(path: str | Path, *, kind: str, model: torch.nn.Module, model_name: str, **extra: Any) -> None:
    """Write ``{kind, model_name, model_args, state_dict, versions, **extra}`` atomically."""
    payload = {
        "kind": kind,
        "model_name": model_name,
        "model_args": model.model_args(),
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "versions": versions(),
        **extra,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | Path, kind: str) -> dict:
    """Load a checkpoint of ``kind`` (``gan_generator``, ``fingerprint_encoder``, ...) safely."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; run the stage that trains it first")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a checkpoint we can trust"
        raise CheckpointError(
            f"{path}: not a ganprint checkpoint that loads safely ({type(e).__name__}: {e})"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("kind") != kind:
        got = ckpt.get("kind") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{path}: expected a {kind} checkpoint, got {got!r}")
    return ckpt


def build_from_checkpoint(ckpt: dict, registry: dict, device: torch.device | str = "cpu") -> torch.nn.Module:
    cls = registry[ckpt["model_name"]]
    model = cls(**ckpt["model_args"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()
