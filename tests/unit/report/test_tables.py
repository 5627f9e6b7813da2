"""The paper tables (Yu 2019 Tables 1-2, DNA-Det multiple-cross, robustness, Generator_Attribution) from a hand-built
params object and hand-written evaluate_attribution metrics: exact cells, the file set, per-protocol isolation."""

from __future__ import annotations

import copy
import csv
import dataclasses
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from ganprint.errors import StageError
from ganprint.io import write_json
from ganprint.paths import GAN_NAME, METRICS_DETECT, METRICS_FP_AE, METRICS_GAN, TABLE_EXTS, TABLE_FILES, TABLE_NAMES
from ganprint.report.paper_numbers import ATTRIBUTION, NOT_RETRIEVABLE
from ganprint.report.tables import (
    TABLES,
    build_table,
    make_table,
    make_tables,
    mean_std,
    metrics_path,
    scale_label,
    tex_escape,
)


@dataclasses.dataclass(frozen=True)
class Gan:
    """The attributes of config's GAN entries that the tables use."""

    dataset: str
    arch: str
    loss: str
    variant: str
    seed: int

    @property
    def name(self) -> str:
        return GAN_NAME.format(**self.selectors())

    @property
    def finetune_dataset(self) -> None:
        return None

    def selectors(self) -> dict:
        return dataclasses.asdict(self)

    def model_copy(self, update: dict) -> Gan:
        return dataclasses.replace(self, **update)


GANS = [
    Gan("skimage", "dcgan", "nonsat", "clean", 0),
    Gan("skimage", "progan", "wgangp", "clean", 0),
    Gan("skimage", "dcgan", "nonsat", "clean", 1),
    Gan("sklearn", "dcgan", "nonsat", "clean", 0),
]


def protocol(**kw) -> NS:
    base = {
        "description": "a protocol",
        "paper": "",
        "methods": [],
        "seeds": [],
        "images": NS(train=4, val=2, test=3),
        "classifier": "",
        "robustness": NS(perturbations=[], methods=[]),
        "train": {},
        "test": {},
    }
    return NS(**(base | kw))


def make_params() -> NS:
    """A params object with only the attributes the contract of issue 9 lists."""
    sk = {"real": ["real/skimage"], "dcgan": ["gan/skimage-dcgan-nonsat-clean-seed0"]}
    protocols = {
        "closed_set": protocol(
            description="real vs. DCGAN and ProGAN",
            paper="yu2019_table1",
            methods=["postpool", "knn", "prnu", "visnet"],
            seeds=[0, 1, 2],
            images=NS(train=400, val=100, test=200),
            robustness=NS(perturbations=["jpeg"], methods=["postpool"]),
            train=sk | {"progan": ["gan/skimage-progan-wgangp-clean-seed0"]},
        ),
        "closed_sklearn": protocol(
            description="real vs. DCGAN on sklearn",
            paper="yu2019_table1",
            methods=["gandct", "postpool"],
            seeds=[0],
            train={"real": ["real/sklearn"], "dcgan": ["gan/sklearn-dcgan-nonsat-clean-seed0"]},
        ),
        "fine_grained": protocol(
            paper="yu2019_table2",
            methods=["postpool", "knn"],
            seeds=[0, 1],
            train={"real": ["real/skimage"], **{f"s{s}": [f"gan/skimage-dcgan-nonsat-clean-seed{s}"] for s in (0, 1)}},
        ),
        "arch_closed": protocol(
            description="label = architecture",
            paper="dnadet_closed",
            methods=["dnadet", "postpool", "classmodel"],
            seeds=[0],
            train=sk,
        ),
        "cross_seed": protocol(
            description="unseen DCGAN seed",
            paper="dnadet_cross_seed",
            classifier="arch_closed",
            images=NS(train=0, val=0, test=5),
            train=sk,
            test={
                "real": ["real/skimage"],
                "dcgan": ["gan/skimage-dcgan-nonsat-clean-seed1"],
                "unknown": ["gan/sklearn-dcgan-nonsat-clean-seed0"],
            },
        ),
    }
    return NS(
        attribution=NS(protocols=["closed_set", "closed_sklearn", "arch_closed", "cross_seed"]),
        protocols=protocols,
        make_tables=NS(decimals=2),
        datasets={"skimage": NS(resolution=32), "sklearn": NS(resolution=32)},
        gan_list={g.name: g for g in GANS},
        autoencoders=["skimage", "sklearn"],
        fingerprints={},
        train_gan=NS(steps=3),
        finetune_gan=NS(steps=100),
    )


