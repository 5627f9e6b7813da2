"""Test-time augmentation by voting over the dihedral transforms of the image (any attribution method).

``flips``: identity, horizontal flip, vertical flip, both (= rotation by 180°), the 4 flips; ``rot_flips``: the
8 elements of the dihedral group D4 (rotations by 0/90/180/270° with and without a horizontal flip).
Combination: ``mean`` = the mean score over the transforms, prediction its argmax; ``majority`` = the class
most transforms predict (argmax of each), ties broken by the highest mean score among the tied classes; the
reported scores are the mean scores in both cases. ``none`` is the identity alone, i.e. no TTA.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

TTA_MODES = ("none", "flips", "rot_flips")
TTA_VOTES = ("majority", "mean")


def _rot(k: int, flip: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    def f(x: torch.Tensor) -> torch.Tensor:
        y = x.flip(3) if flip else x
        return torch.rot90(y, k, dims=(2, 3)) if k else y

    return f


def transforms(mode: str) -> list[Callable[[torch.Tensor], torch.Tensor]]:
    """The image transforms of ``mode`` on (N, C, H, W) tensors, identity first."""
    if mode == "none":
        return [_rot(0, False)]
    if mode == "flips":
        return [_rot(0, False), _rot(0, True), lambda x: x.flip(2), lambda x: x.flip(2).flip(3)]
    if mode == "rot_flips":
        return [_rot(k, flip) for flip in (False, True) for k in range(4)]
    raise ValueError(f"tta must be one of {TTA_MODES}, got {mode!r}")


def combine(stack: torch.Tensor, vote: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(T, N, K) scores of T transforms → (predicted (N,) int64, scores (N, K) = mean over T)."""
    mean = stack.mean(0)
    if vote == "mean":
        return mean.argmax(1), mean
    if vote != "majority":
        raise ValueError(f"tta_vote must be one of {TTA_VOTES}, got {vote!r}")
    k = stack.shape[2]
    votes = torch.nn.functional.one_hot(stack.argmax(2), k).sum(0)  # (N, K) how many transforms chose each class
    tied = votes == votes.max(1, keepdim=True).values
    # among the classes with the most votes, the highest mean score (mean scores lie in a bounded range)
    return torch.where(tied, mean, torch.full_like(mean, -torch.inf)).argmax(1), mean


@torch.no_grad()
def tta_scores(score_fn, x: torch.Tensor, mode: str = "none", vote: str = "majority"):
    """``score_fn`` ((N, 3, H, W) in [-1, 1] → (N, K)) under TTA: (predicted (N,), scores (N, K))."""
    stack = torch.stack([score_fn(t(x)) for t in transforms(mode)])
    return combine(stack, vote)
