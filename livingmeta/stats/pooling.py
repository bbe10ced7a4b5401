"""Random- and fixed-effects meta-analysis and meta-regression: livingmeta's ``rma``.

The model is y_i = x_i' beta + u_i + e_i with e_i ~ N(0, v_i) known and u_i ~ N(0, tau^2)
(Viechtbauer 2010; metafor's ``rma.uni``). Every formula works on k-vectors and p x p matrices
only (livingmeta.stats.wls), so memory is linear in k and there are no loops over studies; the tau^2
estimators are those of livingmeta.stats.estimators, shared with leave-one-out and permutation fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from livingmeta.stats import dist
from livingmeta.errors import ConvergenceError, ModelError  # noqa: F401  (re-exported)
from livingmeta.stats import estimators
from livingmeta.stats.estimators import METHODS, Problem, estimate_tau2, knha_factor, q_root
from livingmeta.stats.wls import wald_statistic

TAU2_METHODS = tuple(METHODS)  # the registry's names, in its order
TESTS = ("z", "knha")


# --------------------------------------------------------------------------------------------
# Design matrices.
# --------------------------------------------------------------------------------------------
def design_matrix(mods, k: int, intercept: bool = True):
    """Model matrix and coefficient names from moderators, named as metafor names them.

    ``mods``: None, an array (k or k x m), or a DataFrame. Text/categorical columns become
    treatment-coded dummies against their first level in sorted order, named column+level
    (R's default factor coding, e.g. ``groupB`` for level B of column group).
    """
    if mods is None and intercept:
        return np.ones((k, 1)), ["intrcpt"]
    cols, names = [], []
    if intercept:
        cols.append(np.ones(k))
        names.append("intrcpt")
    if mods is None:
        pass
    elif isinstance(mods, pd.DataFrame):
        for name in mods.columns:
            col = mods[name]
            if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
                cols.append(col.to_numpy(dtype=float))
                names.append(str(name))
            else:
                levels = sorted(pd.unique(col.astype(str)))
                for level in levels[1:]:
                    cols.append((col.astype(str) == level).to_numpy(dtype=float))
                    names.append(f"{name}{level}")
    else:
        m = np.asarray(mods, dtype=float)
        m = m.reshape(k, -1)
        for j in range(m.shape[1]):
            cols.append(m[:, j])
            names.append(f"mods{j + 1}" if m.shape[1] > 1 else "mods")
    if not cols:
        raise ModelError("a model needs an intercept or at least one moderator")
    X = np.column_stack(cols)
    if X.shape[0] != k:
        raise ModelError(f"moderators have {X.shape[0]} rows but there are {k} studies")
    return X, names


def _finite_or_none(x):
    """JSON has no NaN or infinity: a value that is not a finite number is missing (null)."""
    return float(x) if x is not None and np.isfinite(x) else None


# --------------------------------------------------------------------------------------------
# The fitted model.
# --------------------------------------------------------------------------------------------
@dataclass
class MetaAnalysis:
    """A fitted (mixed-effects) meta-analysis: everything a summary, a forest plot or a report
    needs. Attribute names follow metafor's ``rma.uni`` object."""

    yi: np.ndarray
    vi: np.ndarray
    X: np.ndarray
    coef_names: list
    method: str
    test: str
    level: float
    tau2: float
    se_tau2: float
    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    ddf: float
    QE: float
    QEp: float
    I2: float
    H2: float
    vt: float
    QM: float
    QMdf: tuple
    QMp: float
    R2: float | None
    weights: np.ndarray
    s2w: float
    iterations: int = 0
    study_labels: list | None = None

    @property
    def study(self) -> list:
        """Study labels (``Study 1`` ... when none were given)."""
        return self.study_labels if self.study_labels is not None else [f"Study {i + 1}" for i in range(self.k)]

    @property
    def k(self) -> int:
        return len(self.yi)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def int_only(self) -> bool:
        return self.p == 1 and self.coef_names == ["intrcpt"]

    @property
    def estimate(self) -> float:
        return float(self.beta[0])

    @property
    def crit(self) -> float:
        a = (1 - self.level) / 2
        return float(dist.t_isf(a, self.ddf) if self.test == "knha" else dist.norm_isf(a))

    def predict(self, newmods=None) -> dict:
        """Predicted effect with confidence and prediction interval (metafor ``predict.rma``).

        The prediction interval is pred +/- crit sqrt(se^2 + tau^2), crit from the normal or,
        under Knapp-Hartung, the t(k - p) distribution (as metafor; Riley et al. 2011 discuss
        t(k - 2) instead).
        """
        x = np.ones(1) if newmods is None else np.concatenate([[1.0], np.atleast_1d(np.asarray(newmods, float))])
        if len(x) != self.p:
            raise ModelError(f"newmods needs {self.p - 1} values")
        pred = float(x @ self.beta)
        se = float(np.sqrt(x @ self.vb @ x))
        half_pi = self.crit * np.sqrt(se**2 + self.tau2)
        return {"pred": pred, "se": se, "ci_lower": pred - self.crit * se, "ci_upper": pred + self.crit * se,
                "pi_lower": pred - half_pi, "pi_upper": pred + half_pi}

    def confint_tau2(self) -> dict:
        """Q-profile confidence intervals for tau^2, tau, I^2 and H^2 (Viechtbauer 2007)."""
        k, p = self.X.shape
        a = (1 - self.level) / 2
        crit_u, crit_l = dist.chi2_isf(a, k - p), dist.chi2_ppf(a, k - p)
        pr = _problem(self.yi, self.vi, self.X)
        lb, ub = (float(q_root(pr, crit)) for crit in (crit_u, crit_l))
        vt = self.vt
        return {
            "tau2": (lb, ub),
            "tau": (np.sqrt(lb), np.sqrt(ub)),
            "I2": (100 * lb / (vt + lb), 100 * ub / (vt + ub)),
            "H2": (lb / vt + 1, ub / vt + 1),
        }

    def to_dict(self) -> dict:
        """Plain JSON-able summary (the keys of the CLI's ``analyze --json``)."""
        out = {"k": self.k, "method": self.method, "test": self.test, "level": self.level,
               "tau2": self.tau2, "se_tau2": _finite_or_none(self.se_tau2), "I2": self.I2, "H2": self.H2,
               "QE": self.QE, "QEdf": self.k - self.p, "QEp": self.QEp}
        if self.int_only:
            pr = self.predict()
            # a common-effect model has no prediction interval (as metafor): null, not a number
            random = METHODS[self.method].random_effects
            out.update(estimate=self.estimate, se=float(self.se[0]), zval=float(self.zval[0]),
                       pval=float(self.pval[0]), ci_lower=float(self.ci_lower[0]), ci_upper=float(self.ci_upper[0]),
                       pi_lower=pr["pi_lower"] if random else None, pi_upper=pr["pi_upper"] if random else None)
        else:
            out.update(
                coefficients=dict(zip(self.coef_names, map(float, self.beta))),
                coef_se=dict(zip(self.coef_names, map(float, self.se))),
                coef_pval=dict(zip(self.coef_names, map(float, self.pval))),
                coef_ci_lower=dict(zip(self.coef_names, map(float, self.ci_lower))),
                coef_ci_upper=dict(zip(self.coef_names, map(float, self.ci_upper))),
                QM=self.QM, QMdf=list(self.QMdf), QMp=self.QMp, R2=self.R2)
        if self.test == "knha":
            out["df"] = self.ddf
        return {key: _finite_or_none(val) if isinstance(val, float) else val for key, val in out.items()}

    def summary(self) -> str:
        """A printable summary in the spirit of metafor's print.rma.uni."""
        kind = "Random-effects" if self.method != "FE" else "Fixed-effect"
        if not self.int_only:
            kind = "Mixed-effects" if self.method != "FE" else "Fixed-effects with moderators"
        lines = [f"{kind} model (k = {self.k}; tau^2 estimator: {self.method}; test: {self.test})", ""]
        if self.method != "FE":
            lines.append(f"tau^2 = {self.tau2:.4f} (SE = {self.se_tau2:.4f}); I^2 = {self.I2:.2f}%; H^2 = {self.H2:.2f}")
        lines.append(f"Q(df = {self.k - self.p}) = {self.QE:.4f}, p = {self.QEp:.4g}")
        if not self.int_only:
            lines.append(f"Test of moderators: QM(df = {self.QMdf}) = {self.QM:.4f}, p = {self.QMp:.4g}")
        lines += ["", f"{'':12s}{'estimate':>10s}{'se':>10s}{'stat':>10s}{'pval':>10s}{'ci.lb':>10s}{'ci.ub':>10s}"]
        for i, name in enumerate(self.coef_names):
            lines.append(f"{name:12s}{self.beta[i]:10.4f}{self.se[i]:10.4f}{self.zval[i]:10.4f}"
                         f"{self.pval[i]:10.4g}{self.ci_lower[i]:10.4f}{self.ci_upper[i]:10.4f}")
        return "\n".join(lines)


# The inputs' range, relative to the data's own scale (never absolute: measurements of the Planck
# constant have sampling variances near 1e-15, raw mean differences of costs near 1e10). Every
# variance lies within a factor VI_SPREAD of the median variance, every effect within YI_SPREAD
# standard errors (the square root of the median variance) of the median effect. The fit runs on
# the data divided by a power of two near that standard error (exact in floating point), where
# every weighted sum of w^3 y^2 stays finite in double precision.
VI_SPREAD = 1e24
YI_SPREAD = 1e12


def _check_inputs(yi, vi):
    yi = np.asarray(yi, dtype=float).ravel()
    vi = np.asarray(vi, dtype=float).ravel()
    if yi.shape != vi.shape:
        raise ModelError(f"yi has {yi.size} values but vi has {vi.size}")
    if yi.size < 2:
        raise ModelError("a meta-analysis needs at least 2 studies")
    if not (np.all(np.isfinite(yi)) and np.all(np.isfinite(vi))):
        raise ModelError("yi and vi must be finite numbers (no missing values)")
    if np.any(vi <= 0):
        raise ModelError("every sampling variance vi must be positive")
    v_mid, y_mid = float(np.median(vi)), float(np.median(yi))
    se_mid = np.sqrt(v_mid)
    ratio = vi / v_mid
    bad_v = np.flatnonzero((ratio < 1 / VI_SPREAD) | (ratio > VI_SPREAD))
    bad_y = np.flatnonzero(~(np.abs(yi - y_mid) <= YI_SPREAD * se_mid))
    if bad_y.size or bad_v.size:
        name, vals, i = ("yi", yi, bad_y[0]) if bad_y.size else ("vi", vi, bad_v[0])
        limits = (f"it lies more than {YI_SPREAD:g} standard errors from the median effect {y_mid:g}" if name == "yi"
                  else f"it differs from the median sampling variance {v_mid:g} by a factor above {VI_SPREAD:g}")
        raise ModelError(f"{name} in row {i + 1} is {vals[i]:g}: {limits}; check that row's value, its scale "
                         "(e.g. a log ratio, not the ratio) and that vi is a variance, not an SE or a sample size")
    return yi, vi


def _unit(vi) -> float:
    """The power of two nearest the median standard error, by which the data are divided for the
    fit; 1 (no division) for standard errors between 2^-8 and 2^8, so that a divided problem is not
    divided again."""
    e = round(float(np.log2(np.median(vi))) / 2)
    return 1.0 if abs(e) <= 8 else float(2.0 ** e)


def _problem(yi, vi, X) -> Problem:
    """One fit as a batch of one; an intercept-only model needs no matrix algebra (p = 1)."""
    intercept_only = X.shape[1] == 1 and bool(np.all(X[:, 0] == 1))
    return Problem(yi, vi, None if intercept_only else X)


def _check_rank(X, vi):
    """Refuse collinear moderators (the thin QR of the weighted model matrix)."""
    R = np.linalg.qr(X / np.sqrt(vi)[:, None], mode="r")
    if np.any(np.abs(np.diag(R)) < 1e-10 * max(1.0, np.abs(R).max())):
        raise ModelError("the moderators are collinear (model matrix not of full rank)")


def rma(yi, vi, mods=None, *, method: str = "REML", test: str = "z", level: float = 0.95,
        tau2: float | None = None, intercept: bool = True, study=None, compute_r2: bool = True) -> MetaAnalysis:
    """Fit a fixed-, random- or mixed-effects meta-analysis (metafor ``rma.uni``).

    method: one of ``TAU2_METHODS`` (FE = fixed/common effect). test: ``z`` (Wald, normal) or
    ``knha`` (Hartung-Knapp-Sidik-Jonkman: variance scaled by y'Py/(k-p), t(k-p) reference;
    Knapp & Hartung 2003). ``tau2`` fixes tau^2 instead of estimating it.
    """
    yi, vi = _check_inputs(yi, vi)
    unit = _unit(vi)
    if unit != 1.0:  # fit y / unit, v / unit^2 (exact), then carry every scaled result back
        fit = rma(yi / unit, vi / unit**2, mods, method=method, test=test, level=level,
                  tau2=None if tau2 is None else tau2 / unit**2, intercept=intercept, study=study,
                  compute_r2=compute_r2)
        return replace(fit, yi=yi, vi=vi, tau2=fit.tau2 * unit**2, se_tau2=fit.se_tau2 * unit**2,
                       beta=fit.beta * unit, vb=fit.vb * unit**2, se=fit.se * unit,
                       ci_lower=fit.ci_lower * unit, ci_upper=fit.ci_upper * unit, vt=fit.vt * unit**2)
    method = estimators.method(method).name
    if test not in TESTS:
        raise ModelError(f"test must be one of {', '.join(TESTS)}, not {test!r}")
    k = yi.size
    X, names = design_matrix(mods, k, intercept)
    if not intercept and np.all(X[:, 0] == 1):
        # A refit on an existing model matrix (leave-one-out, permutations): its first column
        # is the intercept, and tests and names treat it as such (metafor's .is.intercept).
        intercept = True
        names = ["intrcpt", *names[1:]]
    p = X.shape[1]
    if k <= p:
        raise ModelError(f"{k} studies cannot estimate {p} coefficients")
    if p == 1 and intercept:
        pr = Problem(yi, vi)  # no moderators: no matrix algebra at all
    else:
        _check_rank(X, vi)
        pr = Problem(yi, vi, X)
    fe = pr.fit(0.0)  # Cochran's Q below; DL and HS start from the same fit
    if tau2 is not None:
        t2, se_t2, iterations = float(tau2), np.nan, 0
    else:
        t2, se_t2, iterations = estimate_tau2(pr, method, fe_fit=fe)
    t2, se_t2 = float(t2), float(se_t2)
    fit = pr.fit(t2)
    beta, vb, w = fit.beta, fit.M, fit.w
    # Heterogeneity: Cochran's Q with fixed-effect weights, I^2/H^2 via the "typical"
    # within-study variance vt = (k - p)/tr(P) (Higgins & Thompson 2002, eq. 9; metafor i2def "1").
    QE, vt = max(0.0, float(fe.rss)), (k - p) / float(fe.tr_P())
    s2w = 1.0
    if test == "knha":
        s2w = float(knha_factor(fit.rss, k - p))
        vb = s2w * vb
    se = np.sqrt(np.diag(vb))
    zval = beta / se
    a = (1 - level) / 2
    btt = slice(1, p) if (intercept and p > 1) else slice(0, p)
    m = len(range(p)[btt])
    if m > 0 and not (intercept and p == 1):
        QM = float(wald_statistic(beta[btt], vb[btt, btt]))
    else:
        QM = float(beta[0] ** 2 / vb[0, 0])
        m = 1
    if test == "knha":
        ddf = k - p
        QM = QM / m
        QMdf = (m, ddf)
        QMp = float(dist.f_sf(QM, m, ddf))
        pval = 2 * dist.t_sf(np.abs(zval), ddf)
        crit = dist.t_isf(a, ddf)
    else:
        ddf = np.inf
        QMdf = (m,)
        QMp = float(dist.chi2_sf(QM, m))
        pval = 2 * dist.norm_sf(np.abs(zval))
        crit = dist.norm_isf(a)
    QEp = float(dist.chi2_sf(QE, k - p))
    if not METHODS[method].random_effects:
        I2 = max(0.0, 100 * (QE - (k - p)) / QE) if QE > 0 else 0.0
        H2 = QE / (k - p)
    else:
        I2 = 100 * t2 / (vt + t2)
        H2 = t2 / vt + 1
    R2 = None
    if p > 1 and intercept and METHODS[method].random_effects and compute_r2:
        t2_re = float(estimate_tau2(Problem(yi, vi), method, se=False)[0])
        R2 = 0.0 if t2_re <= 0 else max(0.0, 100 * (t2_re - t2) / t2_re)
    return MetaAnalysis(
        yi=yi, vi=vi, X=X, coef_names=names, method=method, test=test, level=level, tau2=float(t2),
        se_tau2=float(se_t2), beta=beta, vb=vb, se=se, zval=zval, pval=pval,
        ci_lower=beta - crit * se, ci_upper=beta + crit * se, ddf=float(ddf), QE=QE, QEp=QEp,
        I2=float(I2), H2=float(H2), vt=float(vt), QM=QM, QMdf=QMdf, QMp=QMp, R2=R2,
        weights=100 * w / w.sum(), s2w=float(s2w), iterations=iterations,
        study_labels=list(study) if study is not None else None)


@dataclass(frozen=True)
class MantelHaenszel:
    """Mantel-Haenszel common-effect result (log scale for RR and OR)."""

    measure: str
    k: int
    estimate: float
    se: float
    zval: float
    pval: float
    ci_lower: float
    ci_upper: float
    QE: float
    QEp: float
    I2: float


def mantel_haenszel(ai, n1i, ci, n2i, *, measure: str = "RR", level: float = 0.95) -> MantelHaenszel:
    """Mantel-Haenszel pooling of 2x2 tables (metafor ``rma.mh``), no continuity correction.

    RR: Greenland & Robins (1985) variance; OR: Robins, Breslow & Greenland (1986) variance;
    RD: Sato, Greenland & Robins (1989) variance. Heterogeneity Q uses the study estimates and
    inverse variances from :func:`effects.binary_effect` (1/2 added to tables with a zero cell).
    """
    from livingmeta.stats.effects import binary_effect
    a, n1, c, n2 = (np.asarray(x, dtype=float) for x in (ai, n1i, ci, n2i))
    b, d = n1 - a, n2 - c
    N = n1 + n2
    if measure == "RR":
        R, S = np.sum(a * n2 / N), np.sum(c * n1 / N)
        beta = np.log(R / S)
        se = np.sqrt(np.sum((n1 / N) * (n2 / N) * (a + c) - (a / N) * c) / (R * S))
    elif measure == "OR":
        Ri, Si, Pi, Qi = a * d / N, b * c / N, (a + d) / N, (b + c) / N
        R, S = Ri.sum(), Si.sum()
        beta = np.log(R / S)
        se = np.sqrt(0.5 * (np.sum(Pi * Ri) / R**2 + np.sum(Pi * Si + Qi * Ri) / (R * S) + np.sum(Qi * Si) / S**2))
    elif measure == "RD":
        W = np.sum(n1 * n2 / N)
        beta = np.sum(a * n2 / N - c * n1 / N) / W
        P = np.sum(c * (n1 / N) ** 2 - a * (n2 / N) ** 2 + (n1 / N) * (n2 / N) * (n2 - n1) / 2)
        Q = np.sum(a * (n2 - c) / N + c * (n1 - a) / N) / 2
        se = np.sqrt((beta * P + Q) / W**2)
    else:
        raise ModelError("measure must be RR, OR or RD")
    crit = dist.norm_isf((1 - level) / 2)
    es = binary_effect(a, n1, c, n2, measure=measure)
    k = a.size
    QE = max(0.0, float(np.sum((es.yi - beta) ** 2 / es.vi)))
    I2 = max(0.0, 100 * (QE - (k - 1)) / QE) if QE > 0 else 0.0
    z = beta / se
    return MantelHaenszel(measure, k, float(beta), float(se), float(z), float(2 * dist.norm_sf(abs(z))),
                          float(beta - crit * se), float(beta + crit * se), QE, float(dist.chi2_sf(QE, k - 1)), float(I2))
