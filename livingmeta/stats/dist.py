"""The few distribution functions the engine needs, straight from scipy.special.

scipy.stats distribution objects validate and broadcast their arguments on every call, which
costs more than a whole small meta-analysis; these are the same functions without that layer.
scipy.special is loaded on first use, so a rule that never computes a p-value does not pay for it.
"""

import numpy as np


def _special():
    from scipy import special
    return special


def norm_sf(x):
    return _special().ndtr(-np.asarray(x))


def norm_isf(q):
    return -_special().ndtri(q)


def norm_cdf(x):
    return _special().ndtr(x)


def norm_ppf(p):
    return _special().ndtri(p)


def t_sf(x, df):
    return _special().stdtr(df, -np.asarray(x))


def t_isf(q, df):
    return -_special().stdtrit(df, q)


def chi2_sf(x, df):
    return _special().chdtrc(df, x)


def chi2_cdf(x, df):
    return _special().chdtr(df, x)


def chi2_isf(q, df):
    return _special().chdtri(df, q)


def chi2_ppf(p, df):
    return _special().chdtri(df, 1 - p)


def f_sf(x, dfn, dfd):
    return _special().fdtrc(dfn, dfd, x)


def ordinal_ranks(x):
    """Ranks 1..n, ties broken by order of appearance (R's rank(ties.method = "first"))."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    return ranks
