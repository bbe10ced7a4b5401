"""Random-effects meta-analysis without moderators, from sums over studies.

With one coefficient (the pooled effect) the matrices of the general model collapse to sums of
w_j = 1/(v_j + tau^2) times powers of y_j, so every estimator is a handful of vector reductions.
This is the path :func:`livingmeta.pooling.rma` takes for intercept-only models; the general
QR-based path handles moderators. Both are checked against metafor by the same tests.
"""

from __future__ import annotations

import math

import numpy as np

THRESHOLD = 1e-12
MAXITER = 10_000


class Sums:
    """w, and the sums the estimators need, at one value of tau^2."""

    __slots__ = ("w", "W", "mu", "q", "W2", "W3", "ypp")

    def __init__(self, y, v, t):
        w = 1.0 / (v + t)
        wy = w * y
        self.w = w
        self.W = w.sum()
        self.mu = wy.sum() / self.W
        e = y - self.mu
        we = w * e
        self.q = we @ e                      # generalised Q = sum w e^2
        self.W2 = w @ w
        self.W3 = (w * w) @ w
        self.ypp = we @ we                   # y'PPy = sum w^2 e^2

    @property
    def trP(self):
        return self.W - self.W2 / self.W

    @property
    def trPP(self):
        return self.W2 - 2 * self.W3 / self.W + (self.W2 / self.W) ** 2


def _tr_pdpf(w, d, f):
    """tr(P D P F) for diagonal D, F with P = W - w w'/sum(w) (intercept-only)."""
    W = w.sum()
    e, g = w * d, w * f
    h = w / W
    return float(e @ g - 2 * (e * g) @ h + (e @ h) * (g @ h))


def _tr_pd(w, d):
    return float(w @ d - (w * d) @ w / w.sum())


def loglik(y, v, t, reml=True):
    s = Sums(y, v, t)
    k = y.size
    if reml:
        return -0.5 * ((k - 1) * math.log(2 * math.pi) + np.log(v + t).sum() + math.log(s.W) + s.q)
    return -0.5 * (k * math.log(2 * math.pi) + np.log(v + t).sum() + s.q)


def tau2(y, v, method, fe: Sums | None = None):
    """(tau2, se_tau2, iterations) for an intercept-only model, as pooling.rma's estimators."""
    k = y.size
    df = k - 1
    fe = fe or Sums(y, v, 0.0)
    ones = np.ones(k)
    if method == "DL":
        t = max(0.0, (fe.q - df) / fe.trP)
        return t, math.sqrt((2 * df + 4 * t * fe.trP + 2 * t * t * fe.trPP) / fe.trP**2), 0
    if method == "HS":
        t = max(0.0, (fe.q - k) / fe.W)
        return t, math.sqrt((2 * df + 4 * t * fe.trP + 2 * t * t * fe.trPP) / fe.W**2), 0
    if method == "HE":
        t = max(0.0, _he(y, v))
        sv, sv2 = v.sum(), v @ v
        tr_pv = sv - sv / k
        tr_pvpv = sv2 - 2 * sv2 / k + sv * sv / k**2
        return t, math.sqrt((2 * tr_pvpv + 4 * t * tr_pv + 2 * t * t * df) / df**2), 0
    if method == "SJ":
        t0 = float(np.var(y))
        s = Sums(y, v, t0)
        t = max(0.0, t0 * s.q / df)
        se = math.sqrt(t0**2 / df**2 * (2 * _tr_pdpf(s.w, v, v) + 4 * t * _tr_pdpf(s.w, v, ones)
                                        + 2 * t * t * _tr_pdpf(s.w, ones, ones)))
        return t, se, 0
    if method in ("PM", "EB"):
        t = paule_mandel(y, v, df, fe)
        W = Sums(y, v, t).W
        return t, math.sqrt(2 * k * k / df / W**2), 0
    if method in ("REML", "ML"):
        return _fisher(y, v, method == "REML")
    raise ValueError(method)


def _he(y, v):
    k = y.size
    return (float(((y - y.mean()) ** 2).sum()) - (v.sum() - v.sum() / k)) / (k - 1)


def q_root(y, v, target, fe: Sums | None = None, hi: float = 100.0) -> float:
    """The tau^2 at which the generalised Q equals ``target`` (0 if Q(0) is already below it):
    Newton steps (dQ/dt = -sum w^2 e^2) from the left of the root, where Q is decreasing and
    convex so Newton does not overshoot; bracketed bisection if a step ever leaves the bracket."""
    s = fe or Sums(y, v, 0.0)
    if s.q <= target:
        return 0.0
    lo, t = 0.0, 0.0
    for _ in range(200):
        step = (s.q - target) / s.ypp
        new = t + step
        if not (lo <= new <= hi * 1e6) or not math.isfinite(new):
            return _brent(y, v, target, lo, hi)
        if abs(new - t) <= THRESHOLD * max(1.0, t):
            return new
        t = new
        s = Sums(y, v, t)
        if s.q > target:
            lo = t
    return _brent(y, v, target, lo, hi)


def _brent(y, v, target, lo, hi):
    from scipy import optimize
    f = lambda t: Sums(y, v, t).q - target  # noqa: E731
    while f(hi) > 0:
        hi *= 10
    return optimize.brentq(f, lo, hi, xtol=1e-15, rtol=1e-14, maxiter=1000)


def paule_mandel(y, v, df, fe=None):
    return q_root(y, v, df, fe)


def fisher_scoring(t, step, threshold=THRESHOLD, maxiter=MAXITER):
    """Iterate tau^2 <- tau^2 + step(tau^2) from ``t``, halving steps that would make tau^2
    negative (metafor's rma.uni), until the change is below ``threshold`` (relative above 1).
    Returns (tau2, iterations)."""
    for it in range(1, maxiter + 1):
        adj = step(t)
        while t + adj < 0:
            adj /= 2
        new = t + adj
        if abs(new - t) < threshold * max(1.0, t):
            return new, it
        t = new
    raise RuntimeError("Fisher scoring for tau^2 did not converge")


def _fisher(y, v, reml):
    def step(t):
        s = Sums(y, v, t)
        return (s.ypp - s.trP) / s.trPP if reml else (s.ypp - s.W) / s.W2

    t, it = fisher_scoring(max(0.0, _he(y, v)), step)  # metafor starts ML/REML from the HE estimate
    if t > 0 and loglik(y, v, 0.0, reml) > loglik(y, v, t, reml) + 1e-10:
        t = 0.0  # metafor's ll0check
    s = Sums(y, v, t)
    return t, math.sqrt(2 / s.trPP) if reml else math.sqrt(2 / s.W2), it
