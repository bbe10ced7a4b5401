"""Many meta-regressions that share (y, v) but differ in their model matrix, fitted at once.

This is what a permutation test needs: the moderators are shuffled B times against the same
outcomes. The fits are a batch of B model matrices (B, k, p) for the estimators of
:mod:`livingmeta.stats.estimators`, so there is no Python loop over permutations or studies.
"""

from __future__ import annotations

import numpy as np

from livingmeta.stats.estimators import METHODS, Problem, estimate_tau2, knha_factor
from livingmeta.stats.wls import wald_statistic

SUPPORTED = tuple(name for name, m in METHODS.items() if m.permutations)


def qm_batched(X, y, v, *, method="REML", test="z", btt=None):
    """Omnibus test statistic QM for each model matrix X[b] (Wald chi^2, or F under knha)."""
    B, k, p = X.shape
    btt = np.arange(1, p) if btt is None else np.asarray(btt)
    pr = Problem(y, v, X)
    fit = pr.fit(estimate_tau2(pr, method, se=False)[0])
    vb = fit.M
    if test == "knha":
        vb = vb * knha_factor(fit.rss, k - p)[:, None, None]
    qm = wald_statistic(fit.beta[:, btt], vb[:, btt][:, :, btt])
    return qm / len(btt) if test == "knha" else qm
