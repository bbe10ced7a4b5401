"""Many meta-regressions that share (y, v) but differ in their model matrix, fitted at once.

This is what a permutation test needs: the moderators are shuffled B times against the same
outcomes. The fits are stacked as (B, k, p) arrays and every step of the estimators is a
batched einsum or solve, so there is no Python loop over permutations or studies.
"""

from __future__ import annotations

import numpy as np

from .leaveout import nonnegative_step

SUPPORTED = ("FE", "DL", "HE", "HS", "REML", "ML")
THRESHOLD = 1e-10  # relative; sums over 10^5 terms carry ~1e-13 rounding, so tighter can cycle
MAXITER = 1000


class _Batch:
    def __init__(self, X, y, w):
        self.X, self.y, self.w = X, y, w
        XtW = X * w[:, :, None]                                  # (B, k, p)
        self.M = np.linalg.inv(np.einsum("bkp,bkq->bpq", XtW, X))
        self.beta = np.einsum("bpq,bq->bp", self.M, np.einsum("bkp,k->bp", XtW, y))
        self.e = y[None, :] - np.einsum("bkp,bp->bk", X, self.beta)
        self.rss = np.sum(w * self.e**2, axis=1)

    def tr_P(self):
        A = np.einsum("bkp,bk,bkq->bpq", self.X, self.w**2, self.X)
        return self.w.sum(1) - np.einsum("bpq,bqp->b", self.M, A), A

    def tr_PP(self, A):
        W3 = np.einsum("bkp,bk,bkq->bpq", self.X, self.w**3, self.X)
        MA = np.einsum("bpq,bqr->bpr", self.M, A)
        return (np.sum(self.w**2, 1) - 2 * np.einsum("bpq,bqp->b", self.M, W3)
                + np.einsum("bpq,bqp->b", MA, MA))

    def ypp(self):
        return np.sum((self.w * self.e) ** 2, axis=1)


def _reml_loglik(X, y, v, t):
    w = 1 / (v[None, :] + t[:, None])
    b = _Batch(X, y, w)
    logdet = np.linalg.slogdet(np.linalg.inv(b.M))[1]
    return -0.5 * (np.log(v[None, :] + t[:, None]).sum(1) + logdet + b.rss)


def _ml_loglik(X, y, v, t):
    w = 1 / (v[None, :] + t[:, None])
    b = _Batch(X, y, w)
    return -0.5 * (np.log(v[None, :] + t[:, None]).sum(1) + b.rss)


def tau2_batched(X, y, v, method):
    """tau^2 for each of the B model matrices X[b] (same estimators as pooling.rma)."""
    B, k, p = X.shape
    if method == "FE":
        return np.zeros(B)
    if method in ("DL", "HS"):
        b = _Batch(X, y, np.broadcast_to(1 / v, (B, k)))
        if method == "DL":
            trP, _ = b.tr_P()
            return np.maximum(0.0, (b.rss - (k - p)) / trP)
        return np.maximum(0.0, (b.rss - k) / np.sum(1 / v))
    he = _he(X, y, v)
    if method == "HE":
        return np.maximum(0.0, he)
    t = np.maximum(0.0, he)
    active = np.arange(B)
    for _ in range(MAXITER):
        if active.size == 0:
            break
        Xa = X[active]
        b = _Batch(Xa, y, 1 / (v[None, :] + t[active, None]))
        trP, A = b.tr_P()
        if method == "REML":
            adj = (b.ypp() - trP) / b.tr_PP(A)
        else:
            adj = (b.ypp() - b.w.sum(1)) / np.sum(b.w**2, 1)
        new, done = nonnegative_step(t[active], adj, THRESHOLD)
        t[active] = new
        active = active[~done]
    else:
        raise RuntimeError("batched Fisher scoring did not converge")
    pos = np.flatnonzero(t > 0)
    if pos.size:
        ll = _reml_loglik if method == "REML" else _ml_loglik
        worse = ll(X[pos], y, v, np.zeros(pos.size)) > ll(X[pos], y, v, t[pos]) + 1e-10
        t[pos[worse]] = 0.0
    return t


def _he(X, y, v):
    B, k, p = X.shape
    b = _Batch(X, y - y.mean(), np.ones((B, k)))
    trPV = v.sum() - np.einsum("bpq,bqp->b", b.M, np.einsum("bkp,k,bkq->bpq", X, v, X))
    return (b.rss - trPV) / (k - p)


def qm_batched(X, y, v, *, method="REML", test="z", btt=None):
    """Omnibus test statistic QM for each model matrix X[b] (Wald chi^2, or F under knha)."""
    B, k, p = X.shape
    btt = np.arange(1, p) if btt is None else np.asarray(btt)
    t = tau2_batched(X, y, v, method)
    b = _Batch(X, y, 1 / (v[None, :] + t[:, None]))
    vb = b.M
    if test == "knha":
        s2w = np.where(b.rss > np.finfo(float).eps, b.rss / (k - p), 0.0)
        vb = vb * s2w[:, None, None]
    beta = b.beta[:, btt]
    sub = vb[:, btt][:, :, btt]
    qm = np.einsum("bp,bp->b", beta, np.linalg.solve(sub, beta[:, :, None])[:, :, 0])
    return qm / len(btt) if test == "knha" else qm
