"""Bayesian random-effects meta-analysis (livingmeta.stats.bayes) against R's bayesmeta's published
worked examples (tests/reference/bayesmeta_published.json: Röver 2020 and the package vignette),
against an independent brute-force quadrature over (mu, tau) (bayes_bruteforce_reference.json,
made by tests/reference/make_bayes_reference.py), and against a dense 2-D grid computed here."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from livingmeta.stats.bayes import PriorSpecError, bayes_rma, parse_tau_prior
from livingmeta.errors import ModelError

REF = Path(__file__).parent / "reference"
PUBLISHED = json.loads((REF / "bayesmeta_published.json").read_text())["cases"]
BRUTE = json.loads((REF / "bayes_bruteforce_reference.json").read_text())["cases"]

# bayesmeta evaluates the marginal posterior of tau by adaptive integration (accurate to the
# digits it prints, ~1e-6 relative), but approximates the posteriors of mu, of a new trial and of
# each trial's effect by a discrete normal mixture (the DIRECT algorithm, Röver & Friede 2017,
# J Comput Graph Stat 26:455) whose error is of order 1e-3 posterior SDs; its own two printouts of
# the same Crins fit differ in the 7th digit. The brute-force check below shows our mixture is
# exact to 1e-8, so those quantities are compared at 0.5% of the posterior SD.
TAU_RTOL = 2e-5
MIXTURE_TOL_SD = 5e-3


def _fit(case):
    return bayes_rma(case["yi"], case["vi"], tau_prior=case["tau_prior"], mu_prior=case["mu_prior"])


def test_crins_log_odds_ratios_match_the_printed_escalc_values():
    c = PUBLISHED["crins2014_halfnormal05"]
    np.testing.assert_allclose(c["yi"], c["yi_printed"], atol=5e-5)
    np.testing.assert_allclose(c["vi"], c["vi_printed"], atol=5e-5)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_tau_posterior_reproduces_bayesmeta(name):
    case, fit = PUBLISHED[name], _fit(PUBLISHED[name])
    t = case["tau"]
    assert fit.tau_quantile(0.5)[0] == pytest.approx(t["median"], rel=TAU_RTOL)
    assert fit.tau_mean() == pytest.approx(t["mean"], rel=TAU_RTOL)
    assert fit.tau_sd() == pytest.approx(t["sd"], rel=TAU_RTOL)
    for key in ("q0.025", "q0.95", "q0.975"):
        if key in t:
            assert fit.tau_quantile(float(key[1:]))[0] == pytest.approx(t[key], rel=TAU_RTOL)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_mu_and_predictive_posteriors_reproduce_bayesmeta(name):
    case, fit = PUBLISHED[name], _fit(PUBLISHED[name])
    mu, new = case["mu"], case["theta_new"]
    tol = MIXTURE_TOL_SD * mu["sd"]
    assert fit.mu_quantile(0.5)[0] == pytest.approx(mu["median"], abs=tol)
    assert fit.mu_mean() == pytest.approx(mu["mean"], abs=tol)
    assert fit.mu_sd() == pytest.approx(mu["sd"], abs=tol)
    if "q0.95" in mu:
        assert fit.mu_quantile(0.95)[0] == pytest.approx(mu["q0.95"], abs=tol)
        assert 1 - fit.prob_mu_below(0.0) == pytest.approx(mu["prob_above_0"], abs=1e-3)
    tol = MIXTURE_TOL_SD * new["sd"]
    assert fit.predictive_quantile(0.5)[0] == pytest.approx(new["median"], abs=tol)
    assert fit.predictive_sd() == pytest.approx(new["sd"], abs=tol)


@pytest.mark.parametrize("name", [n for n in sorted(PUBLISHED) if "shrinkage" in PUBLISHED[n]])
def test_shrinkage_estimates_reproduce_bayesmeta(name):
    case, fit = PUBLISHED[name], _fit(PUBLISHED[name])
    s = fit.shrinkage()
    for study, want in case["shrinkage"].items():
        i = int(study) - 1
        tol = MIXTURE_TOL_SD * want["sd"]
        assert s["median"][i] == pytest.approx(want["median"], abs=tol)
        assert s["mean"][i] == pytest.approx(want["mean"], abs=tol)
        assert s["sd"][i] == pytest.approx(want["sd"], abs=tol)


@pytest.mark.parametrize("name", sorted(BRUTE))
def test_engine_matches_independent_bruteforce_quadrature(name):
    case, fit, want = PUBLISHED[name], _fit(PUBLISHED[name]), BRUTE[name]
    assert fit.mu_mean() == pytest.approx(want["mu_mean"], rel=1e-7)
    assert fit.mu_sd() == pytest.approx(want["mu_sd"], rel=1e-7)
    assert fit.tau_mean() == pytest.approx(want["tau_mean"], rel=1e-7)
    for x, p in want["prob_mu_below"]:
        assert fit.prob_mu_below(x) == pytest.approx(p, abs=1e-8)
    for t, p in want["prob_tau_below"]:
        assert fit.tau_cdf(t) == pytest.approx(p, abs=1e-8)


def test_dense_grid_check_with_half_normal_prior_and_flat_mu():
    """A third route: the joint posterior on a 1,500 x 1,500 (mu, tau) grid, Simpson's rule."""
    from scipy.integrate import cumulative_trapezoid, simpson
    rng = np.random.default_rng(7)
    y, v = rng.normal(0.4, 0.3, 9), rng.uniform(0.02, 0.2, 9)
    mu = np.linspace(-1.5, 2.5, 1501)
    tau = np.linspace(0, 3.0, 1501)
    s = v[None, None, :] + tau[None, :, None] ** 2
    loglik = -0.5 * (np.log(s) + (y - mu[:, None, None]) ** 2 / s).sum(-1) - 0.5 * (tau[None, :] / 0.5) ** 2
    dens = np.exp(loglik - loglik.max())
    z = simpson(simpson(dens, x=tau, axis=1), x=mu)
    p_mu = simpson(dens, x=tau, axis=1) / z
    fit = bayes_rma(y, v, tau_prior="half-normal:0.5")
    assert fit.mu_mean() == pytest.approx(simpson(mu * p_mu, x=mu), abs=1e-6)
    cdf = cumulative_trapezoid(p_mu, mu, initial=0)
    for x in (0.1, 0.3, 0.5):  # trapezoid + linear interpolation on a 0.0027 grid: error < 1e-4 here
        assert fit.prob_mu_below(x) == pytest.approx(np.interp(x, mu, cdf), abs=1e-4)
    p_tau = simpson(dens, x=mu, axis=0) / z
    assert fit.tau_mean() == pytest.approx(simpson(tau * p_tau, x=tau), abs=1e-6)


