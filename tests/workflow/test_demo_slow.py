"""The default demo end to end (≈ 15 min on 2 cores): `pytest -m slow`, run by .ci/run after the default pass."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml
from conftest import REPO, make_project, run


@pytest.mark.slow
def test_default_demo_end_to_end(tmp_path):
    proj = make_project(tmp_path / "demo", yaml.safe_load((REPO / "params.yaml").read_text()))
    shutil.copy2(REPO / "params.yaml", proj / "params.yaml")  # byte-identical params, comments included
    run(["snakemake", "--cores", "all"], proj, timeout=1800)
    tables = proj / "results/tables"

    def mean(cell: str) -> float:  # "97.21 ± 0.88" (mean ± std over the classifier seeds) or "97.21"
        return float(str(cell).split(" ± ")[0])

    t1 = pd.read_csv(tables / "yu2019_table1.csv").set_index("method")["skimage_accuracy_%"]
    # Yu 2019 Table 1 (5 classes, chance 20 %, 3 seeds): ours above the kNN and PRNU baselines
    assert mean(t1["postpool"]) > max(mean(t1["knn"]), mean(t1["prnu"])) >= 60
    assert " ± " in t1["postpool"] and t1["eigenface"] == "not run"
    t2 = pd.read_csv(tables / "yu2019_table2.csv").set_index("method")["skimage_accuracy_%"]
    assert mean(t2["postpool"]) > 100 / 5 * 2  # 5 classes (real + 4 seeds of one architecture): far above chance
    cross = pd.read_csv(tables / "dnadet_cross.csv").set_index("method")
    assert sorted(cross.index) == ["classmodel", "dnadet", "gandct", "postpool", "prnu"]
    # DNA-Det's architecture-level claim: a CramerGAN / SSGAN counts as its architecture, unlike Yu 2019's
    assert mean(cross.loc["dnadet", "cross_loss_acc_%"]) > mean(cross.loc["postpool", "cross_loss_acc_%"])
    rob = pd.read_csv(tables / "robustness.csv")
    assert sorted(set(rob.perturbation)) == ["blur", "crop", "jpeg", "noise", "relight"]
    assert (rob.level.astype(str) == "random").sum() == 5
    ga = pd.read_csv(tables / "generator_attribution.csv")
    assert {"detection accuracy", "open-set AUROC"} <= set(ga.metric)
    for name in ("yu2019_table1", "yu2019_table2", "dnadet_cross", "robustness", "generator_attribution"):
        assert (tables / f"{name}.tex").read_text().startswith("\\begin{table}")
    assert (proj / "results/index.html").is_file()
    fp = pd.read_csv(proj / "results/tables/fingerprints.csv")
    assert fp[fp["images"].str.contains("dcgan-nonsat-fingerprinted-seed0")]["bit_accuracy"].item() >= 0.8
    assert fp[fp.variant.eq("clean") & fp["images"].str.startswith("samples")]["bit_accuracy"].max() <= 0.65
    assert fp.iloc[0]["bit_accuracy"] >= 0.99  # the fingerprinted training images
    assert json.loads(run(["dvc", "status", "--json"], proj).stdout) == {}
    # same params and seeds on this CPU ⇒ the artifacts recorded in the committed dvc.lock, byte for byte
    committed = yaml.safe_load((REPO / "dvc.lock").read_text())["stages"]
    fresh = yaml.safe_load((proj / "dvc.lock").read_text())["stages"]
    outs = {name: [(o["path"], o["md5"]) for o in st["outs"]] for name, st in fresh.items()}
    assert outs == {name: [(o["path"], o["md5"]) for o in st["outs"]] for name, st in committed.items()}
