"""Bookkeeping at paper scale: a no-op `snakemake -n` and `dvc status` over the whole paper grid.

Builds the paper grid of both presets together (celeba128 + lsun128: their datasets, GAN groups, autoencoders
and protocols side by side) in a temporary copy of the project, marks every job done without training anything
(every output created empty, then `snakemake --touch`, whose success hook records the ledger in dvc.lock), and
times the no-op commands people run all day. Writes benchmarks/results/noop.json.
Targets (recorded, not asserted): ≤ 1.5 s for `snakemake -n`, ≤ 2 s for `dvc status`, ≤ 300 DVC stages.

    python benchmarks/noop.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from ganprint.config import parse_params
from ganprint.presets import render
from ganprint.stages import STAGES, all_targets, expand

REPO = Path(__file__).resolve().parents[1]


def paper_grid() -> dict:
    """celeba128 and lsun128 in one params file (protocol names prefixed with the dataset)."""
    merged: dict = {}
    for preset, ds in (("celeba128", "celeba"), ("lsun128", "lsun")):
        p = yaml.safe_load(render(preset, REPO))
        if not merged:
            merged = p | {"datasets": {}, "gans": {}, "autoencoders": [], "protocols": {}}
            merged["attribution"] = {"protocols": [], "methods": p["attribution"]["methods"]}
        merged["datasets"] |= p["datasets"]
        merged["gans"] |= p["gans"]
        merged["autoencoders"] += p["autoencoders"]
        merged["protocols"] |= {f"{ds}_{k}": v for k, v in p["protocols"].items()}
        merged["attribution"]["protocols"] += [f"{ds}_{k}" for k in p["attribution"]["protocols"]]
    return merged


def timed(cmd: list[str], cwd: Path, env: dict, repeats: int) -> tuple[list[float], str]:
    times, out = [], ""
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        out = r.stdout + r.stderr
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{out[-3000:]}")
    return times, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "noop.json")
    args = ap.parse_args()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    tmp = Path(tempfile.mkdtemp(prefix="ganprint-noop-"))
    proj = tmp / "proj"
    proj.mkdir()
    for name in ("Snakefile", ".dvcignore"):
        shutil.copy2(REPO / name, proj / name)
    for d in ("workflow", "src"):
        shutil.copytree(REPO / d, proj / d, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    data = paper_grid()
    params = parse_params(data, "paper grid")
    (proj / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))

    def sh(*cmd):
        r = subprocess.run(cmd, cwd=proj, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
        return r

    sh("ganprint", "render-dvc")
    sh("dvc", "init", "--no-scm", "-q")
    sh("dvc", "config", "core.analytics", "false")
    for t in all_targets(params):  # every job "done": outputs exist (empty), nothing is trained
        (proj / t).parent.mkdir(parents=True, exist_ok=True)
        (proj / t).write_bytes(b"")
    t0 = time.perf_counter()
    # --forceall: touch every job in DAG order; the onsuccess hook then records the ledger (ganprint.ledger)
    sh("snakemake", "--touch", "--forceall", "--cores", "1")
    touch_s = time.perf_counter() - t0
    stages = sh("dvc", "stage", "list", "--name-only").stdout.split()
    smk, smk_out = timed(["snakemake", "-n", "--cores", "1"], proj, env, args.repeats)
    dvc, dvc_out = timed(["dvc", "status"], proj, env, args.repeats)
    jobs = {s.name: len(expand(s, params)) for s in STAGES.values()}
    result = {
        "what": "no-op bookkeeping over the paper grid (celeba128 + lsun128 presets together)",
        "grid": {
            "datasets": len(params.datasets),
            "gans": len(params.gan_list),
            "protocols": len(params.attribution.protocols),
            "methods": len(params.attribution.methods),
        },
        "snakemake_jobs": sum(jobs.values()),
        "jobs_per_stage": jobs,
        "dvc_stages": len(stages),
        "snakemake_n_s": {"median": round(statistics.median(smk), 3), "all": [round(t, 3) for t in smk]},
        "dvc_status_s": {"median": round(statistics.median(dvc), 3), "all": [round(t, 3) for t in dvc]},
        "snakemake_n_nothing_to_do": "Nothing to be done" in smk_out,
        "dvc_status_clean": "Data and pipelines are up to date" in dvc_out,
        "touch_and_ledger_s": round(touch_s, 1),
        "targets": {"snakemake_n_s": 1.5, "dvc_status_s": 2.0, "dvc_stages": 300},
        "meets_targets": {
            "snakemake_n": statistics.median(smk) <= 1.5,
            "dvc_status": statistics.median(dvc) <= 2.0,
            "dvc_stages": len(stages) <= 300,
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
