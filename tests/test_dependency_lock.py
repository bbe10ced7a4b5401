"""Issue 14 item 18: the dependencies are pinned with hashes in a lock file that `make` installs
from, and the report's software table names exactly what is installed."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

from livingmeta.pipeline import lockfile
from livingmeta.report import context as report

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"


def _requirement_names(specs):
    return {lockfile.normalise(re.split(r"[<>=!~;\[ ]", s, maxsplit=1)[0]) for s in specs}


def test_the_lock_pins_every_declared_dependency_with_hashes():
    assert LOCK.is_file(), "requirements/lock.txt is missing (make lock)"
    text = LOCK.read_text()
    pins = lockfile.read_pins(LOCK)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _requirement_names(project["dependencies"] + project["optional-dependencies"]["test"])
    assert declared <= set(pins), f"not in the lock: {sorted(declared - set(pins))}"
    # every requirement line is an exact pin followed by at least one sha256 hash
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    for block in blocks:
        assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\S+", block), block[:80]
        assert "--hash=sha256:" in block, block[:80]


def test_make_installs_from_the_lock_with_hashes_and_can_regenerate_it():
    make = (ROOT / "Makefile").read_text()
    stamp_rule = re.search(r"^\$\(STAMP\):(.*)$", make, re.M).group(1)
    assert "$(LOCK)" in stamp_rule  # a new lock rebuilds the environment
    assert re.search(r"^LOCK\s*:=\s*requirements/lock.txt", make, re.M)
    assert "pip install --quiet --require-hashes -r $(LOCK)" in make
    assert "pip install --quiet --no-deps -e ." in make
    assert "-e '.[test]'" not in make  # the unpinned install is gone
    assert re.search(r"^lock:", make, re.M) and "--generate-hashes" in make


def test_the_software_table_names_the_installed_versions_and_the_lock():
    table = report.software_versions()
    pins = lockfile.read_pins(LOCK)
    for name, version in table.items():
        if name in ("python", "livingmeta", "dependency lock"):
            continue
        assert version == metadata.version(name)
        assert pins[lockfile.normalise(name)][0] == version, f"{name}: installed {version}, lock {pins[name][0]}"
    assert table["dependency lock"].startswith("requirements/lock.txt (sha256 ")
    assert "every applicable pin is installed" in table["dependency lock"]


def test_the_lock_summary_reports_a_mismatch(tmp_path):
    (tmp_path / "requirements").mkdir()
    real = metadata.version("numpy")
    (tmp_path / "requirements" / "lock.txt").write_text(
        f"numpy==0.0.1 \\\n    --hash=sha256:{'0' * 64}\n")
    line = lockfile.lock_summary(tmp_path)
    assert f"numpy {real} (lock 0.0.1)" in line
