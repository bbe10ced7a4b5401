"""Configuration typos and values are refused with the key, the value and the valid options, and
`livingmeta update` reports a bad configuration in one line, never a traceback (issue 14,
items 11 and 12)."""

import errno
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from livingmeta.pipeline.config_check import check_config, load_config
from livingmeta.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "workflow" / "schemas"
CLI = [sys.executable, "-m", "livingmeta.cli"]


def shipped():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def refused(config):
    with pytest.raises(ConfigError) as err:
        check_config(config, "config.yaml")
    return str(err.value)


def test_the_shipped_configuration_passes():
    check_config(shipped(), "config/config.yaml")


def test_a_typo_key_is_refused_naming_it_and_the_valid_keys():
    config = shipped()
    config["pooling"]["methd"] = "DL"
    text = refused(config)
    assert "pooling.methd" in text and "unknown key" in text
    assert "method" in text and "prediction_interval" in text


def test_a_typo_at_the_top_level_is_refused():
    config = shipped()
    config["result_dir"] = "out"
    text = refused(config)
    assert "result_dir" in text and "results_dir" in text


@pytest.mark.parametrize("level", ["1e-12", "1.0e-12", "0.3", "1.5"])
def test_a_level_out_of_range_is_refused_as_out_of_range_not_as_text(tmp_path, level):
    path = tmp_path / "config.yaml"
    path.write_text((ROOT / "config" / "config.yaml").read_text().replace("level: 0.95", f"level: {level}"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "pooling.level" in text and "between 0.5 and 0.999" in text
    assert "not of type" not in text


def test_the_schemas_refuse_unknown_keys_everywhere():
    """Every object with named properties closes the door on misspellings."""
    def walk(node, where):
        if isinstance(node, dict):
            if "properties" in node:
                assert "additionalProperties" in node, f"{where} accepts unknown keys"
            for k, v in node.items():
                if k not in ("if", "then", "else", "not"):  # conditions, not definitions
                    walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]")
    for name in ("config", "review", "trial"):
        walk(yaml.safe_load((SCHEMAS / f"{name}.schema.yaml").read_text()), name)


@pytest.mark.parametrize("text,words", [
    ("", "empty"),
    ("reviews: [exercise-depression\n", "line"),
    ("reviews: [exercise-depression]\nresults_dir: [a]\n", "results_dir"),
    ("- just\n- a list\n", "mapping"),
    ("reviews: [exercise-depression]\npooling: {methd: DL}\n", "pooling.methd"),
])
def test_update_with_a_bad_configuration_says_so_in_one_line(tmp_path, text, words):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    res = subprocess.run([*CLI, "update", "exercise-depression", "--root", str(ROOT), "--configfile", str(path)],
                         capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert words in res.stderr and str(path) in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_update_with_a_missing_configuration_file(tmp_path):
    res = subprocess.run([*CLI, "update", "exercise-depression", "--root", str(ROOT), "--configfile",
                          str(tmp_path / "nope.yaml")], capture_output=True, text=True)
    assert res.returncode == 2 and "nope.yaml" in res.stderr and "Traceback" not in res.stderr


def test_a_malformed_source_date_epoch_is_a_clear_message():
    res = subprocess.run([*CLI, "update", "exercise-depression", "--root", str(ROOT)], capture_output=True, text=True,
                         env={**__import__("os").environ, "SOURCE_DATE_EPOCH": "yesterday"})
    assert res.returncode == 2
    assert "SOURCE_DATE_EPOCH" in res.stderr and "yesterday" in res.stderr and "Traceback" not in res.stderr


def test_a_no_op_update_needs_no_write_access(tmp_path, monkeypatch, review_copy):
    """A read-only results folder (EROFS, errno 30) must not break a cron run that has nothing to do."""
    import builtins
    import json

    from livingmeta.living import fingerprint, update
    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    (root / "data" / "reviews").mkdir(parents=True)
    review_copy.rename(root / "data" / "reviews" / "exercise-depression")
    cfg = root / "config" / "config.yaml"
    cfg.write_text("reviews: [exercise-depression]\n")
    results = root / "results" / "exercise-depression"
    fp = fingerprint.fingerprint(root / "data" / "reviews" / "exercise-depression", cfg, root)
    ed = results / "editions" / "2026-01-01-abcdef12"
    ed.mkdir(parents=True)
    (ed / "manifest.json").write_text(json.dumps({"fingerprint": fp}))
    (results / "latest").symlink_to(Path("editions") / ed.name)
    real_open = builtins.open

    def read_only_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and str(results) in str(file):
            raise OSError(errno.EROFS, "Read-only file system", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only_open)
    logged = []
    rc = update.run_update("exercise-depression", project_root=root, log=logged.append)
    assert rc == 0 and "up to date" in logged[-1]


def test_a_full_disk_is_one_line_not_a_traceback(review_copy, tmp_path, monkeypatch, capsys):
    import pandas as pd

    from livingmeta import cli, files
    from test_intake import sheet_rows
    sheet = tmp_path / "ok.csv"
    pd.DataFrame(sheet_rows()).to_csv(sheet, index=False)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "/tmp/.scratch-name")

    monkeypatch.setattr(files.tempfile, "mkstemp", full)
    rc = cli.main(["import", str(review_copy), str(sheet)])
    err = capsys.readouterr().err
    assert rc == 2 and "No space left on device" in err and "doe-2025.yaml" in err
    assert len(err.strip().splitlines()) == 1
