"""Dependent effects (livingmeta/stats/dependent.py) against R's metafor 3.8.1 and clubSandwich:
aggregation within studies (aggregate.escalc, compound symmetry), the random-effects model on the
aggregates, and the three-level model with CR2 inference, all on the Metapsy depression-psyctr
database 24.0.2 using the database's own g (.g, .g_se). Reference values:
tests/reference/make_reference_dependent.R -> dependent_reference.json."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from livingmeta.stats import multilevel, pooling
from livingmeta.stats.dependent import aggregate_effects, dependent_sensitivity, multilevel_i2, one_effect_per_trial
from livingmeta.errors import EffectSizeError
from shared_data import shared_path

ROOT = Path(__file__).resolve().parents[1]
REF = json.loads((ROOT / "tests" / "reference" / "dependent_reference.json").read_text())


@pytest.fixture(scope="module")
def database():
    d = pd.read_csv(shared_path("metapsy-depression-psyctr/24.0.2/data.csv"), sep=";", decimal=",",
                    na_values=["NA"], keep_default_na=False)
    return pd.DataFrame({"study": d.study, "yi": d[".g"], "vi": d[".g_se"] ** 2})


@pytest.mark.parametrize("rho", [0.5, 0.6])
def test_aggregation_matches_metafor_aggregate(database, rho):
    ref = REF[f"rho_{rho}"]
    agg = aggregate_effects(database.yi, database.vi, database.study, rho=rho).set_index("cluster")
    assert len(agg) == ref["k"] == 480
    # the reference keeps moments of the 480 aggregated effects, not the effects (derived from the database)
    yi, vi = agg.yi.to_numpy(), agg.vi.to_numpy()
    ours = {"yi": yi.sum(), "yi2": (yi ** 2).sum(), "vi": vi.sum(), "vi2": (vi ** 2).sum(), "yivi": (yi * vi).sum(),
            "yi_over_vi": (yi / vi).sum()}
    assert ours == pytest.approx(ref["moments"], rel=1e-10)
    fit = pooling.rma(agg.yi, agg.vi, method="REML", test="knha")
    pooled = ref["pooled"]
    assert fit.estimate == pytest.approx(pooled["estimate"], rel=1e-6)
    assert fit.ci_lower[0] == pytest.approx(pooled["ci_lower"], rel=1e-6)
    assert fit.tau2 == pytest.approx(pooled["tau2"], rel=1e-5)
    assert fit.I2 == pytest.approx(pooled["I2"], rel=1e-5)


def test_three_level_with_cr2_matches_rma_mv_and_club_sandwich(database):
    ref = REF["three_level"]
    fit = multilevel.three_level(database.yi, database.vi, database.study)
    assert fit.estimate == pytest.approx(ref["estimate"], rel=1e-6)
    assert [fit.sigma2_between, fit.sigma2_within] == pytest.approx(ref["sigma2"], rel=1e-4)
    rob = multilevel.robust_three_level(fit)
    assert rob.se[0] == pytest.approx(ref["cr2_se"], rel=1e-5)
    assert rob.df[0] == pytest.approx(ref["cr2_df"], rel=1e-4)


def test_sensitivity_rows_use_the_three_level_model_and_all_effects(database):
    table = database.rename(columns={"study": "trial_id"})
    rows = dependent_sensitivity(table)
    three, naive = rows
    assert three["k"] == 900 and three["n_clusters"] == 480
    assert three["estimate"] == pytest.approx(REF["three_level"]["estimate"], rel=1e-6)
    assert three["ci_lower"] < three["estimate"] < three["ci_upper"]
    assert 0 < three["I2"] < 100
    assert three["I2"] == pytest.approx(multilevel_i2(table.vi, *REF["three_level"]["sigma2"]), rel=1e-3)
    assert naive["k"] == 900
    # no trial with several effects: no dependent-effects rows
    assert dependent_sensitivity(table.drop_duplicates("trial_id")) == []


def test_one_effect_per_trial_keeps_single_effects_and_aggregates_the_rest():
    table = pd.DataFrame({"trial_id": ["a", "a", "b"], "label": ["A", "A", "B"], "year": [2000, 2000, 2001],
                          "outcome": "o", "outcome_type": "continuous", "timepoint": "post", "measure": "SMD",
                          "effect_id": ["x", "y", ""], "source": "s", "n_int": [10, 12, 20], "n_ctl": [11, 11, 20],
                          "yi": [0.2, 0.5, 0.1], "vi": [0.04, 0.05, 0.02]})
    out = one_effect_per_trial(table, rho=0.6).set_index("trial_id")
    assert len(out) == 2
    assert out.loc["b", "yi"] == 0.1 and out.loc["b", "vi"] == 0.02
    ref = aggregate_effects([0.2, 0.5], [0.04, 0.05], ["a", "a"], rho=0.6)
    assert out.loc["a", "yi"] == ref.yi[0] and out.loc["a", "n_int"] == 12
    with pytest.raises(EffectSizeError):
        aggregate_effects([0.1], [0.1], ["a"], rho=1.5)
