"""Dependent effects within a trial (several comparisons or instruments): one effect per trial.

``aggregate_effects`` combines the effects of each cluster into one, assuming a correlation
``rho`` between the sampling errors of any two effects of the same cluster (compound symmetry),
weighted by the inverse of that covariance matrix: metafor's ``aggregate.escalc(struct = "CS",
weighted = TRUE)``; Borenstein, Hedges, Higgins & Rothstein (2009), Introduction to
Meta-Analysis, ch. 24 (composite of correlated outcomes). This is what metapsyTools'
``runMetaAnalysis`` does for its "combined" model (``which.combine = "studies"``), whose default
within-study correlation is 0.6 (0.5 in releases before 2023).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from livingmeta.stats.effects import wald_ci
from livingmeta.errors import EffectSizeError

DEFAULT_RHO = 0.6  # metapsyTools runMetaAnalysis(rho.within.study = 0.6)


def aggregate_effects(yi, vi, cluster, *, rho: float = DEFAULT_RHO) -> pd.DataFrame:
    """One row per cluster (in order of first appearance): ``cluster``, ``yi``, ``vi``, ``k``.

    Within a cluster V = diag(sqrt(v)) R diag(sqrt(v)) with R_ij = rho (i != j); the composite is
    the GLS mean (1' V^-1 y) / (1' V^-1 1) with variance 1 / (1' V^-1 1). A cluster of one
    effect is returned unchanged."""
    yi, vi = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    if not -1 < rho <= 1:
        raise EffectSizeError(f"the within-trial correlation rho must be in (-1, 1]; got {rho}")
    if yi.shape != vi.shape or len(cluster) != yi.size:
        raise EffectSizeError("yi, vi and cluster must have the same length")
    codes, names = pd.factorize(pd.Series(list(cluster)), sort=False)
    out_y, out_v, out_k = np.empty(len(names)), np.empty(len(names)), np.zeros(len(names), dtype=int)
    for j in range(len(names)):
        idx = np.flatnonzero(codes == j)
        y, s = yi[idx], np.sqrt(vi[idx])
        V = rho * np.outer(s, s)
        np.fill_diagonal(V, s**2)
        ones = np.ones(idx.size)
        w = np.linalg.solve(V, ones)          # V^-1 1 (V is symmetric)
        total = float(ones @ w)
        out_y[j], out_v[j], out_k[j] = float(w @ y) / total, 1.0 / total, idx.size
    return pd.DataFrame({"cluster": list(names), "yi": out_y, "vi": out_v, "k": out_k})


def multilevel_i2(vi, sigma2_between: float, sigma2_within: float) -> float:
    """Share of total variance that is heterogeneity in a three-level model, with the 'typical'
    sampling variance of Higgins & Thompson (2002) (Cheung 2014, eq. 13; as in the book by
    Harrer, Cuijpers, Furukawa & Ebert 2021 that metapsyTools follows), in percent."""
    w = 1 / np.asarray(vi, dtype=float)
    typical = (w.size - 1) * w.sum() / (w.sum() ** 2 - (w**2).sum())
    total = sigma2_between + sigma2_within
    return float(100 * total / (total + typical))


def one_effect_per_trial(table: pd.DataFrame, *, rho: float = DEFAULT_RHO, level: float = 0.95) -> pd.DataFrame:
    """An effect table (effects.csv rows) with the effects of each trial x outcome x timepoint
    aggregated into one row. Rows of trials with a single effect are kept as they are. Group
    sizes of an aggregate are the largest among its effects (a shared control group is not
    counted twice; separate intervention arms of a multi-arm trial are then under-counted)."""
    # a trial in two subgroups of one analysis (RevMan) gives two independent rows, not dependent effects
    key = ["outcome", "timepoint", "subgroup", "trial_id"] if "subgroup" in table else ["outcome", "timepoint", "trial_id"]
    counts = table.groupby(key, sort=False, dropna=False)["yi"].transform("size")
    single, multi = table[counts == 1], table[counts > 1]
    if multi.empty:
        return table
    rows = []
    for _, grp in multi.groupby(key, sort=False, dropna=False):
        first = grp.iloc[0]
        agg = aggregate_effects(grp.yi, grp.vi, [first.trial_id] * len(grp), rho=rho).iloc[0]
        row = {c: first[c] for c in ("trial_id", "label", "year", "outcome", "outcome_type", "timepoint", "subgroup",
                                     "measure") if c in grp}
        for col in ("n_int", "n_ctl", "total_int", "total_ctl"):
            if col in grp:
                row[col] = grp[col].max()
        row.update(effect_id=f"aggregate of {len(grp)} effects", yi=agg.yi, vi=agg.vi,
                   source=f"dependent effects aggregated within the trial (rho = {rho}); "
                          + "; ".join(sorted(set(map(str, grp.source)))))
        rows.append(row)
    agg_tab = pd.DataFrame(rows)
    agg_tab["sei"] = np.sqrt(agg_tab.vi)
    agg_tab["ci_lower"], agg_tab["ci_upper"] = wald_ci(agg_tab.yi, agg_tab.sei, level)
    out = pd.concat([single, agg_tab], ignore_index=True)
    return out.sort_values(["outcome", "timepoint", "label", "effect_id"], ignore_index=True)


def dependent_rho(review_def: dict) -> float:
    """The within-trial correlation a review assumes (review.yaml dependent_effects.rho)."""
    return float((review_def.get("dependent_effects") or {}).get("rho", DEFAULT_RHO))


def dependent_sensitivity(effects: pd.DataFrame, *, method: str = "REML", test: str = "knha",
                          level: float = 0.95) -> list[dict]:
    """Sensitivity rows for trials with several effects (one outcome x timepoint): the
    three-level model (effects within trials, REML) with CR2 cluster-robust CI (Pustejovsky &
    Tipton 2018; metapsyTools' "threelevel" with use.rve = TRUE), and every effect pooled as if
    independent (metapsyTools' "overall"). Empty when no trial has more than one effect."""
    from livingmeta.stats import dist, multilevel, pooling

    if len(effects) < 3 or not effects.trial_id.duplicated().any():
        return []
    yi, vi, cluster = effects.yi.to_numpy(float), effects.vi.to_numpy(float), effects.trial_id.astype(str).to_numpy()
    fit = multilevel.three_level(yi, vi, cluster, level=level)
    robust = multilevel.robust_three_level(fit)
    half = float(dist.t_isf((1 - level) / 2, robust.df[0]) * robust.se[0])
    k, n = int(fit.k), int(fit.n_clusters)
    rows = [{"method": "three-level REML", "test": "CR2",
             "label": f"Three-level model ({k} effects in {n} trials), CR2 robust CI",
             "estimate": fit.estimate, "ci_lower": fit.estimate - half, "ci_upper": fit.estimate + half,
             "se": float(robust.se[0]), "df": float(robust.df[0]), "pval": float(robust.pval[0]),
             "tau2": fit.sigma2_between + fit.sigma2_within, "sigma2_between": fit.sigma2_between,
             "sigma2_within": fit.sigma2_within, "I2": multilevel_i2(vi, fit.sigma2_between, fit.sigma2_within),
             "k": k, "n_clusters": n}]
    naive = pooling.rma(yi, vi, method=method, test=test, level=level)
    rows.append({"method": method, "test": test, "label": f"All {k} effects as if independent ({method})",
                 **{key: naive.to_dict()[key] for key in ("estimate", "ci_lower", "ci_upper", "se", "pval", "tau2", "I2", "k")}})
    return rows


def methods_text(review_def: dict, analysis: dict) -> str:
    """The report's sentence on dependent effects, or '' when every trial gave one effect."""
    k, k_effects = analysis.get("k", 0), analysis.get("k_effects", 0)
    if k_effects <= k:
        return ""
    return (f"The {k} trials gave {k_effects} effects (several comparisons or instruments per trial). The effects "
            f"of a trial were combined into one assuming a correlation of {dependent_rho(review_def)} between them "
            "(inverse-variance composite, Borenstein et al. 2009, as metafor's aggregate and metapsyTools do), and "
            "these were pooled. Sensitivity analyses: a three-level model with effects nested in trials and "
            "cluster-robust (CR2) confidence intervals (Pustejovsky & Tipton 2018), and all effects pooled as if "
            "they were independent.")
