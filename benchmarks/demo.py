"""Run the default demo in a temporary clone and record wall time per stage and in total.

Per-stage times come from the Snakemake rules' ``benchmark:`` files; the total is the wall time of the whole
``snakemake --cores all`` run. Writes benchmarks/results/demo.json. Target (recorded, not asserted): the whole
demo in ≤ 15 min on 2 cores.

    python benchmarks/demo.py [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", action="store_true", help="keep the temporary clone")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "demo.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ganprint-demo-"))
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    t0 = time.perf_counter()
    r = subprocess.run(["snakemake", "--cores", "all"], cwd=clone, env=env, capture_output=True, text=True)
    total = time.perf_counter() - t0
    if r.returncode != 0:
        print(r.stderr[-5000:], file=sys.stderr)
        return 1
    per_stage: dict[str, dict] = {}
    for tsv in sorted((clone / "results" / "benchmarks").glob("*/*.tsv")):
        s = float(pd.read_csv(tsv, sep="\t")["s"].iloc[0])
        st = per_stage.setdefault(tsv.parent.name, {"jobs": 0, "seconds": 0.0})
        st["jobs"] += 1
        st["seconds"] = round(st["seconds"] + s, 2)
    import torch

    result = {
        "what": "snakemake --cores all on the default params.yaml (embedded demo, 32 px, CPU)",
        "total_wall_s": round(total, 1),
        "target_s": 900,
        "per_stage": per_stage,
        "sum_of_jobs_s": round(sum(v["seconds"] for v in per_stage.values()), 1),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
