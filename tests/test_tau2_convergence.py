"""The iterative tau^2 estimators converge wherever the optimum exists, tightly, at any scale
(issue 20, items 3 and 9).

References: tests/reference/make_reference_convergence.R (metafor 3.8). Three SYNTHETIC 16-trial
binary outcomes with zero cells on which metafor's default Fisher scoring for REML (and, on one,
its empirical Bayes iteration) stops without converging; metafor with the step length halved
(``control = list(stepadj = 0.5)``) and tight thresholds gives the reference. Then the
measurements of the Planck constant from metafor's own tests (sampling variances down to 3.6e-15),
fitted by metafor in units of 1e-7, where its absolute thresholds are meaningful.
"""

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from livingmeta.errors import ConvergenceError, ModelError
from livingmeta.stats import effects, estimators, leaveout, pooling

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "convergence_reference.json").read_text())
CASES = [(name, meth) for name, case in REF["convergence"].items() for meth in case["fits"]]
PLANCK = pd.read_csv(REF_DIR / "data" / "planck_constant.csv")


def test_the_reference_holds_cases_where_metafor_default_fisher_scoring_fails():
    failing = [(n, m) for n, m in CASES if not REF["convergence"][n]["fits"][m]["default_converges"]]
    assert ("seed3638_RR", "REML") in failing and ("seed2938_RR", "EB") in failing


def test_effect_sizes_of_the_synthetic_zero_cell_outcomes_match_escalc():
    d = pd.read_csv(REF_DIR / "data" / "synthetic_convergence.csv")
    for case in REF["convergence"].values():
        rows = d[d.case == case["case"]]
        assert (rows[["ai", "ci"]] == 0).any(axis=None)  # zero cells, corrected by 1/2
        es = effects.binary_effect(rows.ai, rows.n1i, rows.ci, rows.n2i, measure=case["measure"])
        np.testing.assert_allclose(es.yi, case["yi"], rtol=1e-12)
        np.testing.assert_allclose(es.vi, case["vi"], rtol=1e-12)


@pytest.mark.parametrize("name,meth", CASES)
def test_iterative_estimators_match_metafor_where_its_default_fails(name, meth):
    case, ref = REF["convergence"][name], REF["convergence"][name]["fits"][meth]
    fit = pooling.rma(case["yi"], case["vi"], method=meth)
    assert fit.tau2 == pytest.approx(ref["tau2"], rel=1e-8, abs=1e-12)
    assert fit.estimate == pytest.approx(ref["estimate"], rel=1e-8, abs=1e-12)
    assert fit.se[0] == pytest.approx(ref["se"], rel=1e-8)
    if ref["tau2"] > 0:
        assert fit.se_tau2 == pytest.approx(ref["se_tau2"], rel=1e-6)


@pytest.mark.parametrize("meth", ["REML", "ML"])
def test_likelihood_estimators_are_converged_to_1e_10_relative(meth):
    """At the estimate, the score of the (restricted) likelihood is zero to rounding: a tau^2
    1e-9 relative to either side has a lower likelihood."""
    case = REF["convergence"]["seed3638_RR"]
    y, v = np.asarray(case["yi"]), np.asarray(case["vi"])
    t = pooling.rma(y, v, method=meth).tau2
    pr = estimators.Problem(y, v)
    ll = lambda x: estimators.log_likelihood(pr, x, reml=meth == "REML")  # noqa: E731
    assert ll(t) >= ll(t * (1 - 1e-6)) and ll(t) >= ll(t * (1 + 1e-6))
    fit = pr.fit(t)
    score = fit.ypp - (fit.tr_P() if meth == "REML" else fit.W)
    assert abs(score) / (fit.tr_PDPF() if meth == "REML" else fit.W2) <= 1e-10 * t


