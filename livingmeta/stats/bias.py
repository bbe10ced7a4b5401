"""Small-study effects and publication bias: Egger, Begg, trim-and-fill, fail-safe N.

Each test mirrors the metafor function named in its docstring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from livingmeta.stats import dist
from livingmeta.stats.pooling import MetaAnalysis, rma


@dataclass(frozen=True)
class EggerTest:
    """Regression test for funnel-plot asymmetry."""

    model: str           # "lm" (classic weighted regression) or "rma" (mixed-effects)
    statistic: float     # t (lm) or z (rma; t under knha) for the slope on the standard error
    pval: float
    df: float
    limit_estimate: float  # intercept: the effect as the standard error goes to 0
    limit_ci: tuple


def egger_test(yi, vi, *, model: str = "rma", method: str = "REML", test: str = "z", level: float = 0.95) -> EggerTest:
    """Egger et al. (1997) regression test (metafor ``regtest``, predictor = "sei").

    ``model="lm"``: weighted least squares of y on sei with weights 1/vi, slope tested with
    t(k - 2); algebraically the classic test of the intercept of y/sei on 1/sei.
    ``model="rma"``: mixed-effects meta-regression of y on sei (Sterne & Egger 2005), slope
    tested with z (or t under knha).
    """
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    sei = np.sqrt(vi)
    k = yi.size
    if k < 3:
        raise ValueError("Egger's test needs at least 3 studies")
    crit_level = (1 - level) / 2
    if model == "lm":
        X = np.column_stack([np.ones(k), sei])
        w = 1 / vi
        XtWX = X.T @ (X * w[:, None])
        beta = np.linalg.solve(XtWX, X.T @ (w * yi))
        resid = yi - X @ beta
        df = k - 2
        sigma2 = np.sum(w * resid**2) / df
        se = np.sqrt(np.diag(np.linalg.inv(XtWX)) * sigma2)
        t = beta[1] / se[1]
        crit = dist.t_isf(crit_level, df)
        return EggerTest("lm", float(t), float(2 * dist.t_sf(abs(t), df)), float(df), float(beta[0]),
                         (float(beta[0] - crit * se[0]), float(beta[0] + crit * se[0])))
    if model == "rma":
        fit = rma(yi, vi, mods=sei, method=method, test=test, level=level, compute_r2=False)
        return EggerTest("rma", float(fit.zval[1]), float(fit.pval[1]), fit.ddf, float(fit.beta[0]),
                         (float(fit.ci_lower[0]), float(fit.ci_upper[0])))
    raise ValueError("model must be 'lm' or 'rma'")


EXACT_KENDALL_MAX_K = 200


@dataclass(frozen=True)
class RankTest:
    tau: float
    pval: float
    exact: bool


def begg_test(yi, vi) -> RankTest:
    """Begg & Mazumdar (1994) rank correlation test (metafor ``ranktest``).

    Kendall's tau between standardised deviates (y_i - b_FE)/sqrt(v_i - v_b) and v_i; exact
    p-value when there are no ties (as R's cor.test with exact = TRUE), normal approximation
    otherwise.
    """
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    w = 1 / vi
    theta = np.sum(w * yi) / np.sum(w)
    ystar = (yi - theta) / np.sqrt(vi - 1 / np.sum(w))
    ties = len(np.unique(ystar)) < len(ystar) or len(np.unique(vi)) < len(vi)
    if ties or len(yi) > EXACT_KENDALL_MAX_K:
        # ties: the tie-corrected normal approximation, as R's cor.test; large k: the exact
        # distribution (O(k^3) to count) agrees with the normal one to many digits
        from scipy.stats import kendalltau
        res = kendalltau(ystar, vi, method="asymptotic")
        return RankTest(float(res.statistic), float(res.pvalue), False)
    tau, p = kendall_exact(ystar, vi)
    return RankTest(tau, p, True)


def kendall_exact(x, y) -> tuple[float, float]:
    """Kendall's tau and its exact two-sided p-value for untied data (R's cor.test(exact = TRUE)):
    the null distribution of the number of discordant pairs is the Mahonian distribution of
    inversions in a random permutation, counted by dynamic programming."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = x.size
    sx = np.sign(x[:, None] - x[None, :])
    sy = np.sign(y[:, None] - y[None, :])
    s = int(np.sum(np.triu(sx * sy, 1)))           # concordant minus discordant
    pairs = n * (n - 1) // 2
    discordant = (pairs - s) // 2
    probs = np.zeros(pairs + 1)
    probs[0] = 1.0
    for m in range(2, n + 1):                        # add element m: 0..m-1 new inversions, equally likely
        c = np.cumsum(probs)
        shifted = np.concatenate([np.zeros(m), c[:-m]])
        probs = (c - shifted) / m                    # probabilities, not counts: 171! overflows a float
    cdf = np.cumsum(probs)
    # two-sided: twice the smaller tail, as R (discordant counts are symmetric about pairs / 2)
    lower = cdf[discordant]
    upper = 1 - (cdf[discordant - 1] if discordant > 0 else 0.0)
    return s / pairs, float(min(1.0, 2 * min(lower, upper)))


