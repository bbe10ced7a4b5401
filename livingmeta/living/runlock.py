"""One lock per project for every run that writes results: `make report` (``livingmeta build``)
and ``livingmeta update`` take the same exclusive ``flock`` on ``<project>/.livingmeta.lock``,
so they never build into the same folder at once. The kernel releases it when the process dies
(even ``kill -9``), so holding it also proves that no other livingmeta run is alive: a Snakemake
lock found then was left by a killed run and is removed (``snakemake --unlock``) before building.
"""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
import sys
from pathlib import Path

LOCK_NAME = ".livingmeta.lock"


@contextlib.contextmanager
def project_lock(project_root, *, wait: bool, log=print):
    """Yield True holding the project's lock. Without ``wait``, yield False at once when another
    run holds it; with ``wait``, say so and block until it is released."""
    lock = Path(project_root) / LOCK_NAME
    try:
        fh = open(lock, "a")  # "a": taking the lock never rewrites the file
    except OSError:  # a read-only project (errno 30/13): a no-op update must still work
        if not lock.is_file():
            yield True  # nothing can be written there, so there is nothing to protect
            return
        fh = open(lock, "r")  # flock needs no write access
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                yield False
                return
            log("livingmeta: another livingmeta run (make report or livingmeta update) is building in this "
                "project; waiting for it to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield True
    finally:
        fh.close()  # closing releases the lock


def snakemake_command(project_root, config_path=None) -> list[str]:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(Path(project_root) / "Snakefile"),
           "--directory", str(project_root)]
    return cmd + (["--configfile", str(config_path)] if config_path else [])


def clear_stale_snakemake_lock(project_root, snakemake_cmd: list[str], log=print) -> bool:
    """Call with the project lock held. If Snakemake's own lock is present, a killed run left
    it (no live livingmeta run can hold it): remove it with ``snakemake --unlock``."""
    locks = Path(project_root) / ".snakemake" / "locks"
    if not (locks.is_dir() and any(locks.iterdir())):
        return False
    log("livingmeta: Snakemake's lock was left by an interrupted run (no other livingmeta run is active); "
        "removing it with `snakemake --unlock` and building")
    subprocess.run([*snakemake_cmd, "--unlock"], cwd=project_root, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return True


def run_build(project_root, snakemake_args=(), log=print) -> int:
    """`make report`: the whole pipeline under the project lock (waiting for an update to end)."""
    cmd = [*snakemake_command(project_root), "--profile", "workflow/profiles/default"]
    with project_lock(project_root, wait=True, log=log):
        clear_stale_snakemake_lock(project_root, cmd, log)
        return subprocess.call([*cmd, *snakemake_args], cwd=project_root)
