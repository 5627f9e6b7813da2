"""GAN training per {dataset, arch, loss, variant, seed} (the design card's 'GAN training per seed'), and fine-tuning.

One arch-agnostic loop for every registered architecture × loss (the GAN-zoo contract; PAPERS.md §1.3, §4.4, §7.1):

* ``archs.<arch>.n_dis`` D steps per G step, each on a fresh real batch and fresh latents; the G step reuses the
  latents of the last D step (with ``n_dis = 1`` this is exactly the skeleton's DCGAN loop). Adam with the arch
  section's ``lr_g``, ``lr_d``, ``beta1``, ``beta2``; the loss module's own parameters (SSGAN's rotation head,
  InfoMax-GAN's critics) are optimised with D. ``G.set_step / D.set_step(step, total)`` every step where the
  nets have it (ProGAN's progressive schedule).
* Seeds (PAPERS.md §6.6): the GAN's ``seed`` seeds the initialisation (torch's global generator, before the nets
  are built) and the training latents (their own ``torch.Generator``); the data order comes from
  ``train_gan.data_seed`` (null = the training seed, as ProGAN's single ``np.random.seed``); the gradient
  penalties' interpolation draws from the loss's generator (a seed derived from the training seed). All are
  recorded in G.pt, D.pt and resume.pt.
* EMA of G (``archs.<arch>.ema``, 0 = off): G.pt holds the EMA weights when on (and the raw G as
  ``raw_state_dict``, which fine-tuning continues from); D.pt holds D and the loss module's parameters.
* Resume: every ``train_gan.checkpoint_every`` steps ``<out>/resume.pt`` is written atomically (G, D, EMA,
  optimisers, loss module, every generator state, the step and the stats rows); a rerun with the same output dir
  continues from it and, on the CPU, ends with byte-identical G.pt and D.pt. resume.pt carries a hash of the
  resolved config; one from other parameters is refused. It is removed after success. Neither front-end deletes
  it: Snakemake deletes only a job's declared output files, DVC's outputs are ``persist: true``.
* Outputs: nothing is written under a final name before success except ``stats.jsonl``, which grows row by row
  (a killed job keeps its log); ``samples/stepNNNNNN.png`` every ``sample_every`` steps (fixed latents, EMA G);
  at the end G.pt, D.pt, loss_curves.csv (the DVC plot) and samples.png.
* NaN/inf or |loss| > ``divergence_limit`` stops with a :class:`StageError` naming the step and the loss.
* ``amp: bf16`` (autocast) and ``compile`` apply on CUDA only; on the CPU they are ignored with one warning.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import io
import json
import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganprint import registry
from ganprint.checkpoint import load_checkpoint, save_checkpoint, versions
from ganprint.config import GanCfg, TrainGanCfg
from ganprint.data.store import ImageStore
from ganprint.errors import StageError
from ganprint.io import atomic_path, seed_everything
from ganprint.losses import build_loss
from ganprint.nets import DISCRIMINATORS, GENERATORS
from ganprint.report.figures import save_grid
from ganprint.train.common import EpochSampler, StatsWriter, to_tensor, to_uint8

log = logging.getLogger("ganprint")

RESUME = "resume.pt"
# the arch-section fields the loop reads; every other field of a section is a keyword of the family's classes
_warned: set[str] = set()


class Interrupted(RuntimeError):
    """Raised by ``stop_after`` (tests: a job killed after step k)."""


# ----------------------------------------------------------------------------------------------------------
# building blocks
def build_gan(arch: str, resolution: int, arch_cfg, loss: str | None = None) -> tuple[nn.Module, nn.Module]:
    """G and D of ``arch`` at ``resolution`` from its params section (built in this order: G, then D).

    The section says which of its fields each network takes (``generator_kwargs`` / ``discriminator_kwargs``;
    the loss can change D, e.g. mmdgan's ``dof_dim`` 256 for CramerGAN, 16 for MMDGAN).
    """
    G = GENERATORS[arch](resolution=resolution, **arch_cfg.generator_kwargs())
    D = DISCRIMINATORS[arch](resolution=resolution, **arch_cfg.discriminator_kwargs(loss))
    return G, D


def draw_latents(kind: str, n: int, z_dim: int, gen: torch.Generator) -> torch.Tensor:
    """(n, z_dim) latents of the G's kind: N(0, I) ("normal") or U[-1, 1] ("uniform"), from ``gen`` on the CPU."""
    if kind == "uniform":
        return torch.rand(n, z_dim, generator=gen) * 2.0 - 1.0
    return torch.randn(n, z_dim, generator=gen)


def grid_latents(kind: str, n: int, z_dim: int, seed: int) -> torch.Tensor:
    """The fixed latents of the sample grids: a stream of their own, so sampling never moves training's RNGs."""
    rng = np.random.default_rng([seed, 0x5A3])
    z = rng.uniform(-1.0, 1.0, (n, z_dim)) if kind == "uniform" else rng.standard_normal((n, z_dim))
    return torch.from_numpy(z.astype(np.float32))


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema ← decay · ema + (1 − decay) · model for parameters (exact copy at decay 0); buffers copied."""
    for pe, p in zip(ema.parameters(), model.parameters(), strict=True):
        pe.lerp_(p.detach(), 1.0 - decay)
    for be, b in zip(ema.buffers(), model.buffers(), strict=True):
        be.copy_(b)


def _set_step(step: int, total: int, *nets) -> None:
    for net in nets:
        fn = getattr(net, "set_step", None) if net is not None else None
        if fn is not None:
            fn(step, total)


def _cpu_state(module: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def _warn_once(msg: str) -> None:
    if msg not in _warned:
        _warned.add(msg)
        log.warning(msg)


def config_hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@torch.no_grad()
def _grid(G: nn.Module, z: torch.Tensor, device) -> np.ndarray:
    was = G.training
    G.eval()
    try:
        return to_uint8(G(z.to(device)).float())
    finally:
        G.train(was)


def _write_curves(rows: list[dict], path: Path) -> None:
    """loss_curves.csv: step + every logged column (the DVC plot; DVC reads CSV, not JSON lines)."""
    cols = ["step", *sorted({k for r in rows for k in r if k != "step"})]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")


def _check(value: float, which: str, step: int, limit: float, what: str, arch: str) -> None:
    if np.isfinite(value) and abs(value) <= limit:
        return
    why = "became" if not np.isfinite(value) else f"exceeded train_gan.divergence_limit {limit:g}:"
    raise StageError(
        f"{what}: {which} loss {why} {value} at step {step}; training diverged. Try a lower learning rate "
        f"(archs.{arch}.lr_d / lr_g), another seed or amp: false; no model was written."
    )


# ----------------------------------------------------------------------------------------------------------
def train_gan(
    data: str | Path,
    cfg: TrainGanCfg,
    arch_cfg,
    gan: GanCfg,
    out_dir: str | Path,
    *,
    loss_cfg=None,
    device: torch.device | str = "cpu",
    extra: dict | None = None,
    steps: int | None = None,
    init: dict | None = None,
    stop_after: int | None = None,
    what: str = "train_gan",
) -> dict:
    """Train G and D on the images of store ``data``; write G.pt, D.pt, stats.jsonl, loss_curves.csv, samples.png
    (and samples/) under ``out_dir``. Returns the last stats row.

    ``loss_cfg``: the ``losses.<loss>`` section (None = its defaults). ``steps``: G steps (default ``cfg.steps``).
    ``init``: start from trained weights (fine-tuning): ``{"G", "D", "G_ema", "loss", "base"}`` state dicts
    (``G_ema``/``loss`` may be None) and a description of the base recorded in the checkpoints.
    ``stop_after``: raise :class:`Interrupted` after that step (simulates a killed job).
    Same params and seed on CPU ⇒ byte-identical G.pt and D.pt, also across a kill and a resume.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = steps or cfg.steps
    device = torch.device(device)
    a = arch_cfg
    n_dis = int(getattr(a, "n_dis", 1))
    ema_decay = float(getattr(a, "ema", 0.0))
    loss_cfg = loss_cfg if loss_cfg is not None else registry.LOSSES[gan.loss].hparams()
    seeds = {
        "seed": gan.seed,
        "data_seed": gan.seed if cfg.data_seed is None else cfg.data_seed,
        "latent_seed": gan.seed,
        "loss_seed": int(np.random.SeedSequence([gan.seed, 2]).generate_state(1)[0]),
    }
    run_hash = config_hash(
        {
            "train_gan": cfg.model_dump(),
            "arch": a.model_dump(),
            "loss": loss_cfg.model_dump(),
            "gan": gan.selectors(),
            "steps": steps,
            "base": (init or {}).get("base"),
        }
    )
    cuda = device.type == "cuda"
    amp = bool(cfg.amp) and cuda
    if (cfg.amp or cfg.compile) and not cuda:
        _warn_once(f"{what}: amp/compile apply on CUDA only; running fp32 eager on {device}")

    store = ImageStore(data)
    res = store.shape[0]
    seed_everything(gan.seed)
    G, D = build_gan(gan.arch, res, a, gan.loss)
    loss = build_loss(gan.loss, loss_cfg, D)
    loss.seed(seeds["loss_seed"])
    if init is not None:
        G.load_state_dict(init["G"])
        D.load_state_dict(init["D"])
        if init.get("loss"):
            loss.load_state_dict(init["loss"])
    G_ema = None
    if ema_decay > 0:
        G_ema = copy.deepcopy(G).eval().requires_grad_(False)
        if init is not None and init.get("G_ema"):
            G_ema.load_state_dict(init["G_ema"])
    for m in (G, D, loss, G_ema):
        if m is not None:
            m.to(device)
    kind = getattr(G, "latent", "normal")
    opt_g = torch.optim.Adam(G.parameters(), lr=a.lr_g, betas=(a.beta1, a.beta2))
    opt_d = torch.optim.Adam([*D.parameters(), *loss.parameters()], lr=a.lr_d, betas=(a.beta1, a.beta2))
    sampler = EpochSampler(len(store), cfg.batch_size, seed=seeds["data_seed"])
    noise = torch.Generator(device="cpu").manual_seed(seeds["latent_seed"])
    z_grid = grid_latents(kind, cfg.grid_images, a.z_dim, gan.seed)

    resume = out_dir / RESUME
    start, rows = 0, []
    if resume.is_file():
        state = _load_resume(resume, run_hash)
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        loss.load_state_dict(state["loss"])
        if G_ema is not None:
            G_ema.load_state_dict(state["G_ema"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        sampler.rng.bit_generator.state = json.loads(state["sampler_rng"])
        sampler._perm = state["sampler_perm"].numpy().copy()
        noise.set_state(state["latent_rng"])
        loss.rng.set_state(state["loss_rng"])
        torch.set_rng_state(state["torch_rng"])
        start, rows = int(state["step"]), list(state["rows"])
        log.info("%s: resuming %s from step %d (%s)", what, gan.name, start, resume)

    if cfg.compile and cuda:  # compile the bound forwards: state_dict keys and the EMA copy stay as they are
        G.forward = torch.compile(G.forward)
        if getattr(loss, "double_backward", False):
            _warn_once(f"{what}: loss '{gan.loss}' takes gradients of gradients; D is not compiled")
        else:
            D.forward = torch.compile(D.forward)
            if hasattr(D, "forward_features"):
                D.forward_features = torch.compile(D.forward_features)
    autocast = (
        (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp else contextlib.nullcontext  # noqa: E731
    )

    label = f"{what} {gan.dataset}/{gan.arch}/{gan.loss}/{gan.variant}/seed{gan.seed}"
    stats = StatsWriter(out_dir / "stats.jsonl", steps, label, stream=True, rows=rows, progress=True)
    log.info(
        "%s %s/%s on %s (%d images, %d px) for %d steps (n_dis %d, ema %g) on %s",
        what,
        gan.arch,
        gan.loss,
        data,
        len(store),
        res,
        steps,
        n_dis,
        ema_decay,
        device,
    )
    limit = cfg.divergence_limit
    row: dict = rows[-1] if rows else {}
    try:
        for step in range(start + 1, steps + 1):
            _set_step(step, steps, G, D, G_ema)
            for i in range(n_dis):
                real = to_tensor(store.read(sampler.next()), device)
                z = draw_latents(kind, real.shape[0], a.z_dim, noise).to(device)
                with autocast():
                    with torch.set_grad_enabled(i == n_dis - 1):  # the G step reuses the last D step's fakes
                        fake = G(z)
                    d_loss, d_logs = loss.d_loss(D, real, fake.detach(), step)
                _check(d_loss.item(), "D", step, limit, what, gan.arch)
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
            with autocast():
                g_loss, g_logs = loss.g_loss(D, fake, step, real=real)
            _check(g_loss.item(), "G", step, limit, what, gan.arch)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            if G_ema is not None:
                ema_update(G_ema, G, ema_decay)
            if step % cfg.log_every == 0 or step == steps:
                row = {"loss_d": d_loss.item(), "loss_g": g_loss.item()}
                row.update({k: float(v) for k, v in {**d_logs, **g_logs}.items()})
                stats.add(step, **row)
            stats.tick(step)
            if cfg.sample_every and step % cfg.sample_every == 0:
                save_grid(_grid(G_ema or G, z_grid, device), out_dir / "samples" / f"step{step:06d}.png")
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < steps:
                _save_resume(resume, run_hash, step, G, D, G_ema, loss, opt_g, opt_d, sampler, noise, stats, seeds)
            if stop_after is not None and step >= stop_after and step < steps:
                raise Interrupted(f"{what}: stopped after step {step} (stop_after)")
    except StageError:
        resume.unlink(missing_ok=True)  # it would diverge again, identically
        raise
    finally:
        stats.close()
        store.close()

    final = G_ema if G_ema is not None else G
    grid = _grid(final, z_grid, device)
    gan_info = {"dataset": gan.dataset, "arch": gan.arch, "loss": gan.loss, "variant": gan.variant, "seed": gan.seed}
    common = {"gan": gan_info, "seeds": seeds, "steps": steps, "n_dis": n_dis, "ema": ema_decay}
    if init is not None:
        common["finetuned_from"] = init.get("base")
    common.update(extra or {})
    g_extra = {"raw_state_dict": _cpu_state(G)} if G_ema is not None else {}
    save_checkpoint(out_dir / "G.pt", kind="gan_generator", model=final.cpu(), model_name=gan.arch, **g_extra, **common)
    save_checkpoint(
        out_dir / "D.pt",
        kind="gan_discriminator",
        model=D.cpu(),
        model_name=gan.arch,
        loss_state_dict=_cpu_state(loss),
        **common,
    )
    _write_curves(stats.rows, out_dir / "loss_curves.csv")
    save_grid(grid, out_dir / "samples.png")
    resume.unlink(missing_ok=True)
    return {k: v for k, v in row.items() if k != "step"}


def _save_resume(path, run_hash, step, G, D, G_ema, loss, opt_g, opt_d, sampler, noise, stats, seeds) -> None:
    state = {
        "kind": "gan_resume",
        "config_hash": run_hash,
        "step": step,
        "G": _cpu_state(G),
        "D": _cpu_state(D),
        "G_ema": _cpu_state(G_ema) if G_ema is not None else None,
        "loss": _cpu_state(loss),
        "opt_g": opt_g.state_dict(),
        "opt_d": opt_d.state_dict(),
        "sampler_rng": json.dumps(sampler.rng.bit_generator.state),
        "sampler_perm": torch.from_numpy(sampler._perm.copy()),
        "latent_rng": noise.get_state(),
        "loss_rng": loss.rng.get_state(),
        "torch_rng": torch.get_rng_state(),
        "rows": list(stats.rows),
        "seeds": seeds,
        "versions": versions(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _load_resume(path: Path, run_hash: str, kind: str = "gan_resume") -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a torn or foreign file: say so, never unpickle arbitrary objects
        raise StageError(
            f"{path}: not a resume checkpoint that loads safely ({type(e).__name__}: {e}); delete it"
        ) from None
    if not isinstance(state, dict) or state.get("kind") != kind:
        raise StageError(f"{path}: not a {kind} checkpoint; delete it to start over")
    if state.get("config_hash") != run_hash:
        raise StageError(
            f"{path}: written with different parameters (config hash {str(state.get('config_hash'))[:12]} here "
            f"{run_hash[:12]}); delete it to start over, or restore the parameters it was written with"
        )
    return state


# ----------------------------------------------------------------------------------------------------------
def load_trained(model_dir: str | Path, gan: GanCfg) -> dict:
    """The ``init`` of :func:`train_gan` from a trained GAN's outputs (G.pt, D.pt): raw G, EMA, D, loss heads."""
    model_dir = Path(model_dir)
    g = load_checkpoint(model_dir / "G.pt", "gan_generator")
    d = load_checkpoint(model_dir / "D.pt", "gan_discriminator")
    for ck, name in ((g, "G.pt"), (d, "D.pt")):
        got = ck.get("gan", {})
        want = {"arch": gan.arch, "loss": gan.loss, "dataset": gan.dataset, "seed": gan.seed}
        if {k: got.get(k) for k in want} != want:
            raise StageError(
                f"{model_dir / name}: holds GAN {got}, not the base {want}; train the base GAN (train_gan) first"
            )
    raw = "raw_state_dict" in g
    digest = hashlib.sha256((model_dir / "G.pt").read_bytes()).hexdigest()
    return {
        "G": g["raw_state_dict"] if raw else g["state_dict"],
        "G_ema": g["state_dict"] if raw else None,
        "D": d["state_dict"],
        "loss": d.get("loss_state_dict"),
        "resolution": g["model_args"].get("resolution"),
        "base": {"gan": g["gan"], "steps": g.get("steps"), "G_sha256": digest},
    }


def finetune_gan(
    data: str | Path,
    cfg: TrainGanCfg,
    steps: int,
    arch_cfg,
    gan: GanCfg,
    base_dir: str | Path,
    out_dir: str | Path,
    *,
    loss_cfg=None,
    device: torch.device | str = "cpu",
    extra: dict | None = None,
    stop_after: int | None = None,
) -> dict:
    """Continue the trained GAN ``gan.base`` (its G, EMA, D and loss heads from ``base_dir``) on ``data`` for
    ``steps`` G steps with fresh optimisers; the outputs are those of :func:`train_gan`, recording the base."""
    init = load_trained(base_dir, gan.base if gan.base is not None else gan)
    with ImageStore(data) as s:
        res = s.shape[0]
    if init.pop("resolution") != res:
        raise StageError(
            f"{data}: {res} px images, but the base GAN in {base_dir} was trained at a different resolution; "
            "fine-tune on a dataset of the same resolution"
        )
    return train_gan(
        data,
        cfg,
        arch_cfg,
        gan,
        out_dir,
        loss_cfg=loss_cfg,
        device=device,
        extra=extra,
        steps=steps,
        init=init,
        stop_after=stop_after,
        what="finetune_gan",
    )


__all__ = [
    "Interrupted",
    "build_gan",
    "draw_latents",
    "ema_update",
    "finetune_gan",
    "load_trained",
    "train_gan",
]
