"""``make_tables``: one CSV, Markdown and LaTeX file per paper table, the papers' numbers beside ours.

The attribution tables follow the papers' layouts: Yu et al. 2019 Tables 1 and 2 (methods × datasets), the DNA-Det
multiple-cross table (methods × closed / cross-seed / cross-loss / cross-finetune / cross-dataset, Acc and F1), Yu
et al. 2019's attacks with and without immunization, and the Generator_Attribution class-modelling metrics. Each
table reads the metrics of its own protocols only, so a change to one protocol changes only its tables' bytes.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ganprint.config import is_fingerprint_variant
from ganprint.errors import StageError
from ganprint.io import atomic_path, read_json
from ganprint.paths import (
    METRICS_ATTRIBUTION,
    METRICS_DETECT,
    METRICS_EMBED,
    METRICS_FP_AE,
    METRICS_GAN,
    METRICS_ROBUSTNESS_ATTR,
    TABLE_EXTS,
    TABLE_NAMES,
)
from ganprint.report.paper_numbers import (
    ATTRIBUTION,
    FINGERPRINT_README,
    FINGERPRINT_README_ARCH,
    FINGERPRINT_TRANSFER,
    METHOD_NAMES,
    NOT_RETRIEVABLE,
    POSE_OPEN_SET_AUROC,
    QUALITATIVE,
)

CLEAN = "none"  # the perturbation of the clean test images and the plain model (evaluate_attribution)


def metrics_path(protocol: str, method: str, seed: int, perturbation: str = CLEAN) -> str:
    """evaluate_attribution's metrics (clean) or evaluate_robustness's (one perturbation, plain vs immunized)."""
    pattern = METRICS_ATTRIBUTION if perturbation == CLEAN else METRICS_ROBUSTNESS_ATTR
    return pattern.format(protocol=protocol, method=method, seed=seed, perturbation=perturbation)


YU2019_ROWS = ("knn", "eigenface", "prnu", "postpool", "visnet")  # Yu et al. 2019 Table 1's row order
DNADET_SETTINGS = {  # paper value of a protocol → its column pair in the DNA-Det multiple-cross table
    "dnadet_closed": "closed",
    "dnadet_cross_seed": "cross_seed",
    "dnadet_cross_loss": "cross_loss",
    "dnadet_cross_finetune": "cross_finetune",
    "dnadet_cross_dataset": "cross_dataset",
}
COMPARED = ("classmodel", "gandct", "postpool")  # multiclass accuracy rows of the Generator_Attribution table
# the demo protocol that fills a table, named when params.attribution.protocols has none for it
DEMO_PROTOCOLS = {
    "yu2019_table1": "closed_set (paper: yu2019_table1)",
    "yu2019_table2": "fine_grained (paper: yu2019_table2)",
    "dnadet_cross": "arch_closed (paper: dnadet_closed) and cross_seed, cross_loss, cross_finetune, cross_dataset",
    "robustness": "closed_set (robustness: perturbations and methods)",
    "generator_attribution": "arch_closed (methods: classmodel)",
}
UNVERIFIED = "Paper values marked (unverified) are recalled from the PDFs [MEMORY], not checked (see PAPERS.md)."


@dataclass(frozen=True)
class Table:
    """One paper table: its rows (a ``scale`` column goes to the CSV only), title and note lines."""

    name: str
    title: str
    df: pd.DataFrame
    notes: tuple[str, ...] = ()


def _metrics(path: Path, stage: str = "") -> dict:
    if not path.is_file():
        run = f"{stage}: " if stage else ""
        raise StageError(
            f"{path}: metrics not found; run the stage that writes them first ({run}snakemake or dvc repro)"
        )
    return read_json(path)


def _pct(v: float | None, decimals: int) -> float | None:
    return None if v is None else round(100.0 * v, decimals)


def mean_std(values: Iterable[float | None], decimals: int) -> str:
    """Percent cell of fractions over seeds: "mean ± std" (sample std), the mean alone for one value, "n/a" if any
    value is missing (None)."""
    pct = [None if v is None else 100.0 * v for v in values]
    if not pct or any(v is None for v in pct):
        return "n/a"
    if len(pct) == 1:
        return f"{pct[0]:.{decimals}f}"
    return f"{statistics.fmean(pct):.{decimals}f} ± {statistics.stdev(pct):.{decimals}f}"


# -- protocols --------------------------------------------------------------------------------------------------


def classifier_protocol(params, protocol: str) -> str:
    """The protocol whose classifiers ``protocol`` evaluates: itself, or its ``classifier``."""
    return params.protocols[protocol].classifier or protocol


def protocol_methods(params, protocol: str) -> list[str]:
    return list(params.protocols[classifier_protocol(params, protocol)].methods)


def protocol_seeds(params, protocol: str) -> list[int]:
    return list(params.protocols[classifier_protocol(params, protocol)].seeds)


def _source_dataset(params, source: str) -> str:
    kind, _, ref = source.partition("/")
    return ref if kind == "real" else params.gan_list[ref].dataset


def protocol_datasets(params, protocol: str, splits: tuple[str, ...] = ("train",)) -> list[str]:
    """The datasets of a protocol's sources (train by default; an empty test means the train sources), sorted."""
    p = params.protocols[protocol]
    out = set()
    for split in splits:
        classes = p.test if split == "test" and p.test else p.train
        out |= {_source_dataset(params, s) for srcs in classes.values() for s in srcs}
    return sorted(out)


