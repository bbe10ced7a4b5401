"""Bayesian random-effects meta-analysis: the normal-normal hierarchical model, computed the way
R's bayesmeta does it (Röver 2020, J Stat Softw 93(6), section 2.4).

    y_i | theta_i ~ N(theta_i, v_i),   theta_i | mu, tau ~ N(mu, tau^2)

Given tau, the effect mu has a closed-form normal posterior (exact marginalisation over mu, with a
uniform or a normal prior on mu), so the joint posterior reduces to the one-dimensional marginal
posterior of tau. That is integrated numerically over s = log tau, where priors of any scale and
the likelihood's own scale are alike smooth: a scan of s (steps of 0.5, from far below the smaller
of the data's standard error and the prior's scale to where the posterior has vanished), the mode
refined and its curvature measured, then Gauss-Legendre panels, each about one posterior SD of s
wide, over the part of s where the posterior is not negligible. So the grid follows the
posterior's mass whatever the prior's scale (a half-normal prior of scale 1e-3 or 1e12 alike).
Every posterior of interest (mu, a new trial's effect, each trial's shrunken effect) is then a
finite mixture of normals over the tau nodes. No MCMC: results are deterministic. Every array is
(nodes x trials) in blocks of at most BLOCK elements, so memory is linear in the number of trials.

Priors for tau (``parse_tau_prior``):
  half-normal:SCALE, half-cauchy:SCALE   weakly informative (Röver et al. 2021, Res Synth Methods 12:448)
  uniform                                improper, on [0, inf) (needs k >= 3)
  log-normal:MU,SIGMA                    on tau^2 (the form of Turner et al. 2015)
  log-t5:LOCATION,SCALE                  on tau^2, Student-t with 5 df on log tau^2 (Rhodes et al. 2015)
  turner:OUTCOME:COMPARISON              Turner et al. 2015, Stat Med 34:984, Table IV (log OR)
  rhodes:OUTCOME:COMPARISON, rhodes      Rhodes et al. 2015, J Clin Epidemiol 68:52, Table 3 (SMD);
                                         plain ``rhodes`` is their general setting
The default, half-normal with scale 0.5, is the weakly informative prior Röver et al. (2021) and
Friede et al. (2017, Biom J 59:658) use for log odds ratios; standardised mean differences live
on a similar scale. It puts prior probability 0.95 on tau < 0.98, i.e. anything short of "fairly
extreme" heterogeneity. For risk differences choose a smaller scale in config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from livingmeta.stats.dist import norm_cdf
from livingmeta.errors import ModelError

DEFAULT_TAU_PRIOR = "half-normal:0.5"

# Turner et al. (2015), Table IV: log-normal predictive distributions for tau^2 in meta-analyses of
# log odds ratios, by outcome type and type of comparison: (mean, sd) of log tau^2. Values as
# transcribed in R's bayesmeta 3.4 (TurnerEtAlParameters), read from its public source.
TURNER_COMPARISONS = ("pharma-vs-placebo", "pharma-vs-pharma", "nonpharma-vs-placebo", "nonpharma-vs-pharma",
                      "nonpharma-vs-nonpharma")
TURNER_2015 = {  # outcome: ((mean, sd) for each comparison in TURNER_COMPARISONS)
    "all-cause-mortality": ((-3.95, 1.34), (-4.18, 1.41), (-4.17, 1.55), (-2.92, 1.02), (-3.50, 1.26)),
    "obstetric": ((-3.52, 1.74), (-3.75, 1.79), (-3.74, 1.91), (-2.49, 1.50), (-3.08, 1.68)),
    "cause-specific-mortality": ((-3.71, 1.74), (-3.95, 1.79), (-3.93, 1.91), (-2.68, 1.51), (-3.27, 1.68)),
    "resource-use": ((-2.34, 1.74), (-2.58, 1.79), (-2.56, 1.91), (-1.31, 1.50), (-1.90, 1.68)),
    "surgical-device": ((-2.14, 1.74), (-2.37, 1.79), (-2.36, 1.91), (-1.11, 1.50), (-1.69, 1.68)),
    "withdrawals": ((-2.99, 1.74), (-3.23, 1.79), (-3.21, 1.91), (-1.96, 1.51), (-2.55, 1.68)),
    "internal-structure": ((-2.71, 1.74), (-2.94, 1.79), (-2.93, 1.92), (-1.67, 1.51), (-2.26, 1.68)),
    "general-physical-health": ((-2.29, 1.53), (-2.53, 1.58), (-2.51, 1.72), (-1.26, 1.25), (-1.85, 1.46)),
    "adverse-events": ((-1.87, 1.52), (-2.10, 1.58), (-2.10, 1.71), (-0.84, 1.24), (-1.43, 1.45)),
    "infection": ((-2.49, 1.52), (-2.73, 1.58), (-2.71, 1.71), (-1.46, 1.24), (-2.05, 1.45)),
    "signs-symptoms": ((-2.06, 1.51), (-2.29, 1.58), (-2.28, 1.71), (-1.03, 1.24), (-1.61, 1.45)),
    "pain": ((-1.83, 1.52), (-2.06, 1.58), (-2.05, 1.71), (-0.80, 1.25), (-1.38, 1.45)),
    "quality-of-life": ((-2.54, 1.54), (-2.78, 1.60), (-2.77, 1.73), (-1.51, 1.27), (-2.10, 1.47)),
    "mental-health": ((-2.12, 1.53), (-2.35, 1.60), (-2.34, 1.72), (-1.09, 1.27), (-1.67, 1.47)),
    "biological-markers": ((-1.77, 1.52), (-2.00, 1.58), (-1.99, 1.71), (-0.74, 1.24), (-1.33, 1.45)),
    "subjective": ((-2.70, 1.52), (-2.93, 1.58), (-2.92, 1.71), (-1.67, 1.25), (-2.26, 1.45)),
}
# Rhodes et al. (2015), Table 3 (medical area "other"): log-t (5 df) predictive distributions for
# tau^2 in meta-analyses of SMDs: (location, scale) of log tau^2. Values as transcribed in R's
# bayesmeta 3.4 (RhodesEtAlParameters). Note: bayesmeta lists -3.85 for mental health /
# non-pharmacological, off the table's otherwise additive pattern (-2.85 would fit it); not
# checked against the paper here, so confirm it there before relying on that cell.
RHODES_COMPARISONS = ("pharma-vs-placebo", "pharma-vs-pharma", "nonpharma")
RHODES_2015 = {
    "obstetric": ((-4.13, 2.34), (-4.40, 2.31), (-3.99, 2.11)),
    "resource-use": ((-2.55, 2.73), (-2.83, 2.70), (-2.41, 2.57)),
    "internal-structure": ((-2.43, 2.50), (-2.70, 2.46), (-2.29, 2.32)),
    "general-physical-health": ((-3.16, 2.50), (-3.44, 2.44), (-3.02, 2.27)),
    "signs-symptoms": ((-3.00, 2.50), (-3.27, 2.47), (-2.86, 2.33)),
    "mental-health": ((-2.99, 2.16), (-3.27, 2.14), (-3.85, 1.93)),
    "biological-marker": ((-3.41, 2.83), (-3.68, 2.78), (-3.27, 2.66)),
    "subjective": ((-2.76, 2.58), (-3.03, 2.59), (-2.62, 2.41)),
}
RHODES_2015_GENERAL = (-3.44, 2.59)  # Rhodes et al. 2015, section 3.3: no covariates

NODES_PER_PANEL = 16
SCAN_STEP = 0.5       # spacing of the first scan over s = log tau
MAX_PANELS = 400
NEGLIGIBLE = 36.0     # log-density below the maximum at which posterior mass is ignored (e^-36 ~ 2e-16)
LOG_FAMILIES = ("log-normal", "log-t5")
FLAT_BELOW = 1e-8     # tau below 1e-8 x the median SE: the likelihood is that of tau = 0 to double precision
UNIFORM_TAU_MIN_K = 5
# Prior scales double precision can integrate: tau (and mu's SD) from 1e-100 to 1e100 keeps tau^2,
# 1/tau^2 and the likelihood's sums inside the floating-point range. A narrower prior is tau = 0
# (a common-effect model), a wider one the uniform prior, to every digit a report prints.
SCALE_RANGE = (1e-100, 1e100)
LOG_LOCATION_MAX = 2 * math.log(SCALE_RANGE[1])  # |location| of a prior on log tau^2
BLOCK = 1 << 21       # elements of one (nodes x trials) block: 16 MB


class PriorSpecError(ModelError):
    """A prior specification livingmeta cannot read."""


@dataclass(frozen=True)
class TauPrior:
    """A prior on the heterogeneity standard deviation tau, as a vectorised log-density."""
    family: str
    params: tuple
    description: str
    proper: bool = True

    def logpdf(self, tau):
        tau = np.asarray(tau, dtype=float)
        f, p = self.family, self.params
        with np.errstate(divide="ignore", invalid="ignore"):
            if f == "half-normal":
                return 0.5 * math.log(2 / math.pi) - math.log(p[0]) - 0.5 * (tau / p[0]) ** 2
            if f == "half-cauchy":
                return math.log(2 / math.pi) - math.log(p[0]) - np.log1p((tau / p[0]) ** 2)
            if f == "uniform":
                return np.zeros_like(tau)
            log_tau = np.log(np.where(tau > 0, tau, np.nan))
            if f == "log-normal":  # log tau^2 ~ N(m, s^2)  <=>  log tau ~ N(m/2, (s/2)^2)
                m, s = p[0] / 2, p[1] / 2
                out = -0.5 * math.log(2 * math.pi) - math.log(s) - log_tau - 0.5 * ((log_tau - m) / s) ** 2
                return np.where(tau > 0, out, -np.inf)  # density 0 at tau = 0
            if f == "log-t5":  # log tau^2 ~ location + scale * t_5
                m, s, nu = p[0] / 2, p[1] / 2, 5.0
                z = (log_tau - m) / s
                const = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
                out = const - (nu + 1) / 2 * np.log1p(z * z / nu) - math.log(s) - log_tau
                return np.where(tau > 0, out, -np.inf)  # a point, no mass, at tau = 0
        raise PriorSpecError(f"unknown tau prior family {f!r}")

    def cdf(self, tau: float) -> float:
        """Prior P(tau' < tau), for the log-scale families (where the integration needs it)."""
        from scipy import special
        m, s = self.params[0] / 2, self.params[1] / 2
        z = (math.log(tau) - m) / s
        if self.family == "log-normal":
            return float(special.ndtr(z))
        if self.family == "log-t5":
            return float(special.stdtr(5, z))
        raise PriorSpecError(f"no CDF for the {self.family} prior")

    def ppf(self, q: float) -> float:
        """Prior quantile of tau, for the log-scale families."""
        from scipy import special
        m, s = self.params[0] / 2, self.params[1] / 2
        z = special.ndtri(q) if self.family == "log-normal" else special.stdtrit(5, q)
        return float(math.exp(m + s * z))

    def scales(self) -> tuple[float, float] | None:
        """The smallest and largest tau at which the prior changes shape (where its mass starts and
        ends), to place the integration's first scan; None for the uniform prior."""
        f, p = self.family, self.params
        if f in ("half-normal", "half-cauchy"):
            return p[0], p[0]
        if f in LOG_FAMILIES:
            return math.exp(p[0] / 2 - 3 * p[1]), math.exp(p[0] / 2 + 3 * p[1])
        return None


def _within_range(text: str, what: str, value: float) -> None:
    lo, hi = SCALE_RANGE
    if not lo <= value <= hi:
        raise PriorSpecError(
            f"prior {text!r}: a {what} of {value:g} is outside {lo:g} to {hi:g}, the range double precision can "
            f"integrate; a prior {'that narrow fixes the value' if value < lo else 'that wide is flat'} to every digit "
            f"a report prints: give a {what} within the range{' (or the uniform prior)' if value > hi else ''}")


def parse_tau_prior(spec: str) -> TauPrior:
    """``half-normal:0.5`` -> TauPrior. Raises PriorSpecError with the accepted forms."""
    text = str(spec).strip()
    name, _, rest = text.partition(":")
    name = name.lower()
    forms = ("half-normal:SCALE, half-cauchy:SCALE, uniform, log-normal:MU,SIGMA, log-t5:LOCATION,SCALE, "
             "turner:OUTCOME:COMPARISON, rhodes[:OUTCOME:COMPARISON]")
    try:
        if name in ("half-normal", "half-cauchy"):
            scale = float(rest)
            if not (scale > 0 and math.isfinite(scale)):
                raise ValueError
            _within_range(text, "scale", scale)
            return TauPrior(name, (scale,), f"{name} with scale {scale:g}")
        if name == "uniform" and not rest:
            return TauPrior("uniform", (), "uniform (improper) on [0, \u221e)", proper=False)
        if name in ("log-normal", "log-t5"):
            a, b = (float(x) for x in rest.split(","))
            if not (b > 0 and math.isfinite(a) and math.isfinite(b)):
                raise ValueError
            if abs(a) > LOG_LOCATION_MAX or b > LOG_LOCATION_MAX / 6:
                raise PriorSpecError(
                    f"tau prior {text!r}: the location must lie within \u00b1{LOG_LOCATION_MAX:.0f} and the scale at most "
                    f"{LOG_LOCATION_MAX / 6:.0f} (tau^2 between {SCALE_RANGE[0] ** 2:g} and {SCALE_RANGE[1] ** 2:g}), "
                    "the range double precision can integrate")
            word = "log-normal" if name == "log-normal" else "log-t (5 df)"
            return TauPrior(name, (a, b), f"{word} on \u03c4\u00b2 with parameters {a:g}, {b:g}")
        if name == "turner":
            outcome, comparison = rest.split(":")
            m, s = TURNER_2015[outcome][TURNER_COMPARISONS.index(comparison)]
            return TauPrior("log-normal", (m, s), f"log-normal on \u03c4\u00b2 (mean {m:g}, SD {s:g} of log \u03c4\u00b2): "
                            f"Turner et al. 2015, {outcome.replace('-', ' ')} outcomes, {comparison.replace('-', ' ')}")
        if name == "rhodes":
            if not rest:
                m, s = RHODES_2015_GENERAL
                where = "general setting"
            else:
                outcome, comparison = rest.split(":")
                m, s = RHODES_2015[outcome][RHODES_COMPARISONS.index(comparison)]
                where = f"{outcome.replace('-', ' ')} outcomes, {comparison.replace('-', ' ')}"
            return TauPrior("log-t5", (m, s), f"log-t (5 df) on \u03c4\u00b2 (location {m:g}, scale {s:g}): "
                            f"Rhodes et al. 2015, {where}")
    except PriorSpecError:
        raise
    except (ValueError, KeyError):
        pass
    known = ""
    if name == "turner":
        known = f" Outcomes: {', '.join(TURNER_2015)}; comparisons: {', '.join(TURNER_COMPARISONS)}."
    elif name == "rhodes":
        known = f" Outcomes: {', '.join(RHODES_2015)}; comparisons: {', '.join(RHODES_COMPARISONS)}."
    raise PriorSpecError(f"tau prior {text!r} not understood; use one of {forms}.{known}")


def in_outcome_units(prior: TauPrior, sd: float) -> TauPrior:
    """``prior``, stated for tau in standard deviations (the scale of a standardised mean
    difference), as the same prior for tau in an outcome's own units, where tau_units = sd * tau_SD
    (a mean difference): a half-normal or half-Cauchy scale is multiplied by ``sd``; a log-normal
    or log-t prior on tau^2 moves its location by log sd^2; the improper uniform is unchanged."""
    if not (sd > 0 and math.isfinite(sd)):
        raise ModelError(f"the outcome's standard deviation must be positive and finite, not {sd}")
    note = f" in standard deviations; the trials' pooled SD {sd:.4g} makes it"
    if prior.family in ("half-normal", "half-cauchy"):
        scale = prior.params[0] * sd
        return TauPrior(prior.family, (scale,), f"{prior.description}{note} scale {scale:.4g} in the outcome's units",
                        prior.proper)
    if prior.family in ("log-normal", "log-t5"):
        loc = prior.params[0] + 2 * math.log(sd)
        return TauPrior(prior.family, (loc, prior.params[1]),
                        f"{prior.description}{note} location {loc:.4g} in the outcome's units", prior.proper)
    return prior


@dataclass(frozen=True)
class MuPrior:
    """Uniform (improper) or normal prior on the overall effect mu."""
    mean: float | None = None
    sd: float | None = None

    @property
    def uniform(self) -> bool:
        return self.sd is None

    @property
    def description(self) -> str:
        return "uniform (improper)" if self.uniform else f"normal with mean {self.mean:g} and SD {self.sd:g}"


def parse_mu_prior(spec: str | None) -> MuPrior:
    text = "uniform" if spec in (None, "") else str(spec).strip()
    if text == "uniform":
        return MuPrior()
    name, _, rest = text.partition(":")
    try:
        if name == "normal":
            m, s = (float(x) for x in rest.split(","))
            if s > 0 and math.isfinite(m) and math.isfinite(s):
                _within_range(text, "standard deviation", s)
                if abs(m) > SCALE_RANGE[1]:
                    raise PriorSpecError(f"mu prior {text!r}: the mean must lie within \u00b1{SCALE_RANGE[1]:g}")
                return MuPrior(m, s)
    except PriorSpecError:
        raise
    except ValueError:
        pass
    raise PriorSpecError(f"mu prior {text!r} not understood; use uniform or normal:MEAN,SD")


def _conditional(tau, yi, vi, mu_prior: MuPrior):
    """For each tau: log marginal likelihood p(y | tau) (mu integrated out, up to a constant),
    and the conditional posterior mean and variance of mu. Röver 2020, eqs. (9)-(12). Blocks of
    tau values keep each (nodes x trials) array within BLOCK elements; y is centred for precision."""
    tau = np.atleast_1d(np.asarray(tau, dtype=float))
    centre = float(np.median(yi))
    yc = yi - centre
    prior_mean = None if mu_prior.uniform else mu_prior.mean - centre
    loglik, m, var = (np.empty(tau.size) for _ in range(3))
    step = max(1, BLOCK // yi.size)
    for first in range(0, tau.size, step):
        part = slice(first, first + step)
        s = vi[None, :] + np.square(tau[part])[:, None]  # finite: tau <= 1e150 (SCALE_RANGE)
        w = 1.0 / s
        sw = w.sum(axis=1)
        swy = w @ yc
        if prior_mean is not None:
            sw = sw + 1.0 / mu_prior.sd ** 2
            swy = swy + prior_mean / mu_prior.sd ** 2
        mc = swy / sw
        resid = yc[None, :] - mc[:, None]
        q = np.einsum("nk,nk,nk->n", w, resid, resid)
        if prior_mean is not None:
            q = q + (prior_mean - mc) ** 2 / mu_prior.sd ** 2
        np.log(s, out=s)
        loglik[part] = -0.5 * (s.sum(axis=1) + np.log(sw) + q)
        m[part], var[part] = mc + centre, 1.0 / sw
    return loglik, m, var


def mixture_cdf(x, weights, means, sds):
    """P(X <= x) for a normal mixture; means/sds (..., G) broadcast against x (..., 1)."""
    return (weights * norm_cdf((np.asarray(x)[..., None] - means) / sds)).sum(axis=-1)


def mixture_quantile(p, weights, means, sds, tol: float = 1e-11):
    """Quantiles of normal mixtures, vectorised: Newton steps kept inside a shrinking bracket
    (bisection when a step leaves it), iterating only on the quantiles not yet converged.
    means/sds have shape (n, G), weights (G,); p (m,); returns (n, m)."""
    from livingmeta.stats.dist import norm_ppf
    means, sds = np.atleast_2d(means), np.atleast_2d(sds)
    p = np.asarray(p, dtype=float)
    n, m = len(means), len(p)
    mean = (weights * means).sum(-1)
    sd = np.sqrt(np.maximum((weights * (sds ** 2 + means ** 2)).sum(-1) - mean ** 2, 1e-300))
    row = np.repeat(np.arange(n), m)          # which mixture each (mixture, probability) pair uses
    target = np.tile(p, n)
    lo = (means - 40 * sds).min(-1)[row]
    hi = (means + 40 * sds).max(-1)[row]
    x = np.clip(mean[row] + sd[row] * norm_ppf(target), lo, hi)
    active = np.arange(n * m)
    for _ in range(100):
        mu_, sd_ = means[row[active]], sds[row[active]]
        z = (x[active, None] - mu_) / sd_
        f = (weights * norm_cdf(z)).sum(-1) - target[active]
        dens = (weights * np.exp(-0.5 * z * z) / (sd_ * math.sqrt(2 * math.pi))).sum(-1)
        converged = np.abs(f) < tol
        lo[active] = np.where(f < 0, x[active], lo[active])
        hi[active] = np.where(f > 0, x[active], hi[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            step = x[active] - f / dens
        inside = (step >= lo[active]) & (step <= hi[active])
        new = np.where(converged, x[active], np.where(inside, step, 0.5 * (lo[active] + hi[active])))
        stalled = np.abs(new - x[active]) <= 1e-13 * (1 + np.abs(x[active]))
        x[active] = new
        active = active[~(converged | stalled)]
        if len(active) == 0:
            break
    return x.reshape(n, m)


@dataclass
class BayesMeta:
    """The fitted model: posterior of tau on quadrature nodes, and everything derived from it."""
    yi: np.ndarray
    vi: np.ndarray
    tau_prior: TauPrior
    mu_prior: MuPrior
    level: float
    tau: np.ndarray          # quadrature nodes
    weights: np.ndarray      # posterior probability of each node (sums to 1)
    cond_mean: np.ndarray    # E[mu | tau, y] at each node
    cond_var: np.ndarray     # Var[mu | tau, y] at each node
    _cdf_tau: object = field(repr=False, default=None)
    _tau_quantile: object = field(repr=False, default=None)

    @property
    def k(self) -> int:
        return len(self.yi)

    @property
    def tails(self) -> np.ndarray:
        a = (1 - self.level) / 2
        return np.array([a, 0.5, 1 - a])

    # mu
    def mu_mean(self) -> float:
        return float(self.weights @ self.cond_mean)

    def mu_sd(self) -> float:
        m = self.mu_mean()
        return float(math.sqrt(max(self.weights @ (self.cond_var + self.cond_mean ** 2) - m * m, 0.0)))

    def mu_quantile(self, p) -> np.ndarray:
        return mixture_quantile(np.atleast_1d(p), self.weights, self.cond_mean, np.sqrt(self.cond_var))[0]

    def prob_mu_below(self, x: float) -> float:
        """Posterior probability P(mu < x | y)."""
        return float(np.clip(mixture_cdf(x, self.weights, self.cond_mean, np.sqrt(self.cond_var)), 0.0, 1.0))

    # tau
    def tau_mean(self) -> float:
        return float(self.weights @ self.tau)

    def tau_sd(self) -> float:
        m = self.tau_mean()
        return float(math.sqrt(max(self.weights @ self.tau ** 2 - m * m, 0.0)))

    def tau_cdf(self, t: float) -> float:
        return float(self._cdf_tau(t))

    def tau_quantile(self, p) -> np.ndarray:
        return np.array([self._tau_quantile(float(q)) for q in np.atleast_1d(p)])

    # a new trial, and the trials themselves
    def predictive_quantile(self, p) -> np.ndarray:
        """Quantiles of the posterior predictive distribution of a new trial's true effect."""
        return mixture_quantile(np.atleast_1d(p), self.weights, self.cond_mean,
                                np.sqrt(self.cond_var + self.tau ** 2))[0]

    def shrinkage(self) -> dict:
        """Posterior of each trial's own effect theta_i (shrunken towards mu): mean, median and
        central interval. Given tau: theta_i ~ N(B y_i + (1 - B) m, B v_i + (1 - B)^2 V), B = tau^2/(v_i + tau^2)."""
        keep = self.weights > 1e-15 * self.weights.max()  # nodes that cannot move a quantile are skipped
        wts = self.weights[keep] / self.weights[keep].sum()
        t2, cond_mean, cond_var = self.tau[None, keep] ** 2, self.cond_mean[None, keep], self.cond_var[None, keep]
        out = {key: np.empty(self.k) for key in ("mean", "sd", "median", "ci_lower", "ci_upper")}
        step = max(1, BLOCK // (4 * wts.size))  # trials per block: memory linear in k
        for first in range(0, self.k, step):
            rows = slice(first, first + step)
            y, v = self.yi[rows, None], self.vi[rows, None]
            b = t2 / (v + t2)
            means = b * y + (1 - b) * cond_mean
            sds = np.sqrt(b * v + (1 - b) ** 2 * cond_var)
            q = mixture_quantile(self.tails, wts, means, sds)
            mean = means @ wts
            out["mean"][rows], out["median"][rows], out["ci_lower"][rows], out["ci_upper"][rows] = mean, q[:, 1], q[:, 0], q[:, 2]
            out["sd"][rows] = np.sqrt(np.maximum((sds ** 2 + means ** 2) @ wts - mean ** 2, 0.0))
        return out

    def predictive_sd(self) -> float:
        m = self.mu_mean()
        return float(math.sqrt(max(self.weights @ (self.cond_var + self.tau ** 2 + self.cond_mean ** 2) - m * m, 0.0)))

    def to_dict(self, threshold: float = 0.0, shrinkage: bool = True, labels=None) -> dict:
        if not math.isfinite(threshold):
            raise ModelError(f"the threshold for P(mu < threshold) must be a finite number, not {threshold}")
        mu_q, tau_q, pred_q = self.mu_quantile(self.tails), self.tau_quantile(self.tails), self.predictive_quantile(self.tails)
        out = {
            "k": self.k, "level": self.level, "interval": "central",
            "tau_prior": self.tau_prior.description, "mu_prior": self.mu_prior.description,
            "mu_mean": self.mu_mean(), "mu_sd": self.mu_sd(), "mu_median": float(mu_q[1]),
            "mu_ci_lower": float(mu_q[0]), "mu_ci_upper": float(mu_q[2]),
            "tau_mean": self.tau_mean(), "tau_sd": self.tau_sd(), "tau_median": float(tau_q[1]),
            "tau_ci_lower": float(tau_q[0]), "tau_ci_upper": float(tau_q[2]),
            "pred_median": float(pred_q[1]), "pred_ci_lower": float(pred_q[0]), "pred_ci_upper": float(pred_q[2]),
            "prob_below_zero": self.prob_mu_below(0.0),
            "threshold": float(threshold), "prob_below_threshold": self.prob_mu_below(threshold),
        }
        out["prob_above_threshold"] = 1.0 - out["prob_below_threshold"]
        if shrinkage:
            s = self.shrinkage()
            labels = list(labels) if labels is not None else [str(i + 1) for i in range(self.k)]
            out["shrinkage"] = [{"study": lab, "yi": float(y), "vi": float(v), "mean": float(a), "sd": float(e),
                                 "median": float(b), "ci_lower": float(c), "ci_upper": float(d)}
                                for lab, y, v, a, e, b, c, d in zip(labels, self.yi, self.vi, s["mean"], s["sd"],
                                                                    s["median"], s["ci_lower"], s["ci_upper"])]
        return out


def _gauss_legendre_panels(edges, nodes: int = NODES_PER_PANEL):
    x, w = np.polynomial.legendre.leggauss(nodes)
    half = np.diff(edges)[:, None] / 2
    mid = (edges[:-1] + edges[1:])[:, None] / 2
    return (mid + half * x).ravel(), (half * w).ravel()


def _posterior_region(log_post, s_lo: float, s_hi: float, s_cap: float):
    """(left, right, sd): the interval of s = log tau outside which the log posterior density
    ``log_post`` (vectorised over s) is NEGLIGIBLE below its maximum, and the posterior SD of s at
    the mode (from the curvature there). A scan of steps SCAN_STEP from s_lo to s_hi, extended
    upwards while the posterior has not vanished (to s_cap, beyond which tau^2 leaves double
    precision), then the mode refined by Brent's method and the interval walked out from it."""
    from scipy.optimize import minimize_scalar
    grid = np.arange(s_lo, s_hi + SCAN_STEP, SCAN_STEP)
    lp = log_post(grid)
    while not np.isfinite(lp).any() or lp[-1] > np.nanmax(np.where(np.isfinite(lp), lp, -np.inf)) - NEGLIGIBLE:
        if grid[-1] >= s_cap:
            if np.isfinite(lp).any():
                raise ModelError(f"the posterior of tau has not vanished at tau = {math.exp(s_cap):.0e}: with so few "
                                 "trials the prior on tau must be proper and not this wide; use a half-normal or "
                                 "half-Cauchy prior of a plausible scale")
            raise ModelError("the posterior of tau could not be evaluated (check yi and vi)")
        more = np.arange(grid[-1] + SCAN_STEP, min(grid[-1] + 40, s_cap) + SCAN_STEP / 2, SCAN_STEP)
        grid, lp = np.concatenate([grid, more]), np.concatenate([lp, log_post(more)])
    lp = np.where(np.isfinite(lp), lp, -np.inf)
    j = int(np.argmax(lp))
    best = minimize_scalar(lambda x: -log_post(np.array([x]))[0], method="bounded",
                           bounds=(grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]), options={"xatol": 1e-9})
    mode, top = (best.x, -best.fun) if -best.fun >= lp[j] else (grid[j], lp[j])
    h = 1e-4
    curv = (log_post(np.array([mode - h, mode + h])).sum() - 2 * top) / h**2
    sd = 1 / math.sqrt(-curv) if curv < 0 else SCAN_STEP
    ends = []
    for direction, limit in ((-1, grid[0]), (1, grid[-1])):
        step, x = sd, mode
        while direction * (x - limit) < 0:
            x = float(np.clip(mode + direction * step, grid[0], grid[-1]))
            if log_post(np.array([x]))[0] < top - NEGLIGIBLE:
                break
            step *= 2
        ends.append(float(np.clip(x, grid[0], grid[-1])))
    alive = grid[lp > top - NEGLIGIBLE]  # a second mode the walk did not reach
    left = min(ends[0], alive[0] - SCAN_STEP) if alive.size else ends[0]
    right = max(ends[1], alive[-1] + SCAN_STEP) if alive.size else ends[1]
    return max(left, grid[0]), min(right, grid[-1]), sd


def bayes_rma(yi, vi, *, tau_prior: str | TauPrior = DEFAULT_TAU_PRIOR, mu_prior: str | MuPrior | None = None,
              level: float = 0.95) -> BayesMeta:
    """Fit the normal-normal hierarchical model (Röver 2020): exact in mu, quadrature in tau."""
    yi, vi = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    if yi.ndim != 1 or yi.shape != vi.shape or len(yi) < 1:
        raise ModelError("yi and vi must be one-dimensional arrays of the same, non-zero length")
    if not (np.all(np.isfinite(yi)) and np.all(np.isfinite(vi)) and np.all(vi > 0)):
        raise ModelError("yi must be finite and vi finite and positive for the Bayesian model")
    if not 0 < level < 1:
        raise ModelError(f"level must be between 0 and 1, not {level}")
    tp = tau_prior if isinstance(tau_prior, TauPrior) else parse_tau_prior(tau_prior)
    mp = mu_prior if isinstance(mu_prior, MuPrior) else parse_mu_prior(mu_prior)
    k = len(yi)
    if mp.uniform and k < 2:
        raise ModelError("a uniform prior on mu needs at least 2 trials for a proper posterior; give a normal mu prior")
    if not tp.proper and k < UNIFORM_TAU_MIN_K:
        # p(tau | y) falls like tau^-(k-1) (one power faster with a normal mu prior): improper for k < 3,
        # no posterior mean of tau for k < 4, no predictive variance for k < 5
        raise ModelError(f"a uniform prior on tau needs at least {UNIFORM_TAU_MIN_K} trials (here k = {k}) for a "
                         f"posterior with a mean and a predictive variance; use a proper prior such as half-normal:0.5")

    # The scan of s = log tau runs from far below the smaller of the data's standard error and the
    # prior's scale to above the larger of the effects' spread and the prior's scale.
    se = float(np.sqrt(np.median(vi)))
    spread = max(float(np.ptp(yi)), se)
    small, large = tp.scales() or (se, se)
    point = tp.family in LOG_FAMILIES
    if point:
        # Log-scale priors put mass at tau many orders of magnitude below any v_i, where the
        # likelihood no longer changes: the prior mass below FLAT_BELOW x se is placed at tau = 0
        # (exact prior CDF; likelihood at tau = 0), and within it the posterior is the prior's.
        s_lo = math.log(FLAT_BELOW * se)
    else:
        s_lo = math.log(min(se, small)) - NEGLIGIBLE - 4
    s_hi = math.log(max(spread, large)) + 10
    s_cap = math.log(SCALE_RANGE[1] ** 1.5)

    def log_post(s_):
        tau = np.exp(s_)
        loglik, _, _ = _conditional(tau, yi, vi, mp)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = tp.logpdf(tau) + loglik + s_  # + s: the Jacobian of tau = e^s
        return np.where(np.isnan(out), -np.inf, out)

    left, right, sd = _posterior_region(log_post, s_lo, s_hi, s_cap)
    panels = int(np.clip(math.ceil((right - left) / min(2 * sd, SCAN_STEP)), 8, MAX_PANELS))
    edges = np.linspace(left, right, panels + 1)
    s_nodes, gw = _gauss_legendre_panels(edges)
    tau = np.exp(s_nodes)
    loglik, m, v = _conditional(tau, yi, vi, mp)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lp = tp.logpdf(tau) + loglik + s_nodes
    lp = np.where(np.isnan(lp), -np.inf, lp)
    shift = lp.max()
    density = np.exp(lp - shift)  # at the nodes, up to the constant exp(shift)
    dens = density * gw
    prior_below = 0.0
    if point and left <= s_lo:
        prior_below = tp.cdf(math.exp(s_lo))
        loglik0, m0, v0 = _conditional(np.zeros(1), yi, vi, mp)
        dens = np.concatenate([[prior_below * math.exp(loglik0[0] - shift)], dens])  # a probability: no Jacobian
        tau, m, v = np.concatenate([[0.0], tau]), np.concatenate([m0, m]), np.concatenate([v0, v])
    total = dens.sum()
    weights = dens / total

    # Within a panel the density is the polynomial through its nodes (degree 15, in Legendre form):
    # its integral up to any point is the CDF between nodes, at no further likelihood evaluation.
    legendre = np.polynomial.legendre
    x16, _ = legendre.leggauss(NODES_PER_PANEL)
    to_coefficients = np.linalg.inv(legendre.legvander(x16, NODES_PER_PANEL - 1))
    antiderivative = legendre.legint(density.reshape(panels, NODES_PER_PANEL) @ to_coefficients.T, lbnd=-1, axis=1)
    start = 1 if prior_below else 0
    panel_mass = np.add.reduceat(weights[start:], np.arange(0, len(weights) - start, NODES_PER_PANEL))
    cum_mass = weights[:start].sum() + np.concatenate([[0.0], np.cumsum(panel_mass)])

    def cdf_s(x):
        """P(log tau < x): whole panels from their quadrature mass, the partial panel re-integrated."""
        if x <= edges[0]:  # within the point mass, the posterior is the prior (likelihood flat)
            return float(cum_mass[0] * tp.cdf(math.exp(x)) / prior_below) if prior_below else 0.0
        if x >= edges[-1]:
            return 1.0
        j = min(int(np.searchsorted(edges, x, side="right")) - 1, panels - 1)
        half = (edges[j + 1] - edges[j]) / 2
        part = legendre.legval((x - edges[j]) / half - 1, antiderivative[j]) * half / total
        return float(min(max(cum_mass[j] + part, 0.0), 1.0))

    def cdf_tau(t):
        return cdf_s(math.log(t)) if t > 0 else 0.0

    def quantile_tau(p):
        from scipy.optimize import brentq
        if p <= cum_mass[0]:
            return tp.ppf(p / cum_mass[0] * prior_below) if prior_below and p > 0 else 0.0
        x = brentq(lambda x_: cdf_s(x_) - p, edges[0], edges[-1], xtol=1e-13, rtol=1e-14)
        return math.exp(x)

    return BayesMeta(yi=yi, vi=vi, tau_prior=tp, mu_prior=mp, level=level, tau=tau, weights=weights,
                     cond_mean=m, cond_var=v, _cdf_tau=cdf_tau, _tau_quantile=quantile_tau)
