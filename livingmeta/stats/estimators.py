"""The tau^2 estimators, each written once, and the one registry of methods.

Every estimator works on a :class:`Problem`: a batch of B random-effects problems that share
outcomes y and sampling variances v. A single fit is one problem; leave-one-out is k problems whose
masks drop one study each (metafor's ``leave1out`` refits with ``subset``: no new math); a
permutation test is B model matrices; an intercept-only model has no matrix at all (p = 1).
The same cores, the same safeguarded Fisher-scoring loop, the same root finder and the same
convergence settings serve all of them (the design follows PyMARE's estimators over parallel
datasets).

The registry :data:`METHODS` (name, label, citation, what each supports) is what ``rma``,
leave-one-out, the permutation test and the command line read; tests/test_method_registry.py
holds the config schema's method lists and the report's method names to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from livingmeta.errors import ConvergenceError, ModelError
from livingmeta.stats.wls import BatchWLS

# Convergence: the change in tau^2 relative to max(tau^2, the median sampling variance), so the
# criterion has the data's own scale (tau^2 of 1e-14 for measurements with variances of 1e-15 is
# resolved as finely as tau^2 of 0.1 for log odds ratios). metafor stops at an absolute 1e-5 by
# default; 1e-10 is far tighter, and looser than the ~1e-13 rounding of sums over 10^5 studies,
# which could make a tighter threshold cycle.
THRESHOLD = 1e-10
MAXITER = 1000
SMALL_K = 4096        # single problems up to this size use the k x 3 moment matrix (see Problem.weighted)
LL0_TOLERANCE = 1e-10  # metafor's ll0check: keep tau^2 = 0 if its likelihood is higher


class Problem:
    """B meta-analytic problems sharing y (k,) and v (k,), or a single one (B = None).

    X: None (intercept only), (k, p) shared, or (B, k, p). mask: None or a (B, k) boolean array
    of the rows each problem uses. A single problem's results are scalars, a batch's (B,) arrays."""

    def __init__(self, y, v, X=None, mask=None):
        self.y, self.v, self.X, self.mask = y, v, X, mask
        if mask is not None:
            self.B = mask.shape[0]
        elif X is not None and X.ndim == 3:
            self.B = X.shape[0]
        else:
            self.B = None
        self.p = 1 if X is None else X.shape[-1]
        self.k = float(y.size) if mask is None else mask.sum(1).astype(float)
        self.centre = float(y.mean())
        self.yc = y - self.centre if X is None else None   # centred for precision
        self.scale = float(np.median(v))  # the variances' scale, for the convergence criterion
        self._moments = None

    @property
    def moments(self):
        """[1, yc, yc^2] (k x 3): a batch's weighted sums of y in one matrix product."""
        if self._moments is None:
            self._moments = np.stack([np.ones_like(self.yc), self.yc, self.yc * self.yc], axis=1)
        return self._moments

    def subset(self, rows) -> Problem:
        """The problems ``rows`` of a batch (an index array)."""
        if rows.size == self.B:
            return self
        sub = object.__new__(Problem)
        sub.__dict__.update(self.__dict__)
        sub.B = rows.size
        if self.mask is not None:
            sub.mask, sub.k = self.mask[rows], self.k[rows]
        if self.X is not None and self.X.ndim == 3:
            sub.X = self.X[rows]
        return sub

    def zeros(self):
        return 0.0 if self.B is None else np.zeros(self.B)

    def weighted(self, w, masked: bool = False) -> BatchWLS:
        """The weighted least-squares fit with weights w (consumed), masked rows set to zero
        (``masked``: they already are)."""
        if self.mask is not None and not masked:
            w *= self.mask
        # the k x 3 moment matrix: for a batch, or a single problem small enough that the cost of
        # numpy calls, not memory, is what counts
        moments = self.moments if self.X is None and (w.ndim == 2 or self.y.size <= SMALL_K) else None
        return BatchWLS(self.X, self.y, w, self.yc, self.centre, moments)

    def fit(self, tau2) -> BatchWLS:
        """The fit with weights 1/(v + tau^2), zero on masked rows (tau2: a scalar, or one value
        per problem)."""
        if self.B is None:
            w = self.v + tau2
        else:
            w = self.v + np.broadcast_to(tau2, (self.B,))[:, None]
        return self.weighted(np.divide(1.0 if self.mask is None else self.mask, w, out=w), masked=True)

    def sum_rows(self, a):
        """Sum over each problem's rows of a k-vector, or of a (B, k) array (consumed)."""
        if self.mask is None:
            return a.sum(-1)
        if a.ndim == 1:
            return np.where(self.mask, a, 0.0).sum(-1)
        a *= self.mask
        return a.sum(-1)

    @property
    def df(self):
        return self.k - self.p


