"""Weighted least squares for a batch of meta-analytic problems that share outcomes y.

Problem b has weights w[b] (k,) -- 1/(v + tau^2_b), zero for rows masked out -- and the model
matrix X: ``None`` for an intercept-only model (p = 1), one (k, p) matrix shared by the batch, or a
(B, k, p) stack (permutations). Leave-one-out is a batch of k masked problems, a permutation test
B model matrices, a single fit B = 1. Every trace the tau^2 estimators need is written once here
in terms of P = W - W X (X'WX)^-1 X'W (Viechtbauer 2005), reduced to p x p products: no k x k
matrix is ever formed, so memory is linear in k per problem.
"""

from __future__ import annotations

import numpy as np


def _rowdot(a, b):
    """sum_k a_k b_k for each problem (a: (B, k) or a k-vector for one problem; b: the same, or a
    k-vector shared by all)."""
    return a @ b if a.ndim == 1 or b.ndim == 1 else np.einsum("bk,bk->b", a, b)


def _trace(A, B):
    """tr(A B) for p x p matrices or stacks of them."""
    return np.einsum("...pq,...qp->...", A, B)


class BatchWLS:
    """The weighted fit of y on X with weights w (B, k), and the traces of P. A single problem may
    pass w as a k-vector: every result is then a scalar (cheaper than arrays of one).

    ``moments`` (intercept-only models): the (k, 3) matrix [1, y - c, (y - c)^2], centred at
    ``centre`` = c for precision, so that one matrix product gives a whole batch's weighted sums
    and no (B, k) residual matrix is formed."""

    def __init__(self, X, y, w, moments=None, centre=0.0):
        self.X, self.y, self.w = X, y, w
        self.w2 = w2 = w * w
        self._A2 = None
        if X is None:
            s1, s2 = w @ moments, w2 @ moments
            # one problem: plain numbers from here on (much cheaper than numpy scalars)
            s1, s2 = (s1.tolist(), s2.tolist()) if s1.ndim == 1 else (s1.T, s2.T)
            (W, Wy, Wyy), (W2, W2y, W2yy) = s1, s2
            self.W, self.W2 = W, W2
            self._mu_c = mu_c = Wy / W
            self._centre = centre
            self.rss = Wyy - Wy * mu_c                                     # sum w e^2
            self.ypp = W2yy - mu_c * (2 * W2y - mu_c * W2)                 # sum w^2 e^2
        else:
            self.W = w.sum(-1)
            self.A = self.xtax(w)
            self.M = np.linalg.inv(self.A)                                # (X'WX)^-1
            self.beta = np.einsum("...pq,...q->...p", self.M, self.xta(w * y))
            e = y - self.fitted()
            we = w * e
            self.rss = np.einsum("...k,...k->...", we, e)
            self.ypp = np.einsum("...k,...k->...", we, we)
            self.W2 = w2.sum(-1)

    def __getattr__(self, name):
        # coefficients and (X'WX)^-1 of an intercept-only fit, made only when asked for
        if name == "beta":
            mu = self._centre + self._mu_c
            return np.array([mu]) if np.ndim(mu) == 0 else mu[:, None]
        if name == "M":
            return np.array([[1 / self.W]]) if np.ndim(self.W) == 0 else (1 / self.W)[:, None, None]
        raise AttributeError(name)

    @property
    def p(self) -> int:
        return 1 if self.X is None else self.X.shape[-1]

    # X' diag(a) X, X' c and X beta for the three kinds of design
    def xtax(self, a):
        if self.X is None:
            return a.sum(-1)[..., None, None]
        return np.swapaxes(self.X, -1, -2) @ (a[..., None] * self.X)

    def xta(self, c):
        if self.X.ndim == 2:  # shared matrix (c may be one problem's k-vector)
            return c @ self.X
        return np.einsum("bk,bkp->bp", c, self.X)

    def fitted(self):
        if self.X is None:
            return np.broadcast_to(self.beta, self.w.shape)
        if self.X.ndim == 2:
            return self.beta @ self.X.T
        return np.einsum("bkp,bp->bk", self.X, self.beta)

    # Traces of P; d, f are diagonal matrices given as k-vectors, None for the identity.
    def _xtw2x(self):
        """X'W^2X, shared by tr(P) and tr(PP)."""
        if self._A2 is None:
            self._A2 = self.xtax(self.w2)
        return self._A2

    def tr_P(self, d=None):
        """tr(P D) = sum w d - tr(M X'W^2DX)."""
        if self.X is None:  # the same with X = 1: sum w d - sum w^2 d / sum w
            return (self.W - self.W2 / self.W) if d is None else (_rowdot(self.w, d) - _rowdot(self.w2, d) / self.W)
        if d is None:
            return self.W - _trace(self.M, self._xtw2x())
        return _rowdot(self.w, d) - _trace(self.M, self.xtax(self.w2 * d))

    def tr_PDPF(self, d=None, f=None):
        """tr(P D P F) = sum w^2 d f - 2 tr(M X'W^3DFX) + tr(M X'W^2DX M X'W^2FX)."""
        if d is None and f is None:
            W3 = _rowdot(self.w2, self.w)
            if self.X is None:  # the same with X = 1
                r = self.W2 / self.W
                return self.W2 - 2 * W3 / self.W + r * r
            MA = self.M @ self._xtw2x()
            return self.W2 - 2 * _trace(self.M, self.xtax(self.w2 * self.w)) + _trace(MA, MA)
        w2d = self.w2 if d is None else self.w2 * d
        w2df = w2d if f is None else w2d * f
        MAd = self.M @ (self._xtw2x() if d is None else self.xtax(w2d))
        MAf = self.M @ (self._xtw2x() if f is None else self.xtax(self.w2 * f))
        return w2df.sum(-1) - 2 * _trace(self.M, self.xtax(w2df * self.w)) + _trace(MAd, MAf)

    def logdet_xtwx(self):
        """log det(X'WX), for the restricted likelihood."""
        if self.X is None:
            return np.log(self.W)
        return np.linalg.slogdet(self.A)[1]


def wald_statistic(b, vb):
    """b' vb^-1 b for a coefficient vector and its covariance (or stacks of them)."""
    return np.einsum("...p,...p->...", b, np.linalg.solve(vb, b[..., None])[..., 0])