def scale_label(resolutions: Iterable[int]) -> str:
    """ "demo: 32 px, CPU" below the papers' 128 px, else "paper: 128 px"."""
    res = sorted(set(resolutions))
    px = "/".join(map(str, res))
    return f"demo: {px} px, CPU" if res and max(res) < 128 else f"paper: {px} px"


def protocols_scale(params, protocols: list[str]) -> str:
    """The scale of a table: resolution(s) of its protocols' datasets and images per source of each protocol."""
    if not protocols:
        return "n/a (no protocol)"
    res = [params.datasets[ds].resolution for p in protocols for ds in protocol_datasets(params, p, ("train", "test"))]
    parts = [scale_label(res)]
    for name in protocols:
        p = params.protocols[name]
        if p.classifier:
            parts.append(f"{name}: {p.images.test} test images per source (classifiers of {p.classifier})")
        else:
            parts.append(f"{name}: {p.images.train}/{p.images.val}/{p.images.test} images per source (train/val/test)")
    return "; ".join(parts)


def _evaluation(params, root: Path, protocol: str, method: str, seed: int, perturbation: str = CLEAN) -> dict:
    path = root / metrics_path(protocol, method, seed, perturbation)
    return _metrics(path, "evaluate_attribution" if perturbation == CLEAN else "evaluate_robustness")


def _over_seeds(params, root: Path, protocol: str, method: str) -> list[dict]:
    return [_evaluation(params, root, protocol, method, s) for s in protocol_seeds(params, protocol)]


def _seeds_note(params, protocols: list[str]) -> str:
    seeds = {p: protocol_seeds(params, p) for p in protocols}
    per = "; ".join(f"{p}: {', '.join(map(str, s))}" for p, s in seeds.items())
    return (
        "Cells: mean ± std (sample standard deviation) in % over the classifier seeds, the value alone for one "
        f"seed (seeds {per})."
    )


def _placeholder(name: str, title: str, what: str) -> Table:
    note = f"No protocol of params.attribution.protocols {what}; add {DEMO_PROTOCOLS[name]} to fill this table."
    df = pd.DataFrame([{"note": note, "scale": "n/a (no protocol)"}])
    return Table(name, title, df, ("Scale: n/a (no protocol).",))


def _paper_cell(value: str, verified: bool) -> str:
    return value if verified or value.startswith("n/a") else f"{value} (unverified)"