def test_probabilities_are_consistent_with_quantiles():
    c = PUBLISHED["crins2014_halfnormal05"]
    fit = _fit(c)
    for p in (0.01, 0.3, 0.9):
        assert fit.prob_mu_below(fit.mu_quantile(p)[0]) == pytest.approx(p, abs=1e-9)
        assert fit.tau_cdf(fit.tau_quantile(p)[0]) == pytest.approx(p, abs=1e-9)
    d = fit.to_dict(threshold=-1.0)
    assert d["prob_below_threshold"] + d["prob_above_threshold"] == pytest.approx(1.0)
    assert d["mu_ci_lower"] < d["mu_median"] < d["mu_ci_upper"]
    assert d["pred_ci_lower"] < d["mu_ci_lower"] and d["pred_ci_upper"] > d["mu_ci_upper"]


def test_large_k_concentrated_posterior_is_integrated():
    """k = 1,000: the tau posterior is narrow; the grid must find it (posterior of tau near truth)."""
    rng = np.random.default_rng(3)
    k = 1000
    theta = rng.normal(0.25, 0.2, k)
    v = rng.uniform(0.01, 0.1, k)
    fit = bayes_rma(rng.normal(theta, np.sqrt(v)), v)
    lo, hi = fit.tau_quantile([0.005, 0.995])
    assert lo < 0.2 < hi and hi - lo < 0.1
    assert abs(fit.weights.sum() - 1) < 1e-12


@pytest.mark.parametrize("spec", ["half-normal:-1", "half-cauchy", "gamma:2", "turner:pain:nope", "log-normal:1"])
def test_bad_prior_specifications_say_what_is_accepted(spec):
    with pytest.raises(PriorSpecError, match="half-normal:SCALE"):
        parse_tau_prior(spec)


def test_published_prior_tables():
    # Turner et al. 2015 Table IV, mental health indicators, pharmacological vs placebo: LN(-2.12, 1.53^2)
    p = parse_tau_prior("turner:mental-health:pharma-vs-placebo")
    assert p.params == (-2.12, 1.53)
    # the tau density integrates to one (tau^2 log-normal -> tau log-normal with halved parameters)
    from scipy.integrate import quad
    assert quad(lambda t: math.exp(p.logpdf(np.array([t]))[0]), 0, np.inf)[0] == pytest.approx(1, abs=1e-8)
    r = parse_tau_prior("rhodes")
    assert r.params == (-3.44, 2.59)
    assert quad(lambda t: math.exp(r.logpdf(np.array([t]))[0]), 0, np.inf, limit=200)[0] == pytest.approx(1, abs=1e-6)


