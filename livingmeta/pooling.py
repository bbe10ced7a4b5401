"""Random- and fixed-effects meta-analysis and meta-regression: livingmeta's ``rma``.

The model is y_i = x_i' beta + u_i + e_i with e_i ~ N(0, v_i) known and u_i ~ N(0, tau^2)
(Viechtbauer 2010; metafor's ``rma.uni``). Every formula works on k-vectors and p x p matrices
only (thin QR of the weighted design), so memory is linear in k and there are no loops over
studies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from . import dist
from . import intercept as intercept_only

TAU2_METHODS = ("FE", "DL", "REML", "ML", "PM", "HE", "HS", "SJ", "EB")
TESTS = ("z", "knha")
TAU2_MAX = 100.0  # metafor's default upper bound for root-finding estimators
FISHER_THRESHOLD = 1e-12
FISHER_MAXITER = 10_000


from livingmeta.errors import ConvergenceError, ModelError  # noqa: E402,F401  (re-exported)


# --------------------------------------------------------------------------------------------
# Weighted least squares through a thin QR decomposition.
# --------------------------------------------------------------------------------------------
@dataclass
class _WLS:
    """Weighted least squares of y on X with weights w, plus the traces the estimators need.

    With B = diag(sqrt(w)) and BX = QR, the matrix P = W - WX(X'WX)^-1 X'W of Viechtbauer (2005)
    is B (I - QQ') B, so every trace of P reduces to row norms of Q and p x p products.
    """

    X: np.ndarray
    y: np.ndarray
    w: np.ndarray

    def __post_init__(self):
        sw = np.sqrt(self.w)
        if self.X.shape[1] == 1:
            # One column (an intercept-only model): QR, coefficients and (X'WX)^-1 in closed form;
            # numpy's LAPACK wrappers would cost more than the arithmetic at small k.
            a = self.X[:, 0] * sw
            r2 = a @ a
            if not r2 > 0:
                raise ModelError("the model matrix is all zeros")
            r = np.sqrt(r2)
            self.Q, self.R = (a / r)[:, None], np.array([[r]])
            self.beta = np.array([(a @ (sw * self.y)) / r2])
            self.M = np.array([[1 / r2]])
            self.h = self.Q[:, 0] ** 2
        else:
            self.Q, self.R = np.linalg.qr(self.X * sw[:, None])
            if np.any(np.abs(np.diag(self.R)) < 1e-10 * max(1.0, np.abs(self.R).max())):
                raise ModelError("the moderators are collinear (model matrix not of full rank)")
            self.beta = np.linalg.solve(self.R, self.Q.T @ (sw * self.y))
            self.h = np.einsum("ij,ij->i", self.Q, self.Q)  # hat values (diagonal of QQ')
            Rinv = np.linalg.inv(self.R)
            self.M = Rinv @ Rinv.T  # (X'WX)^-1
        self.resid = self.y - self.X @ self.beta

    @property
    def rss(self) -> float:
        """y'Py, the weighted residual sum of squares (generalised Q)."""
        return float(np.sum(self.w * self.resid**2))

    def tr_P_diag(self, d) -> float:
        """tr(P D) for diagonal D = diag(d)."""
        e = self.w * d
        return float(np.sum(e) - np.sum(e * self.h))

    def tr_PDPF(self, d, f) -> float:
        """tr(P D P F) for diagonal D, F (with P = B(I-H)B; uses tr((I-H)E(I-H)G))."""
        e, g = self.w * d, self.w * f
        QeQ = self.Q.T @ (self.Q * e[:, None])
        QgQ = self.Q.T @ (self.Q * g[:, None])
        return float(np.sum(e * g) - 2 * np.sum(e * g * self.h) + np.sum(QeQ * QgQ.T))

    def py_norm2(self) -> float:
        """y'PPy = ||Py||^2 with Py = W e."""
        return float(np.sum((self.w * self.resid) ** 2))


def _ones(k):
    return np.ones(k)


# --------------------------------------------------------------------------------------------
# tau^2 estimators. Each takes y, v, X and returns (tau2, se_tau2 or nan, iterations).
# --------------------------------------------------------------------------------------------
def tau2_dl(yi, vi, X, fe: _WLS | None = None):
    """DerSimonian & Laird (1986) method-of-moments estimator, generalised to meta-regression
    (Raudenbush 2009): (Q - (k - p)) / tr(P), truncated at zero. ``fe``: the fixed-effect fit
    with weights 1/v, if already at hand."""
    k, p = X.shape
    fit = fe if fe is not None else _WLS(X, yi, 1 / vi)
    trP = fit.tr_P_diag(_ones(k))
    tau2 = max(0.0, (fit.rss - (k - p)) / trP)
    se = np.sqrt((2 * (k - p) + 4 * tau2 * trP + 2 * tau2**2 * fit.tr_PDPF(_ones(k), _ones(k))) / trP**2)
    return tau2, se, 0


def tau2_he(yi, vi, X):
    """Hedges (1983) / Hedges-Olkin unweighted method-of-moments estimator:
    (RSS_OLS - tr(P0 V)) / (k - p), P0 the OLS residual projector."""
    k, p = X.shape
    raw, ols = _he_raw(yi, vi, X)
    tau2 = max(0.0, raw)
    # metafor: se = sqrt(1/(k-p)^2 (2 tr(P0 V P0 V) + 4 tau2 tr(P0 V) + 2 tau2^2 (k - p)))
    trPV = ols.tr_P_diag(vi)
    se = np.sqrt((2 * ols.tr_PDPF(vi, vi) + 4 * tau2 * trPV + 2 * tau2**2 * (k - p)) / (k - p) ** 2)
    return tau2, se, 0


def _he_raw(yi, vi, X):
    k, p = X.shape
    ols = _WLS(X, yi, _ones(k))
    return (ols.rss - ols.tr_P_diag(vi)) / (k - p), ols


def tau2_hs(yi, vi, X):
    """Hunter & Schmidt (2004) estimator as in metafor: (y'Py - k) / sum(w), w = 1/v."""
    k, p = X.shape
    w = 1 / vi
    fit = _WLS(X, yi, w)
    tau2 = max(0.0, (fit.rss - k) / np.sum(w))
    se = np.sqrt((2 * (k - p) + 4 * tau2 * fit.tr_P_diag(_ones(k)) + 2 * tau2**2 * fit.tr_PDPF(_ones(k), _ones(k))) / np.sum(w) ** 2)
    return tau2, se, 0


def tau2_sj(yi, vi, X):
    """Sidik & Jonkman (2005) two-step estimator: tau0 = var(y)(k-1)/k, then tau0 y'P(tau0)y/(k-p)."""
    k, p = X.shape
    tau0 = float(np.var(yi))  # population variance = var(y) (k-1)/k
    fit = _WLS(X, yi, 1 / (vi + tau0))
    tau2 = max(0.0, tau0 * fit.rss / (k - p))
    se = np.sqrt(tau0**2 / (k - p) ** 2 * (2 * fit.tr_PDPF(vi, vi) + 4 * tau2 * fit.tr_PDPF(vi, _ones(k))
                                          + 2 * tau2**2 * fit.tr_PDPF(_ones(k), _ones(k))))
    return tau2, se, 0


def generalised_q(tau2, yi, vi, X) -> float:
    """Generalised Q statistic sum w_i (y_i - x_i'b)^2 with w_i = 1/(v_i + tau2)."""
    return _WLS(X, yi, 1 / (vi + tau2)).rss


def _q_root(target, yi, vi, X, lo=0.0, hi=TAU2_MAX):
    """tau2 at which the generalised Q equals ``target`` (Q decreases in tau2)."""
    from scipy import optimize

    f = lambda t: generalised_q(t, yi, vi, X) - target  # noqa: E731
    if f(lo) < 0:
        return lo
    while f(hi) > 0:
        hi *= 10
        if hi > 1e12:
            raise ModelError("no tau^2 makes Q equal its target; the data may be degenerate")
    return optimize.brentq(f, lo, hi, xtol=1e-15, rtol=1e-14, maxiter=1000)


def tau2_pm(yi, vi, X):
    """Paule & Mandel (1982) estimator: the tau2 at which the generalised Q equals k - p."""
    k, p = X.shape
    tau2 = _q_root(k - p, yi, vi, X)
    w = 1 / (vi + tau2)
    se = np.sqrt(2 * k**2 / (k - p) / np.sum(w) ** 2)
    return tau2, se, 0


def tau2_eb(yi, vi, X):
    """Empirical Bayes estimator (Morris 1983; Berkey et al. 1995). Its estimating equation,
    k/(k-p) y'Py = k, is the Paule-Mandel one, so it is solved the same way (metafor iterates)."""
    return tau2_pm(yi, vi, X)


def _fisher_scoring(yi, vi, X, reml: bool):
    k, p = X.shape
    tau2 = max(0.0, _he_raw(yi, vi, X)[0])  # metafor starts ML/REML from the HE estimate

    def step(t):
        fit = _WLS(X, yi, 1 / (vi + t))
        if reml:
            return (fit.py_norm2() - fit.tr_P_diag(_ones(k))) / fit.tr_PDPF(_ones(k), _ones(k))
        return (fit.py_norm2() - np.sum(fit.w)) / np.sum(fit.w**2)

    try:
        tau2, it = intercept_only.fisher_scoring(tau2, step, FISHER_THRESHOLD, FISHER_MAXITER)
    except RuntimeError:
        raise ModelError("Fisher scoring for tau^2 did not converge") from None
    # metafor's ll0check: keep tau2 = 0 if the likelihood is higher there.
    if tau2 > 0 and log_likelihood(0.0, yi, vi, X, reml) > log_likelihood(tau2, yi, vi, X, reml) + 1e-10:
        tau2 = 0.0
    fit = _WLS(X, yi, 1 / (vi + tau2))
    se = np.sqrt(2 / fit.tr_PDPF(_ones(k), _ones(k))) if reml else np.sqrt(2 / np.sum(fit.w**2))
    return tau2, se, it


def tau2_reml(yi, vi, X):
    """Restricted maximum likelihood (Viechtbauer 2005), Fisher scoring from the HE estimate."""
    return _fisher_scoring(yi, vi, X, reml=True)


def tau2_ml(yi, vi, X):
    """Maximum likelihood (Hardy & Thompson 1996), Fisher scoring from the HE estimate."""
    return _fisher_scoring(yi, vi, X, reml=False)


def log_likelihood(tau2, yi, vi, X, reml: bool = True) -> float:
    """(Restricted) log-likelihood of the random-effects model at tau2 (Viechtbauer 2005, eq. 7-8)."""
    k, p = X.shape
    fit = _WLS(X, yi, 1 / (vi + tau2))
    if reml:
        logdet = 2 * np.sum(np.log(np.abs(np.diag(fit.R))))
        return float(-0.5 * (k - p) * np.log(2 * np.pi) - 0.5 * np.sum(np.log(vi + tau2)) - 0.5 * logdet - 0.5 * fit.rss)
    return float(-0.5 * k * np.log(2 * np.pi) - 0.5 * np.sum(np.log(vi + tau2)) - 0.5 * fit.rss)


_ESTIMATORS = {"DL": tau2_dl, "HE": tau2_he, "HS": tau2_hs, "SJ": tau2_sj, "PM": tau2_pm,
               "EB": tau2_eb, "REML": tau2_reml, "ML": tau2_ml}


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
    QM_df: tuple
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
        lb = _q_root(crit_u, self.yi, self.vi, self.X)
        ub = _q_root(crit_l, self.yi, self.vi, self.X)
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
               "tau2": self.tau2, "se_tau2": self.se_tau2, "I2": self.I2, "H2": self.H2,
               "Q": self.QE, "Q_df": self.k - self.p, "Q_p": self.QEp}
        if self.int_only:
            pr = self.predict()
            out.update(estimate=self.estimate, se=float(self.se[0]), zval=float(self.zval[0]),
                       pval=float(self.pval[0]), ci_lower=float(self.ci_lower[0]), ci_upper=float(self.ci_upper[0]),
                       pi_lower=pr["pi_lower"], pi_upper=pr["pi_upper"])
        else:
            out.update(
                coefficients=dict(zip(self.coef_names, map(float, self.beta))),
                coef_se=dict(zip(self.coef_names, map(float, self.se))),
                coef_pval=dict(zip(self.coef_names, map(float, self.pval))),
                coef_ci_lower=dict(zip(self.coef_names, map(float, self.ci_lower))),
                coef_ci_upper=dict(zip(self.coef_names, map(float, self.ci_upper))),
                QM=self.QM, QM_df=list(self.QM_df), QM_p=self.QMp, R2=self.R2)
        if self.test == "knha":
            out["df"] = self.ddf
        return out

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
            lines.append(f"Test of moderators: QM(df = {self.QM_df}) = {self.QM:.4f}, p = {self.QMp:.4g}")
        lines += ["", f"{'':12s}{'estimate':>10s}{'se':>10s}{'stat':>10s}{'pval':>10s}{'ci.lb':>10s}{'ci.ub':>10s}"]
        for i, name in enumerate(self.coef_names):
            lines.append(f"{name:12s}{self.beta[i]:10.4f}{self.se[i]:10.4f}{self.zval[i]:10.4f}"
                         f"{self.pval[i]:10.4g}{self.ci_lower[i]:10.4f}{self.ci_upper[i]:10.4f}")
        return "\n".join(lines)


def _check_inputs(yi, vi):
    yi = np.asarray(yi, dtype=float).ravel()
    vi = np.asarray(vi, dtype=float).ravel()
    if yi.shape != vi.shape:
        raise ModelError(f"yi has {yi.size} values but vi has {vi.size}")
    if not (np.all(np.isfinite(yi)) and np.all(np.isfinite(vi))):
        raise ModelError("yi and vi must be finite numbers (no missing values)")
    if np.any(vi <= 0):
        raise ModelError("every sampling variance vi must be positive")
    if yi.size < 2:
        raise ModelError("a meta-analysis needs at least 2 studies")
    return yi, vi


def rma(yi, vi, mods=None, *, method: str = "REML", test: str = "z", level: float = 0.95,
        tau2: float | None = None, intercept: bool = True, study=None, compute_r2: bool = True) -> MetaAnalysis:
    """Fit a fixed-, random- or mixed-effects meta-analysis (metafor ``rma.uni``).

    method: one of ``TAU2_METHODS`` (FE = fixed/common effect). test: ``z`` (Wald, normal) or
    ``knha`` (Hartung-Knapp-Sidik-Jonkman: variance scaled by y'Py/(k-p), t(k-p) reference;
    Knapp & Hartung 2003). ``tau2`` fixes tau^2 instead of estimating it.
    """
    yi, vi = _check_inputs(yi, vi)
    method = method.upper()
    if method not in TAU2_METHODS:
        raise ModelError(f"method must be one of {', '.join(TAU2_METHODS)}, not {method!r}")
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
    iterations = 0
    if p == 1 and intercept:
        # No moderators: every quantity is a sum over studies (livingmeta.intercept).
        fe_s = intercept_only.Sums(yi, vi, 0.0)
        if tau2 is not None:
            t2, se_t2 = float(tau2), np.nan
        elif method == "FE":
            t2, se_t2 = 0.0, np.nan
        else:
            t2, se_t2, iterations = intercept_only.tau2(yi, vi, method, fe_s)
        fit_s = intercept_only.Sums(yi, vi, t2)
        beta, vb, rss, w = np.array([fit_s.mu]), np.array([[1 / fit_s.W]]), fit_s.q, fit_s.w
        QE, vt = max(0.0, fe_s.q), (k - 1) / fe_s.trP
    else:
        fe = _WLS(X, yi, 1 / vi)  # Cochran's Q below; DL starts from the same fit
        if tau2 is not None:
            t2, se_t2 = float(tau2), np.nan
        elif method == "FE":
            t2, se_t2 = 0.0, np.nan
        elif method == "DL":
            t2, se_t2, iterations = tau2_dl(yi, vi, X, fe)
        else:
            t2, se_t2, iterations = _ESTIMATORS[method](yi, vi, X)
        fit = _WLS(X, yi, 1 / (vi + t2))
        beta, vb, rss, w = fit.beta, fit.M.copy(), fit.rss, 1 / (vi + t2)
        # Heterogeneity: Cochran's Q with fixed-effect weights, I^2/H^2 via the "typical"
        # within-study variance vt = (k - p)/tr(P) (Higgins & Thompson 2002, eq. 9; metafor i2def "1").
        QE, vt = max(0.0, fe.rss), (k - p) / fe.tr_P_diag(_ones(k))
    s2w = 1.0
    if test == "knha":
        s2w = rss / (k - p) if rss > np.finfo(float).eps else 0.0
        vb = s2w * vb
    se = np.sqrt(np.diag(vb))
    zval = beta / se
    a = (1 - level) / 2
    btt = slice(1, p) if (intercept and p > 1) else slice(0, p)
    m = len(range(p)[btt])
    if m > 0 and not (intercept and p == 1):
        b = beta[btt]
        QM = float(b @ np.linalg.solve(vb[btt, btt], b))
    else:
        QM = float(beta[0] ** 2 / vb[0, 0])
        m = 1
    if test == "knha":
        ddf = k - p
        QM = QM / m
        QM_df = (m, ddf)
        QMp = float(dist.f_sf(QM, m, ddf))
        pval = 2 * dist.t_sf(np.abs(zval), ddf)
        crit = dist.t_isf(a, ddf)
    else:
        ddf = np.inf
        QM_df = (m,)
        QMp = float(dist.chi2_sf(QM, m))
        pval = 2 * dist.norm_sf(np.abs(zval))
        crit = dist.norm_isf(a)
    QEp = float(dist.chi2_sf(QE, k - p))
    if method == "FE":
        I2 = max(0.0, 100 * (QE - (k - p)) / QE) if QE > 0 else 0.0
        H2 = QE / (k - p)
    else:
        I2 = 100 * t2 / (vt + t2)
        H2 = t2 / vt + 1
    R2 = None
    if p > 1 and intercept and method != "FE" and compute_r2:
        t2_re = intercept_only.tau2(yi, vi, method)[0]
        R2 = 0.0 if t2_re <= 0 else max(0.0, 100 * (t2_re - t2) / t2_re)
    return MetaAnalysis(
        yi=yi, vi=vi, X=X, coef_names=names, method=method, test=test, level=level, tau2=float(t2),
        se_tau2=float(se_t2), beta=beta, vb=vb, se=se, zval=zval, pval=pval,
        ci_lower=beta - crit * se, ci_upper=beta + crit * se, ddf=float(ddf), QE=QE, QEp=QEp,
        I2=float(I2), H2=float(H2), vt=float(vt), QM=QM, QM_df=QM_df, QMp=QMp, R2=R2,
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
    from .effects import binary_effect
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
