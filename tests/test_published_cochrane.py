"""Reproduces Cochrane CD004366 (Cooney et al. 2013), analyses 1.1 and 1.2, from the trial
records, with the review's own method: RevMan 5's Hedges' adjusted g variance and
DerSimonian-Laird random effects. Published values are read from the review's data folder
(provenance/published-results.yaml and each record's 'published' block), never from our output.
"""

from pathlib import Path

import numpy as np
import pytest
import yaml

from livingmeta.pipeline import analysis, records, tables
from livingmeta.stats import pooling

REVIEW_DIR = Path(__file__).resolve().parents[1] / "data" / "reviews" / "exercise-depression"
PUBLISHED = yaml.safe_load((REVIEW_DIR / "provenance" / "published-results.yaml").read_text())["cochrane_cd004366_2013"]
REVMAN = {"variance": "revman", "correction": "exact"}


@pytest.fixture(scope="module")
def review():
    return records.load_review(REVIEW_DIR)


@pytest.fixture(scope="module")
def effect_rows(review):
    arms = tables.arm_table(review)
    return analysis.effect_size_table(arms, review.definition, REVMAN)


def rows(effect_rows, timepoint):
    return effect_rows[(effect_rows.outcome == "depression") & (effect_rows.timepoint == timepoint)]


def test_analysis_1_1_pooled_result_matches_the_printed_review(effect_rows):
    pub = PUBLISHED["analysis_1_1_post_treatment"]
    sub = rows(effect_rows, "post_treatment")
    assert len(sub) == pub["trials"]
    assert int(sub.n_int.sum() + sub.n_ctl.sum()) == pub["participants"]
    fit = pooling.rma(sub.yi, sub.vi, method="DL", test="z")
    assert round(fit.estimate, 2) == pub["smd"]
    assert [round(fit.ci_lower[0], 2), round(fit.ci_upper[0], 2)] == pub["ci_95"]
    assert round(fit.tau2, 2) == pub["tau2"]
    assert abs(fit.QE - pub["chi2"]) <= 0.5
    assert fit.k - 1 == pub["df"]
    assert abs(fit.I2 - pub["i2_pct"]) <= 0.5
    assert abs(abs(fit.zval[0]) - pub["z"]) <= 0.05


def test_analysis_1_1_every_trial_g_is_within_0_03_of_its_printed_row(review, effect_rows):
    printed = tables.published_table(review)
    printed = printed[printed.timepoint == "post_treatment"].set_index("trial_id")
    sub = rows(effect_rows, "post_treatment").set_index("trial_id")
    diff = (sub.yi - printed.smd.reindex(sub.index)).abs()
    assert diff.notna().all()
    assert diff.max() <= 0.03, diff.sort_values().tail(3)


def test_analysis_1_2_follow_up_matches_within_0_01(effect_rows):
    pub = PUBLISHED["analysis_1_2_follow_up"]
    sub = rows(effect_rows, "follow_up")
    assert len(sub) == pub["trials"]
    fit = pooling.rma(sub.yi, sub.vi, method="DL", test="z")
    np.testing.assert_allclose([fit.estimate, fit.ci_lower[0], fit.ci_upper[0]],
                               [pub["smd"], *pub["ci_95"]], atol=0.01)


def test_metafor_default_variance_would_not_reproduce_revman_weights_exactly(effect_rows, review):
    """The variance convention matters: the review's printed weights follow RevMan's variance."""
    arms = tables.arm_table(review)
    ls = analysis.effect_size_table(arms, review.definition, {"variance": "LS"})
    a, b = rows(ls, "post_treatment"), rows(effect_rows, "post_treatment")
    assert not np.allclose(a.vi, b.vi)


def test_revman_variance_reproduces_every_printed_trial_ci_within_0_03(review, effect_rows):
    printed = tables.published_table(review)
    printed = printed[printed.timepoint == "post_treatment"].set_index("trial_id")
    sub = rows(effect_rows, "post_treatment").set_index("trial_id")
    assert (sub.ci_lower - printed.ci_lower.reindex(sub.index)).abs().max() <= 0.03
    assert (sub.ci_upper - printed.ci_upper.reindex(sub.index)).abs().max() <= 0.03
