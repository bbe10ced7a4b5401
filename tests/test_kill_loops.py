"""Issue 23 F3: a killed `update` or `build` leaves no Snakemake and no job running, and the next
run never builds beside the remains of the last one. Twenty runs of each are killed with SIGKILL
at random moments, each started at once after the last was killed; some kills hit the livingmeta
process alone (its Snakemake lived on before the fix), the others its whole process group. A
watcher samples the processes working in the project every 50 ms throughout."""

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import add_synthetic_trial, copy_project

REVIEW = "exercise-depression"
RUNS = 20


def project_processes(work: Path) -> list[tuple[int, str]]:
    """(pid, command line) of every process working in the project (its folder in the command line or as its cwd)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            cwd = os.readlink(entry / "cwd")
            state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if "Z" in state.split()[1]:  # a zombie runs nothing (its parent reaps it)
            continue
        if str(work) in cmdline or cwd == str(work) or cwd.startswith(str(work) + "/"):
            out.append((int(entry.name), cmdline))
    return out


def snakemake_runs(work: Path) -> dict[int, list[str]]:
    """The Snakemake runs building in the project, by process group (a run and the processes it
    forks share one; the supervisor, whose command line holds Snakemake's, is not one)."""
    runs = {}
    for pid, cmdline in project_processes(work):
        if cmdline.split()[1:3] == ["-m", "snakemake"]:
            try:
                runs.setdefault(os.getpgid(pid), []).append(f"{pid}: {cmdline}")
            except ProcessLookupError:
                continue
    return runs


class Watcher(threading.Thread):
    """The most Snakemake runs seen building in the project at once."""

    def __init__(self, work):
        super().__init__(daemon=True)
        self.work, self.most, self.seen, self.stop = work, 0, {}, threading.Event()

    def run(self):
        while not self.stop.is_set():
            runs = snakemake_runs(self.work)
            if len(runs) > self.most:
                self.most, self.seen = len(runs), runs
            time.sleep(0.05)


def toggle_input(work: Path, i: int) -> None:
    """Give each update something to build: a SYNTHETIC record that comes and goes."""
    if i % 2:
        (work / "data" / "reviews" / REVIEW / "trials" / "synthetic-kill-2026.yaml").unlink(missing_ok=True)
    else:
        add_synthetic_trial(work, "synthetic-kill-2026")


@pytest.mark.slow
@pytest.mark.parametrize("command", ["update", "build"])
def test_kill_9_loop_leaves_no_orphan_and_no_concurrent_build(tmp_path, command):
    work = copy_project(tmp_path / "project")
    args = ["update", REVIEW, "--root", str(work)] if command == "update" else ["build", "--cores", "2"]
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    watcher = Watcher(work)
    watcher.start()
    rng = random.Random(23)
    try:
        for i in range(RUNS):
            if command == "update":
                toggle_input(work, i)
            whole_group = i % 3 == 2
            proc = subprocess.Popen([sys.executable, "-m", "livingmeta.cli", *args], cwd=work, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            time.sleep(rng.uniform(0.5, 8.0))
            if whole_group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                os.kill(proc.pid, signal.SIGKILL)  # the livingmeta process alone
            proc.wait()
        deadline = time.monotonic() + 60
        while project_processes(work) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = project_processes(work)
        assert not left, f"orphans after {RUNS} killed runs: {left}"
        res = subprocess.run([sys.executable, "-m", "livingmeta.cli", *args], cwd=work, env=env, capture_output=True,
                             text=True, timeout=1800)
        assert res.returncode == 0, res.stderr[-3000:]
        assert (work / "results" / REVIEW / "report.pdf").is_file()
        if command == "update":
            assert (work / "results" / REVIEW / "latest" / "manifest.json").is_file()
    finally:
        watcher.stop.set()
        watcher.join()
        for pid, _ in project_processes(work):  # never leave a build behind, whatever failed
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    assert watcher.most <= 1, f"{watcher.most} Snakemake runs at once: {watcher.seen}"
