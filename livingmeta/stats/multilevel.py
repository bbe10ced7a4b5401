"""Dependent effect sizes: the three-level random-effects model (effects within trials) and
cluster-robust CR2 standard errors with Satterthwaite degrees of freedom.

Three-level model (Konstantopoulos 2011; metafor ``rma.mv(yi, vi, random = ~ 1 | cluster/effect)``):
y_ij = x_ij' beta + u_j + w_ij + e_ij, u_j ~ N(0, sigma2_between), w_ij ~ N(0, sigma2_within),
e_ij ~ N(0, v_ij). Each cluster's marginal covariance is D_j + sigma2_between 11' with
D_j = diag(v_ij + sigma2_within), so its inverse and determinant have closed forms
(Sherman-Morrison) and every quantity is a sum over clusters: memory is linear in k.

CR2 (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018), as clubSandwich's ``vcovCR(type = "CR2")``
with ``coef_test(test = "Satterthwaite")`` for a model fitted with inverse-variance weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from livingmeta.stats import dist
from livingmeta.stats.estimators import Problem
from livingmeta.stats.pooling import ModelError, _check_inputs, design_matrix


@dataclass
class _Clusters:
    """Rows sorted by cluster, with the start index of each cluster for np.add.reduceat."""

    order: np.ndarray
    starts: np.ndarray
    index: np.ndarray   # cluster number (0..J-1) of each sorted row
    labels: np.ndarray

    @classmethod
    def from_labels(cls, cluster):
        cluster = np.asarray(cluster)
        labels, inverse = np.unique(cluster, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        idx = inverse[order]
        starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
        return cls(order, starts, idx, labels)

    @property
    def n(self) -> int:
        return len(self.starts)

    def sums(self, Z):
        return np.add.reduceat(Z, self.starts, axis=0)


class _ThreeLevelAlgebra:
    """V^-1 products, log-determinant and REML pieces for given variance components."""

    def __init__(self, X, y, v, cl: _Clusters, s_b, s_w):
        self.X, self.y, self.cl = X, y, cl
        self.s_b = s_b
        self.inv_d = 1 / (v + s_w)
        self.a = cl.sums(self.inv_d)
        self.c = s_b / (1 + s_b * self.a)

    def vinv(self, Z):
        """V^-1 Z for a k-vector or k x q matrix Z (rows sorted by cluster)."""
        two_d = Z.ndim == 2
        Zd = Z * (self.inv_d[:, None] if two_d else self.inv_d)
        S = self.cl.sums(Zd)
        corr = (self.c[:, None] * S if two_d else self.c * S)[self.cl.index]
        return Zd - (self.inv_d[:, None] if two_d else self.inv_d) * corr

    def fit(self):
        VX = self.vinv(self.X)
        XtVX = self.X.T @ VX
        try:
            L = np.linalg.cholesky(XtVX)
        except np.linalg.LinAlgError:
            raise ModelError("the moderators are collinear (model matrix not of full rank)") from None
        M = np.linalg.inv(XtVX)
        beta = M @ (VX.T @ self.y)
        r = self.y - self.X @ beta
        Py = self.vinv(r)
        logdet_V = -np.sum(np.log(self.inv_d)) + np.sum(np.log1p(self.s_b * self.a))
        logdet_XVX = 2 * np.sum(np.log(np.diag(L)))
        return VX, M, beta, r, Py, logdet_V, logdet_XVX

    def reml(self):
        """-2 x restricted log-likelihood (up to a constant) and its gradient in (s_b, s_w)."""
        VX, M, beta, r, Py, logdet_V, logdet_XVX = self.fit()
        value = logdet_V + logdet_XVX + float(r @ Py)
        tr_vinv = np.sum(self.inv_d) - np.sum(self.c * self.cl.sums(self.inv_d**2))
        tr_P = tr_vinv - np.sum(M * (VX.T @ VX))
        s = self.cl.sums(VX)                       # 1' V_j^-1 X_j per cluster
        tr_PZZ = np.sum(self.a / (1 + self.s_b * self.a)) - np.sum((s @ M) * s)
        g_w = tr_P - float(Py @ Py)
        g_b = tr_PZZ - float(np.sum(self.cl.sums(Py) ** 2))
        return value, np.array([g_b, g_w]), beta, M


@dataclass
class ThreeLevelModel:
    """A fitted three-level meta-analysis (attribute names follow metafor's ``rma.mv``)."""

    coef_names: list
    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    sigma2_between: float
    sigma2_within: float
    QE: float
    QEp: float
    QM: float
    QMp: float
    k: int
    n_clusters: int
    level: float
    # kept for robust (CR2) inference: sorted design, outcomes, variances, clusters
    _X: np.ndarray
    _y: np.ndarray
    _v: np.ndarray
    _clusters: _Clusters

    @property
    def estimate(self) -> float:
        return float(self.beta[0])

    def to_dict(self) -> dict:
        out = {"k": self.k, "n_clusters": self.n_clusters, "model": "threelevel",
               "sigma2_between": self.sigma2_between, "sigma2_within": self.sigma2_within,
               "QE": self.QE, "QEdf": self.k - len(self.beta), "QEp": self.QEp}
        if self.coef_names == ["intrcpt"]:
            out.update(estimate=self.estimate, se=float(self.se[0]), pval=float(self.pval[0]),
                       ci_lower=float(self.ci_lower[0]), ci_upper=float(self.ci_upper[0]))
        else:
            out.update(coefficients=dict(zip(self.coef_names, map(float, self.beta))),
                       coef_se=dict(zip(self.coef_names, map(float, self.se))), QM=self.QM, QMp=self.QMp)
        return out

    def marginal_blocks(self):
        """Each cluster's marginal covariance V_j (rows in sorted order)."""
        cl = self._clusters
        ends = np.r_[cl.starts[1:], self.k]
        return [np.diag(self._v[s:e] + self.sigma2_within) + self.sigma2_between for s, e in zip(cl.starts, ends)]


def three_level(yi, vi, cluster, mods=None, *, level: float = 0.95, intercept: bool = True) -> ThreeLevelModel:
    """Fit the three-level model by REML (metafor ``rma.mv(..., random = ~ 1 | cluster/effect)``).

    The restricted likelihood is maximised over both variance components (bounded at 0) with
    its analytic gradient (Harville 1977 score equations)."""
    yi, vi = _check_inputs(yi, vi)
    k = yi.size
    X_all, names = design_matrix(mods, k, intercept)
    cl = _Clusters.from_labels(cluster)
    if cl.n < 2:
        raise ModelError("a three-level model needs at least 2 clusters")
    X, y, v = X_all[cl.order], yi[cl.order], vi[cl.order]
    p = X.shape[1]

    def objective(theta):
        val, grad, _, _ = _ThreeLevelAlgebra(X, y, v, cl, theta[0], theta[1]).reml()
        return val, grad

    from scipy import optimize

    start = max(float(np.var(y)) / 2, 1e-4)
    best = None
    for s0 in ((start, start), (start, 1e-4), (1e-4, start)):
        res = optimize.minimize(objective, np.array(s0), jac=True, method="L-BFGS-B", bounds=[(0, None), (0, None)],
                                options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 10_000, "maxcor": 20})
        if best is None or res.fun < best.fun:
            best = res
    s_b, s_w = (float(max(t, 0.0)) for t in best.x)
    _, _, beta, M = _ThreeLevelAlgebra(X, y, v, cl, s_b, s_w).reml()
    se = np.sqrt(np.diag(M))
    z = beta / se
    crit = dist.norm_isf((1 - level) / 2)
    QE = max(0.0, float(Problem(y, v, X).fit(0.0).rss))
    btt = slice(1, p) if (intercept and p > 1) else slice(0, p)
    b = beta[btt]
    QM = float(b @ np.linalg.solve(M[btt, btt], b))
    m = len(b)
    return ThreeLevelModel(
        coef_names=names, beta=beta, vb=M, se=se, zval=z, pval=2 * dist.norm_sf(np.abs(z)),
        ci_lower=beta - crit * se, ci_upper=beta + crit * se, sigma2_between=s_b, sigma2_within=s_w,
        QE=QE, QEp=float(dist.chi2_sf(QE, k - p)), QM=QM, QMp=float(dist.chi2_sf(QM, m)), k=k, n_clusters=cl.n,
        level=level, _X=X, _y=y, _v=v, _clusters=cl)


