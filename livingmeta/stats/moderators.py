"""Moderator analyses: subgroup analysis and mixed-effects meta-regression.

Subgroups are pooled separately (Cochrane/RevMan: a tau^2 per subgroup) and compared with the
test for subgroup differences (Borenstein et al. 2009, ch. 19; Deeks et al., Cochrane Handbook
10.11.3), or with a common tau^2 as a meta-regression on the subgroup dummies (metafor
``rma(yi, vi, mods = ~ factor(g))``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from livingmeta.stats import batched, dist
from livingmeta.stats.estimators import METHODS
from livingmeta.stats.pooling import MetaAnalysis, ModelError, rma


@dataclass
class SubgroupAnalysis:
    moderator: str
    tau2_model: str            # "separate" or "common"
    levels: pd.DataFrame       # one row per level: k, estimate, ci, tau2, I2, ...
    QM: float                  # test for subgroup differences (metafor's name: a test of moderators)
    QMdf: int
    QMp: float
    not_pooled: list           # levels with a single study (shown, not pooled)

    def to_dict(self) -> dict:
        return {"moderator": self.moderator, "tau2_model": self.tau2_model,
                "levels": self.levels.to_dict(orient="records"), "QM": self.QM,
                "QMdf": self.QMdf, "QMp": self.QMp, "not_pooled": self.not_pooled}


def subgroup_analysis(yi, vi, groups, *, moderator: str = "group", method: str = "REML", test: str = "z",
                      level: float = 0.95, tau2_model: str = "separate", min_k: int = 2) -> SubgroupAnalysis:
    """Pool each level of ``groups`` and test for subgroup differences.

    ``separate``: each subgroup has its own tau^2; QM = sum of w_g (b_g - b_FE)^2 over the
    subgroup estimates with w_g = 1/se_g^2, chi^2 on G - 1 df (RevMan 5).
    ``common``: one tau^2 for all, the omnibus test of the subgroup dummies in a meta-regression
    (QM; an F test under knha). Levels with fewer than ``min_k`` (at least 2) studies are listed,
    not pooled, and left out of the test.
    """
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    groups = pd.Series(np.asarray(groups, dtype=object)).astype(str).to_numpy()
    rows, not_pooled = [], []
    for g in sorted(set(groups)):
        sel = groups == g
        if sel.sum() < max(2, min_k):
            not_pooled.append(g)
            if sel.sum() == 1:  # a single trial is shown with its own estimate
                y, v = yi[sel][0], vi[sel][0]
            else:
                y, v = np.nan, np.nan
            rows.append({"level": g, "k": int(sel.sum()), "estimate": y, "se": np.sqrt(v), "ci_lower": np.nan,
                         "ci_upper": np.nan, "tau2": np.nan, "I2": np.nan, "QE": np.nan, "pooled": False})
            continue
        r = rma(yi[sel], vi[sel], method=method, test=test, level=level)
        rows.append({"level": g, "k": int(sel.sum()), "estimate": r.estimate, "se": float(r.se[0]),
                     "ci_lower": float(r.ci_lower[0]), "ci_upper": float(r.ci_upper[0]), "pval": float(r.pval[0]),
                     "tau2": r.tau2, "I2": r.I2, "QE": r.QE, "pooled": True})
    if not rows:
        raise ModelError("no trial reports this moderator")
    table = pd.DataFrame(rows)
    pooled = table[table["pooled"]]
    if len(pooled) < 2:
        raise ModelError("fewer than two subgroups have 2 or more trials")
    if tau2_model == "separate":
        w = 1 / pooled["se"].to_numpy() ** 2
        b = pooled["estimate"].to_numpy()
        q = float(np.sum(w * (b - np.sum(w * b) / np.sum(w)) ** 2))
        df = len(pooled) - 1
        p = float(dist.chi2_sf(q, df))
    elif tau2_model == "common":
        keep = np.isin(groups, pooled["level"].to_numpy())
        fit = rma(yi[keep], vi[keep], mods=pd.DataFrame({moderator: groups[keep]}), method=method, test=test, level=level)
        q, df, p = fit.QM, int(fit.QMdf[0]), fit.QMp
    else:
        raise ValueError("tau2_model must be 'separate' or 'common'")
    return SubgroupAnalysis(moderator, tau2_model, table, q, df, p, not_pooled)


def meta_regression(yi, vi, mods: pd.DataFrame, *, method: str = "REML", test: str = "z",
                    level: float = 0.95) -> MetaAnalysis:
    """Mixed-effects meta-regression on one or more moderators (metafor ``rma(yi, vi, mods)``).

    Numeric columns enter as slopes, text columns as treatment-coded dummies. The returned model
    carries the omnibus test (QM), coefficients and R^2 (proportion of tau^2 explained)."""
    return rma(yi, vi, mods=mods, method=method, test=test, level=level)


def permutation_test(fit: MetaAnalysis, *, iterations: int = 1000, seed: int = 20181, exact: bool | None = None) -> dict:
    """Permutation test of a meta-regression's omnibus test (Higgins & Thompson 2004; metafor
    ``permutest``).

    The rows of the moderators are shuffled against (yi, vi) and the model refitted; the p-value
    is the share of arrangements with QM at least as large as observed. ``exact`` (default: when
    k! <= iterations) enumerates every ordering; otherwise ``iterations`` random orderings from a
    seeded generator are used, the observed one counted among them, so reruns agree.
    """
    if fit.int_only:
        raise ModelError("a permutation test needs moderators")
    k = fit.k
    if exact is None:
        exact = math.factorial(k) <= iterations
    if exact:
        perms = itertools.permutations(range(k))
        n = math.factorial(k)
    else:
        rng = np.random.default_rng(seed)
        perms = itertools.chain([np.arange(k)], (rng.permutation(k) for _ in range(iterations - 1)))
        n = iterations
    qm = _permuted_qm(fit, iter(perms), n)
    return {"QM": fit.QM, "pval": float(np.mean(qm >= fit.QM - 1e-8 * max(1.0, abs(fit.QM)))),
            "iterations": n, "exact": exact, "seed": None if exact else seed}


def _batched(fit: MetaAnalysis) -> bool:
    """Whether the fit's method can refit a batch of permuted model matrices at once."""
    return METHODS[fit.method].permutations


def _permuted_qm(fit: MetaAnalysis, perms, n: int, chunk: int | None = None) -> np.ndarray:
    """QM of the model refitted with its moderator rows in each order of ``perms``; batched
    (no loop over permutations) for the methods the registry marks as supporting it."""
    k, p = fit.X.shape
    out = np.empty(n)
    if not _batched(fit):
        for i, perm in enumerate(perms):
            out[i] = rma(fit.yi, fit.vi, mods=fit.X[list(perm)], intercept=False, method=fit.method,
                         test=fit.test, compute_r2=False).QM
        return out
    chunk = chunk or max(1, 2_000_000 // (k * p))     # bound the (chunk, k, p) arrays to ~16 MB
    btt = np.arange(1, p) if fit.coef_names[0] == "intrcpt" else np.arange(p)
    pos = 0
    for block in iter(lambda: list(itertools.islice(perms, chunk)), []):
        idx = np.asarray(block)
        out[pos:pos + len(idx)] = batched.qm_batched(fit.X[idx], fit.yi, fit.vi, method=fit.method,
                                                     test=fit.test, btt=btt)
        pos += len(idx)
    return out
