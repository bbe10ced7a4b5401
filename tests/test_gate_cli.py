"""The command line (issue 14, item 14): build --dry-run, --version, a constant moderator is
named, cluster-robust inference with one cluster is refused."""

import subprocess
import sys

import pandas as pd
import pytest

CLI = [sys.executable, "-m", "livingmeta.cli"]


def run(*args, **kw):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, **kw)


def test_version_prints_the_installed_version():
    from importlib.metadata import version
    res = run("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"livingmeta {version('livingmeta')}"


def test_build_dry_run_is_passed_to_snakemake():
    res = run("build", "--dry-run", "--quiet")
    assert "unrecognized arguments" not in res.stderr
    assert res.returncode == 0, res.stderr


@pytest.fixture
def effects(tmp_path):
    """SYNTHETIC effects."""
    path = tmp_path / "effects.csv"
    pd.DataFrame({"yi": [0.1, 0.3, -0.2, 0.5, 0.05, 0.4], "vi": [0.02, 0.03, 0.025, 0.04, 0.02, 0.03],
                  "dose": [1, 2, 3, 1, 2, 3], "setting": ["clinic"] * 6, "weeks": [12] * 6,
                  "trial": ["a", "a", "a", "a", "a", "a"], "site": ["a", "a", "b", "b", "c", "c"]}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("mods,constant", [("dose,setting", "setting"), ("weeks,dose", "weeks")])
def test_a_constant_moderator_is_named_in_a_warning(effects, mods, constant):
    res = run("analyze", str(effects), "--moderators", mods, "--json")
    assert res.returncode == 0, res.stderr
    assert "warning" in res.stderr and constant in res.stderr and "same value" in res.stderr


def test_cluster_robust_inference_with_one_cluster_is_refused(effects):
    res = run("analyze", str(effects), "--cluster", "trial", "--json")
    assert res.returncode == 2
    assert "one cluster" in res.stderr and "trial" in res.stderr and "Traceback" not in res.stderr


def test_cluster_robust_inference_with_few_clusters_warns_about_small_df(effects):
    res = run("analyze", str(effects), "--cluster", "site", "--json")
    assert res.returncode == 0, res.stderr
    assert "warning" in res.stderr and "degrees of freedom" in res.stderr
