"""Starting a review: ``livingmeta new-review`` writes a commented review.yaml, an empty trials/
folder and the import sheet that fits them (``sheet-template.csv``), so a team goes from nothing
to a first build without writing YAML by hand.

The flags give what a first build needs: the outcome, its effect measure and which direction is
better (required: a guessed direction would turn the conclusion around), and the words for the
arms. Everything else is optional and shown, commented, in review.yaml: moderators, PRISMA
search counts, population and the other fields the report prints. What is written is checked
against the review schema (and read back) before it is renamed into place.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from livingmeta.errors import LivingmetaError
from livingmeta.pipeline.intake import ID_PATTERN, sheet_template_columns
from livingmeta.pipeline.labels import control_character_problem
from livingmeta.pipeline.record_writer import write_files
from livingmeta.pipeline.records import Problem, RecordWriteError, load_yaml, schema_problems

OUTCOME_TYPE = {"SMD": "continuous", "MD": "continuous", "RR": "binary", "OR": "binary", "RD": "binary"}
MEASURE_WORDS = {"SMD": "standardised mean difference", "MD": "mean difference", "RR": "risk ratio",
                 "OR": "odds ratio", "RD": "risk difference"}
ARM_IDS = {"intervention": "intervention", "control": "control"}  # the arms' names in every trial record
DIRECTION_NOTE = {  # which side of "no effect" favours the intervention, per direction and kind of measure
    ("lower_is_better", "difference"): "a negative {m} (intervention minus control) favours the intervention",
    ("higher_is_better", "difference"): "a positive {m} (intervention minus control) favours the intervention",
    ("lower_is_better", "ratio"): "a {m} below 1 favours the intervention",
    ("higher_is_better", "ratio"): "a {m} above 1 favours the intervention",
}

REVIEW_TEMPLATE = """\
# The definition of the review "{title}", written by `livingmeta new-review`.
# Words (title, question, labels) may be edited at any time. The ids (id, arms, the outcome's id
# and timepoint ids) are what trial records and the import sheet refer to: change them only before
# trials are imported. Check the review with:  livingmeta check {review_arg}
id: {id}
title: {title_yaml}
question: {question_yaml}
# Optional, printed in the report's methods (remove the # to use them):
# population: "who took part"
# intervention: "what the intervention arm received"
# comparison: "what the control arm received"
# authors: ["First Author", "Second Author"]
# search_date: "2026-01-31"
primary_outcome: {outcome_id}
outcomes:
  - id: {outcome_id}  # the sheet's outcome column
    label: {outcome_yaml}
    type: {outcome_type}  # continuous (SMD, MD) or binary (RR, OR, RD)
    effect_measure: {measure}  # {measure_words}
    direction: {direction}  # {direction_note}
    timepoints:
      - id: {timepoint_id}  # the sheet's timepoint column
        label: {timepoint_yaml}
# The names trial records give the two arms (the sheet's _int and _ctl columns fill them).
arms:
  intervention: {arm_int}
  control: {arm_ctl}
# The words the report and figures use for the arms (without them: "the intervention", "the comparator").
{labels}
# Moderators: trial characteristics for subgroup analyses and meta-regression, one sheet column each.
# An example (replace the empty list with entries like these; categorical levels are the values
# the sheet may hold, each with the words the report prints):
#   moderators:
#     - name: setting                       # the sheet's column
#       label: Setting
#       type: categorical
#       levels: {{inpatient: inpatients, outpatient: outpatients}}
#     - name: weeks
#       label: Length of treatment (weeks)
#       type: continuous
#       unit: week
moderators: []
# PRISMA 2020 search and screening counts (optional; the report draws the flow diagram from them).
# Remove the # of each line and put the review's own counts; they must add up:
# search_flow:
#   - label: First search
#     date: "2026-01-31"
#     identified: {{databases: 1200, registers: 40}}
#     duplicates_removed: 300
#     records_screened: 940
#     records_excluded: 880
#     reports_sought: 60
#     reports_not_retrieved: 2
#     reports_assessed: 58
#     reports_excluded: {{wrong population: 30, not randomised: 20}}
#     studies_included_total: 8
"""


def slug_id(label: str, fallback: str) -> str:
    """An id made from a label: 'Pain intensity (VAS)' -> 'pain_intensity_vas'."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") or fallback


