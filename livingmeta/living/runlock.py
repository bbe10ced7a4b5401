"""One lock per project for every run that writes results, held for the life of the whole build.

`make report` (``livingmeta build``), ``livingmeta update`` and ``livingmeta publish`` take the same
exclusive ``flock`` on ``<project>/.livingmeta.lock``, so two runs never build into one folder.

A lock held by the ``livingmeta`` process alone would die with it while its Snakemake lived on
(kill -9 of ``update``: the next run found the lock free, removed Snakemake's lock and built
beside the orphan). So the lock goes with the build: ``run_snakemake`` starts a small supervisor
(``python -m livingmeta.living.runlock``) that inherits the lock and starts Snakemake in a process
group of its own (Snakemake and every job it starts), which inherits it too; the kernel releases
it only when the last of them has closed it. The supervisor runs in a session of its own (killing
the ``livingmeta`` process's group does not reach it) and ends the build with its parent: the
kernel signals it when the ``livingmeta`` process dies (``PR_SET_PDEATHSIG``; Ctrl-C is passed on
to it), and it interrupts the group (SIGINT: Snakemake cancels its jobs and removes their incomplete outputs), kills what is left
after ``GRACE_SECONDS`` and waits for the group to be gone before it exits. Should the supervisor
be killed too, the kernel interrupts Snakemake the same way. Holding the lock therefore proves
that no earlier run is alive, so a Snakemake lock found then was left by a killed run and is
removed (``snakemake --unlock``) before building. A killed run's build ends within seconds; an
``update`` started meanwhile waits for it (``patience``) instead of giving up at once.

The supervisor also keeps the console to one line per stage: Snakemake's own chatter (the job
listing with every input path, progress counts, timestamps) is left out unless ``verbose``;
errors and every stage's ``[livingmeta:...]`` line pass through.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from livingmeta.formatting import noun_for

LOCK_NAME = ".livingmeta.lock"
GRACE_SECONDS = 10.0
PR_SET_PDEATHSIG = 1  # prctl(2)
QUIET = ["--quiet", "host", "rules", "progress", "reason"]  # what Snakemake can leave out itself
# The lines of Snakemake's chatter that --quiet leaves in (kept with --verbose).
CHATTER = re.compile(r"^(Using profile |Config file \S+ is extended by additional config|"
                     r"Assuming unrestricted shared filesystem|Building DAG of jobs|Using shell:|Provided cores:|Rules claiming more threads|Conda environments: ignored|Select jobs to execute|"
                     r"Execute \d+ jobs|Complete log\(s\):|Elapsed time:|Nothing to be done|Shell command: None|"
                     r"Job stats:|job +count|-+ +-+|\w+ +\d+$|\[\w{3} \w{3} +\d+ [\d:]+ \d{4}\]$|Finished jobid:|"
                     r"\d+ of \d+ steps|localrule \w+:$|rule \w+:$)|^\s*$")
INPUT_LISTING = re.compile(r"^(\s+input: )(.*)$")


@contextlib.contextmanager
def project_lock(project_root, *, wait: bool, patience: float = 0.0, log=print):
    """Hold the project's lock: yield the locked file (pass it to ``run_snakemake``), or True
    when the project is read-only (nothing can be written, so nothing needs keeping apart).
    Without ``wait``, yield False when another run still holds it after ``patience`` seconds (a
    killed run's build takes a few to end); with ``wait``, say so and block until it is released."""
    lock = Path(project_root) / LOCK_NAME
    try:
        fh = open(lock, "a")  # "a": taking the lock never rewrites the file
    except OSError:  # a read-only project (errno 30/13): a no-op update must still work
        if not lock.is_file():
            yield True
            return
        fh = open(lock, "r")  # flock needs no write access
    try:
        try:
            _flock_within(fh, patience)
        except BlockingIOError:
            if not wait:
                yield False
                return
            log("livingmeta: another livingmeta run (make report, update or publish) is building in this "
                "project; waiting for it to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield fh
    finally:
        fh.close()  # the lock is released when every process holding it has closed it


def _flock_within(fh, seconds: float) -> None:
    """Take the lock, trying for up to ``seconds``; BlockingIOError if it is still held."""
    import time
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def snakemake_command(project_root, config_path=None, targets=()) -> list[str]:
    """Snakemake for this project. The targets come first: options such as --forcerun and
    --configfile take any number of values and would swallow a target written after them."""
    cmd = [sys.executable, "-m", "snakemake", *targets, "--snakefile", str(Path(project_root) / "Snakefile"),
           "--directory", str(project_root)]
    return cmd + (["--configfile", str(config_path)] if config_path else [])


def clear_stale_snakemake_lock(project_root, snakemake_cmd: list[str], lock, log=print) -> bool:
    """Call with the project lock ``lock`` held. If Snakemake's own lock is present, a killed run
    left it (no live livingmeta run can hold it): remove it with ``snakemake --unlock`` (run like a
    build, so it too ends with this run)."""
    locks = Path(project_root) / ".snakemake" / "locks"
    if not (locks.is_dir() and any(locks.iterdir())):
        return False
    log("livingmeta: Snakemake's lock was left by an interrupted run (no other livingmeta run is active); "
        "removing it with `snakemake --unlock` and building")
    run_snakemake([*snakemake_cmd, "--unlock"], project_root, lock, quiet_all=True)
    return True


def run_snakemake(cmd: list[str], project_root, lock, *, env=None, verbose: bool = False,
                  quiet_all: bool = False) -> int:
    """Run the Snakemake command ``cmd`` under the supervisor (see the module's docstring), with
    the project lock ``lock`` (from ``project_lock``) held by the whole build; return its exit code.
    ``quiet_all``: show nothing of its output."""
    fd = lock.fileno() if hasattr(lock, "fileno") else None
    supervisor = [sys.executable, "-m", "livingmeta.living.runlock", "--parent", str(os.getpid()),
                  *(["--lock-fd", str(fd)] if fd is not None else []), *([] if verbose else ["--quiet"]),
                  "--", *cmd, *([] if verbose else QUIET)]
    # a session of its own: killing this process's group (a cron timeout, kill -9 -PGID) leaves the
    # supervisor to end the build properly; it learns of our end from the kernel
    proc = subprocess.Popen(supervisor, cwd=project_root, env=env, pass_fds=(fd,) if fd is not None else (),
                            stderr=subprocess.DEVNULL if quiet_all else None, start_new_session=True)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # Ctrl-C reached this process only: the supervisor stops the build
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)


def run_build(project_root, argv=(), *, log=print) -> int:
    """`make report` and ``livingmeta build [REVIEW...] [--verbose] [snakemake options]``: the
    pipeline under the project lock (waiting for an update to end), for the named reviews (each
    one's report.pdf and report.html) or, when none is named, every review of the configuration;
    then one line naming every report built."""
    project_root = Path(project_root)
    verbose = "--verbose" in argv or bool(DRY_RUN.intersection(argv))  # a dry run is for reading the job listing
    argv = [a for a in argv if a != "--verbose"]
    lead = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    names, options = argv[:lead], argv[lead:]
    config_path = options[options.index("--configfile") + 1] if "--configfile" in options[:-1] else None
    reviews, targets = build_targets(project_root, names, config_path, _reviews_option(options))
    cmd = [*snakemake_command(project_root, targets=targets), "--profile", "workflow/profiles/default", *options]
    with project_lock(project_root, wait=True, log=log) as lock:
        clear_stale_snakemake_lock(project_root, cmd, lock, log)
        rc = run_snakemake(cmd, project_root, lock, verbose=verbose)
    if rc == 0 and not DRY_RUN.intersection(options):
        built = [p for p in reviews if (project_root / p).is_file()]
        if built:
            log(f"{noun_for(len(built), 'Report')}: {', '.join(built)} "
                f"(web edition: report.html beside {noun_for(len(built), 'it', 'each')})")
    return rc


DRY_RUN = {"-n", "--dry-run", "--dryrun"}


def _reviews_option(options) -> list[str] | None:
    """The reviews of a ``--config reviews=[...]`` option, as Snakemake reads them (YAML)."""
    import yaml
    for value in options:
        if value.startswith("reviews="):
            with contextlib.suppress(yaml.YAMLError):
                reviews = yaml.safe_load(value.split("=", 1)[1])
                return [str(r) for r in reviews] if isinstance(reviews, list) else None
    return None


def build_targets(project_root, names, config_path=None, configured=None) -> tuple[list[str], list[str]]:
    """(the report.pdf of each review built, Snakemake's targets) for ``livingmeta build NAMES``:
    a name is a review id (its report.pdf), or passed to Snakemake as it is when it is a path or a
    rule name; no names: every review of the configuration (Snakemake's default target), or
    ``configured`` (the reviews given with ``--config reviews=[...]``)."""
    from livingmeta.errors import ConfigError
    from livingmeta.pipeline.config_check import load_config
    project_root = Path(project_root)
    config = load_config(project_root / (config_path or Path("config") / "config.yaml"))
    data, results = project_root / config["data_dir"], Path(config["results_dir"])
    rules = {m for f in (project_root / "workflow" / "rules").glob("*.smk")
             for m in re.findall(r"^rule (\w+):", f.read_text(), flags=re.M)}
    reports, targets = [], []
    for name in names:
        if (data / name / "review.yaml").is_file() and "/" not in name:
            reports.append((results / name / "report.pdf").as_posix())
            targets.append(reports[-1])
        elif "/" in name or name in rules:
            targets.append(name)
        else:
            known = sorted(p.name for p in data.iterdir() if (p / "review.yaml").is_file()) if data.is_dir() else []
            raise ConfigError(f"no review {name!r} in {data} (reviews there: {', '.join(known) or 'none'}); "
                              f"start one with `livingmeta new-review {name}`")
    if not names:  # a listed review without trial records yet is not built (the build says how to import them)
        from livingmeta.pipeline.reviews import buildable_reviews
        reports = [(results / r / "report.pdf").as_posix() for r in buildable_reviews(data, configured or
                                                                                       config["reviews"])[0]]
    return reports, targets


# ------------------------------------------------------------------------------------------------
# The supervisor (python -m livingmeta.living.runlock --parent PID [--lock-fd FD] [--quiet] -- CMD...).
# ------------------------------------------------------------------------------------------------
def _die_with_parent(signum: int) -> None:
    """Ask the kernel for ``signum`` when this process's parent ends (Linux; elsewhere a no-op)."""
    import ctypes
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)