def _unique_labels(labels: dict[str, str]) -> dict[str, str]:
    """protocol → column label; a label shared by several protocols gets the protocol's name appended."""
    counts = {lab: list(labels.values()).count(lab) for lab in labels.values()}
    return {p: lab if counts[lab] == 1 else f"{lab}[{p}]" for p, lab in labels.items()}


# -- the attribution tables -------------------------------------------------------------------------------------


def yu2019_table(params, root: Path, paper: str) -> Table:
    """Yu et al. 2019 Table 1 or 2 (``paper``): rows = methods (kNN, [Eigenface,] PRNU, ours = postpool, visNet,
    then the protocol's other methods), a column of ours per protocol (labelled by its training datasets, the
    paper's CelebA / LSUN), the paper's columns beside."""
    number = paper[-1]
    ref = ATTRIBUTION[paper]
    title = f"Yu et al. 2019 Table {number}: attribution accuracy (%), ours beside the paper's"
    protocols = [p for p in params.attribution.protocols if params.protocols[p].paper == paper]
    if not protocols:
        return _placeholder(paper, title, f"has paper: {paper}")
    d = params.make_tables.decimals
    labels = _unique_labels({p: "+".join(protocol_datasets(params, p)) for p in protocols})
    run = {p: protocol_methods(params, p) for p in protocols}
    ran = [m for p in protocols for m in run[p]]
    methods = [m for m in YU2019_ROWS if m in ran or m in ref["methods"]]
    methods += [m for m in dict.fromkeys(ran) if m not in methods]
    chance = {}
    cells: dict[tuple[str, str], str] = {}
    for p in protocols:
        for m in run[p]:
            runs = _over_seeds(params, root, p, m)
            cells[p, m] = mean_std([r["accuracy"] for r in runs], d)
            chance.setdefault(p, runs[0]["chance"])
    scale = protocols_scale(params, protocols)
    rows = []
    for m in methods:
        row = {"method": m, "method_name": METHOD_NAMES.get(m, m)}
        for p in protocols:
            row[f"{labels[p]}_accuracy_%"] = cells.get((p, m), "not run")
        for ds in ref["datasets"]:
            value = ref["methods"].get(m, {}).get(ds)
            row[f"paper_{ds}_accuracy_%"] = (
                "n/a (not in the paper)" if value is None else _paper_cell(value, ref["verified"])
            )
        row["scale"] = scale
        rows.append(row)
    notes = [
        f"Scale: {scale}.",
        _seeds_note(params, protocols),
        *(
            f"{labels[p]}: protocol {p} ({params.protocols[p].description}); chance {100 * chance[p]:.{d}f} %."
            for p in protocols
        ),
        f"Paper: {ref['reference']}.",
        UNVERIFIED,
    ]
    return Table(paper, title, pd.DataFrame(rows), tuple(notes))


