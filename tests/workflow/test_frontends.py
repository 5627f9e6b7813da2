"""One tiny full run of each front-end; afterwards the other front-end has nothing to do."""

from __future__ import annotations

import json

import pandas as pd
from conftest import make_project, run

NOTHING = "Nothing to be done"


def _tables_ok(proj):
    t = pd.read_csv(proj / "results" / "tables" / "attribution.csv")
    assert set(t.protocol) == {"closed_set", "cross_seed"}
    assert t["accuracy_%"].between(0, 100).all()
    f = pd.read_csv(proj / "results" / "tables" / "fingerprints.csv")
    assert f["bit_accuracy"].between(0, 1).all() and len(f) == 4
    assert (proj / "results" / "tables" / "attribution.md").read_text().startswith("# Attribution")


def test_snakemake_then_dvc_has_nothing_to_do(tmp_path):
    proj = make_project(tmp_path / "smk")
    run(["snakemake", "--cores", "2"], proj)
    _tables_ok(proj)
    status = run(["dvc", "status", "--json"], proj)
    assert json.loads(status.stdout) == {}
    r = run(["dvc", "repro"], proj)
    assert "didn't change, skipping" in r.stdout and "Running stage" not in r.stdout
    # and Snakemake itself is up to date
    assert NOTHING in run(["snakemake", "-n", "--cores", "1"], proj).stdout


def test_dvc_then_snakemake_has_nothing_to_do(tmp_path):
    proj = make_project(tmp_path / "dvc")
    run(["dvc", "repro"], proj)
    _tables_ok(proj)
    r = run(["snakemake", "-n", "--cores", "1"], proj)
    assert NOTHING in r.stdout, r.stdout[-3000:]
