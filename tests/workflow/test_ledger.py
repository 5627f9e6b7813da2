"""The ledger never lies: dvc.lock records exactly what Snakemake built; a failed run deletes nothing; a pushed,
then pulled clone has nothing to do in either front-end (README, 'Sharing results')."""

from __future__ import annotations

import hashlib
import re
import shutil

import yaml
from conftest import REPO, dvc_stale, edit_params, planned_jobs, run


def _files(proj) -> dict:
    out = {}
    for top in ("data", "results"):
        for p in sorted((proj / top).rglob("*")):
            if p.is_file() and "logs" not in p.parts and "benchmarks" not in p.parts:
                out[str(p.relative_to(proj))] = hashlib.md5(p.read_bytes()).hexdigest()
    return out


METHODS = ("postpool", "knn")  # the tiny preset's


def test_a_partial_run_leaves_stale_stages_stale(smk_project):
    """(a) Change a classifier param, build an unrelated target: dvc status still lists the classifiers."""
    edit_params(smk_project, lambda p: p["train_classifier"].update(epochs=2))
    stale = dvc_stale(smk_project)
    # closed_set trains the tiny preset's classifiers (2 methods × 2 seeds); cross_seed only evaluates them
    assert stale == sorted(f"train_classifier.closed_set.{m}@{s}" for m in METHODS for s in (0, 1))
    lock = (smk_project / "dvc.lock").read_text()
    r = run(["snakemake", "--cores", "1", "-f", "data/clean/sklearn/samples.png"], smk_project)
    assert "prepare_dataset" in r.stderr
    assert dvc_stale(smk_project) == stale  # not accepted as current
    after = yaml.safe_load((smk_project / "dvc.lock").read_text())["stages"]
    assert after == yaml.safe_load(lock)["stages"]  # prepare_dataset@sklearn re-recorded with identical bytes


def test_c_a_wrong_key_then_dvc_repro_deletes_nothing(smk_project):
    """(c) A typo in params.yaml, then `dvc repro`: it fails and every output is still in place."""
    edit_params(smk_project, lambda p: p["train_classifier"].update(epochs=2))  # a stale stage to run first
    before = _files(smk_project)
    text = (smk_project / "params.yaml").read_text()
    (smk_project / "params.yaml").write_text(text.replace("epochs: 2", "epochs: 2\n  epochz: 3"))
    r = run(["dvc", "repro"], smk_project, check=False)
    assert r.returncode != 0
    assert "train_classifier: unknown key 'epochz' (did you mean 'epochs'?)" in r.stdout + r.stderr
    assert _files(smk_project) == before


def test_shared_cache_round_trip(smk_built, tmp_path):
    """Clone A builds and pushes to a local remote; fresh clone B pulls: nothing to do in either front-end."""
    a = tmp_path / "a"
    shutil.copytree(smk_built, a, symlinks=True)
    shutil.rmtree(a / ".dvc")
    shutil.copy2(REPO / ".gitignore", a / ".gitignore")
    for cmd in (
        ["git", "init", "-q"],
        ["git", "config", "user.email", "ci@example.com"],
        ["git", "config", "user.name", "ci"],
        ["dvc", "init", "-q"],
        ["dvc", "config", "core.analytics", "false"],
        ["dvc", "remote", "add", "-d", "shared", str(tmp_path / "remote")],
        ["dvc", "commit", "--force", "--quiet"],  # A's first ledger (its .dvc was re-initialised with git)
        ["dvc", "push", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "A"],
    ):
        run(cmd, a)
    assert dvc_stale(a) == []
    b = tmp_path / "b"
    run(["git", "clone", "-q", str(a), str(b)], tmp_path)
    # exactly the README's commands after a clone (its 'Sharing results' section)
    readme = (REPO / "README.md").read_text()
    pull = re.search(r"^(dvc pull .*)$", readme, re.M).group(1)
    assert pull == "dvc pull && dvc status -q && snakemake --touch --cores 1"
    run(["bash", "-c", pull], b)
    assert dvc_stale(b) == []
    r = run(["dvc", "repro"], b)
    assert "Running stage" not in r.stdout
    assert planned_jobs(b) == {}
