"""Many reviews in one DAG: N SYNTHETIC reviews of 50 trials each, built with `-c 2` (local
profile) or through a real single-node SLURM cluster (`--profile workflow/profiles/slurm`,
started and stopped by tests/slurm/cluster.sh; needs root and the Debian packages)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from pipeline import ROOT, copy_project, timed
from synthetic import SEED, write_review

CLUSTER = ROOT / "tests" / "slurm" / "cluster.sh"


def run(n_reviews: int = 200, n_trials: int = 50, executor: str = "local") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        work = copy_project(Path(tmp))
        data = work / "bench-data"
        ids = [f"synthetic-review-{i + 1:03d}" for i in range(n_reviews)]
        for i, rid in enumerate(ids):
            write_review(data, rid, ROOT / "data" / "reviews" / "exercise-depression", n_trials, seed=SEED + i)
        cfg = yaml.safe_load((work / "config" / "config.yaml").read_text())
        cfg.update(reviews=ids, data_dir="bench-data")
        (work / "config" / "bench.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        profile = ["--profile", "workflow/profiles/slurm", "--slurm-init-seconds-before-status-checks", "2"] \
            if executor == "slurm" else ["--profile", "workflow/profiles/default", "--cores", "2"]
        base = [sys.executable, "-m", "snakemake", *profile, "--configfile", "config/bench.yaml", "-q"]
        t0 = time.perf_counter()
        subprocess.run([*base, "--dry-run"], cwd=work, capture_output=True, check=True)
        dag_s = time.perf_counter() - t0
        if executor == "slurm":
            total, jobs = _on_slurm_cluster(Path(tmp) / "cluster", lambda: timed(base, work))
        else:
            total, jobs = timed(base, work), None
    result = {"reviews": n_reviews, "trials_per_review": n_trials, "executor": executor, "dag_build_s": dag_s,
              "total_s": total["wall_s"], "per_review_s": total["wall_s"] / n_reviews, "peak_mb": total["peak_mb"],
              "cores": 2}
    if jobs is not None:
        result.update(jobs)
    return result


def _on_slurm_cluster(state: Path, build):
    """Start the test cluster, run `build`, read SLURM's accounting for the jobs, stop the cluster."""
    subprocess.run(["bash", str(CLUSTER), "start", str(state)], check=True, capture_output=True)
    env = {**os.environ, "SLURM_CONF": str(state / "slurm.conf")}
    os.environ["SLURM_CONF"] = env["SLURM_CONF"]
    try:
        total = build()
        out = subprocess.run(["sacct", "-n", "-P", "-S", "now-1days", "-o", "JobID,State,MaxRSS"], env=env,
                             capture_output=True, text=True, check=True).stdout.splitlines()
        states = [line.split("|") for line in out if line]
        jobs = [s for s in states if "." not in s[0]]
        rss = [_kb(s[2]) for s in states if s[2]]
        return total, {"slurm_jobs": len(jobs), "slurm_completed": sum(s[1] == "COMPLETED" for s in jobs),
                       "slurm_peak_job_mb": max(rss) / 1024 if rss else None}
    finally:
        os.environ.pop("SLURM_CONF", None)
        subprocess.run(["bash", str(CLUSTER), "stop", str(state)], capture_output=True)


def _kb(value: str) -> float:
    units = {"K": 1, "M": 1024, "G": 1024 ** 2}
    return float(value[:-1]) * units[value[-1]] if value[-1] in units else float(value) / 1024


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 200,
                         executor=sys.argv[2] if len(sys.argv) > 2 else "local")))
