"""DNA-Det (Yang et al., AAAI 2022): backbone, heads, patchwise CE + SupCon loss, image prediction (PAPERS §4.1, §4.3).

The backbone is the reference's ``Simple_CNN`` with its width made a hyperparameter (nf = 64 in the paper; 16–32
for the CPU miniature of PAPERS §7.1 item 7): four stages ``w, 2w, 4w, 8w``, each a 4×4 stride-2 conv and a 3×3
conv, each conv followed by BatchNorm and LReLU(0.2); then global average pooling. On the pooled ``8w`` feature
sit a classification head (Dropout(0.2) → Linear) and a projection head (Linear → ReLU → Linear(128), then L2
normalisation) for the supervised contrastive loss.

Two deliberate departures from the reference, both PAPERS §4.1/§4.3:

* The network returns raw logits. The reference returns ``softmax(logits)`` in fine-tuning mode and then feeds it
  to ``nn.CrossEntropyLoss`` (a double softmax). Here the softmax is applied exactly once: inside the
  cross-entropy while training, and once at prediction time.
* The loss weighting is Kendall et al. 2018's ``L = sum_i exp(-s_i) L_i + s_i`` with learned log-variances
  ``s_i`` (init 0). The reference's ``AutomaticWeightedLoss`` uses the variant ``0.5 / p_i^2 L_i + log(1 + p_i^2)``
  (p_i init 1); both learn one weight per loss on their own Adam group (lr 0.01 in the reference).

Image-level prediction (:func:`predict_image`): ``whole`` (the paper's test protocol: the whole image through the
fully convolutional net + GAP) or ``patches`` (a fixed grid of patches, then the softmax of the MEAN PATCH
LOGITS; the softmax is applied once, after averaging).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_SLOPE = 0.2


def _conv_bn(cin: int, cout: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(_SLOPE))


class DNADetNet(nn.Module):
    """Simple_CNN backbone + classification head + projection head.

    Input ``(N, 3, H, W)`` in [-1, 1] with H, W multiples of 16 (any size: the net is fully convolutional up
    to the GAP); ``forward`` returns ``(N, num_classes)`` raw logits.

    Args:
        num_classes: K (sources when attributing, transformation classes when pre-training).
        width: channels of the first stage (paper nf = 64: 5.90 M backbone parameters).
        proj_dim: projection-head output size (paper 128).
        dropout: dropout before the classifier (paper 0.2).
    """

    def __init__(self, num_classes: int, width: int = 64, proj_dim: int = 128, dropout: float = 0.2):
        super().__init__()
        if num_classes < 1 or width < 1 or proj_dim < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"need num_classes >= 1, width >= 1, proj_dim >= 1, 0 <= dropout < 1; "
                f"got {num_classes}, {width}, {proj_dim}, {dropout}"
            )
        self.num_classes, self.width, self.proj_dim, self.dropout = num_classes, width, proj_dim, dropout
        layers: list[nn.Module] = []
        cin = 3
        for cout in (width, 2 * width, 4 * width, 8 * width):
            layers += [_conv_bn(cin, cout, 4, 2), _conv_bn(cout, cout, 3, 1)]  # dcgan_conv, vgg_layer
            cin = cout
        self.backbone = nn.Sequential(*layers)  # (N, 3, H, W) → (N, 8w, H/16, W/16)
        self.feature_dim = 8 * width
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.feature_dim, num_classes))
        self.projection = nn.Sequential(
            nn.Linear(self.feature_dim, self.feature_dim), nn.ReLU(), nn.Linear(self.feature_dim, proj_dim)
        )

    def model_args(self) -> dict:
        return {
            "num_classes": self.num_classes,
            "width": self.width,
            "proj_dim": self.proj_dim,
            "dropout": self.dropout,
        }

    def cam_layer(self) -> nn.Module:
        """The last 3×3 conv (Grad-CAM hooks here)."""
        return self.backbone[-1][0]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled backbone features ``(N, 8w)`` of ``x`` ``(N, 3, H, W)`` in [-1, 1]."""
        return self.backbone(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (N, K) raw logits: no softmax here (PAPERS §4.1)

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits (N, K), z (N, proj_dim))``, z L2-normalised projection of the pooled features."""
        f = self.features(x)
        return self.classifier(f), F.normalize(self.projection(f), dim=1)


def load_backbone(model: DNADetNet, state_dict: dict[str, torch.Tensor]) -> list[str]:
    """Copy the pre-trained backbone and projection head into ``model`` (the classifier head stays fresh).

    The reference loads every key whose shape matches, which drops the 170-way transformation head (§4.3).
    Here the ``classifier.*`` keys are skipped by name; any other missing or mis-shaped key is an error
    (a width mismatch between pre-training and training). Returns the loaded key names.
    """
    own = model.state_dict()
    wanted = [k for k in own if not k.startswith("classifier.")]
    bad = [k for k in wanted if k not in state_dict or state_dict[k].shape != own[k].shape]
    if bad:
        raise ValueError(
            f"pre-trained DNA-Det weights do not fit this network (width {model.width}, proj_dim "
            f"{model.proj_dim}): missing or mis-shaped {bad[:3]}{'...' if len(bad) > 3 else ''}; pre-train with "
            f"the same width and proj_dim"
        )
    model.load_state_dict({**own, **{k: state_dict[k] for k in wanted}})
    return wanted


# --- losses --------------------------------------------------------------------------------------------
def supcon_loss(features: torch.Tensor, labels: torch.Tensor, tau: float = 0.07, base_tau: float | None = None):
    """Supervised contrastive loss (Khosla et al. 2020, Eq. 2, 'L_out'; 'all' anchors mode as in DNA-Det).

    Args:
        features: ``(B, V, D)`` L2-normalised embeddings, V views (patches) of each of B samples.
        labels: ``(B,)`` class of each sample; all views of all samples of the same class are positives.
        tau: temperature (paper 0.07); ``base_tau`` (default = tau) scales the loss by ``tau / base_tau``.

    For each of the ``B·V`` anchors ``i`` with positives ``P(i)`` (same label, not ``i``) and all others
    ``A(i)``: ``-1/|P(i)| Σ_{p∈P(i)} log(exp(z_i·z_p/τ) / Σ_{a∈A(i)} exp(z_i·z_a/τ))``, averaged over anchors.
    Anchors without a positive are left out of the mean (the reference divides 0 by 0 there).
    """
    if features.ndim != 3 or labels.shape != features.shape[:1]:
        raise ValueError(f"features must be (B, V, D) and labels (B,), got {tuple(features.shape)}, {labels.shape}")
    b, v, _ = features.shape
    z = features.transpose(0, 1).reshape(b * v, -1)  # view-major, as torch.cat(torch.unbind(f, 1))
    y = labels.repeat(v)
    logits = z @ z.T / tau
    self_mask = torch.eye(b * v, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    pos = (y[:, None] == y[None, :]) & ~self_mask
    n_pos = pos.sum(1)
    has = n_pos > 0
    if not has.any():
        return features.sum() * 0.0  # no positive pair anywhere: no contrastive signal
    mean_log_prob_pos = torch.where(pos, log_prob, torch.zeros_like(log_prob)).sum(1)[has] / n_pos[has]
    return -(tau / (base_tau or tau)) * mean_log_prob_pos.mean()


class UncertaintyWeights(nn.Module):
    """Kendall et al. 2018 uncertainty weighting: ``L = Σ_i exp(-s_i) L_i + s_i``, s_i learned (init 0)."""

    def __init__(self, n: int = 2):
        super().__init__()
        self.log_vars = nn.Parameter(torch.zeros(n))

    def forward(self, *losses: torch.Tensor) -> torch.Tensor:
        if len(losses) != len(self.log_vars):
            raise ValueError(f"expected {len(self.log_vars)} losses, got {len(losses)}")
        s = self.log_vars
        return sum(torch.exp(-s[i]) * loss + s[i] for i, loss in enumerate(losses))


# --- patches and steps ---------------------------------------------------------------------------------
def random_patches(x: torch.Tensor, size: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` independent random ``size × size`` crops per image: ``(N, C, H, W)`` → ``(N, n, C, size, size)``.

    Offsets are drawn from ``generator`` (CPU), so the patches are a function of its seed.
    """
    N, C, H, W = x.shape
    if not 1 <= size <= min(H, W):
        raise ValueError(f"patch size must be in [1, {min(H, W)}] for {H}x{W} images, got {size}")
    top = torch.randint(0, H - size + 1, (N, n), generator=generator).to(x.device)
    left = torch.randint(0, W - size + 1, (N, n), generator=generator).to(x.device)
    ar = torch.arange(size, device=x.device)
    ii = torch.arange(N, device=x.device)[:, None, None, None]
    rr = (top[:, :, None] + ar)[:, :, :, None]
    cc = (left[:, :, None] + ar)[:, :, None, :]
    return x.permute(0, 2, 3, 1)[ii, rr, cc].permute(0, 1, 4, 2, 3)  # (N, n, size, size, C) → (N, n, C, s, s)


