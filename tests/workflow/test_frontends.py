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


METHODS = ("postpool", "knn")  # the tiny preset's
STAGE_NAMES = ("train_classifier", "evaluate_attribution", "interpret_attribution")  # one DVC definition per method


def _out_hashes(proj) -> dict:
    lock = yaml.safe_load((proj / "dvc.lock").read_text())
    return {o["path"]: o["md5"] for st in lock["stages"].values() for o in st.get("outs", [])}


def test_tables_written(smk_built):
    t = pd.read_csv(smk_built / "results" / "tables" / "attribution.csv")
    assert list(t.protocol) == ["closed_set"] * 2 + ["cross_seed"] * 2  # × the 2 methods
    assert list(t.classes) == [3] * 2 + [2] * 2 and list(t.test_images) == [24] * 2 + [16] * 2  # 8 per class
    g = pd.read_csv(smk_built / "results" / "tables" / "gans.csv")
    assert list(g.gan) == [
        "skimage-dcgan-nonsat-clean-seed0",
        "skimage-dcgan-nonsat-clean-seed1",
        "skimage-dcgan-nonsat-fingerprinted-seed0",
    ]
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
    assert len(a) == 122  # every output of the 33 stages
    assert a == b


def test_changing_one_stage_param_reruns_only_its_branch(smk_project):
    edit_params(smk_project, lambda p: p["evaluate_attribution"].update(batch_size=7))
    assert dvc_stale(smk_project) == sorted(
        f"evaluate_attribution.{m}@{p}" for m in METHODS for p in ("closed_set", "cross_seed")
    )
    # the figures read the evaluation's metrics: they follow (DVC lists them once the metrics change)
    assert planned_jobs(smk_project) == {"evaluate_attribution": 4, "interpret_attribution": 4, "make_tables": 1}


def test_one_more_gan_reruns_exactly_its_jobs(smk_project):
    edit_params(smk_project, lambda p: p["gans"]["seeds"].update(seed=[0, 1, 2]))
    new = "skimage-dcgan-nonsat-clean-2"
    # detect_fingerprints runs once per dataset over all of its GANs: the skimage job reads the new samples too
    assert planned_jobs(smk_project) == {
        "train_gan": 1,
        "generate_images": 1,
        "evaluate_gan": 1,
        "detect_fingerprints": 1,
        "make_tables": 1,
    }
    expected = sorted(
        [
            f"train_gan.seeds@{new}",
            f"generate_images.seeds@{new}",
            f"evaluate_gan.seeds@{new}",
            "detect_fingerprints@skimage",
            "make_tables",
        ]
    )
    assert dvc_stale(smk_project) == expected
    r = run(["dvc", "repro"], smk_project)
    ran = sorted(line.split("'")[1] for line in r.stdout.splitlines() if line.startswith("Running stage"))
    # build_split depends on the store folders in DVC (it cannot template a list of deps): it re-runs, writes
    # byte-identical manifests, and no classifier retrains
    assert [s for s in ran if not s.startswith("build_split@")] == expected
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
        "train_classifier": 2,
        "evaluate_attribution": 2,
        "interpret_attribution": 2,
        "make_tables": 1,
    }
    per_method = [f"{st}.{m}@real_vs_seed0" for st in STAGE_NAMES for m in METHODS]
    assert dvc_stale(smk_project) == sorted(["build_split@real_vs_seed0", *per_method, "make_tables"])
    edit_params(smk_project, lambda p: p["attribution"]["protocols"].remove("real_vs_seed0"))
    assert planned_jobs(smk_project) == {"make_tables": 1}


def test_one_dataset_more(smk_project):
    edit_params(
        smk_project,
        lambda p: p["datasets"].update(sklearn2=dict(p["datasets"]["sklearn"], seed=7)),
    )
    assert planned_jobs(smk_project) == {"prepare_dataset": 1, "fid_stats": 1, "make_tables": 1}
    assert dvc_stale(smk_project) == ["fid_stats@sklearn2", "make_tables", "prepare_dataset@sklearn2"]


@pytest.mark.parametrize(
    "module,jobs,dvc",
    [
        # a classifier's network: its classifiers and what they feed, never a GAN (DVC lists the stages whose
        # deps changed; the rest follow when the models change)
        (
            "src/ganprint/nets/postpool.py",
            {"train_classifier": 2, "evaluate_attribution": 2, "interpret_attribution": 2, "make_tables": 1},
            {"train_classifier.postpool", "evaluate_attribution.postpool", "interpret_attribution.postpool"},
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
