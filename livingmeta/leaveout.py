"""All k leave-one-out fits of an intercept-only model at once, without a Python loop over studies.

Every quantity of a random-effects fit without moderators is a sum over studies of a function of
(y_j, v_j, tau^2). Leaving study i out subtracts its own term, so the k problems share one pass:
closed-form estimators (FE, DL, HE, HS) need O(k) work in total; iterative ones (REML, ML, PM,
EB, SJ) evaluate their sums for a block of leave-out problems at a time as a (block x k) matrix,
so memory stays bounded (``BLOCK`` x k doubles) while the work is vectorised.
"""

from __future__ import annotations

import numpy as np
from . import dist

BLOCK = 256
THRESHOLD = 1e-10  # relative; sums over 10^5 terms carry ~1e-13 rounding, so tighter can cycle
MAXITER = 1000


def _sums(t, idx, y, v, with_log: bool = False):
    """Sums over j != i of w, w y, w y^2, w^2, w^2 y, w^2 y^2 and w^3 (and log(v + t)), with
    w_j = 1/(v_j + t_i), for the leave-out problems ``idx`` at their tau^2 values ``t``.
    Three matrix products (BLAS) over a (block x k) weight matrix do the work."""
    Y = np.stack([np.ones_like(y), y, y * y], axis=1)
    W = 1.0 / (v[None, :] + t[:, None])
    W2 = W * W
    S1 = W @ Y
    S2 = W2 @ Y
    S3 = (W2 * W).sum(1)
    own = 1.0 / (v[idx] + t)
    yi = y[idx]
    s = {"w": S1[:, 0] - own, "wy": S1[:, 1] - own * yi, "wyy": S1[:, 2] - own * yi * yi,
         "w2": S2[:, 0] - own**2, "w2y": S2[:, 1] - own**2 * yi, "w2yy": S2[:, 2] - own**2 * yi * yi,
         "w3": S3 - own**3}
    if with_log:
        s["logv"] = np.log(v[None, :] + t[:, None]).sum(1) - np.log(v[idx] + t)
    s["mu"] = s["wy"] / s["w"]
    s["q"] = s["wyy"] - s["wy"] ** 2 / s["w"]                      # generalised Q = sum w e^2
    s["ypp"] = s["w2yy"] - 2 * s["mu"] * s["w2y"] + s["mu"] ** 2 * s["w2"]  # y'PPy = sum w^2 e^2
    s["trP"] = s["w"] - s["w2"] / s["w"]
    s["trPP"] = s["w2"] - 2 * s["w3"] / s["w"] + s["w2"] ** 2 / s["w"] ** 2
    return s


def _loglik(t, idx, y, v, reml):
    s = _sums(t, idx, y, v, with_log=True)
    if reml:
        return -0.5 * (s["logv"] + np.log(s["w"]) + s["q"])
    return -0.5 * (s["logv"] + s["q"])


def _closed_form(y, v, method):
    """Leave-one-out tau^2 for the non-iterative estimators, O(k)."""
    k = y.size
    m = k - 1  # studies left in each problem
    if method == "FE":
        return np.zeros(k)
    if method in ("DL", "HS"):
        w = 1 / v
        W, Wy, Wyy, W2 = w.sum() - w, (w * y).sum() - w * y, (w * y * y).sum() - w * y * y, (w * w).sum() - w * w
        q = Wyy - Wy**2 / W
        if method == "DL":
            return np.maximum(0.0, (q - (m - 1)) / (W - W2 / W))
        return np.maximum(0.0, (q - m) / W)
    if method == "HE":
        return np.maximum(0.0, _he(y, v))
    raise ValueError(method)


def _he(y, v):
    k = y.size
    m = k - 1
    S, SS, V = y.sum() - y, (y * y).sum() - y * y, v.sum() - v
    rss = SS - S**2 / m
    return (rss - V * (1 - 1 / m)) / (m - 1)


def nonnegative_step(t, adj, threshold):
    """Vectorised Fisher-scoring step: halve steps that would make tau^2 negative (metafor halves
    until tau^2 + step >= 0, which at tau^2 = 0 ends at a zero step), and flag convergence."""
    new = t + adj
    for _ in range(60):
        neg = new < 0
        if not neg.any():
            break
        adj = np.where(neg, adj / 2, adj)
        new = t + adj
    new = np.maximum(new, 0.0)
    return new, np.abs(new - t) < threshold * np.maximum(1.0, t)


