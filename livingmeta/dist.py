"""The few distribution functions the engine needs, straight from scipy.special.

scipy.stats distribution objects validate and broadcast their arguments on every call, which
costs more than a whole small meta-analysis; these are the same functions without that layer.
"""

from scipy import special


def norm_sf(x):
    return special.ndtr(-x)


def norm_isf(q):
    return -special.ndtri(q)


def t_sf(x, df):
    return special.stdtr(df, -x)


def t_isf(q, df):
    return -special.stdtrit(df, q)


def chi2_sf(x, df):
    return special.chdtrc(df, x)


def chi2_isf(q, df):
    return special.chdtri(df, q)


def chi2_ppf(p, df):
    return special.chdtri(df, 1 - p)


def f_sf(x, dfn, dfd):
    return special.fdtrc(dfn, dfd, x)


def norm_cdf(x):
    return special.ndtr(x)


def norm_ppf(p):
    return special.ndtri(p)


def chi2_cdf(x, df):
    return special.chdtr(df, x)


def ordinal_ranks(x):
    """Ranks 1..n, ties broken by order of appearance (R's rank(ties.method = "first"))."""
    import numpy as np
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    return ranks
