"""Reader text is written for readers (issue 22 item 4): every kind of review this project
builds renders a report whose visible text names no file or key, prints no snake_case
identifier, "(s)" plural, Python literal or placeholder, has no empty heading and prints no
sentence twice word for word (tests/report_text.py holds the rules).

The reviews: the default review; a RevMan import (R meta's Fleiss1993.rm5, read in place from
../shared/data); a Metapsy import (the first 30 studies of the Metapsy depression-psyctr
release 24.0.2, read in place, written to a temporary folder, never to the repository); and
minimal reviews made from the default review's own records: one with only what a review must
have (no risk of bias, no search date or counts, no labels, no inclusion criteria, no context),
one without moderators, one of two trials with a single outcome, and one with a binary outcome
only. Each report is checked as printed
(report_print.html) and as the web edition; the default review's PDF text is checked in
test_pipeline_end_to_end.py, on the build it makes anyway."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from report_text import reader_text_problems, render_context, report_context, variant_review
from shared_data import shared_path

ROOT = Path(__file__).resolve().parents[1]
REVIEW_DIR = ROOT / "data" / "reviews" / "exercise-depression"


def bare(d, records):
    """Only what a review must have: no risk-of-bias judgements, no labels (generic words for the
    arms), no search date or counts, no inclusion criteria, no context, no external evidence."""
    for key in ("labels", "search_date", "search_date_note", "inclusion_criteria", "subtitle", "external_evidence",
                "search_flow"):
        d.pop(key, None)
    d.get("report", {}).pop("context", None)
    for r in records:
        r.pop("risk_of_bias", None)


def no_moderators(d, records):
    d["moderators"] = []
    d.pop("external_evidence", None)
    d.get("report", {}).pop("trial_table_moderators", None)
    for r in records:
        r["moderators"] = {}
        r.pop("moderator_sources", None)


def two_trials(d, records):
    """A single outcome at a single time point, in two trials (moderators declared, none analysable)."""
    depression = next(o for o in d["outcomes"] if o["id"] == "depression")
    depression["timepoints"] = depression["timepoints"][:1]
    d["outcomes"] = [depression]
    d.get("appraisal", {}).get("indirectness", {}).pop("completion", None)
    kept = [r for r in records if any(b["timepoint"] == "post_treatment" for b in r["outcomes"].get("depression", []))][:2]
    for r in kept:
        r["outcomes"] = {"depression": [b for b in r["outcomes"]["depression"] if b["timepoint"] == "post_treatment"]}
    return kept


def binary_only(d, records):
    completion = next(o for o in d["outcomes"] if o["id"] == "completion")
    d["outcomes"], d["primary_outcome"] = [completion], "completion"
    d.get("appraisal", {}).get("indirectness", {}).pop("depression", None)
    d.pop("external_evidence", None)
    for r in records:
        r["outcomes"] = {"completion": r["outcomes"].get("completion", [])}
    return [r for r in records if r["outcomes"]["completion"]]


MINIMAL = {"bare": bare, "no-moderators": no_moderators, "two-trials": two_trials, "binary-only": binary_only}


@pytest.fixture(scope="module")
def reviews(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("reader-text")
    out = {"default": REVIEW_DIR}
    out |= {name: variant_review(tmp, name, edit) for name, edit in MINIMAL.items()}
    return out


def _assert_reads_well(review_dir: Path):
    ctx = report_context(review_dir)
    for web in (False, True):
        problems = reader_text_problems(render_context(ctx, web=web))
        assert not problems, f"{review_dir.name} ({'web edition' if web else 'print'}):\n" + "\n".join(problems)


@pytest.mark.parametrize("name", ["default", *MINIMAL])
def test_every_review_reads_as_written_for_readers(reviews, name):
    _assert_reads_well(reviews[name])


def test_a_revman_import_reads_as_written_for_readers(tmp_path):
    from livingmeta.living.importers import rm5
    from livingmeta.living.importers.review_writer import write_review
    review = tmp_path / "fleiss-1993"
    write_review(review, rm5.read(shared_path("revman/Fleiss1993.rm5")))
    _assert_reads_well(review)


def metapsy_sample(release: Path, dst: Path, studies: int) -> Path:
    """The first ``studies`` studies of a Metapsy release, in the release's layout (data.csv and
    metadata/), in a temporary folder named like the release."""
    dst.mkdir(parents=True)
    shutil.copytree(release / "metadata", dst / "metadata")
    with open(release / "data.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter=";"))
    study = rows[0].index("study")
    first = list(dict.fromkeys(r[study] for r in rows[1:]))[:studies]
    with open(dst / "data.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=";").writerows([rows[0], *(r for r in rows[1:] if r[study] in first)])
    return dst


def test_a_metapsy_import_reads_as_written_for_readers(tmp_path):
    from livingmeta.living.importers import metapsy
    from livingmeta.living.importers.review_writer import write_review
    release = metapsy_sample(shared_path("metapsy-depression-psyctr/24.0.2"), tmp_path / "24.0.2", studies=30)
    review = tmp_path / "depression-psyctr"
    write_review(review, metapsy.read(release))
    _assert_reads_well(review)


@pytest.mark.slow
def test_the_whole_metapsy_release_reads_as_written_for_readers(tmp_path):
    from livingmeta.living.importers import metapsy
    from livingmeta.living.importers.review_writer import write_review
    review = tmp_path / "depression-psyctr"
    write_review(review, metapsy.read(shared_path("metapsy-depression-psyctr/24.0.2")))
    _assert_reads_well(review)


def test_the_rules_catch_what_issue_22_found():
    """The rules fail on each offender the issue lists (so a pass means they are gone)."""
    offenders = ["The review's sources give no search and screening counts (no search_flow in review.yaml).",
                 "Trim-and-fill imputed 0 trial(s) on the right side.", "<td>pooling.prediction_interval</td><td>True</td>",
                 "Not analysed: moderator 'risk_of_bias' has fewer than two levels.", "Search date: not stated.",
                 "<h2>Inclusion criteria</h2><h2>Who benefits most</h2>", "The estimate is nan."]
    for text in offenders:
        html = f"<body><main>{text if text.startswith('<') else '<p>' + text + '</p>'}<p>End.</p></main></body>"
        assert reader_text_problems(html), text
    twice = "<body><p>The effect was large in every trial we read.</p><p>The effect was large in every trial we read.</p></body>"
    assert reader_text_problems(twice)
    fine = "<body><h2>Results</h2><p>None of the trials reported harms; 1,353 participants.</p></body>"
    assert not reader_text_problems(fine)
