"""Load the authors' released StegaStamp weights (ArtificialGANFingerprints ``models.py``, PAPERS.md §2.1, §2.3).

The reference saves bare ``state_dict``s (``torch.save(net.state_dict())``). Its decoder's parameter names are ours
(``decoder.{0,2,...,12}``, ``dense.{0,2}``); its encoder names the 2×2 up-convolutions ``up6`` … ``up9`` where ours
nest them as ``up6.conv`` … (the nearest ×2 and the zero pad have no parameters). The fingerprint length is read
as the reference does: ``secret_dense.weight.shape[-1]`` (encoder), ``dense.2.weight.shape[0]`` (decoder); the
decoder's resolution follows from ``dense.0`` (R²·128/1024 inputs); the encoder's must be given (the reference's
``--image_resolution``).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ganprint.checkpoint import build_from_checkpoint, load_checkpoint
from ganprint.errors import StageError
from ganprint.nets.stegastamp import StegaStampDecoder, StegaStampEncoder

_UP = ("up6", "up7", "up8", "up9")


def reference_to_ours(state_dict: dict, kind: str) -> dict:
    """Rename a reference state_dict's keys to ours (``kind``: ``encoder`` or ``decoder``)."""
    if kind == "decoder":
        return dict(state_dict)
    out = {}
    for k, v in state_dict.items():
        head, _, tail = k.partition(".")
        out[f"{head}.conv.{tail}" if head in _UP and tail in ("weight", "bias") else k] = v
    return out


def ours_to_reference(state_dict: dict, kind: str) -> dict:
    """The inverse of :func:`reference_to_ours` (tests build a reference-named state_dict from our own net)."""
    if kind == "decoder":
        return dict(state_dict)
    return {k.replace(".conv.", ".", 1) if k.split(".")[0] in _UP else k: v for k, v in state_dict.items()}


def _decoder_resolution(flat: int) -> int:
    """R from the decoder's dense input R²·128/1024 (the reference's R >= 32; ours at 16 px also has 128 inputs,
    so a 16 px decoder needs its resolution given)."""
    return int(round(math.sqrt(flat * 8)))


def net_from_reference(state_dict: dict, kind: str, resolution: int | None = None, source: str = "") -> torch.nn.Module:
    """Our encoder/decoder holding a reference state_dict; refuses one whose names or shapes do not fit."""
    try:
        if kind == "encoder":
            bits = state_dict["secret_dense.weight"].shape[-1]
            if resolution is None:
                raise StageError(f"{source}: a reference encoder does not record its resolution; pass it")
            net = StegaStampEncoder(resolution=resolution, bits=bits)
        else:
            bits = state_dict["dense.2.weight"].shape[0]
            res = resolution or _decoder_resolution(state_dict["dense.0.weight"].shape[1])
            net = StegaStampDecoder(resolution=res, bits=bits)  # a wrong resolution fails the shape check
    except (KeyError, AttributeError, IndexError) as e:
        raise StageError(
            f"{source}: not a StegaStamp {kind} state_dict of ArtificialGANFingerprints (no {e}); expected the "
            "names of its models.py (PAPERS.md §2.1)"
        ) from None
    ours = reference_to_ours(state_dict, kind)
    want = net.state_dict()
    missing, unexpected = sorted(set(want) - set(ours)), sorted(set(ours) - set(want))
    shapes = [k for k in set(want) & set(ours) if tuple(want[k].shape) != tuple(ours[k].shape)]
    if missing or unexpected or shapes:
        raise StageError(
            f"{source}: this {kind} state_dict does not match a StegaStamp {kind} (ArtificialGANFingerprints "
            f"models.py): missing {missing[:6]}, unexpected {unexpected[:6]}, wrong shapes {sorted(shapes)[:6]}; "
            "pass the authors' encoder/decoder .pth or a ganprint checkpoint"
        )
    net.load_state_dict(ours)
    return net.eval()


def load_net(path: str | Path, kind: str, device="cpu", resolution: int | None = None) -> torch.nn.Module:
    """A ganprint ``fingerprint_<kind>`` checkpoint, or a bare state_dict saved by the reference code."""
    path = Path(path)
    if not path.is_file():
        raise StageError(f"{path}: checkpoint not found; run train_fingerprint_autoencoder first")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - never unpickle arbitrary objects
        raise StageError(f"{path}: not a checkpoint that loads safely ({type(e).__name__}: {e})") from None
    if isinstance(obj, dict) and "kind" in obj:
        ck = load_checkpoint(path, f"fingerprint_{kind}")
        cls = StegaStampEncoder if kind == "encoder" else StegaStampDecoder
        return build_from_checkpoint(ck, {"stegastamp": cls}, device)
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise StageError(f"{path}: neither a ganprint checkpoint nor a state_dict of tensors")
    return net_from_reference(obj, kind, resolution, str(path)).to(device)
