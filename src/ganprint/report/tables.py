"""``make_tables``: one CSV + Markdown file per paper table, the papers' numbers in a column beside ours."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ganprint.config import Params, is_fingerprint_variant
from ganprint.errors import StageError
from ganprint.io import atomic_path, read_json
from ganprint.paths import METRICS_ATTRIBUTION, METRICS_DETECT, METRICS_EMBED, METRICS_FP_AE, METRICS_GAN, TABLE_NAMES
from ganprint.report.paper_numbers import (
    ATTRIBUTION,
    FINGERPRINT_README,
    FINGERPRINT_README_ARCH,
    FINGERPRINT_TRANSFER,
)


def _metrics(path: Path) -> dict:
    if not path.is_file():
        raise StageError(f"{path}: metrics not found; run the stage that writes them first (snakemake or dvc repro)")
    return read_json(path)


def _pct(v: float | None, decimals: int) -> float | None:
    return None if v is None else round(100.0 * v, decimals)


def attribution_table(params: Params, root: Path = Path(".")) -> pd.DataFrame:
    d = params.make_tables.decimals
    rows = []
    for protocol in params.attribution.protocols:
        p = params.protocols[protocol]
        paper = ATTRIBUTION.get(p.paper, {})
        paper_acc = "; ".join(f"{k} {v}" for k, v in paper.get("accuracy", {}).items()) or "n/a"
        if paper and not paper.get("verified") and paper.get("accuracy"):
            paper_acc += " (unverified)"
        datasets = sorted(
            {
                s.split("/", 1)[1] if s.startswith("real/") else params.gan_list[s.split("/", 1)[1]].dataset
                for srcs in p.train.values()
                for s in srcs
            }
        )
        res = sorted({params.datasets[x].resolution for x in datasets})
        for method in params.attribution.methods:
            m = _metrics(root / METRICS_ATTRIBUTION.format(protocol=protocol, method=method))
            rows.append(
                {
                    "protocol": protocol,
                    "method": method,
                    "datasets": "+".join(datasets),
                    "resolution_px": "/".join(map(str, res)),
                    "classes": len(m["classes"]),
                    "test_images": m["test_images"],
                    "accuracy_%": _pct(m["accuracy"], d),
                    "macro_f1_%": _pct(m["macro_f1"], d),
                    "chance_%": _pct(m["chance"], d),
                    "paper_accuracy_%": paper_acc,
                    "paper_reference": paper.get("reference", ""),
                }
            )
    return pd.DataFrame(rows)


def _paper_readme(arch: str) -> str:
    fam = FINGERPRINT_README_ARCH.get(arch)
    if fam is None:
        return "n/a (README: 0.93-0.99 over 12 generators)"
    return "; ".join(f"{d}: FID {fid}, bit acc {acc}" for d, fid, acc in FINGERPRINT_README[fam])


def fingerprint_table(params: Params, root: Path = Path(".")) -> pd.DataFrame:
    """Yu et al. 2021's main table: per GAN, the bit accuracy of its samples, its FID beside the FID of the
    clean-data GAN of the same dataset/arch/loss/seed, the README's numbers (PAPERS §2.5) beside ours; plus the
    fingerprinted training images and, per dataset, the calibrated attribution (beyond the paper)."""
    d = params.make_tables.decimals
    ref = FINGERPRINT_TRANSFER
    rows = []

    def row(**kw):
        base = dict.fromkeys(
            [
                "images",
                "variant",
                "resolution_px",
                "bits",
                "bit_accuracy",
                "psnr_db",
                "ssim",
                "fid",
                "fid_clean_twin",
                "attributed_to_own_%",
                "paper_bit_accuracy",
                "paper_readme",
                "note",
            ],
            "",
        )
        base.update(kw)
        rows.append(base)

    for ds in params.autoencoders:
        ae = _metrics(root / METRICS_FP_AE.format(dataset=ds))
        for fp in params.fingerprints:
            emb = _metrics(root / METRICS_EMBED.format(variant=fp, dataset=ds))
            row(
                images=f"{ds}: training images with fingerprint {fp}",
                variant=fp,
                resolution_px=params.datasets[ds].resolution,
                bits=emb["bits"],
                bit_accuracy=round(emb["bit_accuracy"], 4),
                psnr_db=round(emb["psnr_db"], d),
                ssim=round(emb["ssim"], 4) if "ssim" in emb else "",
                paper_bit_accuracy=f"{ref['embedded_training_images']} (unverified)",
                note=f"autoencoder on fresh random bits: {ae['bit_accuracy']:.4f}",
            )
    detect = {ds: _metrics(root / METRICS_DETECT.format(dataset=ds)) for ds in params.autoencoders}
    for name, g in params.gan_list.items():
        m = detect[g.dataset]["sets"][name]
        fingerprinted = is_fingerprint_variant(g.variant)
        fid = twin = ""
        if fingerprinted:
            fid = round(_metrics(root / METRICS_GAN.format(**g.selectors()))["fid"], d)
            clean = g.model_copy(update={"variant": "clean"})
            twin = (
                round(_metrics(root / METRICS_GAN.format(**clean.selectors()))["fid"], d)
                if clean.name in params.gan_list
                else "n/a (clean twin not in the grid)"
            )
        acc = m.get("bit_accuracy")
        row(
            images=f"samples of {name}",
            variant=g.variant,
            resolution_px=params.datasets[g.dataset].resolution,
            bits=detect[g.dataset]["bits"],
            bit_accuracy="" if acc is None else round(acc, 4),
            fid=fid,
            fid_clean_twin=twin,
            **{"attributed_to_own_%": _pct(m.get("attribution_accuracy"), d) if fingerprinted else ""},
            paper_bit_accuracy=ref["fingerprinted"] if fingerprinted else f"{ref['clean']} (chance)",
            paper_readme=_paper_readme(g.arch) if fingerprinted else "",
            note="GAN trained on fingerprinted data"
            if fingerprinted
            else f"control: clean data, scored against {m.get('scored_against')}",
        )
    for ds, m in detect.items():
        if "threshold_hamming" not in m:
            continue
        row(
            images=f"{ds}: proactive attribution (registry of {len(m['registered'])} fingerprints)",
            variant="all",
            resolution_px=params.datasets[ds].resolution,
            bits=m["bits"],
            **{"attributed_to_own_%": _pct(m["attribution_accuracy"], d)},
            paper_bit_accuracy="n/a (beyond the paper)",
            note=f"Hamming threshold {m['threshold_hamming']} for target FPR {m['target_fpr']}: measured FPR "
            f"{m['measured_fpr']:.4f} on {m['fpr_images']} held-out real/clean-GAN images",
        )
    return pd.DataFrame(rows)


def gan_table(params: Params, root: Path = Path(".")) -> pd.DataFrame:
    """The GAN zoo: FID and KID of every GAN of the grid against its dataset's real images (evaluate_gan)."""
    d = params.make_tables.decimals
    rows = []
    for name, g in params.gan_list.items():
        m = _metrics(root / METRICS_GAN.format(**g.selectors()))
        rows.append(
            {
                "gan": name,
                "arch": g.arch,
                "loss": g.loss,
                "variant": g.variant,
                "seed": g.seed,
                "resolution_px": params.datasets[g.dataset].resolution,
                "train_steps": params.finetune_gan.steps if g.finetune_dataset else params.train_gan.steps,
                "fid": round(m["fid"], d),
                "kid_x1000": f"{1000 * m['kid_mean']:.{d}f} ± {1000 * m['kid_std']:.{d}f}",
                "num_fake": m["num_fake"],
                "num_real": m["num_real"],
            }
        )
    return pd.DataFrame(rows)