def console_line(line: str) -> str | None:
    """What the quiet console shows of one line of Snakemake's output: None for chatter; a failed
    job's input listing shortened to a count (an extract job lists every record)."""
    if CHATTER.match(line):
        return None
    listing = INPUT_LISTING.match(line)
    if listing:
        return f"{listing.group(1)}{len(listing.group(2).split(', '))} files (livingmeta build --verbose lists them)"
    return line


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def supervise(argv: list[str]) -> int:
    import threading
    import time

    split = argv.index("--")
    opts, cmd = argv[:split], argv[split + 1:]
    parent = int(opts[opts.index("--parent") + 1])
    lock_fd = int(opts[opts.index("--lock-fd") + 1]) if "--lock-fd" in opts else None
    quiet = "--quiet" in opts
    _die_with_parent(signal.SIGTERM)
    if os.getppid() != parent:  # the livingmeta process died before we could watch it: build nothing
        return 1
    me = os.getpid()

    def child_setup():  # in Snakemake's process, before it starts: interrupted if the supervisor dies
        _die_with_parent(signal.SIGINT)
        if os.getppid() != me:
            os._exit(1)

    proc = subprocess.Popen(cmd, start_new_session=True, pass_fds=(lock_fd,) if lock_fd is not None else (),
                            stderr=subprocess.PIPE if quiet else None, preexec_fn=child_setup)
    pgid = proc.pid
    stopping = threading.Event()

    def stop(signum, frame):
        """The livingmeta process ended, or the user pressed Ctrl-C: interrupt the build, then kill it."""
        if stopping.is_set():
            _signal_group(pgid, signal.SIGKILL)
            return
        stopping.set()
        _signal_group(pgid, signal.SIGINT)
        timer = threading.Timer(GRACE_SECONDS, _signal_group, (pgid, signal.SIGKILL))
        timer.daemon = True
        timer.start()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    if quiet:
        for raw in proc.stderr:  # until every process of the group has closed it
            shown = console_line(raw.decode("utf-8", "replace").rstrip("\n"))
            if shown is not None:
                with contextlib.suppress(OSError):  # a closed terminal must not stop the build's end
                    sys.stderr.write(shown + "\n")
                    sys.stderr.flush()
    rc = proc.wait()
    if stopping.is_set() or rc != 0:  # make sure no job of this build outlives it
        deadline = time.monotonic() + GRACE_SECONDS
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(pgid, signal.SIGKILL)
        end = time.monotonic() + 2.0
        while _group_alive(pgid) and time.monotonic() < end:
            time.sleep(0.05)
    return 130 if stopping.is_set() and rc < 0 else rc


if __name__ == "__main__":
    sys.exit(supervise(sys.argv[1:]))
