"""The package's layers (stats < pipeline < report < living < cli) and its acyclic imports are
contracts in .importlinter; this runs them, so a change that breaks the architecture fails CI."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in res.stdout


def test_the_contract_can_fail(tmp_path):
    """A stats module importing the report layer breaks the layers contract (the check is live)."""
    contract = (ROOT / ".importlinter").read_text()
    pkg = tmp_path / "livingmeta"
    import shutil
    shutil.copytree(ROOT / "livingmeta", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "stats" / "bad.py").write_text("from livingmeta.report import wording  # noqa: F401\n")
    (tmp_path / ".importlinter").write_text(contract)
    lint = Path(sys.executable).with_name("lint-imports")
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([str(lint), "--no-cache"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert res.returncode != 0
    assert "livingmeta.stats.bad -> livingmeta.report.wording" in res.stdout
