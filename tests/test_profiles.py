"""The SLURM profile plans the whole DAG (the executor plugin installed, no cluster needed), and
many reviews share one DAG with every rule parameterised by {review}."""

import subprocess
import sys

import yaml
from conftest import copy_project


def dry_run(work, *args):
    return subprocess.run([sys.executable, "-m", "snakemake", "--dry-run", *args], cwd=work, capture_output=True,
                          text=True)


def test_slurm_profile_plans_the_dag(tmp_path):
    work = copy_project(tmp_path / "p")
    res = dry_run(work, "--profile", "workflow/profiles/slurm")
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout + res.stderr
    for rule in ("extract", "effect_sizes", "pool", "report_pdf"):
        assert rule in out


def test_two_reviews_in_one_dag(tmp_path):
    work = copy_project(tmp_path / "p")
    src = work / "data" / "reviews" / "exercise-depression"
    dst = work / "data" / "reviews" / "exercise-depression-copy"
    import shutil
    shutil.copytree(src, dst)
    review = yaml.safe_load((dst / "review.yaml").read_text())
    review["id"] = "exercise-depression-copy"
    (dst / "review.yaml").write_text(yaml.safe_dump(review, sort_keys=False))
    cfg = yaml.safe_load((work / "config" / "config.yaml").read_text())
    cfg["reviews"] = ["exercise-depression", "exercise-depression-copy"]
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = dry_run(work)
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout + res.stderr
    assert "results/exercise-depression/report.pdf" in out and "results/exercise-depression-copy/report.pdf" in out
