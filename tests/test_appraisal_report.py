"""The appraisal sections of the report say what the analysis files hold: trials not assessed are
named and counted, footnotes follow the ratings, and the methods print the thresholds in use."""

import pytest
import yaml

from livingmeta import analysis, appraisal, appraisal_report, grade
from livingmeta.records import load_review
from livingmeta.tables import arm_table

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
    assert sec == {"editions": [], "text": "No counts given."}
