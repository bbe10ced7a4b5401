"""The rules that turn numbers into sentences."""

import pytest

from livingmeta.report import wording as w


@pytest.mark.parametrize("smd,words", [(0.1, "very small"), (-0.3, "small"), (0.62, "moderate"), (-0.9, "large")])
def test_size_words_follow_cohen(smd, words):
    assert w.smd_size_words(smd) == words


def test_a_ci_crossing_zero_says_no_clear_evidence():
    s = w.result_sentence(-0.2, -0.5, 0.1, direction="lower_is_better", intervention="exercise",
                          control="control", outcome="depressive symptoms")
    assert s.startswith("There was no clear evidence of a difference")
    assert "\u22120.20" in s and "\u22120.50 to 0.10" in s


def test_a_benefit_names_the_winner_and_its_size():
    s = w.result_sentence(-0.62, -0.84, -0.41, direction="lower_is_better", intervention="exercise",
                          control="control", outcome="depressive symptoms")
    assert "favoured exercise" in s and "moderate" in s


def test_direction_matters_for_higher_is_better_outcomes():
    s = w.result_sentence(-0.5, -0.8, -0.2, direction="higher_is_better", intervention="exercise",
                          control="control", outcome="quality of life")
    assert "favoured control" in s


def test_ratio_measures_are_shown_exponentiated():
    s = w.result_sentence(0.0, -0.1, 0.1, direction="higher_is_better", intervention="exercise", control="control",
                          outcome="completion", measure="RR")
    assert "RR 1.00" in s and "0.90 to 1.11" in s


def test_nnt_from_smd_by_furukawa():
    # Furukawa 1999: CER 0.3, SMD 0.5: EER = Phi(0.5 - 0.524401) = Phi(-0.024401) = 0.490266
    nnt = w.nnt_from_smd(0.5, 0.30)
    assert nnt == pytest.approx(1 / (0.490266 - 0.30), rel=1e-4)
    assert w.nnt_from_smd(-0.2, 0.3) is None


def test_heterogeneity_words():
    assert [w.heterogeneity_words(x) for x in (10, 35, 64, 80)] == ["low", "moderate", "substantial", "considerable"]


def test_fmt_uses_a_true_minus_and_never_minus_zero():
    assert w.fmt(-0.004) == "0.00"
    assert w.fmt(-0.62) == "\u22120.62"


def _model(estimate, lo, hi, i2):
    return {"estimate": estimate, "ci_lower": lo, "ci_upper": hi, "I2": i2}


def test_take_home_says_the_effect_varied_only_when_it_did_and_asks_for_trials_only_at_low_certainty():
    kw = dict(direction="lower_is_better", intervention="the intervention", outcome="symptoms", measure="SMD")
    varied_low = w.take_home(_model(-0.6, -0.8, -0.4, 64.0), certainty="low", certainty_level="low",
                             rated_down=["risk_of_bias", "inconsistency"], **kw)
    assert "varied between trials" in varied_low and "More trials at low risk of bias are needed" in varied_low
    steady_high = w.take_home(_model(-0.6, -0.8, -0.4, 12.0), certainty="high", certainty_level="high", **kw)
    assert "varied" not in steady_high and "needed" not in steady_high
    assert steady_high.startswith("The intervention reduces symptoms: a moderate benefit")
    assert w.take_home(_model(-0.1, -0.3, 0.1, 0.0), certainty="low", certainty_level="low", rated_down=["imprecision"],
                       **kw) == ("The intervention may result in little to no difference in symptoms; the certainty of "
                                 "the evidence is low. Larger trials are needed to pin it down.")


@pytest.mark.parametrize("label,inside", [
    ("Depressive symptoms", "depressive symptoms"),
    ("Death After Myocardial Infarction", "death after myocardial infarction"),
    ("PHQ-9 score", "PHQ-9 score"),  # an acronym keeps its capitals
    ("HbA1c", "HbA1c"),  # so does a word with capitals inside it
    ("Quality of life (SF-36)", "quality of life (SF-36)"),
    ("Vitamin D levels", "vitamin D levels"),
    ("Self-Reported Anxiety", "self-reported anxiety"),
])
def test_a_label_inside_a_sentence_loses_only_its_title_capitals(label, inside):
    """Outcome labels were lowered whole ('phq-9 score', 'hba1c', 'quality of life (sf-36)')."""
    assert w.in_sentence(label) == inside


def test_an_outcome_named_after_the_intervention_is_quoted_not_made_into_a_sentence():
    """R meta's Fleiss 1993 file names its outcome 'Aspirin for Preventing Death after Myocardial
    Infarction'; its report read 'Aspirin probably reduces aspirin for preventing death after
    myocardial infarction'."""
    outcome = w.outcome_in_sentence("Aspirin for Preventing Death after Myocardial Infarction", "Aspirin")
    assert outcome == "the outcome \u2018Aspirin for Preventing Death after Myocardial Infarction\u2019"
    s = w.certainty_statement({"estimate": -0.11, "ci_lower": -0.17, "ci_upper": -0.04}, direction="lower_is_better",
                              intervention="Aspirin", outcome=outcome, certainty="moderate", measure="OR")
    assert s.startswith("Aspirin probably reduces the outcome \u2018Aspirin for Preventing Death")
    assert w.outcome_in_sentence("Depressive Symptoms", "exercise") == "depressive symptoms"
    assert w.outcome_in_sentence("Exercise capacity", "exercise") == "the outcome \u2018Exercise capacity\u2019"