def dnadet_table(params, root: Path) -> Table:
    """DNA-Det's multiple-cross table: rows = methods, an Acc / F1 column pair per setting (closed, cross-seed,
    cross-loss, cross-finetune, cross-dataset); a cross-* protocol scores the classifiers of its ``classifier``."""
    name = "dnadet_cross"
    title = "DNA-Det multiple-cross test: accuracy / macro-F1 (%), closed set and cross-seed/loss/finetune/dataset"
    by_setting = {
        s: [p for p in params.attribution.protocols if params.protocols[p].paper == paper]
        for paper, s in DNADET_SETTINGS.items()
    }
    protocols = [p for ps in by_setting.values() for p in ps]
    if not protocols:
        return _placeholder(name, title, "has paper: " + " / ".join(DNADET_SETTINGS))
    d = params.make_tables.decimals
    labels = {p: s if len(ps) == 1 else f"{s}[{p}]" for s, ps in by_setting.items() for p in ps}
    run = {p: protocol_methods(params, p) for p in protocols}
    methods = list(dict.fromkeys(m for p in protocols for m in run[p]))
    cells: dict[tuple[str, str], tuple[str, str]] = {}
    for p in protocols:
        for m in run[p]:
            runs = _over_seeds(params, root, p, m)
            cells[p, m] = (mean_std([r["accuracy"] for r in runs], d), mean_std([r["macro_f1"] for r in runs], d))
    scale = protocols_scale(params, protocols)
    rows = []
    for m in methods:
        row = {"method": m, "method_name": METHOD_NAMES.get(m, m)}
        for s, ps in by_setting.items():
            for p in ps or [None]:
                label = s if p is None else labels[p]
                acc, f1 = ("no protocol", "no protocol") if p is None else cells.get((p, m), ("not run", "not run"))
                row[f"{label}_acc_%"], row[f"{label}_f1_%"] = acc, f1
        row["paper"] = NOT_RETRIEVABLE
        row["scale"] = scale
        rows.append(row)
    described = "; ".join(f"{labels[p]} = {p} ({params.protocols[p].description})" for p in protocols)
    notes = (
        f"Scale: {scale}.",
        _seeds_note(params, protocols),
        f"Settings: {described}.",
        "Acc: accuracy; F1: macro-F1 over the test classes.",
        f"Paper: DNA-Det (AAAI 2022) multiple-cross table, {NOT_RETRIEVABLE}; qualitative: {QUALITATIVE['dnadet']}.",
    )
    return Table(name, title, pd.DataFrame(rows), notes)


def robustness_table(params, root: Path) -> Table:
    """Yu et al. 2019's attacks: per protocol, method, perturbation and strength (and every image at a random
    strength), accuracy of the plain classifier and of the one immunized on that perturbation (first seed)."""
    name = "robustness"
    title = "Robustness (Yu et al. 2019 attacks): accuracy (%) without and with immunization"
    protocols = [
        p
        for p in params.attribution.protocols
        if params.protocols[p].robustness.perturbations and params.protocols[p].robustness.methods
    ]
    if not protocols:
        return _placeholder(name, title, "has robustness perturbations and methods")
    d = params.make_tables.decimals
    scale = protocols_scale(params, protocols)
    rows = []
    for p in protocols:
        seed = protocol_seeds(params, p)[0]
        cfg = params.protocols[p].robustness
        for method in cfg.methods:
            for kind in cfg.perturbations:
                m = _evaluation(params, root, p, method, seed, kind)
                points = [(c["level"], c["strength"], c) for c in m["curve"]]
                points.append(("random", "random strength per image", m["random"]))
                for level, strength, c in points:
                    rows.append(
                        {
                            "protocol": p,
                            "method": method,
                            "seed": seed,
                            "perturbation": kind,
                            "level": level,
                            "strength": strength,
                            "accuracy_plain_%": mean_std([c["accuracy_plain"]], d),
                            "accuracy_immunized_%": mean_std([c["accuracy_immunized"]], d),
                            "scale": scale,
                        }
                    )
    notes = (
        f"Scale: {scale}.",
        "Plain: the classifier trained on clean images; immunized: fine-tuned on training images attacked with the "
        "row's perturbation (Yu et al. 2019 §1.6). Level 0 is the identity; 'random': every test image attacked "
        "at a random strength. One classifier seed (the protocol's first).",
        f"Paper: no numbers retrievable offline; qualitative: {QUALITATIVE['robustness']}.",
    )
    return Table(name, title, pd.DataFrame(rows), notes)


