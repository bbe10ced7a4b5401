"""Bayesian random-effects meta-analysis: the normal-normal hierarchical model, computed the way
R's bayesmeta does it (Röver 2020, J Stat Softw 93(6), section 2.4).

    y_i | theta_i ~ N(theta_i, v_i),   theta_i | mu, tau ~ N(mu, tau^2)

Given tau, the effect mu has a closed-form normal posterior (exact marginalisation over mu, with a
uniform or a normal prior on mu), so the joint posterior reduces to the one-dimensional marginal
posterior of tau. That is integrated numerically: Gauss-Legendre panels over u = tau / (tau + c),
which maps [0, inf) onto [0, 1) so heavy-tailed priors (half-Cauchy) are integrated to infinity,
on the part of u where the posterior is not negligible (found on a coarse grid first). Every
posterior of interest (mu, a new trial's effect, each trial's shrunken effect) is then a finite
mixture of normals over the tau nodes. No MCMC: results are deterministic and fast.

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

PANELS, NODES_PER_PANEL, COARSE = 8, 16, 512
NEGLIGIBLE = 36.0  # log-density below the maximum at which posterior mass is ignored (e^-36 ~ 2e-16)
LOG_FAMILIES = ("log-normal", "log-t5")
U_FLOOR = 1e-12  # below tau = 1e-12 c the likelihood is that of tau = 0 to double precision
UNIFORM_TAU_MIN_K = 5


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

    def typical_scale(self) -> float:
        """A rough size of tau under this prior, used only to place the integration grid."""
        f, p = self.family, self.params
        if f in ("half-normal", "half-cauchy"):
            return p[0]
        if f in ("log-normal", "log-t5"):
            return math.exp(p[0] / 2)
        return 0.0


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
            return TauPrior(name, (scale,), f"{name} with scale {scale:g}")
        if name == "uniform" and not rest:
            return TauPrior("uniform", (), "uniform (improper) on [0, \u221e)", proper=False)
        if name in ("log-normal", "log-t5"):
            a, b = (float(x) for x in rest.split(","))
            if not (b > 0 and math.isfinite(a) and math.isfinite(b)):
                raise ValueError
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
                return MuPrior(m, s)
    except ValueError:
        pass
    raise PriorSpecError(f"mu prior {text!r} not understood; use uniform or normal:MEAN,SD")


def _conditional(tau, yi, vi, mu_prior: MuPrior):
    """For each tau: log marginal likelihood p(y | tau) (mu integrated out, up to a constant),
    and the conditional posterior mean and variance of mu. Röver 2020, eqs. (9)-(12)."""
    s = vi[None, :] + np.square(tau)[:, None]
    w = 1.0 / s
    sw = w.sum(axis=1)
    swy = w @ yi
    if not mu_prior.uniform:
        sw = sw + 1.0 / mu_prior.sd ** 2
        swy = swy + mu_prior.mean / mu_prior.sd ** 2
    m = swy / sw
    q = (w * np.square(yi[None, :] - m[:, None])).sum(axis=1)
    if not mu_prior.uniform:
        q = q + (mu_prior.mean - m) ** 2 / mu_prior.sd ** 2
    loglik = -0.5 * (np.log(s).sum(axis=1) + np.log(sw) + q)
    return loglik, m, 1.0 / sw


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
        t2 = self.tau[None, keep] ** 2
        b = t2 / (self.vi[:, None] + t2)
        means = b * self.yi[:, None] + (1 - b) * self.cond_mean[None, keep]
        sds = np.sqrt(b * self.vi[:, None] + (1 - b) ** 2 * self.cond_var[None, keep])
        q = mixture_quantile(self.tails, wts, means, sds)
        mean = means @ wts
        sd = np.sqrt(np.maximum((sds ** 2 + means ** 2) @ wts - mean ** 2, 0.0))
        return {"mean": mean, "sd": sd, "median": q[:, 1], "ci_lower": q[:, 0], "ci_upper": q[:, 2]}

    def predictive_sd(self) -> float:
        m = self.mu_mean()
        return float(math.sqrt(max(self.weights @ (self.cond_var + self.tau ** 2 + self.cond_mean ** 2) - m * m, 0.0)))

    def to_dict(self, threshold: float = 0.0, shrinkage: bool = True, labels=None) -> dict:
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

    # u = tau / (tau + c): c near the size of tau puts the posterior mass mid-range.
    c = float(np.sqrt(np.median(vi)))
    c = max(c, tp.typical_scale()) if tp.typical_scale() > 0 else c

    def log_post_u(u):
        tau = c * u / (1 - u)
        loglik, m, v = _conditional(tau, yi, vi, mp)
        with np.errstate(divide="ignore"):
            return tp.logpdf(tau) + loglik + math.log(c) - 2 * np.log1p(-u), tau, m, v

    coarse = np.concatenate([[0.0], (np.arange(COARSE) + 0.5) / COARSE])
    lp_coarse, *_ = log_post_u(coarse)
    finite = np.isfinite(lp_coarse)
    if not finite.any():
        raise ModelError("the posterior of tau could not be evaluated (check yi and vi)")
    top = lp_coarse[finite].max()
    keep = np.flatnonzero(finite & (lp_coarse > top - NEGLIGIBLE))
    lo = coarse[max(keep[0] - 1, 0)]
    hi = coarse[keep[-1] + 1] if keep[-1] + 1 < len(coarse) else 1.0

    edges = np.linspace(lo, hi, PANELS + 1)
    point = None
    if lo == 0 and tp.family in LOG_FAMILIES:
        # Log-scale priors put mass at tau values many orders of magnitude below any v_i, where the
        # likelihood no longer changes: panels on a log scale down to U_FLOOR, and the prior mass
        # below it placed at tau = 0 (exact prior CDF; likelihood at tau = 0).
        geo = np.geomspace(U_FLOOR, edges[1], int(math.ceil(math.log10(edges[1] / U_FLOOR))) + 1)
        edges = np.concatenate([geo, edges[2:]])
        point = tp.cdf(c * U_FLOOR / (1 - U_FLOOR))
    panels = len(edges) - 1
    u, gw = _gauss_legendre_panels(edges)
    lp, tau, m, v = log_post_u(u)
    shift = lp[np.isfinite(lp)].max()
    dens = np.where(np.isfinite(lp), np.exp(lp - shift), 0.0) * gw
    if point is not None:
        loglik0, m0, v0 = _conditional(np.zeros(1), yi, vi, mp)
        dens = np.concatenate([[point * math.exp(loglik0[0] - shift)], dens])  # a probability: no Jacobian
        tau, m, v = np.concatenate([[0.0], tau]), np.concatenate([m0, m]), np.concatenate([v0, v])
    total = dens.sum()
    weights = dens / total

    x32, w32 = np.polynomial.legendre.leggauss(NODES_PER_PANEL * 2)
    start = 1 if point is not None else 0
    panel_mass = np.add.reduceat(weights[start:], np.arange(0, len(weights) - start, NODES_PER_PANEL))
    cum_mass = weights[:start].sum() + np.concatenate([[0.0], np.cumsum(panel_mass)])

    def cdf_u(x):
        """P(u < x): whole panels from their quadrature mass, the partial panel re-integrated."""
        if x <= edges[0]:
            return float(cum_mass[0]) if x > 0 else 0.0
        if x >= hi:
            return 1.0
        j = min(int(np.searchsorted(edges, x, side="right")) - 1, panels - 1)
        a = edges[j]
        pts = a + (x - a) * (x32 + 1) / 2
        lpp, *_ = log_post_u(pts)
        part = (np.where(np.isfinite(lpp), np.exp(lpp - shift), 0.0) * w32).sum() * (x - a) / 2 / total
        return float(min(cum_mass[j] + part, 1.0))

    def cdf_tau(t):
        return cdf_u(t / (t + c)) if t > 0 else 0.0

    def quantile_tau(p):
        from scipy.optimize import brentq
        if p <= cum_mass[0]:
            return 0.0
        x = brentq(lambda s: cdf_u(s) - p, edges[0], hi, xtol=1e-15, rtol=1e-13)
        return c * x / (1 - x)

    return BayesMeta(yi=yi, vi=vi, tau_prior=tp, mu_prior=mp, level=level, tau=tau, weights=weights,
                     cond_mean=m, cond_var=v, _cdf_tau=cdf_tau, _tau_quantile=quantile_tau)
