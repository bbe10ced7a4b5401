"""The record checks every source goes through (issue 23 F10 and F17): group sizes and events
beside a computed effect are checked as arm data are, and invisible format characters (Unicode
Cf: right-to-left override, isolates, zero-width space) are refused like control characters in
every text, whatever the source (a record, review.yaml, a RevMan file). Edits are SYNTHETIC."""

import shutil
import subprocess
import sys

import pytest
import yaml

from livingmeta.living.importers import read_whole_review
from livingmeta.living.importers.review_writer import write_review
from livingmeta.pipeline.labels import control_character_problem
from livingmeta.pipeline.records import RecordError, load_review
from shared_data import shared_path

CLI = [sys.executable, "-m", "livingmeta.cli"]


def edit_record(review_copy, trial, change):
    path = review_copy / "trials" / f"{trial}.yaml"
    rec = yaml.safe_load(path.read_text())
    change(rec)
    path.write_text(yaml.safe_dump(rec, sort_keys=False, allow_unicode=True))


def generic_block(rec, arms):
    rec["outcomes"]["depression"][0] = {"timepoint": "post_treatment", "source": "SYNTHETIC test block",
                                        "generic": {"estimate": -0.5, "se": 0.2}, "arms": arms}


@pytest.mark.parametrize("arms,field,words", [
    ({"n": -100000}, "n", "sample size must be at least 2"),
    ({"n": 1}, "n", "sample size must be at least 2"),
    ({"n": 2_000_000_000}, "n", "must be between 2 and 1,000,000,000"),
    ({"events": 50, "total": 40}, "events", "more events than participants"),
    ({"events": -1, "total": 40}, "events", "events cannot be negative"),
])
def test_group_sizes_beside_a_computed_effect_are_checked_as_arm_data(review_copy, arms, field, words):
    """`n: -100000` beside a generic effect passed check and import, then pool stopped with 'a
    bug in livingmeta'."""
    def change(rec):
        first = next(iter(rec["arms"]))
        generic_block(rec, {a: (dict(arms) if a == first else {"n": 30}) for a in rec["arms"]})
    edit_record(review_copy, "singh-2005", change)
    with pytest.raises(RecordError) as err:
        load_review(review_copy)
    (problem,) = err.value.problems
    assert problem.field.endswith(f".{field}") and words in problem.message
    res = subprocess.run([*CLI, "check", str(review_copy)], capture_output=True, text=True)
    assert res.returncode == 1 and words in res.stderr


def test_a_group_size_not_reported_beside_a_computed_effect_stays_valid(review_copy):
    edit_record(review_copy, "singh-2005", lambda rec: generic_block(rec, {a: {"n": None} for a in rec["arms"]}))
    assert load_review(review_copy)


@pytest.mark.parametrize("char", ["\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f",
                                  "\u061c", "\u200b", "\u2060", "\ufeff", "\u00ad"])
def test_every_format_character_is_refused_by_the_one_text_check(char):
    assert "invisible format character" in control_character_problem(f"Smith{char}2020", single_line=True)
    assert "invisible format character" in control_character_problem(f"A title{char} here")


def test_joiners_that_spelling_needs_are_kept():
    assert control_character_problem("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") is None  # Persian, with ZWNJ
    assert control_character_problem("Smith 2020 \u00e9\u00fc") is None


@pytest.mark.parametrize("where", ["label", "citation.title", "review.title"])
def test_a_right_to_left_override_in_a_record_or_review_yaml_is_refused(review_copy, where):
    text = "Singh \u202e5002"  # displays as "Singh 2005"
    if where == "review.title":
        definition = yaml.safe_load((review_copy / "review.yaml").read_text())
        definition["title"] = text
        (review_copy / "review.yaml").write_text(yaml.safe_dump(definition, sort_keys=False, allow_unicode=True))
    else:
        def change(rec):
            if where == "label":
                rec["label"] = text
            else:
                rec["citation"]["title"] = text
        edit_record(review_copy, "singh-2005", change)
    with pytest.raises(RecordError) as err:
        load_review(review_copy)
    field = "title" if where == "review.title" else where
    assert [p.field for p in err.value.problems] == [field]
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in str(err.value)


def test_a_revman_study_name_with_a_bidirectional_override_is_refused(tmp_path):
    source = tmp_path / "Fleiss1993.rm5"
    shutil.copy(shared_path("revman/Fleiss1993.rm5"), source)
    raw = source.read_bytes()
    assert b'NAME="AMIS"' in raw
    source.write_bytes(raw.replace(b'NAME="AMIS"', b'NAME="AMIS&#x202E;"'))
    imported = read_whole_review(source, "rm5")
    with pytest.raises(RecordError, match="U\\+202E RIGHT-TO-LEFT OVERRIDE"):
        write_review(tmp_path / "fleiss", imported)
    assert not (tmp_path / "fleiss").exists()