def generator_attribution_table(params, root: Path) -> Table:
    """Generator_Attribution's class modelling: detection (real vs. generated) accuracy/AP/AUROC, one-vs-rest AP
    per class, multiclass accuracy of classmodel vs. gandct and postpool, and open-set AUROC wherever a protocol
    has 'unknown' test images. One row per (protocol, method, metric, class)."""
    name = "generator_attribution"
    title = "Generator_Attribution: class-modelling detection, one-vs-rest and multiclass attribution, open set (%)"
    protocols = [
        p
        for p in params.attribution.protocols
        if params.protocols[p].paper == "generator_attribution" or "classmodel" in protocol_methods(params, p)
    ]
    if not protocols:
        return _placeholder(name, title, "runs classmodel or has paper: generator_attribution")
    d = params.make_tables.decimals
    scale = protocols_scale(params, protocols)
    rows = []

    def row(protocol, method, metric, cls, values):
        rows.append(
            {
                "protocol": protocol,
                "method": method,
                "metric": metric,
                "class": cls,
                "value_%": mean_std(values, d),
                "paper": NOT_RETRIEVABLE,
                "scale": scale,
            }
        )

    for p in protocols:
        methods = protocol_methods(params, p)
        runs = {m: _over_seeds(params, root, p, m) for m in methods}
        if "classmodel" in runs:
            cms = []
            for seed, r in zip(protocol_seeds(params, p), runs["classmodel"], strict=True):
                if "class_modelling" not in r:
                    path = metrics_path(p, "classmodel", seed)
                    raise StageError(f"{root / path}: no class_modelling; rerun evaluate_attribution")
                cms.append(r["class_modelling"])
            det = [c["detection"] for c in cms]
            for key, metric in (
                ("accuracy", "detection accuracy"),
                ("ap", "detection AP"),
                ("auroc", "detection AUROC"),
            ):
                row(p, "classmodel", metric, f"{det[0]['real_class']} vs. rest", [x[key] for x in det])
            for cls in cms[0]["one_vs_rest"]:
                row(p, "classmodel", "one-vs-rest AP", cls, [c["one_vs_rest"].get(cls, {}).get("ap") for c in cms])
        for m in COMPARED:
            if m in runs:
                row(p, m, "multiclass accuracy", "all", [r["accuracy"] for r in runs[m]])
        for m, rs in runs.items():
            if any(r.get("open_set") for r in rs):
                row(p, m, "open-set AUROC", "unknown vs. known", [(r.get("open_set") or {}).get("auroc") for r in rs])
    pose = ", ".join(f"{k} {v}" for k, v in POSE_OPEN_SET_AUROC.items())
    notes = (
        f"Scale: {scale}.",
        _seeds_note(params, protocols),
        "Detection: classmodel's real-vs-generated module; one-vs-rest AP: each class model against the other "
        "classes; multiclass accuracy: every class (classmodel vs. the gandct and postpool baselines the protocol "
        "runs); open-set AUROC: 'unknown' test images against the known classes (n/a: a seed without it).",
        f"Paper: {ATTRIBUTION['generator_attribution']['reference']}; qualitative: "
        f"{QUALITATIVE['generator_attribution']}.",
        f"For orientation only (another benchmark, exact): POSE open-set AUROC {pose} (PAPERS.md §7b).",
    )
    return Table(name, title, pd.DataFrame(rows), notes)


# -- the fingerprint and GAN tables ------------------------------------------------------------------------------

FINGERPRINT_COLUMNS = (
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
    "scale",
)
GAN_COLUMNS = (
    "gan",
    "arch",
    "loss",
    "variant",
    "seed",
    "resolution_px",
    "train_steps",
    "fid",
    "kid_x1000",
    "num_fake",
    "num_real",
    "scale",
)


def _paper_readme(arch: str) -> str:
    fam = FINGERPRINT_README_ARCH.get(arch)
    if fam is None:
        return "n/a (README: 0.93-0.99 over 12 generators)"
    return "; ".join(f"{d}: FID {fid}, bit acc {acc}" for d, fid, acc in FINGERPRINT_README[fam])


