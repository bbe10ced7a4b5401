"""The engine reproduces R's metafor (and clubSandwich) number for number.

Reference values come from tests/reference/make_reference.R (metafor on metadat datasets); the
versions used are stored in the JSON. Tolerances: 1e-6 relative for closed-form results, 1e-5
for iterative ones.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from livingmeta.stats import bias, diagnostics, effects, moderators, multilevel, pooling

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "metafor_reference.json").read_text())
CLOSED, ITER = 1e-6, 1e-5


def data(name):
    return pd.read_csv(REF_DIR / "data" / f"{name}.csv")


def close(actual, expected, rtol, atol=1e-10):
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=rtol, atol=atol)


def bcg_rr():
    d = data("bcg")
    es = effects.binary_effect(d.tpos, d.tpos + d.tneg, d.cpos, d.cpos + d.cneg, measure="RR")
    return d, es.yi, es.vi


def normand_smd():
    d = data("normand1999")
    es = effects.hedges_g(d.m1i, d.sd1i, d.n1i, d.m2i, d.sd2i, d.n2i)
    return es.yi, es.vi


def molloy():
    d = data("molloy2014_zcor")
    return d.yi.to_numpy(), d.vi.to_numpy()


DATASETS = {"bcg": lambda: bcg_rr()[1:], "normand": normand_smd, "molloy": molloy}


@pytest.mark.parametrize("vtype", ["LS", "UB", "LS2"])
def test_hedges_g_matches_escalc_smd(vtype):
    d = data("normand1999")
    es = effects.hedges_g(d.m1i, d.sd1i, d.n1i, d.m2i, d.sd2i, d.n2i, variance=vtype)
    close(es.yi, REF["escalc_smd"][vtype]["yi"], CLOSED)
    close(es.vi, REF["escalc_smd"][vtype]["vi"], CLOSED)


@pytest.mark.parametrize("measure", ["RR", "OR", "RD"])
def test_binary_effects_match_escalc(measure):
    d = data("bcg")
    es = effects.binary_effect(d.tpos, d.tpos + d.tneg, d.cpos, d.cpos + d.cneg, measure=measure)
    close(es.yi, REF["escalc_binary"][measure]["yi"], CLOSED)
    close(es.vi, REF["escalc_binary"][measure]["vi"], CLOSED)


@pytest.mark.parametrize("measure", ["RR", "OR", "RD"])
def test_zero_cells_get_the_half_correction_like_escalc(measure):
    d = data("synthetic_zero_cells")
    es = effects.binary_effect(d.ai, d.n1i, d.ci, d.n2i, measure=measure)
    close(es.yi, REF["escalc_zero"][measure]["yi"], CLOSED)
    close(es.vi, REF["escalc_zero"][measure]["vi"], CLOSED)


@pytest.mark.parametrize("measure,standardizer", [("SMCR", "pre"), ("SMCC", "change")])
def test_standardized_mean_change_matches_escalc(measure, standardizer):
    d = data("synthetic_pre_post")
    es = effects.smd_change(d.m_post, d.m_pre, d.sd_post, d.sd_pre, d.ni, d.ri, standardizer=standardizer)
    close(es.yi, REF["escalc_change"][measure]["yi"], CLOSED)
    close(es.vi, REF["escalc_change"][measure]["vi"], CLOSED)


RMA_CASES = sorted(REF["rma"])


@pytest.mark.parametrize("case", RMA_CASES)
def test_rma_matches_metafor(case):
    dname, method, test = case.split("_")
    yi, vi = DATASETS[dname]()
    ref = REF["rma"][case]
    fit = pooling.rma(yi, vi, method=method, test=test)
    tol = ITER if method in ("REML", "ML", "PM", "EB") else CLOSED
    close(fit.tau2, ref["tau2"], tol)
    if method != "FE":
        close(fit.se_tau2, ref["se_tau2"], tol)
    close(fit.beta, ref["beta"], tol)
    close(fit.se, ref["se"], tol)
    close(fit.ci_lower, ref["ci_lb"], tol)
    close(fit.ci_upper, ref["ci_ub"], tol)
    close(fit.pval, ref["pval"], tol)
    close([fit.QE, fit.QEp, fit.I2, fit.H2], [ref["QE"], ref["QEp"], ref["I2"], ref["H2"]], tol)
    pr = fit.predict()
    if method == "FE":  # metafor gives no prediction interval for a common-effect model
        return
    close([pr["pi_lower"], pr["pi_upper"]], [ref["pi_lb"], ref["pi_ub"]], tol)
    if "confint" in ref:
        ci = fit.confint_tau2()
        for key in ("tau2", "I2", "H2"):
            close(ci[key], ref["confint"][key], ITER)


@pytest.mark.parametrize("case", sorted(REF["metareg"]))
def test_meta_regression_matches_metafor(case):
    ref = REF["metareg"][case]
    if case.startswith("molloy"):
        d = data("molloy2014_zcor")
        yi, vi, mods, method, test = d.yi, d.vi, d[["meanage", "quality"]], "REML", "z"
    else:
        d, yi, vi = bcg_rr()
        parts = case.split("_")
        method, test = parts[-2], parts[-1]
        mods = {"ablat_year": d[["ablat", "year"]], "ablat_alloc": d[["ablat", "alloc"]]}.get(
            "_".join(parts[1:3]), d[["alloc"]])
    fit = moderators.meta_regression(yi, vi, mods, method=method, test=test)
    close(fit.tau2, ref["tau2"], ITER)
    close(fit.beta, ref["beta"], ITER)
    close(fit.se, ref["se"], ITER)
    close(fit.pval, ref["pval"], ITER)
    close([fit.QM, fit.QMp], [ref["QM"], ref["QMp"]], ITER)
    close([fit.QE, fit.QEp, fit.I2, fit.H2], [ref["QE"], ref["QEp"], ref["I2"], ref["H2"]], ITER)
    close(fit.ci_lower, ref["ci_lb"], ITER)
    close(fit.ci_upper, ref["ci_ub"], ITER)
    if method == "FE":  # metafor reports no R^2 (and no tau^2 SE) for a fixed-effects model
        assert fit.R2 is None
        return
    close(fit.se_tau2, ref["se_tau2"], ITER)
    close(fit.R2, ref["R2"], ITER, atol=1e-7)


@pytest.mark.parametrize("dname", ["egger2001", "bcg"])
def test_small_study_tests_match_metafor(dname):
    ref = REF["bias"][dname]
    if dname == "bcg":
        _, yi, vi = bcg_rr()
    else:
        d = data("egger2001_or")
        yi, vi = d.yi.to_numpy(), d.vi.to_numpy()
    lm = bias.egger_test(yi, vi, model="lm")
    close([lm.statistic, lm.pval, lm.df, lm.limit_estimate], [ref["egger_lm"][k] for k in ("stat", "pval", "df", "est")], CLOSED)
    mixed = bias.egger_test(yi, vi, model="rma")
    close([mixed.statistic, mixed.pval, mixed.limit_estimate], [ref["egger_rma"][k] for k in ("stat", "pval", "est")], ITER)
    rank = bias.begg_test(yi, vi)
    close([rank.tau, rank.pval], [ref["rank"]["tau"], ref["rank"]["pval"]], CLOSED)
    for est in ("L0", "R0"):
        tf = bias.trim_and_fill(yi, vi, estimator=est)
        r = ref[f"trimfill_{est}"]
        assert tf.k0 == r["k0"] and tf.side == r["side"]
        close([tf.fit.estimate, tf.fit.se[0], tf.fit.tau2], [r["beta"], r["se"], r["tau2"]], ITER)
    assert bias.failsafe_n(yi, vi)["fsn"] == ref["fsn_rosenthal"]
    assert bias.failsafe_n(yi, vi, kind="Orwin")["fsn"] == ref["fsn_orwin"]


def test_leave_one_out_influence_baujat_and_cumulative_match_metafor():
    d, yi, vi = bcg_rr()
    fit = pooling.rma(yi, vi)
    ref = REF["diagnostics"]
    loo = diagnostics.leave_one_out(fit)
    # metafor's leave1out names its Q column Q; livingmeta's is QE (the one name per statistic)
    for col, ref_col in (("estimate", "estimate"), ("se", "se"), ("tau2", "tau2"), ("I2", "I2"), ("QE", "Q")):
        close(loo[col], ref["leave1out"][ref_col], ITER)
    inf = diagnostics.influence(fit)
    for col in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "QE_del", "hat", "weight"):
        close(inf[col], ref["influence"][col], ITER)
    close(inf["dfbs_intrcpt"], ref["influence"]["dfbs"], ITER)
    bj = diagnostics.baujat(fit)
    close(bj["x_heterogeneity"], ref["baujat"]["x"], ITER)
    close(bj["y_influence"], ref["baujat"]["y"], ITER)
    order = np.asarray(ref["cumul"]["order"]) - 1
    cu = diagnostics.cumulative(fit, order)
    close(cu["estimate"], ref["cumul"]["estimate"], ITER)
    close(cu["ci_lower"], ref["cumul"]["ci_lb"], ITER)
    close(cu["tau2"], ref["cumul"]["tau2"], ITER)


def test_influence_with_a_moderator_matches_metafor():
    d, yi, vi = bcg_rr()
    fit = pooling.rma(yi, vi, mods=d[["ablat"]])
    ref = REF["diagnostics"]["influence_ablat"]
    inf = diagnostics.influence(fit)
    for col in ("rstudent", "cook_d", "cov_r", "dffits", "hat"):
        close(inf[col], ref[col], ITER)
    close(inf["dfbs_ablat"], ref["dfbs_ablat"], ITER)


@pytest.mark.parametrize("measure", ["RR", "OR", "RD"])
def test_mantel_haenszel_matches_rma_mh(measure):
    d = data("bcg")
    mh = pooling.mantel_haenszel(d.tpos, d.tpos + d.tneg, d.cpos, d.cpos + d.cneg, measure=measure)
    ref = REF["mh"][measure]
    close([mh.estimate, mh.se, mh.QE, mh.I2], [ref["beta"], ref["se"], ref["QE"], ref["I2"]], CLOSED)


def konstantopoulos():
    return data("konstantopoulos2011")


def test_three_level_model_matches_rma_mv():
    d = konstantopoulos()
    ref = REF["threelevel"]["intercept"]
    fit = multilevel.three_level(d.yi, d.vi, d.district)
    close(fit.beta, ref["beta"], ITER)
    close(fit.se, ref["se"], ITER)
    close([fit.sigma2_between, fit.sigma2_within], ref["sigma2"], ITER)
    close([fit.QE, fit.pval[0], fit.ci_lower[0], fit.ci_upper[0]], [ref["QE"], ref["pval"], ref["ci_lb"], ref["ci_ub"]], ITER)


def test_three_level_meta_regression_matches_rma_mv():
    d = konstantopoulos()
    ref = REF["threelevel"]["year"]
    fit = multilevel.three_level(d.yi, d.vi, d.district, mods=pd.DataFrame({"year": d.year - d.year.mean()}))
    close(fit.beta, ref["beta"], ITER)
    close(fit.se, ref["se"], ITER)
    close([fit.sigma2_between, fit.sigma2_within], ref["sigma2"], ITER)
    close(fit.QM, ref["QM"], ITER)


@pytest.mark.parametrize("case", ["cr2_intercept", "cr2_year"])
def test_cr2_satterthwaite_on_the_three_level_model_matches_clubsandwich(case):
    d = konstantopoulos()
    mods = pd.DataFrame({"year": d.year - d.year.mean()}) if case == "cr2_year" else None
    rob = multilevel.robust_three_level(multilevel.three_level(d.yi, d.vi, d.district, mods=mods))
    ref = REF["threelevel"][case]
    close(rob.beta, ref["beta"], ITER)
    close(rob.se, ref["se"], ITER)
    close(rob.df, ref["df"], ITER)
    close(rob.pval, ref["pval"], ITER)


def test_cr2_on_a_clustered_random_effects_model_matches_clubsandwich():
    d = konstantopoulos()
    fit = pooling.rma(d.yi, d.vi)
    rob = multilevel.robust_univariate(fit, d.district)
    ref = REF["threelevel"]["cr2_univariate"]
    close([fit.tau2, rob.beta[0], rob.se[0], rob.df[0], rob.pval[0]],
          [ref["tau2"], ref["beta"], ref["se"], ref["df"], ref["pval"]], ITER)


def test_exact_permutation_test_matches_permutest():
    d, yi, vi = bcg_rr()
    fit = pooling.rma(yi[:6], vi[:6], mods=d[["ablat"]].iloc[:6])
    perm = moderators.permutation_test(fit, exact=True)
    ref = REF["permutation"]
    assert perm["iterations"] == 720
    close([perm["QM"], perm["pval"]], [ref["QM"], ref["QMp"]], ITER)


def test_approximate_permutation_test_is_seeded_and_close_to_exact():
    d, yi, vi = bcg_rr()
    fit = pooling.rma(yi[:6], vi[:6], mods=d[["ablat"]].iloc[:6])
    a = moderators.permutation_test(fit, iterations=400, exact=False, seed=1)
    b = moderators.permutation_test(fit, iterations=400, exact=False, seed=1)
    assert a == b
    assert abs(a["pval"] - REF["permutation"]["QMp"]) < 0.04  # ~4 binomial SEs at 400 draws


def test_smd_from_t_matches_escalc_ti():
    d = data("normand1999")
    ref = REF["escalc_t"]
    es = effects.smd_from_t(ref["ti"], d.n1i, d.n2i)
    close(es.yi, ref["yi"], CLOSED)
    close(es.vi, ref["vi"], CLOSED)


def test_subgroup_analysis_with_separate_tau2_matches_metafor():
    d, yi, vi = bcg_rr()
    ref = REF["subgroups_alloc"]
    sg = moderators.subgroup_analysis(yi, vi, d.alloc, moderator="alloc")
    lv = sg.levels.set_index("level").loc[ref["levels"]]
    close(lv.estimate, ref["estimate"], ITER)
    close(lv.se, ref["se"], ITER)
    close(lv.tau2, ref["tau2"], ITER)
    close([sg.QM, sg.QMp], [ref["Q_between"], ref["p_between"]], ITER)



def test_cluster_robust_prediction_interval_matches_metafor_predict_on_robust():
    """metafor's predict() on robust(..., clubSandwich = TRUE): CR2 SE, t(df_CR2) critical value,
    prediction interval pred +/- qt(.975, df) sqrt(se_CR2^2 + tau^2) (issue 14, item 15)."""
    d, yi, vi = bcg_rr()
    fit = pooling.rma(yi, vi)
    rob = multilevel.robust_univariate(fit, d.trial)
    pr = rob.predict()
    ref = REF["robust_predict"]["bcg_trial"]
    close([pr["pred"], pr["se"], pr["ci_lower"], pr["ci_upper"], pr["pi_lower"], pr["pi_upper"], rob.df[0]],
          [ref["pred"], ref["se"], ref["ci_lb"], ref["ci_ub"], ref["pi_lb"], ref["pi_ub"], ref["df"]], ITER)
