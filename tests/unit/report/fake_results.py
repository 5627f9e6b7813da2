"""A tiny fake params object and results tree for the figure and report tests (no pipeline run needed).

The params are plain namespaces with the attributes of the issue-9 contract (protocols[p].methods/.seeds/
.classifier/.robustness, attribution.protocols, gan_list), so the tests do not depend on the config schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace as NS

import numpy as np
from PIL import Image

from ganprint import paths as P
from ganprint.report.figures import save_grid
from ganprint.report.index_page import report_inputs
from ganprint.report.paper_figures import figure_plan

CLASSES = ["progan", "real"]


def _gan(dataset, arch, loss, variant, seed):
    sel = {"dataset": dataset, "arch": arch, "loss": loss, "variant": variant, "seed": seed}
    return NS(**sel, name=P.GAN_NAME.format(**sel), selectors=lambda: dict(sel))


def fake_params() -> NS:
    gans = [
        _gan("skimage", "progan", "wgangp", "clean", 0),
        _gan("skimage", "progan", "wgangp", "clean", 1),
        _gan("skimage", "dcgan", "nonsat", "fingerprinted", 0),
    ]
    protocols = {
        "closed_set": NS(
            methods=["postpool", "knn"],
            seeds=[3, 4],
            classifier="",
            robustness=NS(perturbations=["noise", "jpeg"], methods=["postpool"]),
            train={"real": ["real/skimage"], "progan": ["gan/skimage-progan-wgangp-clean-seed0"]},
            test={},
        ),
        "cross_seed": NS(
            methods=["postpool"],
            seeds=[0],
            classifier="closed_set",
            robustness=NS(perturbations=[], methods=[]),
            train={"real": ["real/skimage"], "progan": ["gan/skimage-progan-wgangp-clean-seed0"]},
            test={"real": ["real/skimage"], "progan": ["gan/skimage-progan-wgangp-clean-seed1"]},
        ),
    }
    return NS(
        protocols=protocols,
        attribution=NS(protocols=["closed_set", "cross_seed"]),
        gan_list={g.name: g for g in gans},
        datasets={"skimage": NS(resolution=32)},
        autoencoders=["skimage"],
        fingerprints={"fingerprinted": NS(seed=42)},
    )


def none_metrics(protocol="closed_set", method="postpool", seed=3) -> dict:
    return {"protocol": protocol, "method": method, "seed": seed, "perturbation": "none", "accuracy": 0.9,
            "macro_f1": 0.89, "chance": 0.5, "classes": CLASSES, "confusion_matrix": [[45, 5], [5, 45]]}  # fmt: skip


def robustness_metrics(kind: str, immunized: bool = True) -> dict:
    curve = [
        {
            "level": lv,
            "strength": "identity" if lv == 0 else f"{kind}:q={lv * 10}",
            "accuracy_plain": 0.9 - 0.15 * lv,
            "accuracy_immunized": (0.88 - 0.02 * lv) if immunized else None,
        }  # fmt: skip
        for lv in range(4)
    ]
    rnd = {"accuracy_plain": 0.5, "accuracy_immunized": 0.85 if immunized else None}
    return {"protocol": "closed_set", "method": "postpool", "seed": 3, "perturbation": kind, "classes": CLASSES,
            "curve": curve, "random": rnd}  # fmt: skip


def stats_rows(n: int = 12) -> str:
    return "".join(
        json.dumps({"loss": round(1.0 / s, 6), "step": s, "train_acc": round(1 - 0.5 / s, 6)}, sort_keys=True) + "\n"
        for s in range(1, n + 1)
    )


def curves_csv(n: int = 10) -> str:
    return "step,loss_d,loss_g,penalty\n" + "".join(
        f"{10 * s},{1.0 / s:.6f},{2.0 - 1.0 / s:.6f},0.1\n" for s in range(1, n + 1)
    )


def png(path: Path, size=(40, 30), value: int = 0) -> None:
    """A small PNG with a gradient (never blank)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    img[..., 1] = value
    Image.fromarray(img).save(path, format="PNG")


def grid(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_grid(np.random.default_rng(seed).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8), path)


def write_inputs(root: Path, params) -> None:
    """Every input make_figures reads for ``params``, under ``root``."""
    for i, job in enumerate(figure_plan(params)):
        for label, rel in job.inputs.items():
            f = root / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            if job.kind == "confusion":
                f.write_text(json.dumps(none_metrics()), encoding="utf-8")
            elif job.kind == "robustness":
                f.write_text(json.dumps(robustness_metrics(label)), encoding="utf-8")
            elif job.kind == "training":
                f.write_text(stats_rows() if label != "knn" else '{"step": 1, "train_vectors": 100.0}\n', "utf-8")
            elif job.kind == "gans":
                f.write_text(curves_csv(), encoding="utf-8")
            elif job.kind == "sources":
                grid(f, i)


def write_tables(tables: Path) -> None:
    tables.mkdir(parents=True, exist_ok=True)
    (tables / "gans.csv").write_text("gan,fid\nskimage-progan-wgangp-clean-seed0,344.54\nb,1.5\n", encoding="utf-8")
    (tables / "gans.md").write_text(
        "# The GAN zoo: FID <and> KID\n\n| gan | fid |\n|:--|--:|\n| skimage-progan-wgangp-clean-seed0 | 344.54 |\n"
        "| b | 1.5 |\n\n- Scale: 32 px images & CPU.\n",
        encoding="utf-8",
    )
    (tables / "yu2019_table1.md").write_text(
        "# Yu 2019 Table 1\n\n| method | acc |\n|:--|--:|\n| postpool | 96.9 ± 0.3 |\n| knn | 94.6 ± 1.0 |\n"
        "| prnu | 83.9 ± 2.1 |\n\n- Scale: demo.\n- (unverified) values recalled.\n",
        encoding="utf-8",
    )


def write_report_inputs(root: Path, params) -> None:
    """Tables, and a small PNG for every figure the results page links."""
    write_tables(root / P.TABLES)
    for i, rel in enumerate(report_inputs(params)):
        png(root / rel, value=i % 256)
