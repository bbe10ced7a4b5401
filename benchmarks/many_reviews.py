"""Many reviews in one DAG: N SYNTHETIC reviews of 50 trials each, built with `-c 2`."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from pipeline import ROOT, copy_project, timed
from synthetic import SEED, write_review


def run(n_reviews: int = 200, n_trials: int = 50) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        work = copy_project(Path(tmp))
        data = work / "bench-data"
        ids = [f"synthetic-review-{i + 1:03d}" for i in range(n_reviews)]
        for i, rid in enumerate(ids):
            write_review(data, rid, ROOT / "data" / "reviews" / "exercise-depression", n_trials, seed=SEED + i)
        cfg = yaml.safe_load((work / "config" / "config.yaml").read_text())
        cfg.update(reviews=ids, data_dir="bench-data")
        (work / "config" / "bench.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        base = [sys.executable, "-m", "snakemake", "--profile", "workflow/profiles/default", "--configfile",
                "config/bench.yaml", "--cores", "2", "-q"]
        t0 = time.perf_counter()
        subprocess.run([*base, "--dry-run"], cwd=work, capture_output=True, check=True)
        dag_s = time.perf_counter() - t0
        total = timed(base, work)
    return {"reviews": n_reviews, "trials_per_review": n_trials, "dag_build_s": dag_s, "total_s": total["wall_s"],
            "per_review_s": total["wall_s"] / n_reviews, "peak_mb": total["peak_mb"], "cores": 2}


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 200)))