def grid_patches(x: torch.Tensor, size: int) -> torch.Tensor:
    """Non-overlapping ``size × size`` patches on a grid from the top-left: ``(N, C, H, W)`` → ``(N, P, C, s, s)``."""
    N, C, H, W = x.shape
    if not 1 <= size <= min(H, W):
        raise ValueError(f"patch size must be in [1, {min(H, W)}] for {H}x{W} images, got {size}")
    p = x[:, :, : H // size * size, : W // size * size].unfold(2, size, size).unfold(3, size, size)
    return p.permute(0, 2, 3, 1, 4, 5).reshape(N, -1, C, size, size)


def dnadet_step(
    model: DNADetNet,
    images: torch.Tensor,
    labels: torch.Tensor,
    weighting: UncertaintyWeights | None,
    *,
    patch_size: int,
    patches_per_image: int,
    generator: torch.Generator,
    tau: float = 0.07,
    contrastive: bool = True,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The patchwise loss of one batch (PAPERS §4.3); the caller runs backward and the optimiser steps.

    ``images`` ``(N, 3, H, W)`` in [-1, 1] (already resized), ``labels`` ``(N,)`` int64. Every image gives
    ``patches_per_image`` random patches, each classified with the image's label (CE averaged over all
    patches); the L2-normalised projections of all patches feed the SupCon loss (patches of the same class,
    in any image, are positives). With ``contrastive`` the two are combined by ``weighting``; without it
    (or with ``weighting`` None and ``contrastive`` False) the loss is the CE alone.

    Returns ``(loss, logs)`` with logs ``loss, ce, con, patch_acc, w_ce, w_con`` (plain floats).
    """
    n, v = images.shape[0], patches_per_image
    patches = random_patches(images, patch_size, v, generator).reshape(
        n * v, *images.shape[1:2], patch_size, patch_size
    )
    logits, z = model.forward_train(patches)
    y = labels.repeat_interleave(v)  # patch k of image i is row i * v + k
    ce = F.cross_entropy(logits, y)  # softmax applied once, inside the CE
    logs = {"ce": ce.item(), "patch_acc": (logits.argmax(1) == y).float().mean().item()}
    if contrastive:
        con = supcon_loss(z.reshape(n, v, -1), labels, tau)
        if weighting is None:
            raise ValueError("dnadet_step: contrastive=True needs the UncertaintyWeights module")
        loss = weighting(ce, con)
        w = torch.exp(-weighting.log_vars.detach())
        logs.update(con=con.item(), w_ce=w[0].item(), w_con=w[1].item())
    else:
        loss = ce
    logs["loss"] = loss.item()
    return loss, logs


@torch.no_grad()
def predict_image(
    model: DNADetNet, images: torch.Tensor, mode: str = "whole", patch_size: int = 64, batch_size: int = 64
) -> torch.Tensor:
    """Class probabilities ``(N, K)`` of images ``(N, 3, H, W)`` in [-1, 1]; rows sum to 1.

    ``whole`` (paper, §4.3): ``softmax(model(image))``, the whole image through the fully convolutional net
    and the GAP. ``patches``: ``softmax(mean over the image's grid patches of the patch logits)`` — the
    logits are averaged and the softmax is applied once, after averaging. The model is put in eval mode.
    """
    model.eval()
    if mode == "whole":
        logits = torch.cat([model(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])
    elif mode == "patches":
        p = grid_patches(images, patch_size)  # (N, P, C, s, s)
        n, k = p.shape[:2]
        flat = p.reshape(n * k, *p.shape[2:])
        pl = torch.cat([model(flat[i : i + batch_size * k]) for i in range(0, len(flat), batch_size * k)])
        logits = pl.reshape(n, k, -1).mean(1)
    else:
        raise ValueError(f"predict mode must be 'whole' or 'patches', got {mode!r}")
    return logits.softmax(dim=1)