# --------------------------------------------------------------------------------------------
# Pieces shared by the estimators.
# --------------------------------------------------------------------------------------------
def log_likelihood(pr: Problem, tau2, reml: bool = True):
    """(Restricted) log-likelihood of each problem at tau2 (Viechtbauer 2005, eq. 7-8)."""
    fit = pr.fit(tau2)
    logv = pr.v + (tau2 if pr.B is None else np.broadcast_to(tau2, (pr.B,))[:, None])
    logv = pr.sum_rows(np.log(logv, out=logv))
    if reml:
        return -0.5 * (pr.df * np.log(2 * np.pi) + logv + fit.logdet_xtwx() + fit.rss)
    return -0.5 * (pr.k * np.log(2 * np.pi) + logv + fit.rss)


def knha_factor(rss, df):
    """Knapp & Hartung (2003) variance factor y'Py/(k - p) (0 when the fit is exact)."""
    return np.where(rss > np.finfo(float).eps, rss / df, 0.0)


def _converged(new, t, scale):
    """Whether tau^2 moved by less than THRESHOLD relative to max(tau^2, scale)."""
    if np.ndim(t) == 0:  # plain numbers for one problem
        return abs(new - t) <= THRESHOLD * max(scale, t)
    return np.abs(new - t) <= THRESHOLD * np.maximum(scale, t)


def _not_converged(what: str):
    return ConvergenceError(
        f"{what} did not converge in {MAXITER} iterations; the data may be degenerate (check for "
        "extreme effect sizes or variances), or try a non-iterative estimator (method DL or HE)")


def _iterate(pr: Problem, t, update, what: str):
    """Run ``update(problems, tau2, rows) -> (new tau2, converged)`` until every problem has
    converged, iterating only those not yet converged (``rows`` indexes them; None for a single
    problem). Returns (tau2, iterations)."""
    if pr.B is None:
        for it in range(1, MAXITER + 1):
            t, done = update(pr, t, None)
            if done:
                return t, it
        raise _not_converged(what)
    t = np.array(t, float)
    iterations = np.zeros(pr.B, int)
    active = np.arange(pr.B)
    sub, ta = pr, t
    for it in range(1, MAXITER + 1):
        new, done = update(sub, ta, active)
        t[active], iterations[active] = new, it
        if done.all():
            return t, iterations
        if done.any():
            active = active[~done]
            sub, ta = pr.subset(active), t[active]
        else:
            ta = new
    raise _not_converged(what)


def q_root(pr: Problem, target, fit0=None):
    """tau^2 at which the generalised Q = y'P(tau^2)y equals ``target`` (0 where Q(0) is already
    at or below it), for each problem. Newton steps (dQ/dtau^2 = -y'PPy) from the left of the
    root: Q is decreasing and convex there, so a step does not pass the root; one that does (by
    rounding, or a non-convex Q with moderators) is halved until Q is above the target again.
    ``fit0``: the fit at tau^2 = 0, if at hand."""
    fit0 = fit0 or pr.fit(pr.zeros())
    if pr.B is None:
        if fit0.rss <= target:
            return 0.0
        state = [fit0.rss, fit0.ypp, target]
    else:
        target = np.broadcast_to(np.asarray(target, float), (pr.B,))
        todo = np.flatnonzero(fit0.rss > target)
        state = [fit0.rss[todo], fit0.ypp[todo], target[todo]]

    def update(sub, t, rows):
        q, ypp, tgt = state if rows is None else (x[rows] for x in state)
        new = t + (q - tgt) / ypp
        for _ in range(60):
            fit = sub.fit(new)
            # past the root by more than rounding (Q is flat near a large root, so allow 1e-9)
            past = np.logical_not(fit.rss >= tgt * (1 - 1e-9)) & np.logical_not(_converged(new, t, sub.scale))
            if not past.any():
                break
            new = np.where(past, (t + new) / 2, new) if rows is not None else (t + new) / 2
        if rows is None:
            state[:2] = fit.rss, fit.ypp
        else:
            state[0][rows], state[1][rows] = fit.rss, fit.ypp
        return new, _converged(new, t, sub.scale)

    what = "the Paule-Mandel / Q-profile root finder"
    if pr.B is None:
        return float(_iterate(pr, 0.0, update, what)[0])
    out = np.zeros(pr.B)
    if todo.size:
        out[todo] = _iterate(pr.subset(todo), np.zeros(todo.size), update, what)[0]
    return out


