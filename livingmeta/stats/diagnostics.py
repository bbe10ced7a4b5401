"""Sensitivity analyses and case diagnostics for a fitted model: leave-one-out, influence
(Viechtbauer & Cheung 2010), Baujat et al. (2002) data and cumulative meta-analysis.

Each function refits the model the way metafor does (same method, same test), so results agree
with ``leave1out``, ``influence``, ``baujat`` and ``cumul``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from livingmeta.stats import dist, leaveout
from livingmeta.stats.pooling import MetaAnalysis, ModelError, rma


def _refit(fit: MetaAnalysis, keep: np.ndarray) -> MetaAnalysis:
    return rma(fit.yi[keep], fit.vi[keep], mods=fit.X[keep], intercept=False, method=fit.method,
               test=fit.test, level=fit.level, compute_r2=False)


def leave_one_out(fit: MetaAnalysis) -> pd.DataFrame:
    """Refit leaving out each study in turn (metafor ``leave1out``), intercept-only models.
    Vectorised over studies (see :mod:`livingmeta.stats.leaveout`)."""
    if not fit.int_only:
        raise ModelError("leave-one-out is defined here for models without moderators")
    loo = leaveout.leave_one_out_fits(fit.yi, fit.vi, method=fit.method, test=fit.test, level=fit.level,
                                       start=fit.tau2)
    loo.pop("s2w")
    return pd.DataFrame({"study": fit.study, **loo})


def _influential(df, dfbs, k, p, m):
    return ((np.abs(df["dffits"]) > 3 * np.sqrt(p / (k - p)))
            | (dist.chi2_cdf(df["cook_d"], m) > 0.5)
            | (df["hat"] > 3 * p / k)
            | (np.abs(dfbs) > 1).any(axis=1))


def _influence_intercept_only(fit: MetaAnalysis) -> pd.DataFrame:
    """The same diagnostics for a model without moderators from the vectorised leave-one-out fits."""
    k = fit.k
    loo = leaveout.leave_one_out_fits(fit.yi, fit.vi, method=fit.method, test=fit.test, level=fit.level,
                                       start=fit.tau2)
    mu, vb = fit.estimate, float(fit.vb[0, 0])
    w = 1 / (fit.vi + fit.tau2)
    hat = w / w.sum()
    s2w, t_del, mu_del = loo["s2w"], loo["tau2"], loo["estimate"]
    vb_del_model = loo["se"] ** 2                                   # includes the Knapp-Hartung factor
    vb_del_all = 1 / leaveout.weights_sum_at(t_del, fit.vi)         # all k studies at the deleted tau^2
    dfb = mu - mu_del
    df = pd.DataFrame({
        "study": fit.study,
        "rstudent": (fit.yi - mu_del) / np.sqrt(fit.vi * s2w + vb_del_model + t_del * s2w),
        "dffits": dfb / np.sqrt(s2w * hat * (t_del + fit.vi)),
        "cook_d": dfb**2 / vb,
        "cov_r": vb_del_model / vb,
        "tau2_del": t_del, "QE_del": loo["QE"], "hat": hat, "weight": fit.weights,
        "dfbs_intrcpt": dfb / np.sqrt(s2w * vb_del_all)})
    df["influential"] = _influential(df, df[["dfbs_intrcpt"]].to_numpy(), k, 1, 1)
    return df


def influence(fit: MetaAnalysis) -> pd.DataFrame:
    """Case-deletion diagnostics (metafor ``influence.rma.uni``): externally studentized
    residuals, DFFITS, Cook's distance, covariance ratio, leave-one-out tau^2 and Q, hat values,
    weights, DFBETAS (one column per coefficient), and metafor's 'influential' flag.
    Without moderators the k refits are vectorised; with moderators each is refitted."""
    return _influence_intercept_only(fit) if fit.int_only else _influence_refit(fit)


def _influence_refit(fit: MetaAnalysis) -> pd.DataFrame:
    """Influence diagnostics by refitting the model k times (any model)."""
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
    df["influential"] = _influential(df, dfbs, k, p, m)
    return df


def baujat(fit: MetaAnalysis) -> pd.DataFrame:
    """Baujat plot data (metafor ``baujat``): x = squared Pearson residual (contribution to Q in a
    fixed-effect model), y = squared change of the fitted value when the study is left out,
    divided by the variance of that leave-one-out fitted value."""
    k = fit.k
    pred_full = fit.X @ fit.beta
    x = (fit.yi - pred_full) ** 2 / (fit.tau2 + fit.vi)
    if fit.int_only:
        loo = leaveout.leave_one_out_fits(fit.yi, fit.vi, method=fit.method, test=fit.test, level=fit.level,
                                       start=fit.tau2)
        return pd.DataFrame({"study": fit.study, "x_heterogeneity": x,
                             "y_influence": (loo["estimate"] - fit.estimate) ** 2 / loo["se"] ** 2})
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
            crit = float(dist.norm_isf((1 - fit.level) / 2))  # a single study: its own Wald interval
            rows.append({"study": fit.study[idx[0]], "k": 1, "estimate": y, "se": se, "ci_lower": y - crit * se,
                         "ci_upper": y + crit * se, "tau2": 0.0, "I2": 0.0})
            continue
        r = rma(fit.yi[idx], fit.vi[idx], method=fit.method, test=fit.test, level=fit.level)
        rows.append({"study": fit.study[idx[-1]], "k": j, "estimate": r.estimate, "se": float(r.se[0]),
                     "ci_lower": float(r.ci_lower[0]), "ci_upper": float(r.ci_upper[0]), "tau2": r.tau2, "I2": r.I2})
    return pd.DataFrame(rows)