def write_table(df: pd.DataFrame, out_dir: Path, name: str, title: str, notes: list[str] = ()) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / f"{name}.csv") as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")
    md = f"# {title}\n\n" + df.to_markdown(index=False) + "\n"
    if notes:
        md += "\n" + "".join(f"- {n}\n" for n in notes)
    with atomic_path(out_dir / f"{name}.md") as tmp:
        tmp.write_text(md, encoding="utf-8")


def make_tables(params: Params, out_dir: str | Path, root: str | Path = ".") -> list[str]:
    out_dir, root = Path(out_dir), Path(root)
    scale = sorted({d.resolution for d in params.datasets.values()})
    scale_note = f"Scale: {'/'.join(map(str, scale))} px images" + (
        " (the embedded CPU demo; the papers use 128 px)." if max(scale) < 128 else "."
    )
    write_table(
        attribution_table(params, root),
        out_dir,
        "attribution",
        "Attribution accuracy (ours vs. the papers' reported numbers)",
        [scale_note, "Paper values marked (unverified) are recalled from the PDFs, not checked (see PAPERS.md)."],
    )
    write_table(
        fingerprint_table(params, root),
        out_dir,
        "fingerprints",
        "Artificial fingerprints: bit accuracy (Yu et al. 2021)",
        [
            scale_note,
            "Paper: " + FINGERPRINT_TRANSFER["reference"] + ".",
            "bit_accuracy: share of the fingerprint's bits the decoder reads back; 0.5 = chance (a clean GAN "
            "decodes to one fixed pattern, so its control value need not be 0.5).",
            "fid / fid_clean_twin: FID of the GAN trained on fingerprinted data and of the clean-data GAN of the "
            "same dataset/arch/loss/seed (evaluate_gan); paper_readme: the README's numbers (PAPERS.md §2.5).",
            "Bit accuracy against training steps: results/fingerprint_attribution/<dataset>/bit_accuracy_by_step.csv "
            "(a DVC plot).",
        ],
    )
    fid = next(iter(params.gan_list.values()), None)
    weights = _metrics(root / METRICS_GAN.format(**fid.selectors())) if fid else {}
    write_table(
        gan_table(params, root),
        out_dir,
        "gans",
        "The GAN zoo: FID and KID of every GAN against its dataset's real images",
        [
            scale_note,
            f"Features: {weights.get('weights', 'n/a')}; resize: {weights.get('resize', 'n/a')}.",
            "KID is reported x1000 as mean ± std over random subsets; with a few hundred images FID is biased "
            "upwards, KID is the metric meant for small sample counts. A fine-tuned GAN (variant ft-<dataset>) is "
            "scored against the real images of the dataset in its name.",
        ],
    )
    return [str(out_dir / f"{n}.{e}") for n in TABLE_NAMES for e in ("csv", "md")]