def _inv_sqrt_psd(G, tol=1e-12):
    """Symmetric inverse square root, eigenvalues below tol treated as 0 (clubSandwich's matrix_power)."""
    vals, vecs = np.linalg.eigh(G)
    inv = np.where(vals > tol, 1 / np.sqrt(np.where(vals > tol, vals, 1)), 0.0)
    return (vecs * inv) @ vecs.T


@dataclass(frozen=True)
class RobustTest:
    coef_names: list
    beta: np.ndarray
    se: np.ndarray
    tstat: np.ndarray
    df: np.ndarray
    pval: np.ndarray
    vcov: np.ndarray
    n_clusters: int
    tau2: float = 0.0     # the model's total heterogeneity variance, for prediction intervals
    level: float = 0.95

    def predict(self) -> dict:
        """Pooled effect with confidence and prediction interval from the CR2 inference (metafor's
        ``predict`` on ``robust(..., clubSandwich = TRUE)``): pred +/- t(df) se for the CI and
        pred +/- t(df) sqrt(se^2 + tau^2) for the PI, t from the Satterthwaite df, for a model
        without moderators."""
        if self.coef_names != ["intrcpt"]:
            raise ModelError("a robust prediction is defined here for models without moderators")
        pred, se, df = float(self.beta[0]), float(self.se[0]), float(self.df[0])
        crit = float(dist.t_isf((1 - self.level) / 2, df))
        half_pi = crit * np.sqrt(se**2 + self.tau2)
        return {"pred": pred, "se": se, "df": df, "ci_lower": pred - crit * se, "ci_upper": pred + crit * se,
                "pi_lower": pred - half_pi, "pi_upper": pred + half_pi}

    def to_dict(self) -> dict:
        return {"coefficients": dict(zip(self.coef_names, map(float, self.beta))),
                "coef_se": dict(zip(self.coef_names, map(float, self.se))),
                "coef_df": dict(zip(self.coef_names, map(float, self.df))),
                "coef_pval": dict(zip(self.coef_names, map(float, self.pval))), "n_clusters": self.n_clusters,
                "vcov": "CR2", "test": "Satterthwaite"}


