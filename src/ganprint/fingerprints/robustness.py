"""Robustness of artificial fingerprints in GAN samples (Yu et al. 2021, PAPERS.md §2; attacks of §1.6).

For one GAN trained on fingerprinted data, the bit accuracy of its samples against the embedded fingerprint:

* **image perturbations** — every point of ``perturb.curve(kind)`` (the clean image, then the fixed strengths of
  :data:`ganprint.perturb.STRENGTHS`) for each kind of the params (noise, blur, JPEG, crop + resize by default),
  applied by :mod:`ganprint.perturb` to the uint8 samples, image ``i`` with ``perturb.image_rng(seed, i)``;
* **weight quantisation** — a fake quantisation of G (:func:`quantize_weights`): every floating-point parameter
  with two or more dimensions (the conv, transposed-conv and linear weights, incl. spectral-norm ``weight_orig``
  and StyleGAN2's modulated weights) is rounded per tensor, symmetrically, to ``2^(b-1) - 1`` levels each side of
  0 and dequantised (``w' = scale · clamp(round(w / scale))``, ``scale = max|w| / (2^(b-1) - 1)``); biases,
  normalisation gains and buffers (BatchNorm running statistics) stay in float, as in int8 inference engines;
  then the same latents are regenerated;
* **fine-tuning on clean data** — a copy of the fingerprinted G/D is fine-tuned on the clean store of its dataset
  by :func:`ganprint.train.gan.finetune_gan` (same optimiser settings as train_gan), scored at several
  checkpoints of ONE run: the run is stopped at each checkpoint (``stop_after``) and resumed from its
  ``resume.pt``, which train_gan guarantees is the same trajectory as an uninterrupted run.

The samples are those of generate_images: latent ``i`` = ``generate.latent(generate_images.seed, i)``, G in eval
mode, rounded to uint8, so the clean point equals detect_fingerprints on the first ``max_images`` samples.
"""

from __future__ import annotations

import csv
import logging
import math
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganprint import perturb
from ganprint.checkpoint import build_from_checkpoint, load_checkpoint
from ganprint.config import FingerprintRobustnessCfg, GanCfg, TrainGanCfg
from ganprint.errors import StageError
from ganprint.fingerprints.common import bit_accuracy, read_fingerprint_file
from ganprint.generate import latent
from ganprint.io import atomic_path
from ganprint.nets import GENERATORS
from ganprint.nets.stegastamp import StegaStampDecoder
from ganprint.train.common import to_tensor, to_uint8

log = logging.getLogger("ganprint")

# the parameter whose value is a curve's x axis, per perturbation kind, and its value at the clean point
STRENGTH_PARAM = {
    "noise": ("sigma", 0.0),
    "blur": ("sigma", 0.0),
    "jpeg": ("quality", 100.0),
    "double_jpeg": ("q2", 100.0),
    "median": ("size", 1.0),
    "crop": ("fraction", 0.0),
    "resize": ("scale", 1.0),
}
# bit_accuracy last: the y axis DVC plots by default
CSV_FIELDS = ("kind", "perturbation", "strength", "bit_accuracy_std", "bit_accuracy")