def _fisher_scoring(pr: Problem, reml: bool, start, se: bool = True, fe_fit=None):
    """REML or ML: the root of the likelihood's score in tau^2, found from ``start`` or the HE
    estimate by Fisher scoring (metafor's rma.uni) made safe, then metafor's ll0check (keep
    tau^2 = 0 where the likelihood is higher there).

    The score is one-dimensional, so every evaluated tau^2 narrows a bracket around the maximum:
    ``lo`` the largest tau^2 seen with a positive score (or 0), ``hi`` the smallest with a negative
    one. The first step is Fisher's; later ones take the score's slope from the last two points
    (secant), which converges superlinearly where Fisher scoring is linear; a step that leaves the
    bracket is replaced by bisection (Brent 1973; Press et al., Numerical Recipes, ``rtsafe``). So
    the two-point cycles that stop metafor's default iteration (which its ``control =
    list(stepadj = 0.5)`` damps) cannot occur, and the estimate is converged to THRESHOLD relative
    to max(tau^2, the variances' scale). A step below 0 where the score at 0 is not positive ends
    at the boundary maximum tau^2 = 0 (the limit of metafor's step halving)."""
    t = np.maximum(0.0, _he_raw(pr)[0]) if start is None else np.maximum(0.0, start + pr.zeros())

    def score_and_information(fit):
        if reml:
            return fit.ypp - fit.tr_P(), fit.tr_PDPF()
        return fit.ypp - fit.W, fit.W2

    rising0 = np.atleast_1d(score_and_information(fe_fit or pr.fit(pr.zeros()))[0] > 0)  # 0 is no maximum
    n = rising0.size
    lo, hi, last_t, last_score = np.zeros(n), np.full(n, np.inf), np.full(n, np.nan), np.full(n, np.nan)

    def update(sub, t, rows):
        score, info = score_and_information(sub.fit(t))
        r = slice(None) if rows is None else rows
        t_, score_, info_, lo_, hi_ = np.atleast_1d(t), np.atleast_1d(score), np.atleast_1d(info), lo[r], hi[r]
        lo_ = np.where(score_ > 0, np.maximum(lo_, t_), lo_)
        hi_ = np.where(score_ > 0, hi_, np.minimum(hi_, t_))
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (score_ - last_score[r]) / (t_ - last_t[r])
            step = np.where(slope < 0, -score_ / slope, score_ / info_)  # secant, or Fisher's step
        new = t_ + step
        bracketed = rising0[r] | (lo_ > 0)  # a positive score is known at lo
        outside = ~((new > lo_) & (new < hi_))
        new = np.where(outside & bracketed, np.where(hi_ < np.inf, 0.5 * (lo_ + hi_), t_), new)
        new = np.where(outside & ~bracketed, 0.0, new)  # only below lo: above, a point has score > 0
        at_zero = (t_ == 0) & ~rising0[r]  # the boundary maximum
        new = np.where(at_zero, 0.0, new)
        done = at_zero | _converged(new, t_, sub.scale) | (hi_ - lo_ <= THRESHOLD * np.maximum(sub.scale, lo_))
        lo[r], hi[r], last_t[r], last_score[r] = lo_, hi_, t_, score_
        if rows is None:
            return float(new[0]), bool(done[0])
        return new, done

    what = f"the {'restricted ' if reml else ''}maximum-likelihood estimate of tau^2"
    t, iterations = _iterate(pr, t, update, what)
    if np.any(t > 0):
        zero = pr.zeros()
        worse = (t > 0) & (log_likelihood(pr, zero, reml) > log_likelihood(pr, t, reml) + LL0_TOLERANCE)
        t = np.where(worse, zero, t) if pr.B is not None else (0.0 if worse else t)
    if not se:
        return t, None, iterations
    fit = pr.fit(t)
    return t, (np.sqrt(2 / fit.tr_PDPF()) if reml else np.sqrt(2 / fit.W2)), iterations


def _he_raw(pr: Problem):
    ols = pr.weighted(np.ones(pr.y.size) if pr.B is None else np.ones((pr.B, pr.y.size)))
    return (ols.rss - ols.tr_P(pr.v)) / pr.df, ols


# --------------------------------------------------------------------------------------------
# The estimators: each returns (tau2, se_tau2, iterations), arrays over the batch.
# --------------------------------------------------------------------------------------------
def fe(pr: Problem, start=None, fe_fit=None, se=True):
    """Common (fixed) effect: tau^2 = 0."""
    return pr.zeros(), pr.zeros() + np.nan, 0


def dl(pr: Problem, start=None, fe_fit=None, se=True):
    """(Q - (k - p)) / tr(P) at weights 1/v, truncated at 0 (generalised by Raudenbush 2009)."""
    fit = fe_fit or pr.fit(pr.zeros())
    trP = fit.tr_P()
    t = np.maximum(0.0, (fit.rss - pr.df) / trP)
    se = np.sqrt(2 * pr.df + 4 * t * trP + 2 * t**2 * fit.tr_PDPF()) / trP
    return t, se, 0


