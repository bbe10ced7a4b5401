"""The report never contradicts itself (issue 22 items 1, 2, 3 and 5): one certainty voice,
GRADE's informative statements (Santesso et al., J Clin Epidemiol 2020;119:126-135) in the
headline, lead, key findings and take-home; the Bayesian and sequential sections framed as what
they are and set beside the GRADE rating in one sentence each; the two information sizes each
saying what they count; one format per statistic; intervals explained."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from scipy import stats

from report_text import CONFIG, report_context, render_context, variant_review, visible_text
from livingmeta.report import wording as w

ROOT = Path(__file__).resolve().parents[1]
REVIEW_DIR = ROOT / "data" / "reviews" / "exercise-depression"
BENEFIT = {"estimate": -0.62, "ci_lower": -0.84, "ci_upper": -0.41, "I2": 64.0}
NULL = {"estimate": -0.1, "ci_lower": -0.3, "ci_upper": 0.1, "I2": 0.0}
WORDS = dict(direction="lower_is_better", intervention="exercise", outcome="depressive symptoms", measure="SMD")
# A verb that says the intervention causes the change, unhedged (GRADE: only at high certainty).
CAUSAL = re.compile(r"(?<!probably )(?<!may )\b(?:reduces|increases|improves|worsens|results in|led to|leads to|"
                    r"causes|caused)\b", re.I)


@pytest.mark.parametrize("certainty,statement", [
    ("high", "Exercise reduces depressive symptoms: a moderate benefit"),
    ("moderate", "Exercise probably reduces depressive symptoms: a moderate benefit"),
    ("low", "Exercise may reduce depressive symptoms: a moderate benefit"),
    ("very low", "The evidence is very uncertain about the effect of exercise on depressive symptoms")])
def test_the_statement_is_grades_informative_statement_for_the_certainty(certainty, statement):
    assert w.certainty_statement(BENEFIT, certainty=certainty, **WORDS) == statement
    assert w.headline(BENEFIT, certainty=certainty, **WORDS) == f"{statement} ({certainty}-certainty evidence)"


@pytest.mark.parametrize("certainty,verb", [("high", "results in"), ("moderate", "probably results in"),
                                            ("low", "may result in")])
def test_an_interval_that_includes_no_effect_reads_little_to_no_difference(certainty, verb):
    assert w.certainty_statement(NULL, certainty=certainty, **WORDS) == (
        f"Exercise {verb} little to no difference in depressive symptoms")


@pytest.mark.parametrize("certainty", ["moderate", "low", "very low"])
def test_no_causal_verb_below_high_certainty_in_headline_or_take_home(certainty):
    for model in (BENEFIT, NULL, {**BENEFIT, "estimate": 0.62, "ci_lower": 0.41, "ci_upper": 0.84}):
        for text in (w.headline(model, certainty=certainty, **WORDS),
                     w.take_home(model, certainty=certainty, certainty_level=certainty, **WORDS),
                     w.result_sentence(model["estimate"], model["ci_lower"], model["ci_upper"], control="control",
                                       **{k: v for k, v in WORDS.items()})):
            assert not CAUSAL.search(text), text


def test_the_pooled_result_favours_a_group_never_an_outcome():
    text = w.result_sentence(-0.62, -0.84, -0.41, control="control", **WORDS)
    assert "favoured exercise" in text and not re.search(r"symptoms favoured", text, re.I)


@pytest.fixture(scope="module")
def default_report():
    ctx = report_context(REVIEW_DIR)
    return ctx, visible_text(render_context(ctx))


def test_the_default_report_speaks_with_one_certainty_voice(default_report):
    ctx, text = default_report
    assert ctx["certainty"]["level"] == "very low"  # GRADE's rating of the default review's primary outcome
    statement = "The evidence is very uncertain about the effect of exercise on depressive symptoms"
    assert ctx["headline"].startswith(statement) and ctx["take_home"].startswith(statement)
    assert "very low" in ctx["lead"] and "very low" in ctx["key"]["certainty"]
    for part in (ctx["headline"], ctx["lead"], ctx["take_home"], ctx["result_text"]):
        assert not CAUSAL.search(part), part
    assert "may reduce" not in text  # 'may' is low certainty's word


def test_bayes_and_sequential_say_what_they_are_and_how_they_relate_to_grade(default_report):
    """The sequential section opened with 'Firm evidence of benefit since 2007' beside a GRADE rating of very low."""
    ctx, text = default_report
    assert not re.search(r"firm evidence", text, re.I)
    bayes, seq = ctx["settled"]["bayes"], ctx["settled"]["sequential"]
    assert bayes["probabilities"].startswith("Under the priors stated below")
    for relation in (bayes["probabilities"], seq["relation"]):
        assert "GRADE" in relation and "very low" in relation and "risk of bias" in relation
    assert "chance" in seq["sentence"] and "information" in seq["relation"]


def test_two_information_sizes_each_say_what_they_count_and_which_the_imprecision_rating_used(default_report):
    """Imprecision said 1,353 participants 'reach the optimal information size of 786'; the sequential
    analysis said '55% of the required information (2,438)'."""
    ctx, text = default_report
    g = CONFIG["appraisal"]["grade"] if "grade" in (CONFIG.get("appraisal") or {}) else {}
    alpha, power, smd = g.get("ois_alpha", 0.05), g.get("ois_power", 0.8), g.get("ois_smd", 0.2)
    per_arm = math.ceil(2 * (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) ** 2 / smd ** 2)
    ois = f"{2 * per_arm:,}"  # 786: GRADE guidelines 6, a conventional two-arm sample size
    imprecision = next(x["text"] for r in ctx["sof"]["ratings"] if r["label"].endswith("end of treatment")
                       for x in r["items"] if x["domain"] == "imprecision")
    assert f"GRADE's optimal information size of {ois}" in imprecision
    assert "one trial needs" in imprecision and "no allowance for variation between trials" in imprecision
    basis = ctx["settled"]["sequential"]["basis"]
    ris = json.dumps(ctx["settled"]).split("required information size is ")[1].split(" participants")[0]
    assert "enlarged for the diversity between trials" in basis and "a meta-analysis needs" in basis
    assert (f"larger than the optimal information size of {ois} participants that the GRADE imprecision rating used"
            in basis), basis
    assert int(ris.replace(",", "")) > int(ois.replace(",", ""))


def test_every_pooled_subgroup_effect_carries_its_measure(default_report):
    ctx, _ = default_report
    for m in ctx["moderators"]:
        if m["type"] == "categorical" and "Pooled effects:" in m["text"]:
            parts = m["text"].split("Pooled effects: ")[1].split(". ")[0].rstrip(".").split("; ")
            assert all(re.search(r", SMD \S+ \(95% CI \S+ to \S+\) in \d+ trials?$", p) for p in parts), parts


def test_the_question_and_the_changes_are_printed_once(default_report):
    ctx, text = default_report
    assert text.count(ctx["review"]["question"]) == 1
    assert "Since the previous edition" not in text


def test_changes_of_the_bayesian_and_sequential_analyses_join_what_changed_in_this_edition():
    ctx = report_context(REVIEW_DIR, previous=True)
    text = visible_text(render_context(ctx))
    changed = text.split("What changed in this edition", 1)[1].split("What the researchers did", 1)[0]
    assert "Probability of benefit:" in changed and "of the required information size in the previous edition" in changed
    assert "Since the previous edition" not in text


def test_a_prediction_interval_with_tau2_at_zero_says_so_and_points_to_the_bayesian_interval():
    """With τ² = 0 the report said the PI 'lies entirely on one side of no effect', three pages before a
    Bayesian interval for a new trial that spans no effect."""
    text = w.prediction_sentence(-0.6, -0.2, direction="lower_is_better", intervention="exercise", tau2=0.0,
                                 bayes_predictive=(0.95, -0.85, 0.05))
    assert "\u03c4\u00b2 was estimated at 0" in text and "is the confidence interval" in text
    assert "between \u22120.85 and 0.05 with 95% probability" in text
    assert "entirely on one side" not in text
    wider = w.prediction_sentence(-0.6, -0.2, direction="lower_is_better", intervention="exercise", tau2=0.01)
    assert "entirely on one side" in wider  # a τ² above 0: the interval speaks for itself


def test_small_hartung_knapp_subgroups_get_a_note_on_why_their_intervals_are_wide(default_report):
    """k = 2 gave −4.85 to 4.25 with no word on why."""
    ctx, text = default_report
    note = ctx["small_subgroup_note"]
    for k in (2, 3):
        assert f"{w.fmt(stats.t.ppf(0.975, k - 1))} for {k} trials" in note  # 12.71, 4.30
    assert note in text
    wald = report_context(REVIEW_DIR, config={**CONFIG, "pooling": {**CONFIG["pooling"], "test": "z"}})
    assert wald["small_subgroup_note"] == ""


def test_the_evidence_line_reads_with_generic_arm_words(tmp_path):
    """'(297 the intervention, 294 the comparator)'."""
    def no_labels(definition, records):
        definition.pop("labels")
    text = visible_text(render_context(report_context(variant_review(tmp_path, "no-labels", no_labels))))
    assert "with the intervention, " in text and " with the comparator)" in text