def test_uniform_tau_prior_with_too_few_trials_is_refused():
    # p(tau | y) ~ tau^-(k-1): k = 4 has a posterior mean of tau but no predictive variance
    with pytest.raises(ModelError, match="at least 5 trials"):
        bayes_rma([0.1, 0.3, 0.2, 0.5], [0.01, 0.02, 0.03, 0.01], tau_prior="uniform")


def test_log_scale_prior_mass_near_zero_is_integrated():
    """Rhodes et al.'s log-t prior puts mass at tau many orders of magnitude below the data's
    scale. Independent check: the posterior CDF of log tau by adaptive quadrature on the log scale
    (prior density of log tau^2 is Student-t, 5 df), likelihood with mu integrated out by hand."""
    from scipy import integrate, optimize, stats
    y, v = np.array([0.1, 0.5, -0.2]), np.array([0.04, 0.09, 0.05])
    prior = parse_tau_prior("rhodes")
    loc, scale = prior.params

    def post(s):  # s = log tau^2
        t2 = math.exp(s)
        w = 1 / (v + t2)
        m = (w @ y) / w.sum()
        ll = -0.5 * (np.log(v + t2).sum() + math.log(w.sum()) + w @ (y - m) ** 2)
        return stats.t.pdf((s - loc) / scale, 5) / scale * math.exp(ll)

    breaks = np.arange(-200.0, 201.0, 5.0)  # quad on 5-unit pieces of log tau^2: the density spans 80 decades

    def mass(a, b):
        cuts = [a, *breaks[(breaks > a) & (breaks < b)], b]
        return sum(integrate.quad(post, x0, x1, epsabs=0, epsrel=1e-12, limit=200)[0] for x0, x1 in zip(cuts, cuts[1:]))

    tail = integrate.quad(post, -np.inf, -200)[0]
    z = tail + mass(-200, 200)
    fit = bayes_rma(y, v, tau_prior=prior)
    for p in (0.025, 0.1, 0.5, 0.975):
        s_p = optimize.brentq(lambda s: (tail + mass(-200, s)) / z - p, -60, 20, xtol=1e-13)
        assert fit.tau_quantile(p)[0] == pytest.approx(math.exp(s_p / 2), rel=1e-6)


def test_config_schema_accepts_exactly_the_priors_the_engine_reads():
    """The config gate (JSON Schema pattern) and parse_tau_prior agree, table keys included."""
    import re

    import yaml
    from livingmeta.stats.bayes import RHODES_2015, RHODES_COMPARISONS, TURNER_2015, TURNER_COMPARISONS
    schema = yaml.safe_load((Path(__file__).parents[1] / "workflow" / "schemas" / "config.schema.yaml").read_text())
    pattern = schema["$defs"]["tau_prior"]["pattern"]
    good = ([f"turner:{o}:{c}" for o in TURNER_2015 for c in TURNER_COMPARISONS]
            + [f"rhodes:{o}:{c}" for o in RHODES_2015 for c in RHODES_COMPARISONS]
            + ["rhodes", "uniform", "half-normal:0.5", "half-cauchy:25", "log-normal:-2.56,1.74", "log-t5:-3.44,2.59"])
    for spec in good:
        assert re.match(pattern, spec), spec
        parse_tau_prior(spec)
    for spec in ("half-normal:0", "half-cauchy:-1", "turner:pain", "rhodes:pain:nonpharma", "gamma:1", "log-t5:1,0"):
        assert not re.match(pattern, spec), spec
        with pytest.raises(PriorSpecError):
            parse_tau_prior(spec)


def test_a_prior_in_standard_deviations_moves_to_the_outcome_units():
    from livingmeta.stats.bayes import in_outcome_units
    hn = in_outcome_units(parse_tau_prior("half-normal:0.5"), 12.0)
    assert (hn.family, hn.params) == ("half-normal", (6.0,)) and "in standard deviations" in hn.description
    ln = in_outcome_units(parse_tau_prior("log-normal:-2.5,1.5"), 12.0)
    assert ln.params == pytest.approx((-2.5 + 2 * np.log(12.0), 1.5))
    # the density of tau_units = 12 * tau_SD: p_units(12 t) = p_SD(t) / 12
    for prior in ("half-cauchy:0.3", "rhodes", "log-normal:-2.5,1.5"):
        p = parse_tau_prior(prior)
        t = np.array([0.05, 0.2, 0.9])
        assert in_outcome_units(p, 12.0).logpdf(12 * t) == pytest.approx(p.logpdf(t) - np.log(12.0))
    assert in_outcome_units(parse_tau_prior("uniform"), 12.0) == parse_tau_prior("uniform")
