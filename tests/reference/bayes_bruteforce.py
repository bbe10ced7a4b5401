"""Independent numerical check of the Bayesian random-effects model: the joint posterior of
(mu, tau) integrated by brute force with scipy's adaptive quadrature (QUADPACK), without the
engine's closed-form marginalisation over mu or its tau grid.

    p(mu, tau | y) ∝ p(tau) p(mu) prod_i N(y_i; mu, v_i + tau^2)

Written separately from livingmeta/stats/bayes.py on purpose; only the prior densities are restated
here (half-normal, half-Cauchy, uniform; normal or flat prior on mu).
"""

import math

import numpy as np
from scipy import integrate, stats


def _log_joint(mu, tau, y, v, tau_prior, mu_prior):
    s = v + tau * tau
    ll = -0.5 * np.sum(np.log(2 * np.pi * s) + (y - mu) ** 2 / s)
    kind, scale = tau_prior
    if kind == "half-normal":
        lp = stats.halfnorm.logpdf(tau, scale=scale)
    elif kind == "half-cauchy":
        lp = stats.halfcauchy.logpdf(tau, scale=scale)
    else:
        lp = 0.0
    if mu_prior is not None:
        lp += stats.norm.logpdf(mu, mu_prior[0], mu_prior[1])
    return ll + lp


def posterior_summaries(y, v, tau_prior, mu_prior=None, mu_points=(0.0,), tau_points=(), tau_max=None):
    """Normalising constant, E[mu], E[tau], P(mu < x) for x in mu_points, P(tau < t) for t in
    tau_points, by nested adaptive quadrature over mu (inner, whole real line) and tau (outer)."""
    y, v = np.asarray(y, float), np.asarray(v, float)
    centre = float(np.average(y, weights=1 / v))
    spread = float(np.sqrt(np.max(v)) + np.ptp(y)) * 6
    tau_max = tau_max or spread * 20
    # a constant shift keeps exp() in range
    shift = _log_joint(centre, float(np.std(y)), y, v, tau_prior, mu_prior)

    def inner(tau, g, upper=None):
        lo, hi = centre - spread - 5 * tau, (centre + spread + 5 * tau) if upper is None else upper
        if hi <= lo:
            return 0.0
        f = lambda mu: g(mu, tau) * math.exp(_log_joint(mu, tau, y, v, tau_prior, mu_prior) - shift)
        return integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-10, limit=200)[0]

    def outer(g, upper=None, tau_hi=tau_max):
        return integrate.quad(lambda t: inner(t, g, upper), 0, tau_hi, epsabs=0, epsrel=1e-9, limit=400,
                              points=[1e-3])[0]

    z = outer(lambda mu, tau: 1.0)
    out = {"mu_mean": outer(lambda mu, tau: mu) / z, "tau_mean": outer(lambda mu, tau: tau) / z,
           "mu_sd": None, "prob_mu_below": {}, "prob_tau_below": {}}
    out["mu_sd"] = math.sqrt(outer(lambda mu, tau: mu * mu) / z - out["mu_mean"] ** 2)
    for x in mu_points:
        out["prob_mu_below"][x] = outer(lambda mu, tau: 1.0, upper=x) / z
    for t in tau_points:
        out["prob_tau_below"][t] = outer(lambda mu, tau: 1.0, tau_hi=t) / z
    return out



def tau_quantiles(y, v, tau_prior, probabilities, mu_prior=None, log_tau_min=-30.0):
    """Quantiles of the marginal posterior of tau: roots in t of P(tau < t) = p (brentq). p(tau | y)
    is the inner quadrature over mu above (no closed form); P(tau < t) integrates it over
    log tau on pieces 0.5 wide from log_tau_min (the mass below is counted at that end: the
    likelihood is flat there) to log tau_max, each piece by adaptive quadrature, and within a piece
    from its left end (so that each step of the root finder integrates a short interval)."""
    from scipy.optimize import brentq
    y, v = np.asarray(y, float), np.asarray(v, float)
    tau_max = float(np.sqrt(np.max(v)) + np.ptp(y)) * 6 * 20
    centre = float(np.average(y, weights=1 / v))
    spread = float(np.sqrt(np.max(v)) + np.ptp(y)) * 6
    # a constant shift keeps exp() in range: the largest log joint density on a grid of tau
    shift = max(_log_joint(centre, t, y, v, tau_prior, mu_prior) for t in np.geomspace(1e-12, tau_max, 200))

    def marginal(tau):  # p(tau | y) up to a constant: the inner integral over mu
        f = lambda mu: math.exp(_log_joint(mu, tau, y, v, tau_prior, mu_prior) - shift)  # noqa: E731
        return integrate.quad(f, centre - spread - 5 * tau, centre + spread + 5 * tau, epsabs=0, epsrel=1e-12,
                              limit=200)[0]

    def piece(a, b):  # the integral of p(tau | y) over log tau from a to b
        return integrate.quad(lambda s: marginal(math.exp(s)) * math.exp(s), a, b, epsabs=0, epsrel=1e-11,
                              limit=200)[0]

    cuts = np.arange(log_tau_min, math.log(tau_max) + 0.5, 0.5)
    below = marginal(math.exp(log_tau_min)) * math.exp(log_tau_min)  # p(tau) ~ constant near 0: its mass ~ t p(t)
    cum = np.concatenate([[below], below + np.cumsum([piece(a, b) for a, b in zip(cuts, cuts[1:])])])
    total = cum[-1]

    def cdf(s):
        j = min(int(np.searchsorted(cuts, s, side="right")) - 1, len(cuts) - 2)
        return (cum[j] + piece(cuts[j], s)) / total

    return [math.exp(brentq(lambda s: cdf(s) - p, cuts[0], cuts[-1], xtol=1e-13, rtol=1e-13)) for p in probabilities]