def hs(pr: Problem, start=None, fe_fit=None, se=True):
    """(y'Py - k) / sum(1/v) at weights 1/v, truncated at 0 (as metafor)."""
    fit = fe_fit or pr.fit(pr.zeros())
    t = np.maximum(0.0, (fit.rss - pr.k) / fit.W)
    se = np.sqrt(2 * pr.df + 4 * t * fit.tr_P() + 2 * t**2 * fit.tr_PDPF()) / fit.W
    return t, se, 0


def he(pr: Problem, start=None, fe_fit=None, se=True):
    """(RSS_OLS - tr(P0 V)) / (k - p), P0 the unweighted residual projector, truncated at 0."""
    raw, ols = _he_raw(pr)
    t = np.maximum(0.0, raw)
    se = np.sqrt(2 * ols.tr_PDPF(pr.v, pr.v) + 4 * t * ols.tr_P(pr.v) + 2 * t**2 * pr.df) / pr.df
    return t, se, 0


def sj(pr: Problem, start=None, fe_fit=None, se=True):
    """Two steps: tau0 = var(y) (k - 1)/k, then tau0 y'P(tau0)y / (k - p)."""
    yc = pr.y - pr.centre
    mean = pr.sum_rows(yc) / pr.k
    tau0 = pr.sum_rows(yc * yc) / pr.k - mean**2
    fit = pr.fit(tau0)
    t = np.maximum(0.0, tau0 * fit.rss / pr.df)
    se = tau0 / pr.df * np.sqrt(2 * fit.tr_PDPF(pr.v, pr.v) + 4 * t * fit.tr_PDPF(pr.v) + 2 * t**2 * fit.tr_PDPF())
    return t, se, 0


def pm(pr: Problem, start=None, fe_fit=None, se=True):
    """The tau^2 at which the generalised Q equals k - p. Also the empirical Bayes estimate: its
    estimating equation k/(k - p) y'Py = k is the same (metafor iterates it; the root is equal)."""
    t = q_root(pr, pr.df, fe_fit)
    return t, (np.sqrt(2 * pr.k**2 / pr.df) / pr.fit(t).W if se else None), 0


def reml(pr: Problem, start=None, fe_fit=None, se=True):
    """Restricted maximum likelihood, Fisher scoring from the HE estimate (or ``start``)."""
    return _fisher_scoring(pr, True, start, se, fe_fit)


def ml(pr: Problem, start=None, fe_fit=None, se=True):
    """Maximum likelihood, Fisher scoring from the HE estimate (or ``start``)."""
    return _fisher_scoring(pr, False, start, se, fe_fit)


# --------------------------------------------------------------------------------------------
# The registry.
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Method:
    """A tau^2 estimator: its name (metafor's ``method``), the words the report uses, the source,
    and what it supports."""

    name: str
    label: str
    citation: str
    estimate: Callable
    iterative: bool = False
    random_effects: bool = True      # False: the common-effect model (no tau^2, no PI)
    moderators: bool = True
    leave_one_out: bool = True
    permutations: bool = True


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("FE", "a common-effect model (\u03c4\u00b2 = 0)", "Hedges & Olkin (1985)", fe, random_effects=False),
    Method("DL", "DerSimonian-Laird", "DerSimonian & Laird (1986); Raudenbush (2009)", dl),
    Method("REML", "restricted maximum likelihood (REML)", "Viechtbauer (2005)", reml, iterative=True),
    Method("ML", "maximum likelihood", "Hardy & Thompson (1996)", ml, iterative=True),
    Method("PM", "Paule-Mandel", "Paule & Mandel (1982)", pm, iterative=True),
    Method("HE", "Hedges", "Hedges (1983)", he),
    Method("HS", "Hunter-Schmidt", "Hunter & Schmidt (2004)", hs),
    Method("SJ", "Sidik-Jonkman", "Sidik & Jonkman (2005)", sj),
    Method("EB", "empirical Bayes", "Morris (1983); Berkey et al. (1995)", pm, iterative=True),
)}


def method(name: str) -> Method:
    """The registry entry for ``name`` (case-insensitive), or a ModelError listing the choices."""
    key = str(name).upper()
    if key not in METHODS:
        raise ModelError(f"method must be one of {', '.join(METHODS)}; got {name!r}")
    return METHODS[key]


def estimate_tau2(pr: Problem, name: str, start=None, fe_fit=None, se: bool = True):
    """(tau2, se_tau2, iterations) for each problem of the batch by the method ``name``
    (``se=False``: skip the standard error where it costs another fit; it is then None)."""
    return method(name).estimate(pr, start=start, fe_fit=fe_fit, se=se)
