"""Shared fixtures: a tiny but complete params set (real embedded photos, 32 px, a few steps per stage)."""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@functools.cache
def _tiny_text() -> str:
    from ganprint.presets import render

    return render("tiny", REPO)


def tiny_params() -> dict:
    """The ``tiny`` preset (workflow/presets/tiny.yaml over defaults.yaml) as a fresh mutable dict."""
    return copy.deepcopy(yaml.safe_load(_tiny_text()))


def write_params(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def tiny_params_file(tmp_path: Path) -> Path:
    return write_params(tmp_path / "params.yaml", tiny_params())


def make_project(dest: Path, params: dict | None = None) -> Path:
    """A runnable copy of the pipeline (Snakefile, workflow/, src/) with tiny params, DVC-initialised; dvc.yaml
    rendered for its params (one definition per gans group)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", ".dvcignore", "dvc.yaml"):
        shutil.copy2(REPO / name, dest / name)
    shutil.copytree(REPO / "workflow", dest / "workflow")
    shutil.copytree(REPO / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    if params is None:
        (dest / "params.yaml").write_text(_tiny_text(), encoding="utf-8")
    else:
        write_params(dest / "params.yaml", params)
    run(["ganprint", "render-dvc"], dest, check=False)  # bad params (tests of errors) keep the repo's dvc.yaml
    run(["dvc", "init", "--no-scm", "-q"], dest)
    run(["dvc", "config", "core.analytics", "false"], dest)
    return dest


def env() -> dict:
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e.setdefault("DVC_NO_ANALYTICS", "1")
    return e


def run(cmd: list[str], cwd: Path, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
    return p


# --- workflow helpers ------------------------------------------------------------------------------------
NOTHING = "Nothing to be done"


@pytest.fixture(scope="session")
def smk_built(tmp_path_factory):
    """The tiny preset built once by Snakemake (workflow tests copy it before changing anything)."""
    proj = make_project(tmp_path_factory.mktemp("frontends") / "smk")
    run(["snakemake", "--cores", "2"], proj)
    return proj


@pytest.fixture
def smk_project(smk_built, tmp_path):
    """A private copy of the built project (file times kept), so tests can change params."""
    dest = tmp_path / "smk"
    shutil.copytree(smk_built, dest, symlinks=True)
    return dest


def dvc_stale(proj) -> list[str]:
    return sorted(json.loads(run(["dvc", "status", "--json"], proj).stdout))


def planned_jobs(proj) -> dict:
    out = run(["snakemake", "-n", "--cores", "1"], proj).stdout
    if NOTHING in out:
        return {}
    block = out.split("Job stats:")[1].split("\n\n")[0]
    rows = [ln.split() for ln in block.strip().splitlines()[2:]]
    return {r[0]: int(r[1]) for r in rows if len(r) == 2 and r[0] not in ("total", "all")}


def edit_params(proj, mutate) -> None:
    params = yaml.safe_load((proj / "params.yaml").read_text())
    mutate(params)
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["ganprint", "render-dvc"], proj)
