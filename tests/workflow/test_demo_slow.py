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
    att = pd.read_csv(proj / "results/tables/attribution.csv").set_index(["protocol", "method"])["accuracy_%"]
    assert len(att) == 14  # 2 protocols × 7 methods
    # Yu 2019 Table 1 shape (5 classes, chance 20 %): ours above the kNN and PRNU baselines
    assert att["closed_set", "postpool"] > max(att["closed_set", "knn"], att["closed_set", "prnu"]) >= 60
    assert att["cross_seed", "dnadet"] > 80  # 2 classes, unseen seeds: DNA-Det's architecture-level claim
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
