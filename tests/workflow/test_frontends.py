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


METHODS = ("postpool", "knn")  # the tiny preset's closed_set methods
SEEDS = (0, 1)  # and classifier seeds
PROTOCOLS = ("closed_set", "cross_seed")  # cross_seed evaluates the closed_set classifiers
REPORT = {"make_tables": 1, "make_figures": 1, "make_report": 1}  # they read every metric and track 'protocols'
REPORT_STAGES = ["make_figures", "make_report", "make_tables"]
# outputs of the tiny preset's 39 jobs: prepare 2 × 5, autoencoder 6, embed 2 × 6, GANs 3 × (6 + 4 + 1), fid_stats
# 2 × 2, detect 4, robustness 3, splits 2 × 2, classifiers 4 × 4, immunized 4, evaluations 8 × 2, evaluate_robustness
# 2, interpretations 2 × 4, tables 7 × 3, figure folders 5, the page
N_OUTS = 10 + 6 + 12 + 33 + 4 + 4 + 3 + 4 + 16 + 4 + 16 + 2 + 8 + 21 + 5 + 1


def _out_hashes(proj) -> dict:
    lock = yaml.safe_load((proj / "dvc.lock").read_text())
    return {o["path"]: o["md5"] for st in lock["stages"].values() for o in st.get("outs", [])}


def test_tables_written(smk_built):
    tables = smk_built / "results" / "tables"
    t = pd.read_csv(tables / "yu2019_table1.csv")  # closed_set: the tiny preset's Table 1 protocol
    assert list(t.method) == ["knn", "eigenface", "prnu", "postpool", "visnet"]
    ran = dict(zip(t.method, t["skimage_accuracy_%"], strict=True))
    assert [m for m, v in ran.items() if v != "not run"] == ["knn", "postpool"]  # mean ± std over the 2 seeds
    assert all(" ± " in ran[m] for m in METHODS)
    r = pd.read_csv(tables / "robustness.csv")  # postpool × jpeg: 7 levels + the random-strength row
    assert list(r.perturbation) == ["jpeg"] * 8 and list(r.level) == [str(i) for i in range(7)] + ["random"]
    g = pd.read_csv(smk_built / "results" / "tables" / "gans.csv")
    assert list(g.gan) == [
        "skimage-dcgan-nonsat-clean-seed0",
        "skimage-dcgan-nonsat-clean-seed1",
        "skimage-dcgan-nonsat-fingerprinted-seed0",
    ]
    assert (tables / "yu2019_table1.md").read_text().startswith("# Yu et al. 2019 Table 1")
    assert (smk_built / "results" / "index.html").is_file()


def test_snakemake_then_dvc_has_nothing_to_do(smk_built):
    assert dvc_stale(smk_built) == []
    r = run(["dvc", "repro"], smk_built)
    assert "didn't change, skipping" in r.stdout and "Running stage" not in r.stdout
    assert planned_jobs(smk_built) == {}


def test_dvc_then_snakemake_has_nothing_to_do(dvc_project):
    assert planned_jobs(dvc_project) == {}


def test_both_front_ends_write_identical_artifacts(smk_built, dvc_project):
    a, b = _out_hashes(smk_built), _out_hashes(dvc_project)
    assert len(a) == N_OUTS  # every output of the 39 jobs
    assert a == b


def test_changing_one_stage_param_reruns_only_its_branch(smk_project):
    edit_params(smk_project, lambda p: p["evaluate_attribution"].update(batch_size=7))
    assert dvc_stale(smk_project) == sorted(
        f"evaluate_attribution.{p}.{m}@{s}" for p in PROTOCOLS for m in METHODS for s in SEEDS
    )
    # the figures read the evaluation's metrics: they follow (DVC lists them once the metrics change)
    assert planned_jobs(smk_project) == {"evaluate_attribution": 8, "interpret_attribution": 2, **REPORT}


def test_changing_one_protocols_params_reruns_only_its_jobs(smk_project):
    # cross_seed's test sources: its split and its evaluations, not closed_set's classifiers nor their evaluations
    edit_params(
        smk_project,
        lambda p: p["protocols"]["cross_seed"]["test"]["dcgan"].append("gan/skimage-dcgan-nonsat-clean-seed0"),
    )
    assert planned_jobs(smk_project) == {"build_split": 1, "evaluate_attribution": 4, **REPORT}
    assert dvc_stale(smk_project) == sorted(["build_split.cross_seed", *REPORT_STAGES])
    r = run(["dvc", "repro"], smk_project)
    ran = sorted(line.split("'")[1] for line in r.stdout.splitlines() if line.startswith("Running stage"))
    assert ran == sorted(
        ["build_split.cross_seed", *(f"evaluate_attribution.cross_seed.{m}@{s}" for m in METHODS for s in SEEDS),
         *REPORT_STAGES]
    )  # fmt: skip
    assert dvc_stale(smk_project) == []


