"""``make_tables``: one CSV + Markdown file per paper table, the papers' numbers in a column beside ours."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ganprint.config import Params
from ganprint.errors import StageError
from ganprint.io import atomic_path, read_json
from ganprint.paths import METRICS_ATTRIBUTION, METRICS_DETECT, METRICS_EMBED, METRICS_FP_AE
from ganprint.report.paper_numbers import ATTRIBUTION, FINGERPRINT_TRANSFER


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


def fingerprint_table(params: Params, root: Path = Path(".")) -> pd.DataFrame:
    d = params.make_tables.decimals
    ref = FINGERPRINT_TRANSFER
    rows = []
    for ds in params.autoencoders:
        ae = _metrics(root / METRICS_FP_AE.format(dataset=ds))
        emb = _metrics(root / METRICS_EMBED.format(dataset=ds))
        rows.append(
            {
                "images": f"{ds}: fingerprinted training images",
                "variant": "fingerprinted",
                "resolution_px": params.datasets[ds].resolution,
                "bits": emb["bits"],
                "bit_accuracy": round(emb["bit_accuracy"], 4),
                "psnr_db": round(emb["psnr_db"], d),
                "paper_bit_accuracy": f"{ref['embedded_training_images']} (unverified)",
                "note": f"autoencoder on fresh random bits: {ae['bit_accuracy']:.4f}",
            }
        )
    for name, g in params.gan_list.items():
        m = _metrics(root / METRICS_DETECT.format(**g.selectors()))
        paper = ref["fingerprinted"] if g.variant == "fingerprinted" else ref["clean"]
        rows.append(
            {
                "images": f"samples of {name}",
                "variant": g.variant,
                "resolution_px": params.datasets[g.dataset].resolution,
                "bits": m["bits"],
                "bit_accuracy": round(m["bit_accuracy"], 4),
                "psnr_db": "",
                "paper_bit_accuracy": paper if g.variant == "fingerprinted" else f"{paper} (chance)",
                "note": "GAN trained on fingerprinted data"
                if g.variant == "fingerprinted"
                else "control: GAN trained on clean data",
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
            "bit_accuracy: share of the fingerprint's bits the decoder reads back; 0.5 = chance.",
        ],
    )
    return [str(out_dir / f"{n}.{e}") for n in ("attribution", "fingerprints") for e in ("csv", "md")]
