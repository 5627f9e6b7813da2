"""A job killed with SIGKILL mid-run leaves nothing under its final names, and its rerun completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import env, tiny_params, write_params

from ganprint.cli import prepare_dataset


def test_sigkill_during_gan_training_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = tiny_params()
    write_params(tmp_path / "params.yaml", params)
    assert prepare_dataset.main(["--dataset", "skimage", "--out", "data/clean/skimage"]) == 0
    out = tmp_path / "results/models/gan/skimage/dcgan/nonsat/clean/seed0"
    cmd = [
        str(Path(sys.executable).parent / "ganprint"),
        "train-gan",
        "--dataset",
        "skimage",
        "--arch",
        "dcgan",
        "--loss",
        "nonsat",
        "--variant",
        "clean",
        "--seed",
        "0",
        "--device",
        "cpu",
        "--data",
        "data/clean/skimage/images.lmdb",
        "--out",
        str(out),
        "--log",
        "long.log",
    ]

    params["train_gan"] |= {"steps": 10**6, "log_every": 10}  # would run for hours: it is killed mid-training
    write_params(tmp_path / "params.yaml", params)
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log, deadline = tmp_path / "long.log", time.time() + 60
    while time.time() < deadline and not (log.exists() and "step" in log.read_text()):
        time.sleep(0.1)  # wait until training steps are being logged
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "G.pt").exists() and not (out / "D.pt").exists()  # stats.jsonl may hold the rows so far

    params["train_gan"] |= {"steps": 3, "log_every": 1}
    write_params(tmp_path / "params.yaml", params)
    assert subprocess.run(cmd, env=env(), capture_output=True).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "D.pt",
        "G.pt",
        "loss_curves.csv",
        "resolved_config.json",
        "samples.png",
        "stats.jsonl",
    ]