# --- model-level changes ----------------------------------------------------------------------------------
def fake_quantize(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-tensor symmetric quantisation to ``bits`` bits, dequantised: |w' − w| ≤ scale / 2.

    ``scale = max|w| / (2^(bits-1) − 1)``; an all-zero tensor is returned unchanged.
    """
    if not 2 <= bits <= 16:
        raise ValueError(f"weight bits must be in 2..16, got {bits}")
    levels = 2 ** (bits - 1) - 1
    amax = w.detach().abs().max()
    if amax == 0:
        return w.detach().clone()
    scale = amax / levels
    return torch.clamp(torch.round(w.detach() / scale), -levels, levels) * scale


def quantized_tensors(module: nn.Module) -> list[str]:
    """Names of the parameters :func:`quantize_weights` rounds: floating point, two or more dimensions."""
    return [n for n, p in module.named_parameters() if p.is_floating_point() and p.ndim >= 2]


@torch.no_grad()
def quantize_weights(module: nn.Module, bits: int = 8) -> list[str]:
    """Fake-quantise ``module``'s weights in place (see the module docstring); returns the names changed."""
    names = quantized_tensors(module)
    params = dict(module.named_parameters())
    for n in names:
        params[n].copy_(fake_quantize(params[n], bits))
    return names


# --- sampling and scoring ---------------------------------------------------------------------------------
@torch.no_grad()
def sample_images(G: nn.Module, n: int, seed: int, batch_size: int, device) -> np.ndarray:
    """The first ``n`` images generate_images writes for ``seed``: (n, R, R, 3) uint8, G in eval mode."""
    G.eval()
    z_dim = G.model_args()["z_dim"]
    out = []
    for start in range(0, n, batch_size):
        z = np.stack([latent(seed, i, z_dim) for i in range(start, min(start + batch_size, n))])
        out.append(to_uint8(G(torch.from_numpy(z).to(device)).float()))
    return np.concatenate(out)


@torch.no_grad()
def decode_accuracy(dec: nn.Module, images: np.ndarray, target: torch.Tensor, batch_size: int, device) -> np.ndarray:
    """Per-image bit accuracy of uint8 ``images`` (N, H, W, 3) against the fingerprint ``target`` (bits,)."""
    dec.eval()
    target = target.to(device)
    accs = []
    for start in range(0, len(images), batch_size):
        x = to_tensor(np.ascontiguousarray(images[start : start + batch_size]), device, "01")
        accs.append(bit_accuracy(dec(x), target.expand(x.shape[0], -1)).cpu())
    return torch.cat(accs).double().numpy()


def strength(p: perturb.Perturbation, kind: str, index: int) -> float:
    """The x value of point ``index`` of ``kind``'s curve: the varied parameter (relight: the point's index)."""
    if kind not in STRENGTH_PARAM:
        return float(index)
    name, clean = STRENGTH_PARAM[kind]
    return clean if p.kind == "identity" else float(p.kwargs[name])


def _row(kind: str, x: float, acc: np.ndarray, spec: str) -> dict:
    return {
        "kind": kind,
        "strength": x,
        "bit_accuracy": float(acc.mean()),
        "bit_accuracy_std": float(acc.std()),
        "perturbation": spec,
    }


def perturbation_rows(
    images: np.ndarray, dec: nn.Module, target: torch.Tensor, kinds, seed: int, batch_size: int, device
) -> list[dict]:
    """One row per point of ``perturb.curve(kind)`` for each kind; image ``i`` uses ``perturb.image_rng(seed, i)``."""
    clean = decode_accuracy(dec, images, target, batch_size, device)
    rows = []
    for kind in kinds:
        for j, p in enumerate(perturb.curve(kind)):
            if p.kind == "identity":
                acc = clean
            else:
                out = np.stack([perturb.apply(img, p, perturb.image_rng(seed, i)) for i, img in enumerate(images)])
                acc = decode_accuracy(dec, out, target, batch_size, device)
            rows.append(_row(kind, strength(p, kind, j), acc, str(p)))
            log.info("%-32s bit accuracy %.4f", p, rows[-1]["bit_accuracy"])
    return rows


def finetune_checkpoints(steps: int, fractions) -> list[int]:
    """The fine-tuning steps scored: 0, then ``max(1, round(f · steps))`` per fraction (distinct, increasing)."""
    if steps == 0:
        return [0]
    return sorted({0, *(max(1, round(f * steps)) for f in fractions)})


def finetune_snapshots(
    *,
    base_dir: Path,
    data: Path,
    train_cfg: TrainGanCfg,
    steps: int,
    fractions,
    arch_cfg,
    loss_cfg,
    gan: GanCfg,
    device,
    work_dir: Path,
):
    """Yield ``(step, state_dict of the G that generate_images would use)`` along ONE fine-tuning run.

    The run is train_gan's fine-tuning (:func:`ganprint.train.gan.finetune_gan`) of the GAN in ``base_dir`` on
    ``data``, with resume checkpoints every ``gcd`` of the intermediate checkpoints; it is stopped after each
    (``stop_after``), the EMA G (or G) is read from ``resume.pt`` and the run resumes: train_gan makes a killed
    and resumed run byte-identical to an uninterrupted one, so the snapshots lie on one trajectory.
    """
    from ganprint.train.gan import RESUME, Interrupted, finetune_gan

    points = finetune_checkpoints(steps, fractions)
    inner = [s for s in points if 0 < s < steps]
    every = math.gcd(*inner) if inner else 0
    cfg = train_cfg.model_copy(update={"checkpoint_every": every, "sample_every": 0})
    for s in points:
        if s == 0:
            continue
        kw = dict(loss_cfg=loss_cfg, device=device, stop_after=s if s < steps else None)
        try:
            finetune_gan(data, cfg, steps, arch_cfg, gan, base_dir, work_dir, **kw)
        except Interrupted:
            state = torch.load(work_dir / RESUME, map_location="cpu", weights_only=True)
            yield s, state["G_ema"] if state.get("G_ema") is not None else state["G"]
            continue
        yield s, load_checkpoint(work_dir / "G.pt", "gan_generator")["state_dict"]


# --- the stage --------------------------------------------------------------------------------------------
def embedded_target(embedded: str | Path) -> torch.Tensor:
    """The one fingerprint of ``embedded_fingerprints.txt`` (the model owner's), as float (bits,)."""
    reference = read_fingerprint_file(embedded)
    distinct = {tuple(v.tolist()) for v in reference.values()}
    if len(distinct) != 1:
        raise StageError(
            f"{embedded}: holds {len(distinct)} different fingerprints; the robustness of a GAN's fingerprint "
            "needs one fingerprint for the whole dataset (embed_fingerprints.identical: true)"
        )
    return next(iter(reference.values()))


def fingerprint_robustness(
    *,
    model: str | Path,
    decoder: str | Path,
    embedded: str | Path,
    clean_data: str | Path,
    gan: GanCfg,
    cfg: FingerprintRobustnessCfg,
    train_cfg: TrainGanCfg,
    arch_cfg,
    loss_cfg,
    generate_seed: int,
    out_csv: str | Path,
    out_figure: str | Path,
    device: torch.device | str = "cpu",
) -> dict:
    """Score ``gan``'s samples under image perturbations, weight quantisation and fine-tuning on clean data.

    Args:
        model: the GAN's G.pt (its D.pt must lie beside it, for fine-tuning).
        decoder, embedded: the dataset's fingerprint decoder and ``embedded_fingerprints.txt``.
        clean_data: the clean image store fine-tuning runs on.
        generate_seed: ``generate_images.seed`` (the latents of the samples).
        out_csv: rows (kind, perturbation, strength, bit_accuracy_std, bit_accuracy), kinds = the perturbation
            kinds, ``quantize`` (strength = weight bits; 32 = float) and ``finetune`` (strength = G steps).
        out_figure: PNG of the curves.
    Returns the metrics (everything in the CSV, plus the quantised tensors and settings).
    """
    model = Path(model)
    device = torch.device(device)
    dec = build_from_checkpoint(
        load_checkpoint(decoder, "fingerprint_decoder"), {"stegastamp": StegaStampDecoder}, device
    )
    target = embedded_target(embedded)
    if target.numel() != dec.model_args()["bits"]:
        raise StageError(
            f"{embedded}: {target.numel()}-bit fingerprint, but {decoder} reads {dec.model_args()['bits']} bits; "
            "the embedded file and the decoder must come from the same autoencoder"
        )
    ckpt = load_checkpoint(model, "gan_generator")
    G = build_from_checkpoint(ckpt, GENERATORS, device)
    n, bs = cfg.max_images, cfg.batch_size

    def score(gen: nn.Module) -> np.ndarray:
        return decode_accuracy(dec, sample_images(gen, n, generate_seed, bs, device), target, bs, device)

    images = sample_images(G, n, generate_seed, bs, device)
    if images.shape[1] != dec.model_args()["resolution"]:
        raise StageError(
            f"{model}: {images.shape[1]} px samples, but the decoder {decoder} reads "
            f"{dec.model_args()['resolution']} px; train the autoencoder on this GAN's dataset"
        )
    log.info("fingerprint robustness of %s: %d samples, %d bits", gan.name, n, target.numel())
    rows = perturbation_rows(images, dec, target, cfg.kinds, cfg.seed, bs, device)
    clean = decode_accuracy(dec, images, target, bs, device)

    quant, tensors = [_row("quantize", 32.0, clean, "float32")], []
    for b in sorted(cfg.quantize_bits, reverse=True):
        gq = build_from_checkpoint(ckpt, GENERATORS, device)
        tensors = quantize_weights(gq, b)
        quant.append(_row("quantize", float(b), score(gq), f"weights:int{b}"))
        log.info("G weights at %2d bits: bit accuracy %.4f", b, quant[-1]["bit_accuracy"])
    rows += quant

    ft = [_row("finetune", 0.0, clean, "finetune:steps=0")]
    if cfg.finetune_steps > 0:
        with tempfile.TemporaryDirectory(prefix="ganprint-finetune-") as work:
            for step, state in finetune_snapshots(
                base_dir=model.parent,
                data=Path(clean_data),
                train_cfg=train_cfg,
                steps=cfg.finetune_steps,
                fractions=cfg.finetune_fractions,
                arch_cfg=arch_cfg,
                loss_cfg=loss_cfg,
                gan=gan,
                device=device,
                work_dir=Path(work),
            ):
                G.load_state_dict(state)
                ft.append(_row("finetune", float(step), score(G), f"finetune:steps={step}"))
                log.info("fine-tuned %4d steps on clean data: bit accuracy %.4f", step, ft[-1]["bit_accuracy"])
    rows += ft

    write_curves(rows, out_csv)
    save_curves_figure(rows, out_figure, title=gan.name)
    return {
        "gan": gan.name,
        "images": n,
        "bits": int(target.numel()),
        "generate_seed": generate_seed,
        "perturbation_seed": cfg.seed,
        "bit_accuracy_clean": float(clean.mean()),
        "perturbations": {k: [r for r in rows if r["kind"] == k] for k in cfg.kinds},
        "quantize": {"tensors": tensors, "points": quant},
        "finetune": {"data": str(clean_data), "steps": cfg.finetune_steps, "points": ft},
    }


def write_curves(rows: list[dict], path: str | Path) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=CSV_FIELDS, lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow({k: (f"{r[k]:.6f}" if isinstance(r[k], float) else r[k]) for k in CSV_FIELDS})


def read_curves(path: str | Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [
            {**r, **{k: float(r[k]) for k in ("strength", "bit_accuracy", "bit_accuracy_std")}}
            for r in csv.DictReader(fh)
        ]


XLABELS = {
    "quantize": "G weight bits (32 = float)",
    "finetune": "fine-tuning steps on clean data",
    "relight": "point",
    **{k: v[0] for k, v in STRENGTH_PARAM.items()},
}


def save_curves_figure(rows: list[dict], path: str | Path, *, title: str = "", dpi: int = 100) -> None:
    """One panel per kind: bit accuracy (± std over images) against strength; chance (0.5) dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    cols = min(3, len(kinds))
    nrows = math.ceil(len(kinds) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.6 * nrows), dpi=dpi, squeeze=False)
    for ax, kind in zip(axes.ravel(), kinds, strict=False):
        pts = [r for r in rows if r["kind"] == kind]
        x = [r["strength"] for r in pts]
        y = np.array([r["bit_accuracy"] for r in pts])
        s = np.array([r["bit_accuracy_std"] for r in pts])
        ax.plot(x, y, "o-", color="tab:blue")
        ax.fill_between(x, y - s, y + s, color="tab:blue", alpha=0.2)
        ax.axhline(0.5, color="grey", ls="--", lw=1)
        ax.set_ylim(0.3, 1.02)
        ax.set_title(kind, fontsize=9)
        ax.set_xlabel(XLABELS.get(kind, "strength"), fontsize=8)
        ax.set_ylabel("bit accuracy", fontsize=8)
        ax.tick_params(labelsize=7)
        if kind in ("jpeg", "double_jpeg", "resize", "quantize"):
            ax.invert_xaxis()  # milder to the left
    for ax in axes.ravel()[len(kinds) :]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
