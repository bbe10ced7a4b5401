"""GRADE: each domain rule on crafted cases, with ties at every threshold and missing data;
the optimal information size against Cohen's (1988) table; absolute effects per 1,000; and the
summary-of-findings table built from a crafted review."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from livingmeta.report import grade as g

G = g.DEFAULTS
ROB = dict(threshold=0.0, share_limit=0.5, material_shift=0.2, main_ci=(-0.8, -0.4))


# -- risk of bias ----------------------------------------------------------------------------

@pytest.mark.parametrize("share_not_low,share_high,shift,low_ci,k_low,expected", [
    (0.50, 0.0, 0.05, (-0.9, -0.3), 4, 0),     # tie at the share threshold: not "more than half"
    (0.5001, 0.0, 0.05, (-0.9, -0.3), 4, 1),
    (0.20, 0.0, 0.20, (-0.9, -0.1), 4, 1),     # tie at the material shift: material (at or above)
    (0.20, 0.0, 0.1999, (-0.9, -0.1), 4, 0),
    (0.20, 0.0, 0.05, (-0.9, 0.1), 4, 1),      # small shift but the low-risk interval includes no effect
    (0.90, 0.0, 0.30, (-0.5, 0.2), 4, 2),      # both concerns
    (0.90, 0.60, 0.0, (-0.8, -0.4), 4, 2),     # most weight at high risk
    (1.00, 0.0, None, None, 0, 1),             # nothing assessed: no low-risk trials, all weight not low
    (0.40, 0.0, None, None, 1, 0),             # one low-risk trial: shift not judged, share below the limit
])
def test_risk_of_bias_rule(share_not_low, share_high, shift, low_ci, k_low, expected):
    r = g.rate_risk_of_bias(share_not_low, share_high, shift=shift, low_ci=low_ci, k_low=k_low, **ROB)
    assert r.downgrade == expected
    assert r.reason.startswith("Rated down" if expected else "Not rated down")


def test_risk_of_bias_reason_names_the_share_and_the_shift():
    r = g.rate_risk_of_bias(0.81, 0.37, shift=0.36, low_ci=(-0.75, 0.22), k_low=5, **ROB)
    assert r.downgrade == 2 and "81%" in r.reason and "5 trials at low risk" in r.reason and "different conclusion" in r.reason


# -- inconsistency ---------------------------------------------------------------------------

@pytest.mark.parametrize("i2,ci,pi,expected", [
    (50.0, (-0.8, -0.4), (-0.9, -0.3), 0),      # tie at 50%: not above
    (50.01, (-0.8, -0.4), (-0.9, -0.3), 1),
    (30.0, (-0.8, -0.4), (-1.2, 0.1), 1),       # PI includes no effect, CI does not
    (30.0, (-0.8, 0.1), (-1.2, 0.3), 0),        # both include it: an imprecision matter, not inconsistency
    (75.0, (-0.8, -0.4), (-1.5, 0.3), 1),       # tie at 75%: one level
    (75.01, (-0.8, -0.4), (-1.5, 0.3), 2),
    (80.0, (-0.8, -0.4), (-1.5, -0.1), 1),      # considerable I² but the PI excludes no effect
    (60.0, (-0.8, -0.4), (None, None), 1),      # no prediction interval: I² alone
    (40.0, (-0.8, -0.4), None, 0),
    (30.0, (-0.8, -0.4), (-1.0, 0.0), 1),       # PI ending exactly at no effect includes it
])
def test_inconsistency_rule(i2, ci, pi, expected):
    assert g.rate_inconsistency(i2, 10, ci, pi, threshold=0.0, serious=50, very_serious=75).downgrade == expected


def test_inconsistency_single_trial_or_missing_i2_is_not_assessable():
    for k, i2 in ((1, 0.0), (5, None)):
        r = g.rate_inconsistency(i2, k, (-1, 1), None, threshold=0, serious=50, very_serious=75)
        assert r.downgrade == 0 and not r.assessable


# -- imprecision -----------------------------------------------------------------------------

def test_optimal_information_size_matches_cohens_table():
    # Cohen (1988) Table 2.4.1: d = 0.2, two-tailed alpha 0.05, power 0.80 -> 393 per group
    assert g.optimal_information_size_smd(0.2, 0.05, 0.80) == 2 * 393
    # d = 0.5 -> 63 per group (z approximation; Cohen's t-based table: 64)
    assert g.optimal_information_size_smd(0.5, 0.05, 0.80) == 2 * 63


def test_optimal_information_size_binary_by_hand():
    # p0 = 0.20, 25% RRR -> p1 = 0.15; (1.959964 + 0.841621)^2 * (0.16 + 0.1275) / 0.05^2 = 902.6 -> 903 per arm
    assert g.optimal_information_size_binary(0.20, 0.25, 0.05, 0.80) == 2 * 903


@pytest.mark.parametrize("ci,n,expected", [
    ((-0.8, -0.4), 786, 0),        # tie: N equal to the OIS is enough
    ((-0.8, -0.4), 785, 1),
    ((-0.8, 0.0), 2000, 1),        # CI ending exactly at no effect includes it
    ((-0.8, -0.0001), 2000, 0),
    ((-0.3, 0.2), 2000, 2),        # ties at both MIDs: includes appreciable benefit and harm
    ((-0.3, 0.1999), 2000, 1),
    ((-0.5, 0.3), 100, 2),
])
def test_imprecision_rule(ci, n, expected):
    assert g.rate_imprecision(ci, n, 786, threshold=0.0, mid=0.2).downgrade == expected


def test_imprecision_against_a_declared_decision_threshold():
    # SMD -0.30 to -0.15 excludes 0 but includes a declared threshold of -0.2
    r = g.rate_imprecision((-0.30, -0.15), 5000, 786, threshold=-0.2, mid=0.2)
    assert r.downgrade == 1 and "decision threshold" in r.reason


# -- indirectness, publication bias ----------------------------------------------------------

def test_indirectness_is_the_declared_judgement():
    assert g.rate_indirectness(None).downgrade == 0
    r = g.rate_indirectness({"downgrade": 1, "reason": "Trials in  inpatients only."})
    assert r.downgrade == 1 and r.reason == "Trials in inpatients only."


@pytest.mark.parametrize("k,p,tf_ci,expected,assessable", [
    (9, 0.001, (-0.5, -0.1), 0, False),         # below 10 trials: not assessable, whatever the test says
    (10, 0.10, (-0.7, -0.3), 0, True),          # tie at p = 0.10: not below
    (10, 0.0999, (-0.7, -0.3), 1, True),
    (12, 0.50, (-0.5, 0.05), 1, True),          # trim-and-fill interval now includes no effect
    (12, None, None, 0, False),                 # no test result: not assessable
])
def test_publication_bias_rule(k, p, tf_ci, expected, assessable):
    r = g.rate_publication_bias(k, p, tf_ci, (-0.8, -0.4), threshold=0.0, min_trials=10, p_limit=0.10)
    assert (r.downgrade, r.assessable) == (expected, assessable)


# -- certainty -------------------------------------------------------------------------------

@pytest.mark.parametrize("downs,level,symbols", [
    ([0, 0, 0, 0, 0], "high", 4), ([1, 0, 0, 0, 0], "moderate", 3), ([1, 1, 0, 0, 0], "low", 2),
    ([2, 1, 0, 0, 0], "very low", 1), ([2, 2, 2, 1, 1], "very low", 1),
])
def test_certainty_counts_levels_down_and_floors_at_very_low(downs, level, symbols):
    c = g.certainty([g.Rating(str(i), d, "") for i, d in enumerate(downs)])
    assert (c["level"], c["symbols"], c["levels_down"]) == (level, symbols, sum(downs))


# -- absolute effects ------------------------------------------------------------------------

def test_risk_per_thousand_for_each_measure():
    assert g.per_thousand(0.20, math.log(0.5), math.log(0.25), math.log(1.0), "RR") == {
        "control": 200, "intervention": 100, "difference": -100, "difference_ci": [-150, 0]}
    assert g.risk_with_intervention(0.20, math.log(2.0), "OR") == pytest.approx(1 / 3)   # odds 0.25 x 2 = 0.5
    assert g.risk_with_intervention(0.20, 0.05, "RD") == pytest.approx(0.25)
    assert g.risk_with_intervention(0.9, math.log(1.5), "RR") == 1.0                      # capped at certainty


# -- the table -------------------------------------------------------------------------------

def _review(appraisal=None):
    return {"id": "crafted", "primary_outcome": "mood", "arms": {"intervention": "treat", "control": "ctl"},
            "appraisal": appraisal or {},
            "outcomes": [{"id": "mood", "type": "continuous", "direction": "lower_is_better"},
                         {"id": "dropout", "type": "binary", "direction": "lower_is_better"}]}


def _inputs(k=4):
    eff = pd.DataFrame({"outcome": ["mood"] * k + ["dropout"] * k, "timepoint": ["end"] * (2 * k),
                        "yi": [-0.5, -0.3, -0.4, -0.6][:k] + [0.0] * k, "vi": [0.05] * (2 * k),
                        "events_ctl": [None] * k + [10, 20, 30, 40][:k], "total_ctl": [None] * k + [100] * k})
    model = {"estimate": -0.45, "ci_lower": -0.7, "ci_upper": -0.2, "I2": 0.0, "pi_lower": -0.7, "pi_upper": -0.2}
    bmodel = {"estimate": math.log(0.8), "ci_lower": math.log(0.6), "ci_upper": math.log(1.1), "I2": 0.0,
              "pi_lower": None, "pi_upper": None}
    pooled = {"analyses": [
        {"outcome": "mood", "timepoint": "end", "outcome_label": "Mood", "timepoint_label": "end", "measure": "SMD",
         "direction": "lower_is_better", "k": k, "participants": 400, "model": model},
        {"outcome": "dropout", "timepoint": "end", "outcome_label": "Dropout", "timepoint_label": "end", "measure": "RR",
         "direction": "lower_is_better", "k": k, "participants": 800, "model": bmodel}]}
    nothing = {"weight_shares": {"low": 0.0, "unclear": 0.0, "high": 0.0, "not_assessed": 1.0},
               "low_risk": {"k": 0, "participants": 0, "trials": []}}
    rob = {"analyses": [{"outcome": "mood", "timepoint": "end", **nothing}, {"outcome": "dropout", "timepoint": "end", **nothing}]}
    return pooled, eff, rob


def test_table_with_no_risk_of_bias_data_rates_down_and_uses_the_trials_control_risk():
    pooled, eff, rob = _inputs()
    sof = g.summary_of_findings(_review(), pooled, eff, rob, {})
    mood, drop = sof["rows"]
    rob_rating = mood["ratings"][0]
    assert rob_rating["downgrade"] == 1 and "100% of the weight" in rob_rating["reason"]
    # 400 participants < 786 -> imprecision
    assert mood["ratings"][3]["downgrade"] == 1 and mood["level"] == "low"
    from scipy.stats import norm  # independent of livingmeta.stats.dist
    assert mood["absolute"]["nnt"] == math.ceil(1 / (norm.cdf(0.45 + norm.ppf(0.30)) - 0.30))  # Furukawa 1999
    assert "small effect" in mood["absolute"]["text"]                                          # |SMD| 0.45 < 0.5
    # control risk from the trials: 100 events / 400 participants = 250 per 1,000; RR 0.8 -> 200
    assert drop["absolute"]["control"] == 250 and drop["absolute"]["intervention"] == 200
    # the arms in the review's words: without labels in review.yaml, generic ones (never the arm keys 'treat', 'ctl')
    assert drop["absolute"]["text"].startswith("250 per 1,000 with the comparator; 200 per 1,000 with the intervention: "
                                               "50 fewer per 1,000")
    assert drop["ratings"][4]["assessable"] is False                      # 4 trials: publication bias not assessable


def test_table_uses_the_declared_control_risk_indirectness_and_threshold():
    pooled, eff, rob = _inputs()
    review = _review({"assumed_control_risk": {"dropout": {"risk": 0.5, "source": "registry"}},
                      "indirectness": {"mood": {"downgrade": 1, "reason": "Only inpatients."}},
                      "decision_threshold": {"mood": -0.25}})
    sof = g.summary_of_findings(review, pooled, eff, rob, {"appraisal": {"grade": {"ois_smd": 0.5}}})
    mood, drop = sof["rows"]
    assert drop["absolute"]["control"] == 500 and drop["absolute"]["control_risk_source"] == "registry"
    assert mood["ratings"][2] == {"domain": "indirectness", "downgrade": 1, "reason": "Only inpatients.", "assessable": True}
    assert mood["ois"] == 2 * 63 and mood["threshold"] == -0.25
    assert "decision threshold" in mood["ratings"][3]["reason"]


def test_primary_certainty_is_the_tables():
    pooled, eff, rob = _inputs()
    sof = g.summary_of_findings(_review(), pooled, eff, rob, {})
    c = g.primary_certainty(sof, "mood", "end")
    assert c["level"] == sof["rows"][0]["level"]
    assert c["summary"] == "low (GRADE: rated down one level for risk of bias and one level for imprecision)"


def test_binary_outcome_without_control_counts_has_no_absolute_effect_and_no_ois():
    pooled, eff, rob = _inputs()
    eff.loc[eff.outcome == "dropout", ["events_ctl", "total_ctl"]] = None   # computed effects (yi, se) only
    drop = g.summary_of_findings(_review(), pooled, eff, rob, {})["rows"][1]
    assert "control-group counts are not reported" in drop["absolute"]["text"]
    assert drop["ois"] is None and "fewer than the optimal information size" not in drop["ratings"][3]["reason"]
    r = g.rate_imprecision((-0.5, -0.1), 10, None, threshold=0.0, mid=0.2)
    assert r.downgrade == 0 and "no control risk" in r.reason


def test_review_thresholds_override_config_which_override_defaults():
    gs = g.grade_settings({"grade": {"i2_serious": 40, "egger_p": 0.05}}, {"grade": {"i2_serious": 60}})
    assert (gs["i2_serious"], gs["egger_p"], gs["i2_very_serious"]) == (60, 0.05, 75.0)
    pooled, eff, rob = _inputs()
    pooled["analyses"][0]["model"]["I2"] = 55.0
    rows = g.summary_of_findings(_review({"grade": {"i2_serious": 60}}), pooled, eff, rob, {})["rows"]
    assert rows[0]["ratings"][1]["downgrade"] == 0 and rows[0]["ratings"][1]["reason"].startswith("Not rated down")


def test_a_mean_difference_gets_the_thresholds_set_in_sds_in_its_own_units():
    """The same trials as an SMD and as a mean difference in units of S = 10 (every group's SD is
    S, so the pooled SD is S): the same ratings. Before, a mean difference compared its interval
    with a minimal important difference of 0.2 of its own units."""
    pooled, eff, rob = _inputs()
    review = _review()
    s = 10.0
    model = {"estimate": -0.4, "ci_lower": -0.7, "ci_upper": 0.15, "I2": 0.0, "pi_lower": -0.7, "pi_upper": 0.15}
    pooled["analyses"][0]["model"] = model
    smd = g.summary_of_findings(review, pooled, eff, rob, {})["rows"][0]
    md_pooled = json.loads(json.dumps(pooled))
    md_pooled["analyses"][0].update(measure="MD", model={k: (v * s if v is not None and k != "I2" else v)
                                                         for k, v in model.items()})
    md_eff = eff.assign(yi=eff.yi * s, vi=eff.vi * s * s, sd_int=s, sd_ctl=s, n_int=50, n_ctl=50)
    review["outcomes"][0]["effect_measure"] = "MD"
    md = g.summary_of_findings(review, md_pooled, md_eff, rob, {})["rows"][0]
    assert [r["downgrade"] for r in md["ratings"]] == [r["downgrade"] for r in smd["ratings"]]
    assert md["ratings"][3]["downgrade"] == 1  # includes no effect, not an appreciable harm of 0.2 SD = 2 units
    assert "2.00 (minimal important difference)" in md["absolute"]["text"] and "SD 10.00" in md["absolute"]["text"]
    no_sd = g.summary_of_findings(review, md_pooled, md_eff.assign(sd_int=np.nan, sd_ctl=np.nan), rob, {})["rows"][0]
    assert "no standard deviations" in no_sd["absolute"]["text"]
