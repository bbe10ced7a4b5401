"""`livingmeta check` is a gate: what passes it builds (issue 14, items 6-10).

Every value a build cannot use is refused at check time with the file, the field and the value;
anything in the trials folder that is not a regular record file is refused by name."""

import os
import socket

import pytest
import yaml

from livingmeta.pipeline import records
from livingmeta.pipeline.records import RecordError, load_review

TRIAL = "blumenthal-1999"
ARM = "outcomes.depression[0].arms.exercise"


def set_raw(review_dir, field_line_old, field_line_new, trial=TRIAL):
    """Edit a record's text (not via yaml.dump) so YAML spellings such as .nan or 6.9e0 survive."""
    path = review_dir / "trials" / f"{trial}.yaml"
    text = path.read_text()
    assert field_line_old in text
    path.write_text(text.replace(field_line_old, field_line_new, 1))
    return path


def exercise_arm_line(review_dir, trial=TRIAL):
    rec = yaml.safe_load((review_dir / "trials" / f"{trial}.yaml").read_text())
    return rec["outcomes"]["depression"][0]["arms"]["exercise"]


def problems(review_dir):
    with pytest.raises(RecordError) as err:
        load_review(review_dir)
    return err.value.problems, str(err.value)


def set_arm(review_dir, **vals):
    """Rewrite the exercise arm of the first depression block as a flow mapping with raw values."""
    path = review_dir / "trials" / f"{TRIAL}.yaml"
    rec = yaml.safe_load(path.read_text())
    arm = rec["outcomes"]["depression"][0]["arms"]["exercise"]
    raw = {k: repr(v) if not isinstance(v, str) else v for k, v in arm.items()}
    raw.update(vals)
    rec["outcomes"]["depression"][0]["arms"]["exercise"] = "@@ARM@@"
    text = yaml.safe_dump(rec, sort_keys=False)
    flow = "{" + ", ".join(f"{k}: {v}" for k, v in raw.items() if v is not None) + "}"
    path.write_text(text.replace("'@@ARM@@'", flow))
    return path


# -- item 6: non-finite and absurd numbers are refused at check time ---------------------------
@pytest.mark.parametrize("vals,field,words", [
    ({"sd": ".nan"}, "sd", "finite"),
    ({"mean": "-.inf"}, "mean", "finite"),
    ({"sd": ".inf"}, "sd", "finite"),
    ({"n": "1000000000000000000000000000000"}, "n", "between 2 and 1,000,000,000"),
    ({"sd": "1.0e+308"}, "sd", "at most 1e+12"),
    ({"mean": "-1.0e+300"}, "mean", "at most 1e+12"),
])
def test_numbers_a_build_cannot_use_are_refused_naming_field_and_value(review_copy, vals, field, words):
    set_arm(review_copy, **vals)
    probs, text = problems(review_copy)
    hit = [p for p in probs if p.field == f"{ARM}.{field}"]
    assert hit, text
    assert words in hit[0].message, text
    assert TRIAL in hit[0].file


# -- item 8: each wrongly typed value gets its own message with field and value -----------------
@pytest.mark.parametrize("vals,field,words,value", [
    ({"mean": None}, "mean", "missing", None),
    ({"mean": "8.7 points"}, "mean", "not a number", "8.7 points"),
    ({"n": '"55"'}, "n", "whole number", "55"),
    ({"n": "55.5"}, "n", "whole number", 55.5),
])
def test_wrong_types_name_the_field_and_the_value(review_copy, vals, field, words, value):
    set_arm(review_copy, **vals)
    probs, text = problems(review_copy)
    hit = [p for p in probs if p.field == f"{ARM}.{field}"]
    assert hit, text
    assert words in hit[0].message
    assert hit[0].value == value
    assert "n, mean and sd (continuous) or events and total" not in text  # the old vague message


def test_exponent_without_a_dot_is_a_number_like_in_yaml_1_2(review_copy):
    """Decision: YAML 1.1 reads `6.9e0` as text; an unquoted number in exponent form is
    unambiguous, so records are read with YAML 1.2's float rule. A quoted "6.9" stays text and is
    refused (see test_wrong_types_...)."""
    set_arm(review_copy, sd="6.9e0")
    review = load_review(review_copy)
    rec = next(r for r in review.trials if r["id"] == TRIAL)
    assert rec["outcomes"]["depression"][0]["arms"]["exercise"]["sd"] == 6.9


def test_quoted_number_in_mean_is_refused_with_the_fix(review_copy):
    set_arm(review_copy, mean='"8.7"')
    probs, text = problems(review_copy)
    hit = [p for p in probs if p.field == f"{ARM}.mean"]
    assert hit and "without quotes" in hit[0].message and hit[0].value == "8.7", text


