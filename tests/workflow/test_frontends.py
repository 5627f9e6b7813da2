"""One tiny full run of each front-end: afterwards the other front-end has nothing to do, both produced
byte-identical artifacts, and growing the grid by one GAN, protocol or dataset reruns exactly the jobs it feeds."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import dvc_stale, edit_params, make_project, planned_jobs, run


@pytest.fixture(scope="module")
def dvc_project(tmp_path_factory):
    proj = make_project(tmp_path_factory.mktemp("frontends") / "dvc")
    run(["dvc", "repro"], proj)
    return proj


def _out_hashes(proj) -> dict:
    lock = yaml.safe_load((proj / "dvc.lock").read_text())
    return {o["path"]: o["md5"] for st in lock["stages"].values() for o in st.get("outs", [])}


def test_tables_written(smk_built):
    t = pd.read_csv(smk_built / "results" / "tables" / "attribution.csv")
    assert list(t.protocol) == ["closed_set", "cross_seed"]
    assert list(t.classes) == [3, 2] and list(t.test_images) == [24, 16]  # tiny: 8 test images per class
    f = pd.read_csv(smk_built / "results" / "tables" / "fingerprints.csv")
    assert list(f.variant) == ["fingerprinted", "clean", "clean", "fingerprinted"]
    assert (smk_built / "results" / "tables" / "attribution.md").read_text().startswith("# Attribution")


def test_snakemake_then_dvc_has_nothing_to_do(smk_built):
    assert dvc_stale(smk_built) == []
    r = run(["dvc", "repro"], smk_built)
    assert "didn't change, skipping" in r.stdout and "Running stage" not in r.stdout
    assert planned_jobs(smk_built) == {}


def test_dvc_then_snakemake_has_nothing_to_do(dvc_project):
    assert planned_jobs(dvc_project) == {}


def test_both_front_ends_write_identical_artifacts(smk_built, dvc_project):
    a, b = _out_hashes(smk_built), _out_hashes(dvc_project)
    assert len(a) == 68  # every output of the 20 stages
    assert a == b


def test_changing_one_stage_param_reruns_only_its_branch(smk_project):
    edit_params(smk_project, lambda p: p["evaluate_attribution"].update(batch_size=7))
    assert dvc_stale(smk_project) == [
        "evaluate_attribution@closed_set-postpool",
        "evaluate_attribution@cross_seed-postpool",
    ]
    assert planned_jobs(smk_project) == {"evaluate_attribution": 2, "make_tables": 1}


def test_one_more_gan_reruns_exactly_its_jobs(smk_project):
    edit_params(smk_project, lambda p: p["gans"]["seeds"].update(seed=[0, 1, 2]))
    new = "skimage-dcgan-nonsat-clean-2"
    assert planned_jobs(smk_project) == {
        "train_gan": 1,
        "generate_images": 1,
        "detect_fingerprints": 1,
        "make_tables": 1,
    }
    assert dvc_stale(smk_project) == sorted(
        [f"train_gan.seeds@{new}", f"generate_images.seeds@{new}", f"detect_fingerprints.seeds@{new}", "make_tables"]
    )
    r = run(["dvc", "repro"], smk_project)
    ran = sorted(line.split("'")[1] for line in r.stdout.splitlines() if line.startswith("Running stage"))
    # build_split depends on the store folders in DVC (it cannot template a list of deps): it re-runs, writes
    # byte-identical manifests, and no classifier retrains
    assert [s for s in ran if not s.startswith("build_split@")] == sorted(
        [f"train_gan.seeds@{new}", f"generate_images.seeds@{new}", f"detect_fingerprints.seeds@{new}", "make_tables"]
    )
    assert dvc_stale(smk_project) == []


def test_one_protocol_more_or_less(smk_project):
    def add(p):
        p["protocols"]["real_vs_seed0"] = {
            "train": {"real": ["real/skimage"], "seed0": ["gan/skimage-dcgan-nonsat-clean-seed0"]}
        }
        p["attribution"]["protocols"].append("real_vs_seed0")

    edit_params(smk_project, add)
    assert planned_jobs(smk_project) == {
        "build_split": 1,
        "train_classifier": 1,
        "evaluate_attribution": 1,
        "make_tables": 1,
    }
    added = ["build_split@real_vs_seed0", "evaluate_attribution@real_vs_seed0-postpool", "make_tables"]
    assert dvc_stale(smk_project) == sorted([*added, "train_classifier@real_vs_seed0-postpool"])
    edit_params(smk_project, lambda p: p["attribution"]["protocols"].remove("real_vs_seed0"))
    assert planned_jobs(smk_project) == {"make_tables": 1}


def test_one_dataset_more(smk_project):
    edit_params(
        smk_project,
        lambda p: p["datasets"].update(sklearn2=dict(p["datasets"]["sklearn"], seed=7)),
    )
    assert planned_jobs(smk_project) == {"prepare_dataset": 1, "make_tables": 1}
    assert dvc_stale(smk_project) == ["make_tables", "prepare_dataset@sklearn2"]


@pytest.mark.parametrize(
    "module,jobs,dvc",
    [
        # a classifier's network: its classifiers and what they feed, never a GAN (DVC lists the stages whose
        # deps changed; the rest follow when the models change)
        (
            "src/ganprint/nets/postpool.py",
            {"train_classifier": 2, "evaluate_attribution": 2, "make_tables": 1},
            {"train_classifier"},
        ),
        # a typo fix in the table code retrains nothing
        ("src/ganprint/report/tables.py", {"make_tables": 1}, {"make_tables"}),
    ],
)
def test_editing_a_module_reruns_only_the_jobs_that_run_it(smk_project, module, jobs, dvc):
    with open(smk_project / module, "a", encoding="utf-8") as fh:
        fh.write("\n# an edit\n")
    assert planned_jobs(smk_project) == jobs
    assert {s.split("@")[0] for s in dvc_stale(smk_project)} == dvc