def _iterate(y, v, method, t0, idx):
    """Fisher scoring (REML, ML) or Newton on Q(t) = k - 2 (PM, EB), vectorised over ``idx``."""
    m = y.size - 1
    t = t0.copy()
    active = np.arange(idx.size)
    for _ in range(MAXITER):
        if active.size == 0:
            break
        s = _sums(t[active], idx[active], y, v)
        if method == "REML":
            adj = (s["ypp"] - s["trP"]) / s["trPP"]
        elif method == "ML":
            adj = (s["ypp"] - s["w"]) / s["w2"]
        else:  # PM/EB: Newton step towards Q(t) = m - 1; dQ/dt = -sum w^2 e^2
            adj = (s["q"] - (m - 1)) / s["ypp"]
        new, done = nonnegative_step(t[active], adj, THRESHOLD)
        if method in ("PM", "EB"):
            done |= (t[active] == 0) & (s["q"] < m - 1)
            new = np.where((t[active] == 0) & (s["q"] < m - 1), 0.0, new)
        t[active] = new
        active = active[~done]
    else:
        raise RuntimeError("leave-one-out iterations did not converge")
    if method in ("REML", "ML"):
        pos = t > 0
        if pos.any():
            reml = method == "REML"
            ll_t = _loglik(t[pos], idx[pos], y, v, reml)
            ll_0 = _loglik(np.zeros(pos.sum()), idx[pos], y, v, reml)
            t[np.flatnonzero(pos)[ll_0 > ll_t + 1e-10]] = 0.0  # metafor's ll0check
    return t


def tau2_leave_one_out(y, v, method, start: float | None = None):
    """tau^2 of each of the k leave-one-out problems. ``start``: the full-data tau^2, a close
    starting value for the iterative estimators (the same fixed point is reached from any start)."""
    y, v = np.asarray(y, float), np.asarray(v, float)
    k = y.size
    if method in ("FE", "DL", "HS", "HE"):
        return _closed_form(y, v, method)
    out = np.empty(k)
    for first in range(0, k, BLOCK):
        idx = np.arange(first, min(k, first + BLOCK))
        if method in ("REML", "ML") and start is not None:
            t0 = np.full(idx.size, max(0.0, float(start)))
        elif method in ("REML", "ML"):
            t0 = np.maximum(0.0, _he(y, v)[idx])
        elif method == "SJ":
            S, SS = y.sum() - y[idx], (y * y).sum() - y[idx] ** 2
            tau0 = SS / (k - 1) - (S / (k - 1)) ** 2
            s = _sums(tau0, idx, y, v)
            out[idx] = np.maximum(0.0, tau0 * s["q"] / (k - 2))
            continue
        else:  # PM, EB
            t0 = np.zeros(idx.size)
        out[idx] = _iterate(y, v, method, t0, idx)
    return out


def leave_one_out_fits(y, v, *, method="REML", test="z", level=0.95, start: float | None = None) -> dict:
    """Estimate, SE, CI, p-value, prediction interval, tau^2, Q, I^2 and H^2 of every
    leave-one-out fit (arrays of length k), as metafor's ``leave1out``."""
    y, v = np.asarray(y, float), np.asarray(v, float)
    k = y.size
    m = k - 1
    tau2 = tau2_leave_one_out(y, v, method, start)
    mu, se, q_gen = np.empty(k), np.empty(k), np.empty(k)
    for start in range(0, k, BLOCK):
        idx = np.arange(start, min(k, start + BLOCK))
        s = _sums(tau2[idx], idx, y, v)
        mu[idx], se[idx], q_gen[idx] = s["mu"], np.sqrt(1 / s["w"]), s["q"]
    s2w = np.ones(k)
    a = (1 - level) / 2
    if test == "knha":
        s2w = np.where(q_gen > np.finfo(float).eps, q_gen / (m - 1), 0.0)
        se = se * np.sqrt(s2w)
        crit = dist.t_isf(a, m - 1)
        pval = 2 * dist.t_sf(np.abs(mu / se), m - 1)
    else:
        crit = dist.norm_isf(a)
        pval = 2 * dist.norm_sf(np.abs(mu / se))
    # Cochran's Q with fixed-effect weights and the typical within-study variance for I^2
    w = 1 / v
    W, Wy, Wyy, W2 = w.sum() - w, (w * y).sum() - w * y, (w * y * y).sum() - w * y * y, (w * w).sum() - w * w
    QE = np.maximum(0.0, Wyy - Wy**2 / W)
    vt = (m - 1) / (W - W2 / W)
    if method == "FE":
        I2 = np.where(QE > 0, np.maximum(0.0, 100 * (QE - (m - 1)) / np.where(QE > 0, QE, 1)), 0.0)
        H2 = QE / (m - 1)
    else:
        I2 = 100 * tau2 / (vt + tau2)
        H2 = tau2 / vt + 1
    half_pi = crit * np.sqrt(se**2 + tau2)
    return {"estimate": mu, "se": se, "zval": mu / se, "pval": pval, "ci_lower": mu - crit * se,
            "ci_upper": mu + crit * se, "Q": QE, "Qp": dist.chi2_sf(QE, m - 1), "tau2": tau2, "I2": I2, "H2": H2,
            "pi_lower": mu - half_pi, "pi_upper": mu + half_pi, "s2w": s2w}


def weights_sum_at(tau2, v):
    """sum_j 1/(v_j + tau2_i) over all k studies, for each tau2_i (blocked)."""
    out = np.empty(tau2.size)
    for start in range(0, tau2.size, BLOCK):
        sl = slice(start, min(tau2.size, start + BLOCK))
        out[sl] = (1.0 / (v[None, :] + tau2[sl, None])).sum(1)
    return out