# -- item 6/7: labels are plain text, single line, limited in length ----------------------------
@pytest.mark.parametrize("label,words", [
    ("Smith\x072020", "control character"),
    ("Smith\n2020", "control character"),
    ("S" * 121, "at most 120 characters"),
])
def test_labels_that_would_break_the_figures_are_refused(review_copy, label, words):
    path = review_copy / "trials" / f"{TRIAL}.yaml"
    rec = yaml.safe_load(path.read_text())
    rec["label"] = label
    path.write_text(yaml.safe_dump(rec, sort_keys=False))
    probs, text = problems(review_copy)
    assert any(p.field == "label" and words in p.message for p in probs), text


def test_control_characters_anywhere_in_a_record_are_refused(review_copy):
    path = review_copy / "trials" / f"{TRIAL}.yaml"
    rec = yaml.safe_load(path.read_text())
    rec["citation"]["title"] = "A trial\x1b[31m of exercise"
    path.write_text(yaml.safe_dump(rec, sort_keys=False))
    probs, text = problems(review_copy)
    assert any(p.field == "citation.title" and "control character" in p.message for p in probs), text


# -- item 9: one definition of a trial record ---------------------------------------------------
def test_yml_records_are_records_everywhere(review_copy, tmp_path):
    from livingmeta.living import fingerprint
    from livingmeta.report.changes import read_records
    src = review_copy / "trials" / f"{TRIAL}.yaml"
    src.rename(src.with_suffix(".yml"))
    paths = records.record_paths(review_copy / "trials")
    assert src.with_suffix(".yml") in paths
    review = load_review(review_copy)
    assert TRIAL in {r["id"] for r in review.trials}
    assert TRIAL in read_records(records.record_paths(review_copy / "trials"))
    cfg = tmp_path / "config.yaml"
    cfg.write_text("reviews: [exercise-depression]\n")
    before = fingerprint.fingerprint(review_copy, cfg)["data"]
    src.with_suffix(".yml").write_text(src.with_suffix(".yml").read_text().replace("Blumenthal", "Blumenthal "))
    assert fingerprint.fingerprint(review_copy, cfg)["data"] != before


def test_the_rules_take_their_trial_inputs_from_record_paths():
    from pathlib import Path
    common = (Path(__file__).resolve().parents[1] / "workflow" / "rules" / "common.smk").read_text()
    assert "record_paths(" in common and "glob" not in common


# -- item 10: only regular files --------------------------------------------------------------
def test_a_fifo_in_the_trials_folder_is_refused_without_hanging(review_copy):
    os.mkfifo(review_copy / "trials" / "pipe.yaml")
    probs, text = problems(review_copy)
    assert any("pipe.yaml" in p.file and "not a regular file" in p.message for p in probs), text


def test_a_symlink_to_a_device_is_refused(review_copy):
    os.symlink("/dev/zero", review_copy / "trials" / "zero.yaml")
    probs, text = problems(review_copy)
    assert any("zero.yaml" in p.file and "not a regular file" in p.message for p in probs), text


def test_a_folder_named_like_a_record_is_refused(review_copy):
    (review_copy / "trials" / "x.yaml").mkdir()
    probs, text = problems(review_copy)
    assert any("x.yaml" in p.file and "folder" in p.message for p in probs), text


def test_a_dangling_symlink_is_refused(review_copy):
    os.symlink(review_copy / "nowhere.yaml", review_copy / "trials" / "gone.yaml")
    probs, text = problems(review_copy)
    assert any("gone.yaml" in p.file and "points to nothing" in p.message for p in probs), text


def test_a_socket_is_refused(review_copy, tmp_path):
    path = review_copy / "trials" / "s.yaml"
    if len(str(path)) > 100:
        pytest.skip("socket path too long for AF_UNIX")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(path))
        probs, text = problems(review_copy)
        assert any("s.yaml" in p.file and "not a regular file" in p.message for p in probs), text
    finally:
        sock.close()


def test_a_symlink_to_a_regular_record_is_still_a_record(review_copy, tmp_path):
    src = review_copy / "trials" / f"{TRIAL}.yaml"
    target = tmp_path / "elsewhere.yaml"
    target.write_text(src.read_text())
    src.unlink()
    os.symlink(target, src)
    review = load_review(review_copy)
    assert TRIAL in {r["id"] for r in review.trials}


def test_dump_yaml_reads_back_exactly(review_copy, tmp_path):
    """The records `livingmeta import` writes read back as written: every shipped record, and
    text that YAML would otherwise read as a number, a boolean or null."""
    from livingmeta.pipeline.records import dump_yaml, load_yaml
    recs = [load_yaml(p)[0] for p in records.record_paths(review_copy / "trials")]
    recs.append({"id": "x", "label": "6.9e0", "year": 2020, "t": ["yes", "null", "1e5", "- a", "#c", 'q"uote',
                                                                 "line\nbreak\u2028", "", "  pad"],
                 "n": [1, -2.5, 1e20, 0.1, True, None, {}, []], "nested": [{"a": {"b": [1, {"c": "d"}]}}, []],
                 "weird key": 1, "no": "key that reads as false"})
    for i, rec in enumerate(recs):
        path = tmp_path / f"r{i}.yaml"
        path.write_text(dump_yaml(rec))
        back, problem = load_yaml(path)
        assert problem is None and back == rec, path.read_text()
