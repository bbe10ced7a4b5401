"""All k leave-one-out fits of an intercept-only model at once, without a Python loop over studies.

Leaving study i out is problem i of a batch whose mask drops row i (metafor's ``leave1out`` refits
with ``subset``: no new math). The estimators are those of :mod:`livingmeta.stats.estimators`; a block
of ``BLOCK`` problems is solved at a time as (block x k) arrays, so memory stays bounded while the
work is vectorised.
"""

from __future__ import annotations

import numpy as np
from livingmeta.stats import dist
from livingmeta.stats.estimators import METHODS, Problem, estimate_tau2, knha_factor

BLOCK = 256


def _blocks(k):
    """(rows, problems): each block of leave-one-out problems with its masks."""
    for first in range(0, k, BLOCK):
        idx = np.arange(first, min(k, first + BLOCK))
        mask = np.ones((idx.size, k), dtype=bool)
        mask[np.arange(idx.size), idx] = False
        yield idx, mask


def leave_one_out_fits(y, v, *, method="REML", test="z", level=0.95, start: float | None = None) -> dict:
    """Estimate, SE, CI, p-value, prediction interval, tau^2, Q, I^2 and H^2 of every
    leave-one-out fit (arrays of length k), as metafor's ``leave1out``."""
    y, v = np.asarray(y, float), np.asarray(v, float)
    k = y.size
    df = k - 2  # k - 1 studies, one coefficient
    tau2, mu, se, q_gen, QE, trP = (np.empty(k) for _ in range(6))
    for idx, mask in _blocks(k):
        pr = Problem(y, v, mask=mask)
        fe = pr.fit(np.zeros(idx.size))
        QE[idx], trP[idx] = np.maximum(0.0, fe.rss), fe.tr_P()
        del fe  # one (block x k) array at a time
        tau2[idx] = estimate_tau2(pr, method, start=None if start is None else max(0.0, start), se=False)[0]
        fit = pr.fit(tau2[idx])
        mu[idx], se[idx], q_gen[idx] = fit.beta[:, 0], np.sqrt(1 / fit.W), fit.rss
    s2w = np.ones(k)
    a = (1 - level) / 2
    if test == "knha":
        s2w = knha_factor(q_gen, df)
        se = se * np.sqrt(s2w)
        crit = dist.t_isf(a, df)
        pval = 2 * dist.t_sf(np.abs(mu / se), df)
    else:
        crit = dist.norm_isf(a)
        pval = 2 * dist.norm_sf(np.abs(mu / se))
    # Cochran's Q with fixed-effect weights and the typical within-study variance for I^2
    vt = df / trP
    if not METHODS[method].random_effects:
        I2 = np.where(QE > 0, np.maximum(0.0, 100 * (QE - df) / np.where(QE > 0, QE, 1)), 0.0)
        H2 = QE / df
    else:
        I2 = 100 * tau2 / (vt + tau2)
        H2 = tau2 / vt + 1
    half_pi = crit * np.sqrt(se**2 + tau2)
    return {"estimate": mu, "se": se, "zval": mu / se, "pval": pval, "ci_lower": mu - crit * se,
            "ci_upper": mu + crit * se, "QE": QE, "QEp": dist.chi2_sf(QE, df), "tau2": tau2, "I2": I2, "H2": H2,
            "pi_lower": mu - half_pi, "pi_upper": mu + half_pi, "s2w": s2w}


def weights_sum_at(tau2, v):
    """sum_j 1/(v_j + tau2_i) over all k studies, for each tau2_i (blocked)."""
    out = np.empty(tau2.size)
    for start in range(0, tau2.size, BLOCK):
        sl = slice(start, min(tau2.size, start + BLOCK))
        out[sl] = (1.0 / (v[None, :] + tau2[sl, None])).sum(1)
    return out
