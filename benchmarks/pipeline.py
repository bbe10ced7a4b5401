"""Pipeline benchmarks on a private copy of the project, the targets of issue 13: for the default
review (exercise-depression, 35 trials), a clean build, a no-op rerun and a rebuild after one
trial record was edited (a SYNTHETIC change to one arm's mean). Wall time, CPU time (user + system
of the whole process tree: a shared machine stretches wall time, not CPU time) and the largest
resident set of any process. benchmarks/metapsy.py does the same for the 480-study review.

A machine with SLURM's client installed but no controller reachable (this project's CI installs
it for the test cluster) makes every `snakemake` start wait about 9 s: snakemake imports every
installed executor plugin, and snakemake-executor-plugin-slurm runs `scontrol show config` at
import time, which retries the absent controller. That wait is no part of the pipeline and a
machine without SLURM (or with a running cluster) never sees it, so the builds here run with
`scontrol` answering "no" at once; the wait is measured and printed on its own."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["Snakefile", "workflow", "scripts", "templates", "config", "data", "environment.yml"]
REVIEW = "exercise-depression"
# Runs a command and reports its wall time, the CPU time of its process tree and the largest resident set.
_WRAPPER = ("import json,resource,subprocess,sys,time;t=time.perf_counter();rc=subprocess.call(sys.argv[1:],"
            "stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);w=time.perf_counter()-t;"
            "u=resource.getrusage(resource.RUSAGE_CHILDREN);"
            "print(json.dumps({'rc':rc,'wall_s':w,'cpu_s':u.ru_utime+u.ru_stime,'peak_mb':u.ru_maxrss/1024}))")


@lru_cache(maxsize=1)
def slurm_client_stall() -> float:
    """Seconds `scontrol show config` takes here (0 without SLURM's client)."""
    if not shutil.which("scontrol"):
        return 0.0
    t = time.perf_counter()
    try:
        subprocess.run(["scontrol", "show", "config"], capture_output=True, timeout=15)
    except subprocess.TimeoutExpired:
        pass
    return time.perf_counter() - t


@lru_cache(maxsize=2)
def snakemake_env(cold: bool = False) -> dict:
    """The environment for the timed builds: when SLURM's client stalls (see the module's doc),
    a `scontrol` that fails at once comes first on PATH. ``cold``: every rule script in its own
    Python, as before the warm process (livingmeta.pipeline.warm), for comparison."""
    env = {k: v for k, v in os.environ.items() if k != "LIVINGMETA_COLD"}
    if cold:
        env["LIVINGMETA_COLD"] = "1"
    if slurm_client_stall() > 2:
        stub = Path(tempfile.mkdtemp(prefix="livingmeta-bench-")) / "scontrol"
        stub.write_text("#!/bin/sh\nexit 1\n")
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
        env["PATH"] = f"{stub.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def timed(cmd, cwd, env=None) -> dict:
    r = subprocess.run([sys.executable, "-c", _WRAPPER, *map(str, cmd)], cwd=cwd, capture_output=True, text=True,
                       env=env)
    out = json.loads(r.stdout)
    if out["rc"] != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed in {cwd}")
    return out


def copy_project(dst: Path) -> Path:
    for part in PARTS:
        src = ROOT / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst / part)
    return dst


def snakemake_cmd(review: str) -> list:
    return [sys.executable, "-m", "snakemake", "--profile", "workflow/profiles/default", "--cores", "2",
            "--config", f"reviews=[{review}]"]


def edit_one_record(path: Path, run: int) -> None:
    """A SYNTHETIC edit: the first arm's mean of the record's first outcome moves by 0.1 * (run + 1)."""
    rec = yaml.safe_load(path.read_text())
    first = next(iter(rec["outcomes"].values()))[0]
    first["arms"][next(iter(first["arms"]))]["mean"] += 0.1 * (run + 1)
    path.write_text(yaml.safe_dump(rec, sort_keys=False, allow_unicode=True))


def summary(samples) -> dict:
    def med(key):
        vals = sorted(s[key] for s in samples)
        return vals[len(vals) // 2]
    walls = sorted(s["wall_s"] for s in samples)
    return {"median_s": med("wall_s"), "min_s": walls[0], "max_s": walls[-1], "median_cpu_s": med("cpu_s"),
            "runs": len(samples), "peak_mb": max(s["peak_mb"] for s in samples)}


def edited_rebuilds(work: Path, review: str, record: Path, run: int) -> tuple[dict, dict]:
    """Two rebuilds after an edit of ``record`` each: with the warm process, then with every rule
    in its own Python (LIVINGMETA_COLD=1)."""
    times = []
    for cold in (False, True):
        edit_one_record(work / record, 2 * run + cold)
        times.append(timed(snakemake_cmd(review), work, snakemake_env(cold=cold)))
    return times[0], times[1]


def run(repeat: int = 3) -> dict:
    clean, noop, edited, edited_cold = [], [], [], []
    record = Path("data") / "reviews" / REVIEW / "trials" / "singh-2005.yaml"
    for i in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            work = copy_project(Path(tmp))
            clean.append(timed(snakemake_cmd(REVIEW), work, snakemake_env()))
            noop.append(timed(snakemake_cmd(REVIEW), work, snakemake_env()))
            warm, cold = edited_rebuilds(work, REVIEW, record, i)
            edited.append(warm)
            edited_cold.append(cold)
    return {"clean build": summary(clean), "no-op rerun": summary(noop),
            "one trial edited, rebuild": summary(edited),
            "same, no warm process": summary(edited_cold), "slurm_client_stall_s": slurm_client_stall()}


def print_rows(title: str, result: dict) -> None:
    if "skipped" in result:
        print(f"\n{title}: skipped, {result['skipped']}")
        return
    print(f"\n{title} (median wall and CPU time; peak RSS of the largest process):")
    for name, t in result.items():
        if isinstance(t, dict):
            print(f"  {name:28s} wall {t['median_s']:6.2f} s (min {t['min_s']:.2f}, max {t['max_s']:.2f})  "
                  f"cpu {t['median_cpu_s']:6.2f} s  ({t['runs']} runs)  peak {t['peak_mb']:.0f} MB")
    if result.get("slurm_client_stall_s", 0) > 2:
        print(f"  (not counted above: SLURM's client stalls {result['slurm_client_stall_s']:.1f} s here, "
              "which every snakemake start would add; see benchmarks/pipeline.py)")


if __name__ == "__main__":
    import argparse
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeat", type=int, default=3)
    res = run(p.parse_args().repeat)
    print_rows(f"pipeline, {REVIEW}", res)
    print(json.dumps(res))
