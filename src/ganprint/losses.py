"""GAN losses in a registry keyed by the ``loss`` selector (STYLE.md: ``<loss>_loss_gen/_dis``).

Only the non-saturating loss of Goodfellow et al. 2014 exists in the walking skeleton; the GAN-zoo issue adds
hinge, WGAN-GP, Cramér, MMD, InfoMax-GAN and SSGAN under the same two-function contract.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nonsat_loss_dis(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), with logits (N,)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def nonsat_loss_gen(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)) (the non-saturating generator loss), with logits (N,)."""
    return F.softplus(-fake_logits).mean()


NONSAT = (nonsat_loss_dis, nonsat_loss_gen)


def _losses() -> dict:
    from ganprint.registry import LOSSES as ENTRIES
    from ganprint.registry import load

    return {name: load(e.functions) for name, e in ENTRIES.items()}


LOSSES = _losses()  # name → (loss_dis, loss_gen), from ganprint.registry
