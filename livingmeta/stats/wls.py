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
    pass w as a k-vector: every result is then a scalar (plain numbers, cheaper than arrays of one).

    Intercept-only models (X None) need only weighted sums of y - c (``yc``, centred at ``centre``
    = c for precision): for one problem as dot products, for a batch from one matrix product with
    ``moments`` = [1, yc, yc^2] (k x 3), so no (B, k) residual matrix is formed. Only w is kept;
    its powers are made when a trace needs them, so memory stays at one (B, k) array per fit."""

    def __init__(self, X, y, w, yc=None, centre=0.0, moments=None):
        self.X, self.y, self.w = X, y, w
        self._A2 = None
        if X is None:
            if w.ndim == 1 and moments is not None:  # a small single problem: fewest numpy calls
                self._w2 = w2 = w * w  # small: kept for sum w^3
                (W, Wy, Wyy), (W2, W2y, W2yy) = (w @ moments).tolist(), (w2 @ moments).tolist()
            elif w.ndim == 1:  # a large single problem: no k x 3 matrix, no array of w^2 kept
                wyc = w * yc
                W, Wy, Wyy = float(w.sum()), float(wyc.sum()), float(wyc @ yc)
                W2, W2y, W2yy = float(w @ w), float(wyc @ w), float(wyc @ wyc)
                del wyc
            else:
                w2 = w * w
                (W, Wy, Wyy), (W2, W2y, W2yy) = (w @ moments).T, (w2 @ moments).T
                self.W3 = np.einsum("bk,bk->b", w2, w)
                del w2
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
            del e, we
            self.W2 = np.einsum("...k,...k->...", w, w)

    def __getattr__(self, name):
        # coefficients and (X'WX)^-1 of an intercept-only fit, made only when asked for
        if name == "beta":
            mu = self._centre + self._mu_c
            return np.array([mu]) if np.ndim(mu) == 0 else mu[:, None]
        if name == "W3":  # sum w^3 of one problem, for tr(PP)
            w2 = self.__dict__.get("_w2")
            self.W3 = float((self.w * self.w if w2 is None else w2) @ self.w)
            return self.W3
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
            self._A2 = self.xtax(self.w * self.w)
        return self._A2

    def tr_P(self, d=None):
        """tr(P D) = sum w d - tr(M X'W^2DX)."""
        if d is None:
            if self.X is None:  # the same with X = 1: sum w - sum w^2 / sum w
                return self.W - self.W2 / self.W
            return self.W - _trace(self.M, self._xtw2x())
        wd = self.w * d
        if self.X is None:
            return wd.sum(-1) - _rowdot(wd, self.w) / self.W
        return wd.sum(-1) - _trace(self.M, self.xtax(wd * self.w))

    def tr_PDPF(self, d=None, f=None):
        """tr(P D P F) = sum w^2 d f - 2 tr(M X'W^3DFX) + tr(M X'W^2DX M X'W^2FX)."""
        if d is None and f is None:
            if self.X is None:  # the same with X = 1
                r = self.W2 / self.W
                return self.W2 - 2 * self.W3 / self.W + r * r
            MA = self.M @ self._xtw2x()
            return self.W2 - 2 * _trace(self.M, self.xtax(self.w * self.w * self.w)) + _trace(MA, MA)
        w2 = self.w * self.w
        w2d = w2 if d is None else w2 * d
        w2df = w2d if f is None else w2d * f
        MAd = self.M @ (self._xtw2x() if d is None else self.xtax(w2d))
        MAf = self.M @ (self._xtw2x() if f is None else self.xtax(w2 * f))
        return w2df.sum(-1) - 2 * _trace(self.M, self.xtax(w2df * self.w)) + _trace(MAd, MAf)

    def logdet_xtwx(self):
        """log det(X'WX), for the restricted likelihood."""
        if self.X is None:
            return np.log(self.W)
        return np.linalg.slogdet(self.A)[1]


def wald_statistic(b, vb):
    """b' vb^-1 b for a coefficient vector and its covariance (or stacks of them)."""
    return np.einsum("...p,...p->...", b, np.linalg.solve(vb, b[..., None])[..., 0])