def cr2_test(X, resid, blocks, starts, beta, coef_names, *, tau2: float = 0.0, level: float = 0.95) -> RobustTest:
    """CR2 sandwich variance and Satterthwaite t tests for a model fitted by GLS with the inverse
    of its working covariance (clubSandwich ``coef_test(vcov = "CR2")`` with inverse_var = TRUE).

    X, resid: rows sorted by cluster; blocks: each cluster's working covariance V_j; starts:
    first row of each cluster. A_j = U_j' [U_j (V_j - X_j M X_j') U_j']^-1/2 U_j with U_j the
    Cholesky factor of V_j (Pustejovsky & Tipton 2018, eq. 6)."""
    k, p = X.shape
    J = len(blocks)
    ends = np.r_[starts[1:], k]
    Ws = [np.linalg.inv(Vj) for Vj in blocks]
    XtWX = sum(X[s:e].T @ W @ X[s:e] for W, s, e in zip(Ws, starts, ends))
    M = np.linalg.inv(XtWX)
    L_M = np.linalg.cholesky(M)
    meat = np.zeros((p, p))
    G_rows = []        # per cluster: M E_j U_j' (p x n_j), for the Satterthwaite P matrices
    H = np.empty((p, p, J))
    for j, (Vj, Wj, s, e) in enumerate(zip(blocks, Ws, starts, ends)):
        Xj, rj = X[s:e], resid[s:e]
        U = np.linalg.cholesky(Vj).T                     # upper: U'U = V_j
        G = U @ (Vj - Xj @ M @ Xj.T) @ U.T
        A = U.T @ _inv_sqrt_psd(G) @ U
        E = Xj.T @ Wj @ A                                # p x n_j
        u = E @ rj
        meat += np.outer(u, u)
        ME = M @ E
        G_rows.append(ME @ U.T)
        H[:, :, j] = ME @ Xj @ L_M
    vcov = M @ meat @ M
    se = np.sqrt(np.diag(vcov))
    df = np.empty(p)
    for i in range(p):
        Hi = H[i, :, :]                                   # p x J
        P = -Hi.T @ Hi
        P[np.diag_indices(J)] += np.array([np.sum(g[i] ** 2) for g in G_rows])
        df[i] = np.trace(P) ** 2 / np.sum(P**2)
    t = beta / se
    return RobustTest(list(coef_names), np.asarray(beta), se, t, df, 2 * dist.t_sf(np.abs(t), df), vcov, J,
                      tau2=float(tau2), level=level)


def robust_three_level(fit: ThreeLevelModel) -> RobustTest:
    """CR2 / Satterthwaite inference for a three-level model, clustered by its top level."""
    return cr2_test(fit._X, fit._y - fit._X @ fit.beta, fit.marginal_blocks(), fit._clusters.starts, fit.beta,
                    fit.coef_names, tau2=fit.sigma2_between + fit.sigma2_within, level=fit.level)


def robust_univariate(fit, cluster) -> RobustTest:
    """CR2 / Satterthwaite inference for a random-effects model (pooling.rma) whose effects are
    clustered, with working covariance diag(v + tau^2) (clubSandwich on an ``rma.uni`` fit)."""
    cl = _Clusters.from_labels(cluster)
    X, y, v = fit.X[cl.order], fit.yi[cl.order], fit.vi[cl.order]
    ends = np.r_[cl.starts[1:], len(y)]
    blocks = [np.diag(v[s:e] + fit.tau2) for s, e in zip(cl.starts, ends)]
    return cr2_test(X, y - X @ fit.beta, blocks, cl.starts, fit.beta, fit.coef_names, tau2=fit.tau2, level=fit.level)
