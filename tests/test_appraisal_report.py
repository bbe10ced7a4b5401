"""The appraisal sections of the report say what the analysis files hold: trials not assessed are
named and counted, footnotes follow the ratings, and the methods print the thresholds in use."""

import pytest
import yaml

from livingmeta.pipeline import analysis, appraisal
from livingmeta.report import appraisal as appraisal_report, grade
from livingmeta.pipeline.records import load_review
from livingmeta.pipeline.tables import arm_table

CONFIG = {"effect_size": {}, "pooling": {"method": "REML", "test": "knha"},
          "appraisal": {"grade": {"i2_serious": 40, "egger_p": 0.05}}}


@pytest.fixture(scope="module")
def exercise(tmp_path_factory):
    from conftest import copy_project
    root = copy_project(tmp_path_factory.mktemp("appr"))
    review = load_review(root / "data" / "reviews" / "exercise-depression")
    eff = analysis.effect_size_table(arm_table(review), review.definition, {})
    pooled = analysis.pool_review(eff, review.definition, CONFIG["pooling"])
    rob = appraisal.risk_of_bias_review(review.definition, review.trials, eff, pooled, CONFIG["pooling"], CONFIG["appraisal"])
    sof = grade.summary_of_findings(review.definition, pooled, eff, rob, CONFIG)
    return review, rob, sof


def test_risk_of_bias_section_names_and_counts_trials_not_assessed(exercise):
    review, rob, _ = exercise
    sec = appraisal_report.risk_of_bias_section(rob, {"rob:summary_rob1": "figures/risk_of_bias/summary_rob1.svg"})
    assert "Risk of bias was recorded for 24 of the 35 trials" in sec["text"]
    for name in ("Klein 1985", "Setaro 1985", "Williams 2008"):
        assert name in sec["text"]
    assert "never as a risk level" in sec["text"] and "this report's own" in sec["sensitivity_text"]
    assert sec["figures"] == {"summary_rob1": "figures/risk_of_bias/summary_rob1.svg"}
    primary = rob["analyses"][0]
    assert sum(primary["counts"].values()) == 35
    assert f"Restricted to the {primary['low_risk']['k']} trials" in sec["sensitivity_text"]
    assert len(sec["support_rows"]) == 35 and len(sec["support_domains"]) == 3


def test_footnotes_follow_the_ratings_in_order(exercise):
    review, _, sof = exercise
    sec = appraisal_report.summary_of_findings_section(sof, review.definition)
    down = [r for row in sof["rows"] for r in row["ratings"] if r["downgrade"]]
    assert [f["mark"] for f in sec["footnotes"]] == [chr(97 + i) for i in range(len(down))]
    assert [f["text"] for f in sec["footnotes"]] == [r["reason"] for r in down]
    assert sum(len(r["marks"]) for r in sec["rows"]) == len(down)


def test_methods_print_the_thresholds_in_use(exercise):
    _, rob, sof = exercise
    text = " ".join(appraisal_report.methods_section(sof, rob))
    assert "I\u00b2 is above 40%" in text and "p below 0.05" in text
    assert "allocation concealment, blinding of outcome assessment and incomplete outcome data" in text


def test_prisma_section_without_counts_says_so():
    sec = appraisal_report.prisma_section({"editions": [], "not_drawn_reason": "no counts given"}, {})
    # said in the reader's words: prisma.json's reason names the review.yaml key
    assert sec == {"editions": [], "text": "The sources of this review give no search and screening counts, so no "
                                          "PRISMA 2020 flow diagram is drawn."}


def test_low_risk_refit_subgroups_and_small_study_inputs_match_metafor(exercise):
    """tests/reference/make_reference_appraisal.R: metafor 3.8.1 on the same data, with the
    criterion classes written independently in R."""
    import json
    from pathlib import Path
    ref = json.loads((Path(__file__).parent / "reference" / "appraisal_reference.json").read_text())
    review, rob, sof = exercise
    a = rob["analyses"][0]
    assert (a["outcome"], a["timepoint"]) == ("depression", "post_treatment")
    assert {k: v for k, v in a["counts"].items() if v} == ref["counts"]
    for k, v in ref["weight_share"].items():
        assert a["weight_shares"][k] == pytest.approx(v, rel=1e-5)
    lr = a["low_risk"]
    assert lr["k"] == ref["low"]["k"] and lr["participants"] == ref["participants_low"]
    for key in ("estimate", "ci_lower", "ci_upper", "tau2", "I2"):
        assert lr[key] == pytest.approx(ref["low"][key], rel=1e-5, abs=1e-8)
    levels = {lv["level"]: lv for lv in a["moderator"]["levels"]}
    for name, est, k in zip(ref["subgroups"]["levels"], ref["subgroups"]["estimate"], ref["subgroups"]["k"]):
        assert levels[name]["k"] == k and levels[name]["estimate"] == pytest.approx(est, rel=1e-5)
    assert a["moderator"]["QM"] == pytest.approx(ref["subgroups"]["Q_between"], rel=1e-5)
    assert a["moderator"]["QMp"] == pytest.approx(ref["subgroups"]["p_between"], rel=1e-5)
    egger_p, tf_ci, _ = grade._small_study(analysis.primary_analysis_rows(
        analysis.effect_size_table(arm_table(review), review.definition, {}), review.definition)[2], "REML", "lm")
    assert egger_p == pytest.approx(ref["egger_p"], rel=1e-5)
    assert tf_ci == pytest.approx(ref["trimfill_ci"], rel=1e-4)
