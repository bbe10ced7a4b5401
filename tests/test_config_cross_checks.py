"""The config check finds contradictions between settings and reviews that do not exist, in one
line each, before Snakemake starts (issue 23, F22 and F24)."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from livingmeta.errors import ConfigError
from livingmeta.pipeline.config_check import check_config, load_config

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "livingmeta.cli"]


def refused(config, **kw):
    with pytest.raises(ConfigError) as err:
        check_config(config, "config.yaml", **kw)
    return str(err.value)


@pytest.mark.parametrize("section,values,words", [
    ("appraisal", {"grade": {"i2_serious": 90, "i2_very_serious": 10}}, ["i2_serious", "i2_very_serious", "90", "10"]),
    ("appraisal", {"grade": {"i2_serious": 80}}, ["i2_serious", "80", "75"]),  # against the default 75
    ("appraisal", {"grade": {"i2_serious": 60, "i2_very_serious": 60}}, ["i2_serious", "i2_very_serious"]),
    ("sequential", {"alpha": 0.5, "power": 0.2}, ["sequential.alpha", "sequential.power"]),
    ("appraisal", {"grade": {"ois_alpha": 0.9, "ois_power": 0.8}}, ["ois_alpha", "ois_power"]),
])
def test_contradictory_thresholds_are_refused_naming_both(section, values, words):
    text = refused({"reviews": ["x"], section: values})
    assert all(w in text for w in words), text
    assert "\n" not in text


def test_consistent_thresholds_pass():
    check_config({"reviews": ["x"], "appraisal": {"grade": {"i2_serious": 40, "i2_very_serious": 60}},
                  "sequential": {"alpha": 0.01, "power": 0.9}}, "config.yaml")


def _project(tmp_path, reviews):
    for r in ("alpha-review", "beta-review"):
        (tmp_path / "data" / "reviews" / r).mkdir(parents=True)
        (tmp_path / "data" / "reviews" / r / "review.yaml").write_text("id: x\n")
    (tmp_path / "config").mkdir()
    path = tmp_path / "config" / "config.yaml"
    path.write_text(yaml.safe_dump({"reviews": reviews, "data_dir": "data/reviews"}))
    return path


def test_a_review_without_a_folder_is_named_in_one_line(tmp_path):
    path = _project(tmp_path, ["alpha-review", "no-such-review"])
    with pytest.raises(ConfigError) as err:
        load_config(path, root=tmp_path)
    text = str(err.value)
    assert "no-such-review" in text and "data/reviews" in text and "alpha-review" in text
    assert "\n" not in text
    load_config(_project(tmp_path / "ok", ["alpha-review", "beta-review"]), root=tmp_path / "ok")


def test_update_names_the_missing_review_in_one_line(tmp_path):
    path = _project(tmp_path, ["no-such-review"])
    (tmp_path / "Snakefile").write_text("")
    res = subprocess.run([*CLI, "update", "no-such-review", "--root", str(tmp_path), "--configfile", str(path)],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "no-such-review" in res.stderr


def test_snakemake_refuses_a_missing_review_in_one_line(tmp_path):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["reviews"] = ["no-such-review"]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", str(path), "--cores", "1"],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.returncode != 0
    lines = [line for line in (res.stdout + res.stderr).splitlines() if "no-such-review" in line]
    assert lines and "reviews" in lines[0] and "data/reviews" in lines[0]
