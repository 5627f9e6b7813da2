"""One tiny full run of each front-end; afterwards the other front-end has nothing to do, and both produced
byte-identical artifacts (same params and seeds on CPU ⇒ same bytes)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from conftest import make_project, run

NOTHING = "Nothing to be done"


@pytest.fixture(scope="module")
def smk_project(tmp_path_factory):
    proj = make_project(tmp_path_factory.mktemp("frontends") / "smk")
    run(["snakemake", "--cores", "2"], proj)
    return proj


@pytest.fixture(scope="module")
def dvc_project(tmp_path_factory):
    proj = make_project(tmp_path_factory.mktemp("frontends") / "dvc")
    run(["dvc", "repro"], proj)
    return proj


def _tables_ok(proj):
    t = pd.read_csv(proj / "results" / "tables" / "attribution.csv")
    assert list(t.protocol) == ["closed_set", "cross_seed"]
    assert t["accuracy_%"].between(0, 100).all()
    f = pd.read_csv(proj / "results" / "tables" / "fingerprints.csv")
    assert f["bit_accuracy"].between(0, 1).all() and len(f) == 4
    assert (proj / "results" / "tables" / "attribution.md").read_text().startswith("# Attribution")


def _out_hashes(proj) -> dict:
    lock = yaml.safe_load((proj / "dvc.lock").read_text())
    return {o["path"]: o["md5"] for st in lock["stages"].values() for o in st.get("outs", [])}


def test_snakemake_then_dvc_has_nothing_to_do(smk_project):
    _tables_ok(smk_project)
    assert json.loads(run(["dvc", "status", "--json"], smk_project).stdout) == {}
    r = run(["dvc", "repro"], smk_project)
    assert "didn't change, skipping" in r.stdout and "Running stage" not in r.stdout
    assert NOTHING in run(["snakemake", "-n", "--cores", "1"], smk_project).stdout


def test_dvc_then_snakemake_has_nothing_to_do(dvc_project):
    _tables_ok(dvc_project)
    r = run(["snakemake", "-n", "--cores", "1"], dvc_project)
    assert NOTHING in r.stdout, r.stdout[-3000:]


def test_both_front_ends_write_identical_artifacts(smk_project, dvc_project):
    a, b = _out_hashes(smk_project), _out_hashes(dvc_project)
    assert len(a) == 50  # every output of the 18 stages
    assert a == b


def _planned_jobs(stdout: str) -> dict:
    block = stdout.split("Job stats:")[1].split("\n\n")[0]
    rows = [ln.split() for ln in block.strip().splitlines()[2:]]
    return {r[0]: int(r[1]) for r in rows if len(r) == 2 and r[0] not in ("total", "all")}


def test_changing_one_stage_param_reruns_only_its_branch(smk_project):
    params = yaml.safe_load((smk_project / "params.yaml").read_text())
    params["evaluate_attribution"]["batch_size"] = 7
    (smk_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stale = json.loads(run(["dvc", "status", "--json"], smk_project).stdout)
    assert sorted(stale) == ["evaluate_attribution@closed_set-postpool", "evaluate_attribution@cross_seed-postpool"]
    r = run(["snakemake", "-n", "--cores", "1"], smk_project)
    assert _planned_jobs(r.stdout) == {"evaluate_attribution": 2, "make_tables": 1}
