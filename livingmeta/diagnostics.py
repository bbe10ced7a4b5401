"""Sensitivity analyses and case diagnostics for a fitted model: leave-one-out, influence
(Viechtbauer & Cheung 2010), Baujat et al. (2002) data and cumulative meta-analysis.

Each function refits the model the way metafor does (same method, same test), so results agree
with ``leave1out``, ``influence``, ``baujat`` and ``cumul``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .pooling import MetaAnalysis, ModelError, rma


def _refit(fit: MetaAnalysis, keep: np.ndarray) -> MetaAnalysis:
    return rma(fit.yi[keep], fit.vi[keep], mods=fit.X[keep], intercept=False, method=fit.method,
               test=fit.test, level=fit.level, compute_r2=False)


def leave_one_out(fit: MetaAnalysis) -> pd.DataFrame:
    """Refit leaving out each study in turn (metafor ``leave1out``), intercept-only models."""
    if not fit.int_only:
        raise ModelError("leave-one-out is defined here for models without moderators")
    rows = []
    for i in range(fit.k):
        keep = np.arange(fit.k) != i
        r = _refit(fit, keep)
        pr = r.predict()
        rows.append({"study": fit.study[i], "estimate": r.estimate, "se": float(r.se[0]), "zval": float(r.zval[0]),
                     "pval": float(r.pval[0]), "ci_lower": float(r.ci_lower[0]), "ci_upper": float(r.ci_upper[0]),
                     "Q": r.QE, "Qp": r.QEp, "tau2": r.tau2, "I2": r.I2, "H2": r.H2,
                     "pi_lower": pr["pi_lower"], "pi_upper": pr["pi_upper"]})
    return pd.DataFrame(rows)


def influence(fit: MetaAnalysis) -> pd.DataFrame:
    """Case-deletion diagnostics (metafor ``influence.rma.uni``): externally studentized
    residuals, DFFITS, Cook's distance, covariance ratio, leave-one-out tau^2 and Q, hat values,
    weights, DFBETAS (one column per coefficient), and metafor's 'influential' flag."""
    k, p = fit.X.shape
    X = fit.X
    pred_full = X @ fit.beta
    svb = np.linalg.inv(fit.vb)
    w = 1 / (fit.vi + fit.tau2)
    M = np.linalg.inv(X.T @ (X * w[:, None]))
    hat = w * np.einsum("ij,jk,ik->i", X, M, X)
    det_full = np.linalg.det(fit.vb)
    out = {k_: np.full(k, np.nan) for k_ in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "QE_del")}
    dfbs = np.full((k, p), np.nan)
    for i in range(k):
        keep = np.arange(k) != i
        try:
            r = _refit(fit, keep)
        except ModelError:
            continue
        xi = X[i]
        delpred = float(xi @ r.beta)
        vdelpred = float(xi @ r.vb @ xi)
        out["tau2_del"][i] = r.tau2
        out["QE_del"][i] = r.QE
        out["dffits"][i] = (pred_full[i] - delpred) / np.sqrt(r.s2w * hat[i] * (r.tau2 + fit.vi[i]))
        vb_del = np.linalg.inv(X.T @ (X / (fit.vi + r.tau2)[:, None]))
        dfb = fit.beta - r.beta
        dfbs[i] = dfb / np.sqrt(r.s2w * np.diag(vb_del))
        out["cook_d"][i] = float(dfb @ svb @ dfb)
        out["cov_r"][i] = np.linalg.det(r.vb) / det_full
        resid = fit.yi[i] - delpred
        out["rstudent"][i] = resid / np.sqrt(fit.vi[i] * r.s2w + vdelpred + r.tau2 * r.s2w)
    df = pd.DataFrame({"study": fit.study, **out, "hat": hat, "weight": fit.weights})
    for j, name in enumerate(fit.coef_names):
        df[f"dfbs_{name}"] = dfbs[:, j]
    m = p - 1 if (fit.coef_names[0] == "intrcpt" and p > 1) else p
    df["influential"] = ((np.abs(df["dffits"]) > 3 * np.sqrt(p / (k - p)))
                         | (stats.chi2.cdf(df["cook_d"], m) > 0.5)
                         | (df["hat"] > 3 * p / k)
                         | (np.abs(dfbs) > 1).any(axis=1))
    return df


def baujat(fit: MetaAnalysis) -> pd.DataFrame:
    """Baujat plot data (metafor ``baujat``): x = squared Pearson residual (contribution to Q in a
    fixed-effect model), y = squared change of the fitted value when the study is left out,
    divided by the variance of that leave-one-out fitted value."""
    k = fit.k
    pred_full = fit.X @ fit.beta
    x = (fit.yi - pred_full) ** 2 / (fit.tau2 + fit.vi)
    y = np.full(k, np.nan)
    for i in range(k):
        keep = np.arange(k) != i
        r = _refit(fit, keep)
        xi = fit.X[i]
        y[i] = (float(xi @ r.beta) - pred_full[i]) ** 2 / float(xi @ r.vb @ xi)
    return pd.DataFrame({"study": fit.study, "x_heterogeneity": x, "y_influence": y})


def cumulative(fit: MetaAnalysis, order) -> pd.DataFrame:
    """Cumulative meta-analysis (metafor ``cumul``): add studies one at a time in ``order``
    (e.g. by publication year) and refit; the first row is a single study (its own estimate)."""
    if not fit.int_only:
        raise ModelError("cumulative meta-analysis is defined for models without moderators")
    order = np.asarray(order)
    rows = []
    for j in range(1, fit.k + 1):
        idx = order[:j]
        if j == 1:
            y, v = fit.yi[idx[0]], fit.vi[idx[0]]
            se = np.sqrt(v)
            rows.append({"study": fit.study[idx[0]], "k": 1, "estimate": y, "se": se, "ci_lower": y - 1.959963984540054 * se,
                         "ci_upper": y + 1.959963984540054 * se, "tau2": 0.0, "I2": 0.0})
            continue
        r = rma(fit.yi[idx], fit.vi[idx], method=fit.method, test=fit.test, level=fit.level)
        rows.append({"study": fit.study[idx[-1]], "k": j, "estimate": r.estimate, "se": float(r.se[0]),
                     "ci_lower": float(r.ci_lower[0]), "ci_upper": float(r.ci_upper[0]), "tau2": r.tau2, "I2": r.I2})
    return pd.DataFrame(rows)
