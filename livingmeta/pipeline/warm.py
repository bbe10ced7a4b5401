"""A warm process for the rule scripts: each script's imports (pandas, matplotlib, WeasyPrint,
the package) are done once per workflow run instead of once per rule.

Why: a rule script is a fresh Python process, and most of a small review's rules spend about
0.3 s importing and a few tens of milliseconds computing; the imports were most of an edited
rebuild's time (README, Performance). Snakemake runs ``script:`` rules as ``python tmpfile.py``
and offers no other way to run them in a prepared interpreter, so:

- ``start_warm_process`` (the Snakefile's ``onstart``, local runs only) launches
  ``python -m livingmeta.pipeline.warm SOCKET SCRIPTS_DIR PARENT_PID``: a server that listens
  on a Unix socket in a private directory (0700) at once and, between jobs, imports what the rule
  scripts import (``preload``);
- each rule script begins with ``hand_off()``, before its own imports. When the server listens
  and runs the same interpreter with the same native-library settings, the job is sent there
  (its command line, directory, environment and standard streams); the server forks a child,
  which runs the script file exactly as ``python`` would, and the script's process waits and
  exits with the child's status. Otherwise (no server, a cluster job, another interpreter or
  other thread settings, ``LIVINGMETA_COLD=1``) ``hand_off`` returns and the script runs in its
  own process as before.

Each job runs in a fresh fork of the server, so no job sees another's state; the server only
ever imports. A child whose script process goes away (a cancelled job) terminates itself, a
signal to the script process is passed to its child, and the server exits when the workflow
process that started it is gone.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys

SOCKET_ENV = "LIVINGMETA_WARM"       # the server's socket path, set by start_warm_process for the jobs
CHILD_ENV = "LIVINGMETA_WARM_CHILD"  # set inside a child: hand_off there returns at once
COLD_ENV = "LIVINGMETA_COLD"         # "1": never start or use a warm process (debugging a rule)
# Read by native libraries when they load (in the server, once): a job whose values differ runs cold.
# Snakemake sets the thread counts to the rule's ``threads`` for every job.
LOAD_TIME_ENV = ("OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "MPLBACKEND", "FONTCONFIG_FILE",
                 "PYTHONHASHSEED", "PYTHONPATH")
SINGLE_THREAD_ENV = {k: "1" for k in LOAD_TIME_ENV if k.endswith("THREADS")}
RUN_HERE = -1000  # a child's answer meaning "run the script in your own process"
_HEADER = struct.Struct("!I")
_STATUS = struct.Struct("!i")
_server = None  # (process, directory) of the server this process started
_START_ENV: dict = {}  # in the server: its LOAD_TIME_ENV values when it started


# ---------------------------------------------------------------- the script side
def hand_off() -> None:
    """Run this rule script in the workflow's warm process and exit with its status, or return
    at once (the script then runs here) when there is none to use. Call it before the script's
    imports; it imports only the standard library."""
    path = os.environ.get(SOCKET_ENV)
    if not path or os.environ.get(CHILD_ENV) or os.environ.get(COLD_ENV) == "1":
        return
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:  # not listening yet (still importing) or gone: run here
        conn.close()
        return
    request = json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ),
                          "executable": sys.executable, "prefix": sys.prefix}).encode()
    try:
        socket.send_fds(conn, [_HEADER.pack(len(request))], [0, 1, 2])
        conn.sendall(request)
        child = _read_status(conn)
    except OSError:
        child = None
    if child is None or child == RUN_HERE:
        conn.close()
        return
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: os.kill(child, signum))
    status = _read_status(conn)
    if status is None:  # the child died without answering (killed by a signal)
        sys.stderr.write(f"livingmeta: the process running {sys.argv[0]} (pid {child}) ended without a status\n")
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _read_status(conn) -> int | None:
    """The next status (a child's pid, then its exit status), or None when the other side closed."""
    try:
        return _STATUS.unpack(_read_exactly(conn, _STATUS.size))[0]
    except ConnectionError:
        return None


def _read_exactly(conn, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = conn.recv(min(n - got, 1 << 16))
        if not chunk:
            raise ConnectionError("the script process closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------- the workflow side
def start_warm_process(scripts_dir) -> str | None:
    """Start the warm process for this workflow run (see the module's docstring) and point the
    jobs at it; return its socket path, or None when ``LIVINGMETA_COLD=1``, when this process
    already started one, or when it cannot be started (the rules then run as before)."""
    global _server
    import atexit
    import subprocess
    import tempfile

    if os.environ.get(COLD_ENV) == "1" or _server is not None:
        return None
    try:
        # 0700: only this user can connect. A socket path has at most 107 bytes: a long TMPDIR gives way to /tmp.
        base = tempfile.gettempdir()
        directory = tempfile.mkdtemp(prefix="livingmeta-warm-", dir=base if len(base) < 60 else "/tmp")
        path = os.path.join(directory, "socket")
        env = {**os.environ, **SINGLE_THREAD_ENV}  # what Snakemake gives a one-thread job
        env.pop(SOCKET_ENV, None)
        with open(os.path.join(directory, "server.log"), "wb") as log:
            # -P: no working directory on sys.path, so the package is imported as the scripts import it
            proc = subprocess.Popen([sys.executable, "-P", "-m", "livingmeta.pipeline.warm", path, str(scripts_dir),
                                     str(os.getpid())], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True)
    except OSError:
        return None
    _server = (proc, directory)
    os.environ[SOCKET_ENV] = path
    atexit.register(stop_warm_process)
    return path


def stop_warm_process() -> None:
    """Stop the server this process started and remove its directory (jobs still running finish)."""
    global _server
    import shutil
    import subprocess

    if _server is None:
        return
    proc, directory = _server
    _server = None
    os.environ.pop(SOCKET_ENV, None)
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------- the server
def _imports(tree, *, nested: bool) -> list[str]:
    """Modules ``tree`` imports absolutely: in its top-level statements, or (``nested``) inside
    functions, where the package loads a heavy library on first use. ``from a import b`` names
    ``a`` and ``a.b`` (``b`` may be a submodule: ``from scipy import special``)."""
    import ast

    top = {id(node) for node in tree.body}
    names: list[str] = []
    for node in ast.walk(tree) if nested else tree.body:
        if nested and id(node) in top:
            continue
        found = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                 if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
        names += [n for n in found if n not in names]
    return names


def _parse(path):
    import ast

    try:
        return ast.parse(open(path, encoding="utf-8").read())
    except (OSError, SyntaxError, ValueError):
        return None


def preload(scripts_dir, failed: list[str]):
    """Import what the rule scripts import at their top, the modules most scripts share first,
    each followed by what the package modules it brought in import inside their functions (the
    heavy libraries they load on first use, such as scipy.special), and call its ``warm_up()``
    (where a module does what must happen in a set order, such as pointing the PDF renderer at
    the shipped fonts before loading it). Yields after each import, so jobs can be served
    meanwhile. A module that fails to import is added to ``failed``: its scripts import it
    themselves and report it."""
    import importlib
    from collections import Counter
    from pathlib import Path

    def load(name):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:  # not "a.b is a name, not a module", but a module missing
                failed.append(name)
        except Exception:  # noqa: BLE001 (the script that needs it reports it, in its own log)
            failed.append(name)
        return None

    package = __name__.split(".")[0]
    scanned: set[str] = set()
    load("snakemake.script")  # what each script's preamble unpickles
    trees = [_parse(script) for script in sorted(Path(scripts_dir).glob("*.py"))]
    used_by = Counter(name for tree in trees if tree for name in _imports(tree, nested=False))
    for name, _ in used_by.most_common():
        if name in sys.modules:
            continue
        module = load(name)
        yield name
        for loaded, mod in list(sys.modules.items()):
            if (loaded == package or loaded.startswith(package + ".")) and loaded not in scanned:
                scanned.add(loaded)
                tree = _parse(mod.__file__) if getattr(mod, "__file__", None) else None
                for nested in _imports(tree, nested=True) if tree else []:
                    if nested not in sys.modules:
                        load(nested)
                        yield nested
        if module is not None and callable(getattr(module, "warm_up", None)):
            module.warm_up()


def serve(path: str, scripts_dir: str, parent_pid: int) -> None:
    """The server: listen at once, preload between serving jobs (a job that comes early imports
    what is not loaded yet itself), then serve until the workflow process that started it is
    gone (or it is terminated). Each job runs in a fork (``_run_child``)."""
    import gc
    import select

    global _START_ENV
    _START_ENV = {k: os.environ.get(k) for k in LOAD_TIME_ENV}  # before any warm_up() sets one
    # Reap each job's process as it ends, and the last ones when stopped: a waited-for process's
    # CPU time counts in its parent's, so the workflow's (and `make bench`'s) CPU time includes the jobs'.
    signal.signal(signal.SIGCHLD, _reap_children)
    signal.signal(signal.SIGTERM, _stop)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)

    def serve_waiting(timeout: float) -> None:
        while select.select([listener], [], [], timeout)[0]:
            conn, _ = listener.accept()
            gc.freeze()  # what is loaded is never collected: a child's collection scans only its own objects
            if os.fork() == 0:
                listener.close()
                _run_child(conn)  # never returns
            conn.close()
            timeout = 0

    failed: list[str] = []
    try:
        for _ in preload(scripts_dir, failed):
            serve_waiting(0)
        if failed:
            print(f"not preloaded (their scripts import them): {', '.join(failed)}", file=sys.stderr, flush=True)
        while os.getppid() == parent_pid:
            serve_waiting(1.0)
    finally:  # (the children never get here: they leave by os._exit)
        listener.close()
        # a workflow killed outright never stops its server: the server removes its own directory
        import shutil
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def _reap_children(*_) -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _stop(*_) -> None:
    _reap_children()
    raise SystemExit(0)


def _run_child(conn) -> None:
    """In a fresh fork of the server: take the job's streams, directory and environment, run the
    script file as ``python FILE`` would, and answer with its exit status."""
    import gc
    import threading

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the script waits for its own subprocesses
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # A young collection every 50,000 allocations, not 700: a job is short and allocates much
    # (WeasyPrint's boxes), and the preloaded heap is frozen; about 8% of the PDF's time.
    gc.set_threshold(50_000, 20, 100)
    try:
        data, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 3)
        data += _read_exactly(conn, _HEADER.size - len(data))
        request = json.loads(_read_exactly(conn, _HEADER.unpack(data)[0]))
        env = request["env"]
        same = (len(fds) == 3 and request["executable"] == sys.executable and request["prefix"] == sys.prefix
                and all(env.get(k) == v for k, v in _START_ENV.items()))
        if not same:
            conn.sendall(_STATUS.pack(RUN_HERE))
            os._exit(0)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(env)
        os.environ[CHILD_ENV] = "1"
        import tempfile
        tempfile.tempdir = None  # the job's TMPDIR, not the server's
        sys.argv = list(request["argv"])
        sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))  # as ``python FILE`` has it
        conn.sendall(_STATUS.pack(os.getpid()))
    except Exception:  # noqa: BLE001 (a broken request: the script process sees the connection close)
        os._exit(1)
    threading.Thread(target=_end_when_orphaned, args=(conn,), daemon=True).start()
    status = _run_script(sys.argv[0])
    try:
        conn.sendall(_STATUS.pack(status))
    finally:
        os._exit(status)


def _end_when_orphaned(conn) -> None:
    """The script process sends nothing more: its end (a cancelled job) closes the connection."""
    try:
        conn.recv(1)
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def _run_script(script: str) -> int:
    """Run the file as ``__main__`` and return the status ``python FILE`` would exit with, after
    what its exit would do (tracebacks through sys.excepthook, atexit handlers, flushed streams)."""
    import atexit
    import gc
    import runpy

    try:
        runpy.run_path(script, run_name="__main__")
        status = 0
    except SystemExit as stop:
        status = 0 if stop.code is None else stop.code if isinstance(stop.code, int) else 1
        if not isinstance(stop.code, (int, type(None))):
            print(stop.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 (reported as the interpreter would)
        sys.excepthook(*sys.exc_info())
        status = 1
    gc.collect()  # files the script left open are closed (and flushed) as at interpreter exit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    return status & 0xFF


def main(argv) -> None:
    path, scripts_dir, parent_pid = argv
    serve(path, scripts_dir, int(parent_pid))


if __name__ == "__main__":
    main(sys.argv[1:])
