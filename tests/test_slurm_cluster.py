"""The SLURM profile on a real cluster: a single-node SLURM (munged, MariaDB + slurmdbd,
slurmctld, slurmd) started by tests/slurm/cluster.sh builds the default review through
`--profile workflow/profiles/slurm`; every rule runs as a SLURM job, and the PDF is byte for byte
the local build's.

`.ci/run` installs the Debian packages (`tests/slurm/cluster.sh install`); where they are absent
or we are not root (the daemons run as root), the test is skipped and says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, copy_project

CLUSTER = ROOT / "tests" / "slurm" / "cluster.sh"
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
EPOCH = "1767225600"  # fixed so both builds stamp the same dates into the PDF


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "the test cluster's daemons run as root"
    absent = [d for d in DAEMONS if not (shutil.which(d) or Path("/usr/sbin", d).exists())]
    if absent:
        return f"{', '.join(absent)} not installed: run `tests/slurm/cluster.sh install` (Debian slurm-wlm, slurmdbd, munge, mariadb-server)"
    return None


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    why = _missing()
    if why:
        pytest.skip(f"no SLURM cluster: {why}")
    state = tmp_path_factory.mktemp("slurm-cluster")
    started = subprocess.run(["bash", str(CLUSTER), "start", str(state)], capture_output=True, text=True, timeout=300)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield {**os.environ, "SLURM_CONF": str(state / "slurm.conf")}
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", str(state)], capture_output=True, timeout=120)


def _build(work: Path, env: dict, *profile: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *profile], cwd=work, env={**env, "SOURCE_DATE_EPOCH": EPOCH},
                          capture_output=True, text=True, timeout=1800)


def test_review_builds_on_a_real_slurm_cluster(tmp_path, slurm_cluster):
    work = copy_project(tmp_path / "project")
    local = _build(work, dict(os.environ), "--profile", "workflow/profiles/default", "--cores", "2")
    assert local.returncode == 0, local.stderr[-3000:]
    local_pdf = (work / "results" / "exercise-depression" / "report.pdf").read_bytes()
    shutil.rmtree(work / "results")
    shutil.rmtree(work / ".snakemake")

    before = _job_ids(slurm_cluster)
    cluster = _build(work, slurm_cluster, "--profile", "workflow/profiles/slurm",
                     "--slurm-init-seconds-before-status-checks", "2")
    log = cluster.stdout + cluster.stderr
    assert cluster.returncode == 0, log[-4000:]

    # Every rule ran as a SLURM job, and SLURM's accounting saw each one complete.
    submitted = log.count("has been submitted with SLURM jobid")
    jobs = {j: s for j, s in _job_ids(slurm_cluster).items() if j not in before}
    assert submitted >= 10 and len(jobs) == submitted, (submitted, jobs)
    assert set(jobs.values()) == {"COMPLETED"}, jobs
    assert (work / "results" / "exercise-depression" / "report.pdf").read_bytes() == local_pdf


def _job_ids(env: dict) -> dict[str, str]:
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-S", "now-1days", "-o", "JobID,State"], env=env,
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("|", 1) for line in out.splitlines() if line.strip())