def _shown(path: Path) -> Path:
    """``path`` as the user would type it: relative to the working folder when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _yaml_text(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


@dataclass
class NewReview:
    """What new-review wrote, and the ids the import sheet uses."""

    root: Path
    outcome_id: str
    timepoint_id: str
    columns: list

    def lines(self) -> list[str]:
        root = _shown(self.root)
        template = root / "sheet-template.csv"
        review = self.root.name if root == Path("data", "reviews", self.root.name) else root  # as import finds it
        return [f"wrote {root / 'review.yaml'}, an empty {root / 'trials'}/ and {template}",
                f"  outcome id:   {self.outcome_id}   (the sheet's outcome column)",
                f"  timepoint id: {self.timepoint_id}   (the sheet's timepoint column)",
                "next: fill the sheet (one row per trial and outcome; README 'Import sheet columns'), then",
                f"  livingmeta import {review} {template}",
                f"  livingmeta build {review}"]


def new_review(root: Path, *, outcome: str, measure: str, direction: str, title: str | None = None,
               question: str | None = None, intervention: str | None = None, control: str | None = None,
               timepoint: str = "end of treatment", rob_tool: str | None = "rob2") -> NewReview:
    """Write ``root``/review.yaml, ``root``/trials/ and ``root``/sheet-template.csv for a review of
    one outcome; refuse if ``root`` already holds a review."""
    root = Path(root)
    if not ID_PATTERN.match(root.name):
        raise LivingmetaError(f"{root.name!r} cannot be a review id: use lower-case letters, digits and hyphens, "
                              "e.g. my-review")
    if (root / "review.yaml").exists():
        raise LivingmetaError(f"{root / 'review.yaml'} exists: new-review never overwrites a review (edit it, or "
                              "choose another id)")
    for name, value in (("--outcome", outcome), ("--timepoint", timepoint), ("--title", title),
                        ("--intervention", intervention), ("--control", control), ("--question", question)):
        if value is not None and not value.strip():
            raise LivingmetaError(f"{name} is empty; give the words readers should see")
        why = value is not None and control_character_problem(value, single_line=True)
        if why:
            raise LivingmetaError(f"{name} {why}")
    outcome, timepoint = outcome.strip(), timepoint.strip()
    outcome_id, timepoint_id = slug_id(outcome, "outcome"), slug_id(timepoint, "timepoint")
    title = (title or root.name.replace("-", " ").capitalize()).strip()
    question = (question or f"What is the effect of {intervention or 'the intervention'} compared with "
                            f"{control or 'control'} on {outcome[0].lower() + outcome[1:]}?").strip()
    kind = "ratio" if measure in ("RR", "OR") else "difference"
    labels = {"intervention": intervention, "comparator": control,
              "favours_intervention": intervention and f"Favours {intervention}",
              "favours_comparator": control and f"Favours {control}"}
    labels = {k: v.strip() for k, v in labels.items() if v}
    text = REVIEW_TEMPLATE.format(
        title=title.replace("\n", " "), review_arg=root, id=root.name, title_yaml=_yaml_text(title),
        question_yaml=_yaml_text(question), outcome_id=outcome_id, outcome_yaml=_yaml_text(outcome),
        outcome_type=OUTCOME_TYPE[measure], measure=measure, measure_words=MEASURE_WORDS[measure],
        direction=direction, direction_note=DIRECTION_NOTE[(direction, kind)].format(m=measure),
        timepoint_id=timepoint_id, timepoint_yaml=_yaml_text(timepoint), arm_int=ARM_IDS["intervention"],
        arm_ctl=ARM_IDS["control"],
        labels="labels:\n" + "\n".join(f"  {k}: {_yaml_text(v)}" for k, v in labels.items()) if labels else "# labels: {}")
    expected = {"id": root.name, "title": title, "question": question, "primary_outcome": outcome_id,
                "arms": ARM_IDS, "moderators": []}
    definition = {**expected, "outcomes": [{"id": outcome_id, "label": outcome, "type": OUTCOME_TYPE[measure],
                                            "effect_measure": measure, "direction": direction,
                                            "timepoints": [{"id": timepoint_id, "label": timepoint}]}]}
    columns = sheet_template_columns(definition, None if rob_tool == "none" else rob_tool)
    sheet = io.StringIO()
    csv.writer(sheet, lineterminator="\n").writerow(columns)

    def reads_back_as_meant(written: dict) -> None:
        # what is on disk must be a valid review that says what the flags said
        path = root / "review.yaml"
        back, prob = load_yaml(written[path])
        problems = [prob] if prob else schema_problems(back, "review", path)
        if not problems and ({k: back.get(k) for k in expected} != expected or back["outcomes"] != definition["outcomes"]
                             or (back.get("labels") or {}) != labels):
            problems = [Problem(str(path), "(file)", "did not read back as written; a bug in livingmeta")]
        if problems:
            raise RecordWriteError(problems)

    (root / "trials").mkdir(parents=True, exist_ok=True)
    write_files({root / "review.yaml": text.encode("utf-8"), root / "sheet-template.csv": sheet.getvalue().encode("utf-8")},
                check=reads_back_as_meant)
    return NewReview(root, outcome_id, timepoint_id, columns)
