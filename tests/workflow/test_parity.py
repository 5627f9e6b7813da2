"""Snakemake and DVC name the same stages, commands, outputs, params keys and library modules."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest
from conftest import make_project, run

from ganprint.cli.main import STAGES


def _norm(cmd: str) -> str:
    return " ".join(shlex.split(cmd))


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
    """rule name → list of {cmd, outs, inputs} from `snakemake --forceall --dry-run --printshellcmds`."""
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
        elif cur is not None and "ganprint " in line and line.strip().startswith(("ganprint ", "Shell command:")):
            cur["cmd"] = _norm(line.strip().removeprefix("Shell command:"))
    return {j["cmd"]: j for j in jobs if j["rule"] != "all"}


def test_same_stage_names(dvc_stages, smk_jobs):
    dvc_names = {a.split("@")[0] for a in dvc_stages}
    smk_names = {j["rule"] for j in smk_jobs.values()}
    assert dvc_names == smk_names
    assert dvc_names == set(STAGES.values()) - {"check_params"}


def test_same_commands_and_outputs(dvc_stages, smk_jobs):
    assert len(dvc_stages) == len(smk_jobs) == 18  # 2 datasets, 3 GANs, 1 autoencoder, 2 protocols
    for addr, st in dvc_stages.items():
        assert st["cmd"] in smk_jobs, f"{addr}: DVC command not run by Snakemake:\n{st['cmd']}"
        job = smk_jobs[st["cmd"]]
        assert job["rule"] == addr.split("@")[0]
        assert sorted(job["outs"]) == st["outs"], addr


def test_each_stage_tracks_its_own_params_and_modules(dvc_stages, smk_jobs):
    for addr, st in dvc_stages.items():
        stage = addr.split("@")[0]
        cli = importlib.import_module(f"ganprint.cli.{stage}")
        # the library modules the CLI declares are deps in both front-ends, and src/ as a whole is not
        assert set(cli.MODULES) <= set(st["deps"]), addr
        assert "src" not in st["deps"] and "src/ganprint" not in st["deps"]
        assert set(cli.MODULES) <= set(smk_jobs[st["cmd"]]["inputs"]), addr
        # params: exactly the keys the CLI declares (selectors filled in)
        selectors = dict(re.findall(r"--(dataset|protocol) (\S+)", st["cmd"]))
        assert st["params"] == sorted(k.format(**selectors) for k in cli.PARAMS), addr


def test_gpu_rules_declare_a_gpu(project):
    text = "\n".join(p.read_text() for p in (project / "workflow" / "rules").glob("*.smk"))
    for rule in (
        "train_gan",
        "generate_images",
        "train_fingerprint_autoencoder",
        "embed_fingerprints",
        "detect_fingerprints",
        "train_classifier",
        "evaluate_attribution",
    ):
        block = text.split(f"rule {rule}:")[1].split("\nrule ")[0]
        assert "gpu=1" in block, rule


def test_paper_presets_plan_the_paper_grid(project):
    """A preset is one flag away: `--config params=workflow/presets/<name>.yaml` (no data needed to plan)."""
    for preset, dataset in (("celeba128", "celeba"), ("lsun128", "lsun")):
        r = run(
            ["snakemake", "-n", "-p", "--cores", "1", "--config", f"params=workflow/presets/{preset}.yaml"], project
        )
        assert f"--params workflow/presets/{preset}.yaml --dataset {dataset}" in r.stdout
        assert "train_gan                           11" in r.stdout