def test_leave_one_out_converges_where_fisher_scoring_alone_fails():
    case = REF["convergence"]["seed3638_RR"]
    out = leaveout.leave_one_out_fits(np.asarray(case["yi"]), np.asarray(case["vi"]), method="REML")
    single = [pooling.rma(np.delete(case["yi"], i), np.delete(case["vi"], i)).tau2 for i in range(16)]
    np.testing.assert_allclose(out["tau2"], single, rtol=1e-8, atol=1e-14)


def test_an_iteration_that_runs_out_is_a_model_error_a_reader_understands(monkeypatch):
    monkeypatch.setattr(estimators, "MAXITER", 2)
    case = REF["convergence"]["seed3638_RR"]
    with pytest.raises(ModelError) as err:
        pooling.rma(case["yi"], case["vi"], method="REML")
    assert isinstance(err.value, ConvergenceError)
    assert "did not converge" in str(err.value) and "DL" in str(err.value)


# ---- tiny sampling variances (issue 20, item 9) -------------------------------------------------
def planck(table):
    rows = PLANCK[PLANCK.table == table]
    return rows.h.to_numpy(), rows.uh.to_numpy() ** 2


TINY = [(n, r["table"], r["method"]) for n, r in REF["tiny_variances"].items()]


@pytest.mark.parametrize("name,table,meth", TINY)
def test_planck_constant_measurements_fit_as_in_metafor(name, table, meth):
    ref = REF["tiny_variances"][name]
    y, v = planck(table)
    fit = pooling.rma(y, v, method=meth)
    assert fit.QE == pytest.approx(ref["QE"], rel=1e-7)
    assert fit.tau2 == pytest.approx(ref["rescaled"]["tau2"], rel=1e-7, abs=1e-12 * v.min())
    assert fit.estimate == pytest.approx(ref["rescaled"]["estimate"], rel=1e-13)
    assert fit.se[0] == pytest.approx(ref["rescaled"]["se"], rel=1e-7)


def test_q_of_planck_measurements_does_not_depend_on_their_order():
    """metafor's tests/testthat/test_misc_calc_q.r: Q is the same for every order of the rows."""
    for table, expected in (("planck3", 3.442127), ("planck18", 26.63226)):
        y, v = planck(table)
        orders = itertools.permutations(range(len(y))) if len(y) < 5 else (
            np.random.default_rng(1234).permutation(len(y)) for _ in range(100))
        qs = [pooling.rma(y[list(o)], v[list(o)], method="DL").QE for o in orders]
        np.testing.assert_allclose(qs, expected, rtol=1e-6)


@pytest.mark.parametrize("scale", [1e-150, 1e-60, 1.0, 1e60, 1e150])
def test_every_estimator_is_scale_free(scale):
    """y -> s y, v -> s^2 v multiplies tau^2 by s^2 and the estimate by s, at any s."""
    case = REF["convergence"]["seed2938_RR"]
    y, v = np.asarray(case["yi"]), np.asarray(case["vi"])
    for meth in pooling.TAU2_METHODS:
        base = pooling.rma(y, v, method=meth, test="knha")
        fit = pooling.rma(y * scale, v * scale**2, method=meth, test="knha")
        assert fit.tau2 == pytest.approx(base.tau2 * scale**2, rel=1e-8, abs=1e-300)
        assert fit.estimate == pytest.approx(base.estimate * scale, rel=1e-9)
        assert fit.ci_lower[0] == pytest.approx(base.ci_lower[0] * scale, rel=1e-9)
        assert fit.I2 == pytest.approx(base.I2, rel=1e-8, abs=1e-9)
        assert np.isfinite(fit.to_dict()["pi_upper"] or 0.0)


@pytest.mark.parametrize("column,value", [("vi", 1e-300), ("vi", 1e300), ("yi", 1e308)])
def test_values_far_outside_the_data_own_scale_are_still_refused(column, value):
    yi, vi = [0.1, -0.3, 0.25, 0.4, -0.05], [0.02, 0.05, 0.03, 0.04, 0.06]
    (yi if column == "yi" else vi)[2] = value
    with pytest.raises(ModelError, match=f"{column} in row 3"):
        pooling.rma(yi, vi)
