"""Snakemake and DVC run the same stages, commands, outputs, params keys and library modules (one declaration)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from conftest import REPO, make_project, run

from ganprint.cli.main import STAGES as CLI_STAGES
from ganprint.config import load_params
from ganprint.stages import STAGES, job_selectors


def _norm(cmd: str) -> str:
    return " ".join(shlex.split(cmd))


def _stage(addr: str) -> str:
    """`train_gan.seeds@skimage-dcgan-…` → `train_gan` (one DVC definition per gans group)."""
    return addr.split("@")[0].split(".")[0]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("parity"))


@pytest.fixture(scope="module")
def dvc_stages(project) -> dict:
    from dvc.repo import Repo

    with Repo(str(project)) as repo:
        out = {}
        for st in repo.index.stages:
            out[st.name] = {
                "cmd": _norm(st.cmd),
                "outs": sorted(str(o.def_path) for o in st.outs),
                "deps": sorted(str(d.def_path) for d in st.deps if d.def_path != "params.yaml"),
                "params": sorted(k for d in st.deps if hasattr(d, "params") for k in (d.params or [])),
            }
        return out


@pytest.fixture(scope="module")
def smk_jobs(project) -> dict:
    """command → {rule, outs, inputs} from `snakemake --forceall --dry-run --printshellcmds`."""
    p = run(["snakemake", "--forceall", "--dry-run", "--printshellcmds", "--cores", "1"], project)
    jobs, cur = [], None
    for line in p.stdout.splitlines():
        m = re.match(r"^(localrule|rule) (\w+):$", line.strip())
        if m:
            cur = {"rule": m.group(2), "outs": [], "inputs": [], "cmd": None}
            jobs.append(cur)
        elif cur is not None and line.strip().startswith("output:"):
            cur["outs"] = [s.strip() for s in line.split(":", 1)[1].split(",")]
        elif cur is not None and line.strip().startswith("input:"):
            cur["inputs"] = [s.strip() for s in line.split(":", 1)[1].split(",")]
        elif cur is not None and line.strip().startswith(("ganprint ", "Shell command:")):
            cur["cmd"] = _norm(line.strip().removeprefix("Shell command:"))
    return {j["cmd"]: j for j in jobs if j["rule"] != "all"}


def test_same_stage_names(dvc_stages, smk_jobs):
    dvc_names = {_stage(a) for a in dvc_stages}
    # every stage but finetune_gan: the tiny grid fine-tunes no GAN
    assert dvc_names == {j["rule"] for j in smk_jobs.values()} == set(STAGES) - {"finetune_gan"}
    assert set(STAGES) == set(CLI_STAGES.values())


def test_same_commands_and_outputs(dvc_stages, smk_jobs):
    # tiny: 2 datasets (prepare, fid_stats), 1 autoencoder × 2 fingerprints, 3 GANs (train, generate, evaluate),
    # 1 detection, 1 robustness job, 2 protocols (split); closed_set: 2 methods × 2 seeds (train), postpool × jpeg on
    # the first seed (immunize, evaluate_robustness), 2 interpretations (first seed); evaluations: 2 protocols × the
    # 4 closed_set classifiers; the tables, the figures, the report
    assert len(dvc_stages) == len(smk_jobs) == 2 + 2 + 1 + 2 + 3 * 3 + 1 + 1 + 2 + 4 + 1 + 1 + 2 + 8 + 3 == 39
    for addr, st in dvc_stages.items():
        assert st["cmd"] in smk_jobs, f"{addr}: DVC command not run by Snakemake:\n{st['cmd']}"
        job = smk_jobs[st["cmd"]]
        assert job["rule"] == _stage(addr)
        assert sorted(job["outs"]) == st["outs"], addr


def test_each_job_tracks_its_own_params_and_modules(project, dvc_stages, smk_jobs):
    params = load_params(project / "params.yaml")
    for addr, st in dvc_stages.items():
        job = smk_jobs[st["cmd"]]
        decl = STAGES[_stage(addr)]
        flags = r"--(dataset|protocol|method|arch|loss|variant|seed|perturbation) (\S+)"
        wildcards = job_selectors(params, dict(re.findall(flags, st["cmd"])))  # + train_protocol
        if fp := re.search(r"--fingerprint (\S+)", st["cmd"]):  # embed_fingerprints' variant wildcard
            wildcards["variant"] = fp.group(1)
        modules = set(decl.job_modules(wildcards))
        assert modules <= set(st["deps"]) and modules <= set(job["inputs"]), addr
        # only the variant's own network module (+ the shared layers): editing another family's file reruns nothing
        nets = {d for d in st["deps"] if d.startswith("src/ganprint/nets/")}
        assert nets == {m for m in modules if m.startswith("src/ganprint/nets/")}, addr
        assert nets <= {"src/ganprint/nets/layers.py", "src/ganprint/nets/stegastamp.py", *modules}, addr
        assert "src" not in st["deps"] and "src/ganprint" not in st["deps"]
        # (build_split of cross_seed: its own section and closed_set's, whose classifiers it evaluates)
        assert st["params"] == sorted({k.format(**wildcards) for k in decl.params}), addr
    assert dvc_stages["build_split.cross_seed"]["params"] == ["protocols.closed_set", "protocols.cross_seed"]
    assert dvc_stages["build_split.closed_set"]["params"] == ["protocols.closed_set"]


def test_classifiers_depend_on_the_split_manifest_not_on_directories(dvc_stages, smk_jobs):
    for addr, st in dvc_stages.items():
        if _stage(addr) in ("train_classifier", "immunize_classifier", "evaluate_attribution", "evaluate_robustness"):
            protocol = re.search(r"--protocol (\S+)", st["cmd"]).group(1)
            assert f"results/splits/{protocol}.csv" in st["deps"]
            assert not {"data/clean", "results/samples"} & set(st["deps"]), addr
            assert not [i for i in smk_jobs[st["cmd"]]["inputs"] if i.endswith(".lmdb")], addr


def test_gpu_stages_declare_a_gpu():
    gpu = {s.name for s in STAGES.values() if s.gpu}
    assert gpu == {
        "train_gan",
        "finetune_gan",
        "generate_images",
        "fid_stats",
        "evaluate_gan",
        "train_fingerprint_autoencoder",
        "embed_fingerprints",
        "detect_fingerprints",
        "fingerprint_robustness",
        "train_classifier",
        "immunize_classifier",
        "evaluate_attribution",
        "evaluate_robustness",
    }  # interpret_attribution runs on the CPU: the same figure bytes on every machine


def test_render_dvc_check_catches_a_stale_file(project):
    assert run(["ganprint", "render-dvc", "--check"], REPO).returncode == 0
    text = (project / "dvc.yaml").read_text()
    (project / "dvc.yaml").write_text(text.replace("--metrics", "--metricz", 1))
    r = run(["ganprint", "render-dvc", "--check"], project, check=False)
    assert r.returncode == 2 and "dvc.yaml is stale: run `ganprint render-dvc`" in r.stderr
    run(["ganprint", "render-dvc"], project)
    assert (project / "dvc.yaml").read_text() == text


@pytest.mark.parametrize("preset,dataset", [("celeba128", "celeba"), ("lsun128", "lsun")])
def test_paper_presets_plan_the_paper_grid_in_both_front_ends(tmp_path, preset, dataset):
    """`ganprint preset NAME` writes params.yaml (and dvc.yaml) for both front-ends; no data needed to plan."""
    proj = make_project(tmp_path / preset)
    run(["ganprint", "preset", preset], proj)
    r = run(["snakemake", "-n", "-p", "--cores", "1"], proj)
    assert f"--params params.yaml --dataset {dataset}" in r.stdout
    # ProGAN x 10 seeds + 6 zoo GANs + 3 fingerprinted + 4 of the other dataset (cross-dataset); 4 fine-tuned
    assert re.search(r"^train_gan\s+23$", r.stdout, re.M)
    assert re.search(r"^finetune_gan\s+4$", r.stdout, re.M)
    assert re.search(r"^train_classifier\s+26$", r.stdout, re.M)  # the demo's protocols, methods and seeds
    assert re.search(r"^evaluate_attribution\s+46$", r.stdout, re.M)
    stages = run(["dvc", "stage", "list", "--name-only"], proj).stdout.split()
    assert len([s for s in stages if _stage(s) == "train_gan"]) == 23
    assert f"train_gan.seeds@{dataset}-progan-wgangp-clean-9" in stages
    assert f"train_gan.mmdgan@{dataset}-mmdgan-cramer-clean-0" in stages