# (protocol, method) → accuracy per seed; macro-F1 = accuracy - 0.125
ACCURACY = {
    ("closed_set", "postpool"): [0.9, 0.95, 1.0],
    ("closed_set", "knn"): [0.25, 0.3, 0.35],
    ("closed_set", "prnu"): [0.8, 0.8, 0.8],
    ("closed_set", "visnet"): [0.875, 0.9375, 1.0],
    ("closed_sklearn", "gandct"): [0.5],
    ("closed_sklearn", "postpool"): [0.625],
    ("fine_grained", "postpool"): [0.75, 0.5],
    ("fine_grained", "knn"): [0.125, 0.125],
    ("arch_closed", "dnadet"): [0.99],
    ("arch_closed", "postpool"): [0.98],
    ("arch_closed", "classmodel"): [0.97],
    ("cross_seed", "dnadet"): [0.8],
    ("cross_seed", "postpool"): [0.4],
    ("cross_seed", "classmodel"): [0.5],
}
OPEN_SET_AUROC = {"dnadet": 0.65, "postpool": 0.55, "classmodel": 0.6}


def _eval_path(root: Path, p: str, m: str, seed: int, perturbation: str = "none") -> Path:
    return root / metrics_path(p, m, seed, perturbation)


def write_metrics(root: Path, params: NS) -> None:
    for (p, m), accs in ACCURACY.items():
        seeds = params.protocols[params.protocols[p].classifier or p].seeds
        for seed, acc in zip(seeds, accs, strict=True):
            data = {"protocol": p, "method": m, "seed": seed, "perturbation": "none", "accuracy": acc}
            data |= {"macro_f1": acc - 0.125, "chance": 0.2 if p == "closed_set" else 0.5, "test_images": 30}
            if m == "classmodel":
                data["class_modelling"] = {
                    "detection": {"real_class": "real", "accuracy": 0.98, "ap": 0.99, "auroc": 0.995},
                    "one_vs_rest": {"dcgan": {"accuracy": 0.9, "ap": 0.875}, "real": {"accuracy": 0.8, "ap": None}},
                }
            if p == "cross_seed":
                data["open_set"] = {"score": "msp", "auroc": OPEN_SET_AUROC[m]}
            write_json(_eval_path(root, p, m, seed), data)
    curve = [
        {"level": 0, "strength": "identity", "accuracy_plain": 0.9, "accuracy_immunized": 0.875},
        {"level": 1, "strength": "jpeg:quality=50", "accuracy_plain": 0.5, "accuracy_immunized": 0.8125},
    ]
    rnd = {"accuracy_plain": 0.4125, "accuracy_immunized": 0.8, "what": "every test image attacked"}
    write_json(_eval_path(root, "closed_set", "postpool", 0, "jpeg"), {"curve": curve, "random": rnd})
    # the fingerprint and GAN tables (unchanged content): clean GANs only, no fingerprint variants
    for ds in params.autoencoders:
        write_json(root / METRICS_FP_AE.format(dataset=ds), {"bit_accuracy": 0.95})
        sets = {g.name: {"bit_accuracy": 0.5, "scored_against": "fingerprinted"} for g in GANS if g.dataset == ds}
        write_json(root / METRICS_DETECT.format(dataset=ds), {"bits": 8, "sets": sets})
    for g in GANS:
        kid = {"fid": 100.0 + g.seed, "kid_mean": 0.01, "kid_std": 0.001, "num_fake": 24, "num_real": 48}
        write_json(root / METRICS_GAN.format(**g.selectors()), kid | {"weights": "w", "resize": "r"})


@pytest.fixture
def params() -> NS:
    return make_params()


@pytest.fixture
def root(tmp_path, params) -> Path:
    write_metrics(tmp_path / "root", params)
    return tmp_path / "root"


def _csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


SCALE_T1 = (
    "demo: 32 px, CPU; closed_set: 400/100/200 images per source (train/val/test); "
    "closed_sklearn: 4/2/3 images per source (train/val/test)"
)


# -- cells and labels -------------------------------------------------------------------------------------------


