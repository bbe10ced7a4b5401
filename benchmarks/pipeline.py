"""Pipeline benchmarks on a private copy of the project: clean build, no-op rerun, incremental
rebuild after one new (SYNTHETIC) trial record; wall time and peak memory of the largest process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["Snakefile", "workflow", "scripts", "templates", "config", "data", "environment.yml"]
# Runs a command and reports its wall time and the largest resident set of its process tree.
_WRAPPER = ("import json,resource,subprocess,sys,time;t=time.perf_counter();rc=subprocess.call(sys.argv[1:],"
            "stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
            "print(json.dumps({'rc':rc,'wall_s':time.perf_counter()-t,"
            "'peak_mb':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024}))")


def timed(cmd, cwd) -> dict:
    r = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], cwd=cwd, capture_output=True, text=True)
    out = json.loads(r.stdout)
    if out["rc"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed in {cwd}")
    return out


def copy_project(dst: Path) -> Path:
    for part in PARTS:
        src = ROOT / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst / part)
    return dst


def _summary(samples):
    walls = sorted(s["wall_s"] for s in samples)
    return {"median_s": walls[len(walls) // 2], "min_s": walls[0], "max_s": walls[-1], "runs": len(walls),
            "peak_mb": max(s["peak_mb"] for s in samples)}


def run(repeat: int = 3) -> dict:
    snake = [sys.executable, "-m", "snakemake", "--profile", "workflow/profiles/default", "--cores", "2"]
    clean, noop, incremental = [], [], []
    for i in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            work = copy_project(Path(tmp))
            clean.append(timed(snake, work))
            noop.append(timed(snake, work))
            trials = work / "data" / "reviews" / "exercise-depression" / "trials"
            rec = yaml.safe_load((trials / "singh-2005.yaml").read_text())
            rec.update(id=f"synthetic-bench-{i}", label=f"Synthetic Bench {i}", year=2026,
                       citation={"first_author": "SYNTHETIC benchmark record"})
            rec["outcomes"] = {"depression": [{k: v for k, v in rec["outcomes"]["depression"][0].items()
                                               if k != "published"} | {"source": "SYNTHETIC benchmark record"}]}
            (trials / f"synthetic-bench-{i}.yaml").write_text(yaml.safe_dump(rec, sort_keys=False))
            incremental.append(timed(snake, work))
    return {"clean build": _summary(clean), "no-op rerun": _summary(noop),
            "incremental rebuild (+1 trial)": _summary(incremental)}