def fingerprint_table(params, root: Path = Path(".")) -> pd.DataFrame:
    """Yu et al. 2021's main table: per GAN, the bit accuracy of its samples, its FID beside the FID of the
    clean-data GAN of the same dataset/arch/loss/seed, the README's numbers (PAPERS §2.5) beside ours; plus the
    fingerprinted training images and, per dataset, the calibrated attribution (beyond the paper)."""
    d = params.make_tables.decimals
    ref = FINGERPRINT_TRANSFER
    rows = []

    def row(**kw):
        base = dict.fromkeys(FINGERPRINT_COLUMNS, "")
        base.update(kw)
        base["scale"] = scale_label([base["resolution_px"]])
        rows.append(base)

    for ds in params.autoencoders:
        ae = _metrics(root / METRICS_FP_AE.format(dataset=ds), "train_fingerprint_autoencoder")
        for fp in params.fingerprints:
            emb = _metrics(root / METRICS_EMBED.format(variant=fp, dataset=ds), "embed_fingerprints")
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
    detect = {
        ds: _metrics(root / METRICS_DETECT.format(dataset=ds), "detect_fingerprints") for ds in params.autoencoders
    }
    for name, g in params.gan_list.items():
        if g.dataset not in detect:
            continue  # no fingerprint decoder for its dataset (autoencoders): no fingerprint to read
        m = detect[g.dataset]["sets"][name]
        fingerprinted = is_fingerprint_variant(g.variant)
        fid = twin = ""
        if fingerprinted:
            fid = round(_metrics(root / METRICS_GAN.format(**g.selectors()), "evaluate_gan")["fid"], d)
            clean = g.model_copy(update={"variant": "clean"})
            twin = (
                round(_metrics(root / METRICS_GAN.format(**clean.selectors()), "evaluate_gan")["fid"], d)
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
    return pd.DataFrame(rows, columns=FINGERPRINT_COLUMNS)


def gan_table(params, root: Path = Path(".")) -> pd.DataFrame:
    """The GAN zoo: FID and KID of every GAN of the grid against its dataset's real images (evaluate_gan)."""
    d = params.make_tables.decimals
    rows = []
    for name, g in params.gan_list.items():
        m = _metrics(root / METRICS_GAN.format(**g.selectors()), "evaluate_gan")
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
                "scale": scale_label([params.datasets[g.dataset].resolution]),
            }
        )
    return pd.DataFrame(rows, columns=GAN_COLUMNS)


def _fingerprints(params, root: Path) -> Table:
    return Table(
        "fingerprints",
        "Artificial fingerprints: bit accuracy (Yu et al. 2021)",
        fingerprint_table(params, root),
        (
            _scale_note(params),
            "Paper: " + FINGERPRINT_TRANSFER["reference"] + ".",
            "bit_accuracy: share of the fingerprint's bits the decoder reads back; 0.5 = chance (a clean GAN "
            "decodes to one fixed pattern, so its control value need not be 0.5).",
            "fid / fid_clean_twin: FID of the GAN trained on fingerprinted data and of the clean-data GAN of the "
            "same dataset/arch/loss/seed (evaluate_gan); paper_readme: the README's numbers (PAPERS.md §2.5).",
            "Bit accuracy against training steps: results/fingerprint_attribution/<dataset>/bit_accuracy_by_step.csv "
            "(a DVC plot).",
        ),
    )


def _gans(params, root: Path) -> Table:
    first = next(iter(params.gan_list.values()), None)
    weights = _metrics(root / METRICS_GAN.format(**first.selectors()), "evaluate_gan") if first else {}
    return Table(
        "gans",
        "The GAN zoo: FID and KID of every GAN against its dataset's real images",
        gan_table(params, root),
        (
            _scale_note(params),
            f"Features: {weights.get('weights', 'n/a')}; resize: {weights.get('resize', 'n/a')}.",
            "KID is reported x1000 as mean ± std over random subsets; with a few hundred images FID is biased "
            "upwards, KID is the metric meant for small sample counts. A fine-tuned GAN (variant ft-<dataset>) is "
            "scored against the real images of the dataset in its name.",
        ),
    )


