"""The warm process (livingmeta.pipeline.warm): a rule script handed to it runs as ``python FILE``
would (streams, directory, arguments, environment, exit status, tracebacks), runs in its own
process when it cannot be handed over, and never outlives a cancelled job."""
import ast
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from livingmeta.pipeline import warm

# A stand-in rule script: its first statement is the hand-off, as in scripts/*.py.
SCRIPT = textwrap.dedent('''\
    """A test script."""
    from livingmeta.pipeline.warm import hand_off

    hand_off()

    import json
    import os
    import sys

    import numpy

    mode = sys.argv[1]
    print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(), "argv": sys.argv[1:],
                      "marker": os.environ.get("TEST_MARKER"), "path0": sys.path[0]}), flush=True)
    print("to stderr", file=sys.stderr)
    if mode == "exit":
        sys.exit(3)
    if mode == "raise":
        raise ValueError("boom from the script")
    if mode == "sleep":
        import time
        time.sleep(30)
        open(sys.argv[2], "w").write("still ran")
    if mode == "unclosed":
        f = open(sys.argv[2], "w")
        f.write("written, never closed")
    ''')


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A warm process for a scripts folder holding SCRIPT, started as the Snakefile's onstart does."""
    scripts = tmp_path_factory.mktemp("scripts")
    (scripts / "job.py").write_text(SCRIPT)
    old = {k: os.environ.get(k) for k in (warm.SOCKET_ENV, warm.COLD_ENV)}
    os.environ.pop(warm.SOCKET_ENV, None)
    os.environ.pop(warm.COLD_ENV, None)
    path = warm.start_warm_process(scripts)
    deadline = time.time() + 60
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.05)
    assert os.path.exists(path), "the warm process never listened"
    proc = warm._server[0]
    yield {"path": path, "script": scripts / "job.py", "pid": proc.pid}
    warm.stop_warm_process()
    for k, v in old.items():
        if v is not None:
            os.environ[k] = v
    assert proc.poll() is not None, "stop_warm_process left the server running"
    assert not os.path.exists(path)


def run(script, *args, socket_path=None, env_extra=None, cwd=None, **kw):
    env = {k: v for k, v in os.environ.items() if k not in (warm.SOCKET_ENV, warm.COLD_ENV)}
    env.update(warm.SINGLE_THREAD_ENV)  # what Snakemake gives a one-thread job
    if socket_path:
        env[warm.SOCKET_ENV] = socket_path
    env["TEST_MARKER"] = "from the job's environment"
    env.update(env_extra or {})
    return subprocess.Popen([sys.executable, str(script), *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def finish(proc):
    out, err = proc.communicate(timeout=120)
    import json
    first = out.splitlines()[0] if out else "{}"
    return proc.returncode, json.loads(first), err


def test_a_handed_off_script_runs_in_a_fork_of_the_server_as_python_would(server, tmp_path):
    proc = run(server["script"], "ok", "second arg", socket_path=server["path"], cwd=tmp_path)
    code, seen, err = finish(proc)
    assert code == 0
    assert seen["pid"] != proc.pid and seen["ppid"] == server["pid"]  # ran in the warm process's child
    assert seen["cwd"] == str(tmp_path) and seen["argv"] == ["ok", "second arg"]
    assert seen["marker"] == "from the job's environment"
    assert seen["path0"] == str(server["script"].parent)  # sys.path[0] as `python FILE` sets it
    assert "to stderr" in err


def test_the_same_script_without_a_server_runs_in_its_own_process(server, tmp_path):
    for socket_path, env_extra in ((None, None), (str(tmp_path / "no-such-socket"), None),
                                   (server["path"], {warm.COLD_ENV: "1"}),
                                   # native libraries were loaded with one thread: a 4-thread job runs cold
                                   (server["path"], {"OPENBLAS_NUM_THREADS": "4"})):
        proc = run(server["script"], "ok", socket_path=socket_path, env_extra=env_extra, cwd=tmp_path)
        code, seen, _ = finish(proc)
        assert code == 0 and seen["pid"] == proc.pid, (socket_path, env_extra)


@pytest.mark.parametrize("socket_kind", ["warm", "cold"])
def test_exit_status_and_traceback_are_those_of_python(server, tmp_path, socket_kind):
    path = server["path"] if socket_kind == "warm" else None
    code, _, _ = finish(run(server["script"], "exit", socket_path=path))
    assert code == 3
    code, _, err = finish(run(server["script"], "raise", socket_path=path))
    assert code == 1 and "ValueError: boom from the script" in err and "Traceback" in err


def test_a_file_the_script_left_open_is_flushed_before_the_job_ends(server, tmp_path):
    target = tmp_path / "unclosed.txt"
    code, seen, _ = finish(run(server["script"], "unclosed", str(target), socket_path=server["path"]))
    assert code == 0 and seen["ppid"] == server["pid"]
    assert target.read_text() == "written, never closed"


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_cancelled_job_does_not_keep_running_in_the_warm_process(server, tmp_path, how):
    target = tmp_path / "late.txt"
    proc = run(server["script"], "sleep", str(target), socket_path=server["path"])
    import json
    child = json.loads(proc.stdout.readline())["pid"]
    assert child != proc.pid
    proc.send_signal(how)
    proc.wait(timeout=30)
    deadline = time.time() + 10
    while _alive(child) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the job's process outlived its script process"
    assert not target.exists()


def _alive(pid) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_preloading_finds_the_libraries_the_package_loads_on_first_use():
    tree = ast.parse("import a\nfrom b.c import d\ndef f():\n    from scipy import special\n    import weasyprint\n")
    assert warm._imports(tree, nested=False) == ["a", "b.c", "b.c.d"]
    assert warm._imports(tree, nested=True) == ["scipy", "scipy.special", "weasyprint"]


def test_every_rule_script_hands_off_before_its_imports():
    """A script that imported pandas before hand_off() would pay the imports the warm process saves."""
    root = Path(__file__).parents[1]
    rules = "".join(p.read_text() for p in (root / "workflow" / "rules").glob("*.smk"))
    for script in sorted((root / "scripts").glob("*.py")):
        if f"scripts/{script.name}" not in rules:
            continue  # not a rule script (check_system.py)
        body = ast.parse(script.read_text()).body[1:]  # after the docstring
        assert isinstance(body[0], ast.ImportFrom) and body[0].module == "livingmeta.pipeline.warm", script.name
        call = body[1]
        assert isinstance(call, ast.Expr) and call.value.func.id == "hand_off", script.name


def test_the_server_of_a_workflow_killed_outright_ends_and_leaves_nothing(tmp_path):
    """`make report` killed with SIGKILL never runs its onerror or atexit: the server notices its
    parent is gone, ends, and removes its socket directory."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "job.py").write_text(SCRIPT)
    workflow = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom livingmeta.pipeline import warm\n"
         f"print(warm.start_warm_process({str(scripts)!r}), warm._server[0].pid, flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env={k: v for k, v in os.environ.items() if k != warm.SOCKET_ENV})
    path, server = workflow.stdout.readline().split()
    deadline = time.time() + 60
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.05)
    assert os.path.exists(path)
    workflow.kill()
    workflow.wait()
    deadline = time.time() + 20
    while (_alive(int(server)) or os.path.exists(os.path.dirname(path))) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(int(server)) and not os.path.exists(os.path.dirname(path))