def test_one_more_gan_reruns_exactly_its_jobs(smk_project):
    edit_params(smk_project, lambda p: p["gans"]["seeds"].update(seed=[0, 1, 2]))
    new = "skimage-dcgan-nonsat-clean-2"
    # detect_fingerprints runs once per dataset over all of its GANs: the skimage job reads the new samples too
    assert planned_jobs(smk_project) == {
        "train_gan": 1,
        "generate_images": 1,
        "evaluate_gan": 1,
        "detect_fingerprints": 1,
        **REPORT,  # the GAN table and figures, the page with its sample grid
    }
    expected = sorted(
        [
            f"train_gan.seeds@{new}",
            f"generate_images.seeds@{new}",
            f"evaluate_gan.seeds@{new}",
            "detect_fingerprints@skimage",
            *REPORT_STAGES,
        ]
    )
    assert dvc_stale(smk_project) == expected
    r = run(["dvc", "repro"], smk_project)
    ran = sorted(line.split("'")[1] for line in r.stdout.splitlines() if line.startswith("Running stage"))
    # build_split depends on the store folders in DVC (it cannot template a list of deps): it re-runs, writes
    # byte-identical manifests, and no classifier retrains
    assert [s for s in ran if not s.startswith("build_split.")] == expected
    assert dvc_stale(smk_project) == []


def test_one_protocol_more_or_less(smk_project):
    def add(p):
        p["protocols"]["real_vs_seed0"] = {
            "methods": list(METHODS),
            "seeds": [3],
            "images": {"train": 8, "val": 2, "test": 4},
            "train": {"real": ["real/skimage"], "seed0": ["gan/skimage-dcgan-nonsat-clean-seed0"]},
        }
        p["attribution"]["protocols"].append("real_vs_seed0")

    edit_params(smk_project, add)
    assert planned_jobs(smk_project) == {
        "build_split": 1,
        "train_classifier": 2,
        "evaluate_attribution": 2,
        "interpret_attribution": 2,
        **REPORT,
    }
    per_method = [
        f"{st}.real_vs_seed0.{m}@3"
        for st in ("train_classifier", "evaluate_attribution", "interpret_attribution")
        for m in METHODS
    ]
    assert dvc_stale(smk_project) == sorted(["build_split.real_vs_seed0", *per_method, *REPORT_STAGES])
    edit_params(smk_project, lambda p: p["attribution"]["protocols"].remove("real_vs_seed0"))
    assert planned_jobs(smk_project) == REPORT


def test_one_dataset_more(smk_project):
    edit_params(
        smk_project,
        lambda p: p["datasets"].update(sklearn2=dict(p["datasets"]["sklearn"], seed=7)),
    )
    # the results page shows every dataset's sample grid: it is rebuilt too
    assert planned_jobs(smk_project) == {"prepare_dataset": 1, "fid_stats": 1, "make_tables": 1, "make_report": 1}
    assert dvc_stale(smk_project) == [
        "fid_stats@sklearn2",
        "make_report",
        "make_tables",
        "prepare_dataset@sklearn2",
    ]


@pytest.mark.parametrize(
    "module,jobs,dvc",
    [
        # a classifier's network: its classifiers and what they feed, never a GAN (DVC lists the stages whose
        # deps changed; the rest follow when the models change)
        (
            "src/ganprint/nets/postpool.py",
            {
                "train_classifier": 2,  # 2 seeds
                "immunize_classifier": 1,
                "evaluate_attribution": 4,  # closed_set and cross_seed × 2 seeds
                "evaluate_robustness": 1,
                "interpret_attribution": 1,
                **REPORT,
            },
            {
                "train_classifier.closed_set.postpool",
                "immunize_classifier.closed_set.postpool",
                "evaluate_attribution.closed_set.postpool",
                "evaluate_attribution.cross_seed.postpool",
                "evaluate_robustness.closed_set.postpool",
                "interpret_attribution.closed_set.postpool",
            },
        ),
        # a typo fix in the table code retrains nothing (the page embeds the tables)
        ("src/ganprint/report/tables.py", {"make_tables": 1, "make_report": 1}, {"make_tables"}),
    ],
)
def test_editing_a_module_reruns_only_the_jobs_that_run_it(smk_project, module, jobs, dvc):
    with open(smk_project / module, "a", encoding="utf-8") as fh:
        fh.write("\n# an edit\n")
    assert planned_jobs(smk_project) == jobs
    assert {s.split("@")[0] for s in dvc_stale(smk_project)} == dvc