def test_mean_std():
    assert mean_std([0.9, 0.95, 1.0], 2) == "95.00 ± 5.00"  # sample std (ddof 1)
    assert mean_std([0.9, 0.95, 1.0], 0) == "95 ± 5"
    assert mean_std([0.875, 0.9375, 1.0], 1) == "93.8 ± 6.2"  # 93.75 ± 6.25, round-half-even of the binary value
    assert mean_std([0.625], 2) == "62.50"  # one seed: the value alone
    assert mean_std([0.5, None], 2) == mean_std([], 2) == "n/a"


def test_scale_label():
    assert scale_label([32, 32]) == "demo: 32 px, CPU"
    assert scale_label([32, 64]) == "demo: 32/64 px, CPU"
    assert scale_label([128]) == "paper: 128 px"


def test_tex_escape():
    assert tex_escape("a_b 50% ~1 & {x} ± $") == r"a\_b 50\% \textasciitilde{}1 \& \{x\} $\pm$ \$"


# -- the file set -----------------------------------------------------------------------------------------------


def test_make_tables_writes_every_table_in_three_formats(params, root, tmp_path):
    out = tmp_path / "results" / "tables"
    files = make_tables(params, out, root)
    names = [f"{t}.{e}" for t in TABLE_NAMES for e in TABLE_EXTS]
    assert len(names) == 21 and TABLE_EXTS == ("csv", "md", "tex")
    assert files == [str(out / n) for n in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    assert [f"results/tables/{n}" for n in names] == list(TABLE_FILES)
    assert tuple(TABLES) == TABLE_NAMES


def test_same_inputs_same_bytes(params, root, tmp_path):
    make_tables(params, tmp_path / "a", root)
    make_tables(copy.deepcopy(params), tmp_path / "b", root)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_absent_protocols_give_a_one_row_table(params, root, tmp_path):
    params.attribution.protocols = []
    files = make_tables(params, tmp_path / "t", root)
    assert len(files) == 21
    rows = _csv(tmp_path / "t" / "yu2019_table2.csv")
    assert rows == [
        {
            "note": "No protocol of params.attribution.protocols has paper: yu2019_table2; add fine_grained (paper: "
            "yu2019_table2) to fill this table.",
            "scale": "n/a (no protocol)",
        }
    ]
    for name in ("yu2019_table1", "dnadet_cross", "robustness", "generator_attribution"):
        (row,) = _csv(tmp_path / "t" / f"{name}.csv")
        assert row["note"].startswith("No protocol of params.attribution.protocols ")
    md = (tmp_path / "t" / "robustness.md").read_text()
    assert "add closed_set (robustness: perturbations and methods) to fill this table." in md
    assert md.endswith("\n\n- Scale: n/a (no protocol).\n")


# -- Yu et al. 2019 Tables 1 and 2 ------------------------------------------------------------------------------


def test_yu2019_table1_cells(params, root, tmp_path):
    make_table(params, "yu2019_table1", tmp_path / "t", root)
    rows = _csv(tmp_path / "t" / "yu2019_table1.csv")
    assert list(rows[0]) == [
        "method",
        "method_name",
        "skimage_accuracy_%",
        "sklearn_accuracy_%",
        "paper_CelebA_accuracy_%",
        "paper_LSUN_accuracy_%",
        "scale",
    ]
    # the paper's row order (Eigenface: a paper row we do not run), then the protocols' other methods
    assert [[v for k, v in r.items() if k != "scale"] for r in rows] == [
        ["knn", "kNN on pixels", "30.00 ± 5.00", "not run", "~28.0 (unverified)", "~36.3 (unverified)"],
        ["eigenface", "Eigenface", "not run", "not run", "~53.3 (unverified)", "n/a (faces only)"],
        ["prnu", "PRNU (Marra et al.)", "80.00 ± 0.00", "not run", "~86.6 (unverified)", "~67.8 (unverified)"],
        ["postpool", "Yu et al. 2019 postpool classifier", "95.00 ± 5.00", "62.50", "99.43 (unverified)"]
        + ["98.58 (unverified)"],
        ["visnet", "Yu et al. 2019 visNet", "93.75 ± 6.25"]
        + ["not run", "high 90s, value not recalled (unverified)", "high 90s, value not recalled (unverified)"],
        ["gandct", "Frank et al. 2020 DCT-CNN", "not run", "50.00", "n/a (not in the paper)", "n/a (not in the paper)"],
    ]
    assert {r["scale"] for r in rows} == {SCALE_T1}
    md = (tmp_path / "t" / "yu2019_table1.md").read_text()
    assert md.startswith("# Yu et al. 2019 Table 1: attribution accuracy (%), ours beside the paper's\n\n|")
    assert "| knn       | kNN on pixels" in md and "scale" not in md.splitlines()[2]  # scale: a note, not a column
    notes = [line for line in md.splitlines() if line.startswith("- ")]
    assert notes[0] == f"- Scale: {SCALE_T1}."
    assert notes[1] == (
        "- Cells: mean ± std (sample standard deviation) in % over the classifier seeds, the value alone for one "
        "seed (seeds closed_set: 0, 1, 2; closed_sklearn: 0)."
    )
    assert notes[2] == "- skimage: protocol closed_set (real vs. DCGAN and ProGAN); chance 20.00 %."
    assert notes[4] == f"- Paper: {ATTRIBUTION['yu2019_table1']['reference']}."
    assert notes[5].startswith("- Paper values marked (unverified)")


def test_yu2019_table1_latex(params, root, tmp_path):
    make_table(params, "yu2019_table1", tmp_path / "t", root)
    tex = (tmp_path / "t" / "yu2019_table1.tex").read_text()
    assert tex.startswith("\\begin{table}\n\\caption{Yu et al. 2019 Table 1: attribution accuracy (\\%), ours")
    assert "\\label{tab:yu2019_table1}\n\\begin{tabular}{lllllll}\n\\toprule\n" not in tex  # no scale column
    assert "\\label{tab:yu2019_table1}\n\\begin{tabular}{llllll}\n\\toprule\n" in tex
    assert "method & method\\_name & skimage\\_accuracy\\_\\% & sklearn\\_accuracy\\_\\%" in tex
    assert "postpool & Yu et al. 2019 postpool classifier & 95.00 $\\pm$ 5.00 & 62.50 & 99.43 (unverified)" in tex
    assert "\\textasciitilde 28.0 (unverified)" in tex
    assert "{\\footnotesize\nScale: demo: 32 px, CPU; closed\\_set: 400/100/200" in tex
    assert tex.endswith("\\end{tabular}\n\\par\\smallskip\n{\\footnotesize\n" + tex.split("{\\footnotesize\n")[1])
    assert tex.endswith("}\n\\end{table}\n")


def test_two_protocols_on_one_dataset_get_their_names_in_the_column(params, root):
    params.protocols["closed_sklearn"].train = {"real": ["real/skimage"]}
    df = build_table(params, "yu2019_table1", root).df
    assert list(df.columns)[2:4] == ["skimage[closed_set]_accuracy_%", "skimage[closed_sklearn]_accuracy_%"]


def test_decimals(params, root):
    params.make_tables.decimals = 0
    df = build_table(params, "yu2019_table1", root).df
    assert df["skimage_accuracy_%"].tolist() == ["30 ± 5", "not run", "80 ± 0", "95 ± 5", "94 ± 6", "not run"]
    assert df["sklearn_accuracy_%"].tolist()[3] == "62"  # 62.5 → round-half-even


def test_yu2019_table2(params, root, tmp_path):
    params.attribution.protocols.append("fine_grained")
    rows = _csv(make_table(params, "yu2019_table2", tmp_path / "t", root)[0])
    assert [[v for k, v in r.items() if k not in ("method_name", "scale")] for r in rows] == [
        ["knn", "12.50 ± 0.00", "~11 (unverified)", "~11 (unverified)"],
        ["prnu", "not run", "~92 (unverified)", "~71 (unverified)"],
        ["postpool", "62.50 ± 17.68", "99.5 (unverified)", "97.7 (unverified)"],
    ]
    assert rows[0]["scale"] == "demo: 32 px, CPU; fine_grained: 4/2/3 images per source (train/val/test)"


# -- DNA-Det, robustness, Generator_Attribution ------------------------------------------------------------------


def test_dnadet_table(params, root, tmp_path):
    rows = _csv(make_table(params, "dnadet_cross", tmp_path / "t", root)[0])
    settings = ("closed", "cross_seed", "cross_loss", "cross_finetune", "cross_dataset")
    cols = [f"{s}_{k}_%" for s in settings for k in ("acc", "f1")]
    assert list(rows[0]) == ["method", "method_name", *cols, "paper", "scale"]
    # the cross-seed protocol scores arch_closed's classifiers: its methods and seeds
    assert [[r[c] for c in ("method", *cols[:4])] for r in rows] == [
        ["dnadet", "99.00", "86.50", "80.00", "67.50"],
        ["postpool", "98.00", "85.50", "40.00", "27.50"],
        ["classmodel", "97.00", "84.50", "50.00", "37.50"],
    ]
    assert {r[c] for r in rows for c in cols[4:]} == {"no protocol"}
    assert {r["paper"] for r in rows} == {NOT_RETRIEVABLE} == {"n/a (not retrievable offline)"}
    assert rows[0]["scale"] == (
        "demo: 32 px, CPU; arch_closed: 4/2/3 images per source (train/val/test); "
        "cross_seed: 5 test images per source (classifiers of arch_closed)"
    )


def test_robustness_table(params, root, tmp_path):
    rows = _csv(make_table(params, "robustness", tmp_path / "t", root)[0])
    assert list(rows[0]) == [
        "protocol",
        "method",
        "seed",
        "perturbation",
        "level",
        "strength",
        "accuracy_plain_%",
        "accuracy_immunized_%",
        "scale",
    ]
    assert [list(r.values())[:8] for r in rows] == [
        ["closed_set", "postpool", "0", "jpeg", "0", "identity", "90.00", "87.50"],
        ["closed_set", "postpool", "0", "jpeg", "1", "jpeg:quality=50", "50.00", "81.25"],
        ["closed_set", "postpool", "0", "jpeg", "random", "random strength per image", "41.25", "80.00"],
    ]
    assert rows[0]["scale"] == "demo: 32 px, CPU; closed_set: 400/100/200 images per source (train/val/test)"


def test_generator_attribution_table(params, root, tmp_path):
    rows = _csv(make_table(params, "generator_attribution", tmp_path / "t", root)[0])
    assert list(rows[0]) == ["protocol", "method", "metric", "class", "value_%", "paper", "scale"]
    detection = [
        ["classmodel", "detection accuracy", "real vs. rest", "98.00"],
        ["classmodel", "detection AP", "real vs. rest", "99.00"],
        ["classmodel", "detection AUROC", "real vs. rest", "99.50"],
        ["classmodel", "one-vs-rest AP", "dcgan", "87.50"],
        ["classmodel", "one-vs-rest AP", "real", "n/a"],  # ap null in the metrics
    ]
    got = [[r[c] for c in ("protocol", "method", "metric", "class", "value_%")] for r in rows]
    assert got == [
        *(["arch_closed", *r] for r in detection),
        ["arch_closed", "classmodel", "multiclass accuracy", "all", "97.00"],
        ["arch_closed", "postpool", "multiclass accuracy", "all", "98.00"],
        *(["cross_seed", *r] for r in detection),
        ["cross_seed", "classmodel", "multiclass accuracy", "all", "50.00"],
        ["cross_seed", "postpool", "multiclass accuracy", "all", "40.00"],
        ["cross_seed", "dnadet", "open-set AUROC", "unknown vs. known", "65.00"],
        ["cross_seed", "postpool", "open-set AUROC", "unknown vs. known", "55.00"],
        ["cross_seed", "classmodel", "open-set AUROC", "unknown vs. known", "60.00"],
    ]
    assert {r["paper"] for r in rows} == {NOT_RETRIEVABLE}


def test_fingerprint_and_gan_tables_gain_a_tex_and_a_scale_column(params, root, tmp_path):
    files = make_table(params, "gans", tmp_path / "t", root)
    assert files == [str(tmp_path / "t" / f"gans.{e}") for e in ("csv", "md", "tex")]
    rows = _csv(files[0])
    assert [(r["gan"], r["fid"], r["kid_x1000"], r["scale"]) for r in rows][:2] == [
        ("skimage-dcgan-nonsat-clean-seed0", "100.0", "10.00 ± 1.00", "demo: 32 px, CPU"),
        ("skimage-progan-wgangp-clean-seed0", "100.0", "10.00 ± 1.00", "demo: 32 px, CPU"),
    ]
    assert "\\label{tab:gans}" in Path(files[2]).read_text()
    fp = _csv(make_table(params, "fingerprints", tmp_path / "t", root)[0])
    assert [(r["images"], r["bit_accuracy"], r["scale"]) for r in fp][0] == (
        "samples of skimage-dcgan-nonsat-clean-seed0",
        "0.5",
        "demo: 32 px, CPU",
    )


# -- isolation and errors ---------------------------------------------------------------------------------------


def _changed(params, root, tmp_path, change) -> set[str]:
    make_tables(params, tmp_path / "before", root)
    change()
    make_tables(params, tmp_path / "after", root)
    before, after = _files(tmp_path / "before"), _files(tmp_path / "after")
    assert before.keys() == after.keys()
    return {n for n in before if before[n] != after[n]}


def _tables(*names) -> set[str]:
    return {f"{n}.{e}" for n in names for e in TABLE_EXTS}


def test_a_metric_of_one_protocol_changes_only_its_table(params, root, tmp_path):
    path = _eval_path(root, "closed_sklearn", "postpool", 0)

    def change():
        write_json(path, {"accuracy": 0.75, "macro_f1": 0.5, "chance": 0.5})

    assert _changed(params, root, tmp_path, change) == _tables("yu2019_table1")


def test_a_robustness_metric_changes_only_the_robustness_table(params, root, tmp_path):
    path = _eval_path(root, "closed_set", "postpool", 0, "jpeg")
    curve = [{"level": 0, "strength": "identity", "accuracy_plain": 0.5, "accuracy_immunized": 0.5}]
    rnd = {"accuracy_plain": 0.5, "accuracy_immunized": 0.5}
    assert _changed(params, root, tmp_path, lambda: write_json(path, {"curve": curve, "random": rnd})) == _tables(
        "robustness"
    )


def test_a_cross_protocol_metric_changes_only_its_tables(params, root, tmp_path):
    path = _eval_path(root, "cross_seed", "dnadet", 0)
    data = {"accuracy": 0.25, "macro_f1": 0.25, "chance": 0.5, "open_set": {"auroc": 0.65}}
    assert _changed(params, root, tmp_path, lambda: write_json(path, data)) == _tables("dnadet_cross")


def test_a_protocol_parameter_changes_only_its_tables(params, root, tmp_path):
    def change():
        params.protocols["closed_sklearn"].images = NS(train=8, val=2, test=3)

    assert _changed(params, root, tmp_path, change) == _tables("yu2019_table1")

    def description():
        params.protocols["arch_closed"].description = "another description"

    # the description is a note of the Markdown and LaTeX files (the CSV holds the cells and the scale)
    assert _changed(params, root, tmp_path / "2", description) == {"dnadet_cross.md", "dnadet_cross.tex"}


def test_missing_metrics_names_the_file_and_the_stage(params, root, tmp_path):
    _eval_path(root, "cross_seed", "classmodel", 0).unlink()
    with pytest.raises(
        StageError,
        match=r"evaluate_attribution/cross_seed/classmodel/seed0.json: metrics not found; run the stage that "
        r"writes them first \(evaluate_attribution: snakemake or dvc repro\)",
    ):
        make_tables(params, tmp_path / "t", root)
    with pytest.raises(StageError, match="cross_seed/classmodel/seed0.json"):
        build_table(params, "generator_attribution", root)
    build_table(params, "yu2019_table1", root)  # the other protocols' tables do not read it


def test_missing_robustness_metrics(params, root):
    _eval_path(root, "closed_set", "postpool", 0, "jpeg").unlink()
    with pytest.raises(StageError, match=r"closed_set/postpool/seed0/jpeg.json: metrics not found"):
        build_table(params, "robustness", root)


def test_paper_numbers():
    t1, t2 = ATTRIBUTION["yu2019_table1"]["methods"], ATTRIBUTION["yu2019_table2"]["methods"]
    assert t1["postpool"] == {"CelebA": "99.43", "LSUN": "98.58"}
    assert (t1["knn"], t1["prnu"]) == ({"CelebA": "~28.0", "LSUN": "~36.3"}, {"CelebA": "~86.6", "LSUN": "~67.8"})
    assert t2 == {
        "knn": {"CelebA": "~11", "LSUN": "~11"},
        "prnu": {"CelebA": "~92", "LSUN": "~71"},
        "postpool": {"CelebA": "99.5", "LSUN": "97.7"},
    }
    contract = {"yu2019_table1", "yu2019_table2", "generator_attribution"}
    contract |= {f"dnadet_{s}" for s in ("closed", "cross_seed", "cross_loss", "cross_finetune", "cross_dataset")}
    assert set(ATTRIBUTION) == contract
    assert not any(e["verified"] for e in ATTRIBUTION.values())
    assert all(not e["methods"] for k, e in ATTRIBUTION.items() if not k.startswith("yu2019"))