@dataclass
class TrimFill:
    k0: int
    se_k0: float
    side: str
    estimator: str
    filled_yi: np.ndarray
    filled_vi: np.ndarray
    fit: MetaAnalysis   # the model fitted to observed + filled studies


def trim_and_fill(yi, vi, *, method: str = "REML", estimator: str = "L0", side: str | None = None,
                  maxiter: int = 100, level: float = 0.95) -> TrimFill:
    """Duval & Tweedie (2000) trim-and-fill (metafor ``trimfill``).

    The side of the missing studies is taken, if not given, from the sign of the slope in the
    Egger-type meta-regression on sei (negative slope: missing on the right).
    """
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    if estimator not in ("L0", "R0"):
        raise ValueError("estimator must be 'L0' or 'R0'")
    if side is None:
        slope = rma(yi, vi, mods=np.sqrt(vi), method=method, compute_r2=False).beta[1]
        side = "right" if slope < 0 else "left"
    y = -yi if side == "right" else yi.copy()
    order = np.argsort(y, kind="stable")
    y, v = y[order], vi[order]
    k = y.size
    k0, k0_prev, it = 0, -1, 0
    se_k0 = np.nan
    while k0 != k0_prev:
        k0_prev = k0
        it += 1
        if it > maxiter:
            raise ValueError("trim-and-fill did not converge")
        beta = rma(y[: k - k0], v[: k - k0], method=method).estimate
        yc = y - beta
        ranks = dist.ordinal_ranks(np.abs(yc))
        signed = np.sign(yc) * ranks
        if estimator == "R0":
            neg = signed[signed < 0]
            k0_raw = (k - (np.max(-neg) if neg.size else 0)) - 1
            se_k0 = np.sqrt(2 * max(0, k0_raw) + 2)
        else:
            sr = np.sum(signed[signed > 0])
            k0_raw = (4 * sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * k0_raw**3 + 27 * k0_raw**2 + 17 * k0_raw
                      - 18 * k * k0_raw**2 - 18 * k * k0_raw + 6 * k**2 * k0_raw) / 24
            se_k0 = 4 * np.sqrt(var_sr) / (2 * k - 1)
        k0 = int(max(0, np.round(k0_raw)))
        se_k0 = max(0.0, float(se_k0))
    if k0 > 0:
        mirrored = 2 * beta - y[k - k0:]   # reflect the k0 most extreme studies about the centre
        fill_y = -mirrored if side == "right" else mirrored
        fill_v = v[k - k0:]
    else:
        fill_y, fill_v = np.array([]), np.array([])
    fit = rma(np.concatenate([yi, fill_y]), np.concatenate([vi, fill_v]), method=method, level=level)
    return TrimFill(k0, se_k0, side, estimator, fill_y, fill_v, fit)


def failsafe_n(yi, vi, *, kind: str = "Rosenthal", alpha: float = 0.05, target: float | None = None,
               weighted: bool = False) -> dict:
    """Fail-safe N (metafor ``fsn``).

    ``Rosenthal`` (1979), Stouffer method: studies averaging z = 0 needed to raise the combined
    one-tailed p above alpha. ``Orwin`` (1983): studies with effect 0 needed to bring the mean
    effect down to ``target`` (default: half the mean).
    """
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    k = yi.size
    if kind == "Rosenthal":
        z_avg = abs(np.sum(yi / np.sqrt(vi)) / np.sqrt(k))
        pval = float(dist.norm_sf(z_avg))
        n = max(0.0, k * (z_avg / dist.norm_isf(alpha)) ** 2 - k)
        out = {"kind": kind, "pval": pval, "target": None}
    elif kind == "Orwin":
        mean = np.sum(yi / vi) / np.sum(1 / vi) if weighted else float(np.mean(yi))
        tgt = mean / 2 if target is None else target
        if np.sign(tgt) != np.sign(mean):
            tgt = -tgt
        n = np.inf if tgt == 0 else max(0.0, k * (mean - tgt) / tgt)
        out = {"kind": kind, "pval": None, "target": float(tgt), "mean": float(mean)}
    else:
        raise ValueError("kind must be 'Rosenthal' or 'Orwin'")
    if np.isfinite(n):
        n = np.ceil(n) if abs(n - np.round(n)) >= np.sqrt(np.finfo(float).eps) else np.round(n)
    out["fsn"] = float(n)
    return out


def funnel_contours(se_max: float, estimate: float = 0.0, levels=(0.90, 0.95, 0.99), n: int = 100,
                    funnel_level: float = 0.95) -> dict:
    """Lines of a contour-enhanced funnel plot (Peters et al. 2008): for each confidence level,
    the effect sizes at which a study with standard error se is just significant (centred on 0)
    and the pseudo-confidence funnel (at ``funnel_level``) around the pooled ``estimate``."""
    se = np.linspace(0, se_max, n)
    z_funnel = dist.norm_isf((1 - funnel_level) / 2)
    out = {"se": se.tolist(), "funnel_lower": (estimate - z_funnel * se).tolist(),
           "funnel_upper": (estimate + z_funnel * se).tolist(), "funnel_level": funnel_level, "contours": {}}
    for lv in levels:
        z = dist.norm_isf((1 - lv) / 2)
        out["contours"][f"{lv:.2f}"] = (z * se).tolist()
    return out