def _scale_note(params) -> str:
    scale = sorted({d.resolution for d in params.datasets.values()})
    return f"Scale: {'/'.join(map(str, scale))} px images" + (
        " (the embedded CPU demo; the papers use 128 px)." if scale and max(scale) < 128 else "."
    )


# table name → its builder (params, root) → Table; the same names, in the same order, as paths.TABLE_NAMES
TABLES: dict[str, Callable[..., Table]] = {
    "yu2019_table1": lambda params, root: yu2019_table(params, root, "yu2019_table1"),
    "yu2019_table2": lambda params, root: yu2019_table(params, root, "yu2019_table2"),
    "dnadet_cross": dnadet_table,
    "robustness": robustness_table,
    "generator_attribution": generator_attribution_table,
    "fingerprints": _fingerprints,
    "gans": _gans,
}

# -- writers ----------------------------------------------------------------------------------------------------

_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "±": r"$\pm$",
}


def tex_escape(text: str) -> str:
    """LaTeX-escape free text (the caption and notes; pandas escapes the cells but not the caption)."""
    return "".join(_TEX.get(c, c) for c in text)


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    """The cells as the CSV writes them (to_latex would print 100.0 as 100.000000, tabulate 87.50 as 87.5)."""
    return df.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))


def to_latex(df: pd.DataFrame, name: str, title: str, notes: Iterable[str] = ()) -> str:
    """A booktabs ``table`` (pandas ``DataFrame.to_latex``, which needs jinja2): caption = title + the first note
    (the scale), label ``tab:<name>``, the notes as a footnote-size paragraph below the tabular."""
    notes = list(notes)
    caption = title if not notes else f"{title}. {notes[0]}"
    tex = _as_text(df).to_latex(index=False, escape=True, caption=tex_escape(caption), label=f"tab:{name}")
    tex = tex.replace("±", r"$\pm$")
    if notes:
        foot = "\\par\\smallskip\n{\\footnotesize\n" + "\\par\n".join(map(tex_escape, notes)) + "\\par\n}\n"
        tex = tex.replace("\\end{table}\n", foot + "\\end{table}\n")
    return tex


def write_table(df: pd.DataFrame, out_dir: Path, name: str, title: str, notes: Iterable[str] = ()) -> list[str]:
    """Write ``<name>.csv`` (every column, ``scale`` included), ``<name>.md`` and ``<name>.tex`` (title, the table
    without the ``scale`` column, the notes, whose first line states the scale); returns the three paths."""
    notes = list(notes)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shown = df.drop(columns=["scale"], errors="ignore")
    md = f"# {title}\n\n" + _as_text(shown).to_markdown(index=False, disable_numparse=True) + "\n"
    if notes:
        md += "\n" + "".join(f"- {n}\n" for n in notes)
    paths = [out_dir / f"{name}.{ext}" for ext in TABLE_EXTS]
    for path in paths:
        with atomic_path(path) as tmp:
            if path.suffix == ".csv":
                df.to_csv(tmp, index=False, lineterminator="\n")
            elif path.suffix == ".md":
                tmp.write_text(md, encoding="utf-8")
            else:
                tmp.write_text(to_latex(shown, name, title, notes), encoding="utf-8")
    return [str(p) for p in paths]


def build_table(params, name: str, root: str | Path = ".") -> Table:
    """The table ``name`` (one of paths.TABLE_NAMES) from the metrics under ``root``."""
    return TABLES[name](params, Path(root))


def make_table(params, name: str, out_dir: str | Path, root: str | Path = ".") -> list[str]:
    """Build and write one table; returns its paths (<out_dir>/<name>.csv, .md, .tex)."""
    t = build_table(params, name, root)
    return write_table(t.df, Path(out_dir), t.name, t.title, t.notes)


def make_tables(params, out_dir: str | Path, root: str | Path = ".") -> list[str]:
    """Every paper table (paths.TABLE_NAMES × paths.TABLE_EXTS); returns the written paths in that order."""
    return [path for name in TABLE_NAMES for path in make_table(params, name, out_dir, root)]
