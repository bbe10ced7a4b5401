import contextlib
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REVIEW = ROOT / "data" / "reviews" / "exercise-depression"


@pytest.fixture
def review_copy(tmp_path):
    """A private copy of the default review that a test may edit."""
    dst = tmp_path / "exercise-depression"
    shutil.copytree(REVIEW, dst)
    return dst


PROJECT_PARTS = ["Snakefile", "workflow", "scripts", "templates", "config", "data", "environment.yml"]


TEST_REVIEWS = ("exercise-depression",)


def copy_project(dst: Path, reviews=TEST_REVIEWS) -> Path:
    """A private copy of the project (code + data) that a test may edit and build. Its config
    lists only ``reviews`` (by default the 35-trial default review, as snakemake-workflows' .test
    configs do: the 480-study review has tests of its own); ``reviews=None`` keeps config.yaml."""
    import yaml
    dst.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        src = ROOT / part
        if part == "data":
            copy_repository_files(src, dst / part)
        else:
            (shutil.copytree if src.is_dir() else shutil.copy)(src, dst / part)
    if reviews is not None:
        cfg_path = dst / "config" / "config.yaml"
        cfg = yaml.safe_load(cfg_path.read_text())
        cfg["reviews"] = list(reviews)
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dst


def copy_repository_files(src: Path, dst: Path) -> None:
    """The files below ``src`` that the repository holds or would hold (tracked, or new and not
    ignored), as they are on disk: what .gitignore keeps out (a developer's imported third-party
    records, say, after `make metapsy`) stays out of a test's project, as on a clean clone."""
    import subprocess
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
                             cwd=src, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an unpacked release): all of it
        shutil.copytree(src, dst)
        return
    for name in out.decode("utf-8", "surrogateescape").split("\0"):
        if name and (src / name).is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / name, dst / name)


@contextlib.contextmanager
def file_size_limit(max_bytes: int):
    """Writes past ``max_bytes`` in any file fail with a real OSError from the kernel (EFBIG, the
    same failure as a full disk: RLIMIT_FSIZE, with SIGXFSZ ignored so the write fails instead of
    the process ending). For tests of what a failed write leaves behind."""
    import resource
    import signal
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, old_limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)


_LOOPBACK = ("127.", "::1", "localhost")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """The test suite never reaches the network: a socket connection to any address but the
    loopback fails (the surveillance sources are tested through their HTTP seam on fixtures;
    local servers such as the SMTP fixture still work)."""
    import socket
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def refuse(address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and not str(host).startswith(_LOOPBACK):
            raise OSError(f"network access blocked in tests (connection to {host})")

    def connect(self, address):
        refuse(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        refuse(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


def add_synthetic_trial(work: Path, tid: str = "synthetic-2026", review: str = "exercise-depression") -> Path:
    """A SYNTHETIC trial record in a project copy's review (Singh 2005's depression numbers under
    another id), so that an update has an input change to publish."""
    import yaml
    trials = work / "data" / "reviews" / review / "trials"
    rec = yaml.safe_load((trials / "singh-2005.yaml").read_text())
    rec.update(id=tid, label=tid.replace("-", " ").title(), year=2026)
    rec["citation"] = {"first_author": "SYNTHETIC test record, not a real trial"}
    block = {k: v for k, v in rec["outcomes"]["depression"][0].items() if k != "published"}
    rec["outcomes"] = {"depression": [{**block, "source": "SYNTHETIC test record made by the test suite"}]}
    (trials / f"{tid}.yaml").write_text(yaml.safe_dump(rec, sort_keys=False))
    return trials / f"{tid}.yaml"
