"""Shared fixtures: a tiny but complete params set (real embedded photos, 32 px, a few steps per stage)."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

TINY = {
    "datasets": {
        "skimage": {"source": "embedded", "path": "skimage", "resolution": 32, "num_images": 96, "seed": 0},
        "sklearn": {"source": "embedded", "path": "sklearn", "resolution": 32, "num_images": 48, "seed": 1},
    },
    "prepare_dataset": {"workers": 1, "grid_images": 16},  # dvc.yaml reads grid_images
    "gans": {
        f"s{seed}": {"dataset": "skimage", "arch": "dcgan", "loss": "nonsat", "variant": "clean", "seed": seed}
        for seed in (0, 1)
    }
    | {"fp0": {"dataset": "skimage", "arch": "dcgan", "loss": "nonsat", "variant": "fingerprinted", "seed": 0}},
    "train_gan": {"steps": 3, "batch_size": 8, "width": 8, "z_dim": 8, "log_every": 1},
    "generate_images": {"num_images": 24, "seed": 5, "batch_size": 10},
    "train_fingerprint_autoencoder": {"datasets": ["skimage"], "bits": 8, "steps": 3, "batch_size": 8, "log_every": 1},
    "embed_fingerprints": {"batch_size": 32},
    "detect_fingerprints": {"batch_size": 32},
    "protocols": {
        "closed_set": {
            "paper": "yu2019_table2",
            "train": {"real": ["real/skimage"], "seed0": ["gan/s0"], "seed1": ["gan/s1"]},
        },
        "cross_seed": {
            "paper": "dnadet_cross_seed",
            "train": {"real": ["real/skimage"], "dcgan": ["gan/s0"]},
            "test": {"real": ["real/skimage"], "dcgan": ["gan/s1"]},
        },
    },
    "train_classifier": {
        "protocols": ["closed_set", "cross_seed"],
        "methods": ["postpool"],
        "images_per_class": 12,
        "epochs": 1,
        "batch_size": 4,
        "fmap_base": 16,
        "fmap_max": 8,
    },
    "evaluate_attribution": {"images_per_class": 8, "batch_size": 16},
    "make_tables": {"decimals": 2},
}


def tiny_params() -> dict:
    return copy.deepcopy(TINY)


def write_params(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def tiny_params_file(tmp_path: Path) -> Path:
    return write_params(tmp_path / "params.yaml", tiny_params())


def make_project(dest: Path, params: dict | None = None) -> Path:
    """A runnable copy of the pipeline (Snakefile, dvc.yaml, workflow/, src/) with tiny params, DVC-initialised."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "dvc.yaml", ".dvcignore"):
        shutil.copy2(REPO / name, dest / name)
    shutil.copytree(REPO / "workflow", dest / "workflow")
    shutil.copytree(REPO / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    write_params(dest / "params.yaml", params or tiny_params())
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
