"""Effect sizes and their sampling variances: livingmeta's ``escalc``.

Every function takes arrays (or scalars) and returns an :class:`EffectSizes` with ``yi`` and
``vi``. Conventions that differ between tools are named options; the docstring says which tool
uses which. Defaults follow R's metafor (Viechtbauer 2010).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from livingmeta.stats import dist

SMD_VARIANCES = ("LS", "UB", "LS2", "revman")
SMD_CORRECTIONS = ("exact", "approx", "none")
BINARY_MEASURES = ("RR", "OR", "RD")
CONTINUOUS_MEASURES = ("SMD", "MD")
RATIO_MEASURES = ("RR", "OR")  # analysed on the log scale, shown back-transformed


from livingmeta.errors import EffectSizeError  # noqa: E402  (re-exported: effects.EffectSizeError)


def wald_ci(yi, sei, level: float):
    """Each study's Wald confidence interval, yi -/+ z_(1-(1-level)/2) * sei (metafor's escalc summary)."""
    z = dist.norm_isf((1 - level) / 2)
    return yi - z * sei, yi + z * sei


@dataclass(frozen=True)
class EffectSizes:
    """Effect estimates ``yi`` with sampling variances ``vi`` (one entry per study)."""

    yi: np.ndarray
    vi: np.ndarray
    measure: str

    def __post_init__(self):
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(self.yi) & np.isfinite(self.vi) & (np.asarray(self.vi) > 0)
        if not np.all(ok):
            raise EffectSizeError(f"{self.measure}: the inputs give no finite effect size with a positive variance "
                                  "(extreme values, or zero cells without a correction)")

    @property
    def sei(self) -> np.ndarray:
        return np.sqrt(self.vi)


def _arr(*xs):
    try:
        out = [np.asarray(x, dtype=float) for x in xs]
    except (TypeError, ValueError) as e:
        raise EffectSizeError(f"inputs must be numbers ({e})") from None
    for a in out:
        if not np.all(np.isfinite(a)):
            raise EffectSizeError("inputs must be finite numbers (no missing values, no infinities)")
    try:
        np.broadcast_shapes(*(a.shape for a in out))
    except ValueError:
        raise EffectSizeError("input arrays have different lengths") from None
    return out


def _require(condition, message: str) -> None:
    if not np.all(condition):
        raise EffectSizeError(message)


def _check_groups(n1, n2, sd1=None, sd2=None) -> None:
    _require((n1 >= 2) & (n2 >= 2), "each group needs at least 2 participants")
    if sd1 is not None:
        _require((sd1 > 0) & (sd2 > 0), "standard deviations must be greater than 0")


def hedges_correction(df, method: str = "exact"):
    """Small-sample bias correction J(df) for Cohen's d.

    ``exact``: Hedges (1981) eq. 6b, J = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2)), as metafor.
    ``approx``: 1 - 3/(4 df - 1) (Hedges & Olkin 1985), which RevMan 5 writes as 1 - 3/(4N - 9).
    ``none``: 1 (Cohen's d).
    """
    df = np.asarray(df, dtype=float)
    if method == "exact":
        from scipy import special  # loaded on first use: rules that only read effect sizes skip it

        with np.errstate(invalid="ignore"):
            j = np.exp(special.gammaln(df / 2) - 0.5 * np.log(df / 2) - special.gammaln((df - 1) / 2))
        return np.where(df > 1, j, np.nan)
    if method == "approx":
        return 1 - 3 / (4 * df - 1)
    if method == "none":
        return np.ones_like(df)
    raise ValueError(f"correction must be one of {SMD_CORRECTIONS}, not {method!r}")


def pooled_sd(sd1, n1, sd2, n2):
    """Pooled within-group standard deviation (Cochrane Handbook 6.5.1.2)."""
    sd1, n1, sd2, n2 = _arr(sd1, n1, sd2, n2)
    return np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))


def common_sd(sd, n) -> float:
    """One standard deviation of the outcome across trials: the within-group variances of every
    group that reports a standard deviation (and more than one participant), pooled with their
    degrees of freedom n - 1 as :func:`pooled_sd` pools a trial's two groups (Cochrane Handbook
    6.5.1.2). NaN when no group does. A mean difference needs it wherever a rule is stated in
    standard deviations: the variance nu = sigma^2 of a required information size (Wetterslev et
    al. 2008, eq. 1) and thresholds set in SMD units."""
    sd, n = np.asarray(sd, dtype=float), np.asarray(n, dtype=float)  # a group without an SD is skipped
    ok = np.isfinite(sd) & np.isfinite(n) & (n > 1) & (sd >= 0)
    if not ok.any():
        return float("nan")
    return float(np.sqrt(np.sum((n[ok] - 1) * sd[ok] ** 2) / np.sum(n[ok] - 1)))


def smd_variance(g, d, n1, n2, j, variance: str = "LS"):
    """Sampling variance of a standardized mean difference.

    ``LS`` (metafor default): 1/n1 + 1/n2 + g^2 / (2N) (Hedges & Olkin 1985, eq. 8, with g).
    ``UB``: unbiased estimate (Hedges 1983), 1/n1 + 1/n2 + (1 - (m-2)/(m J^2)) g^2, m = N-2.
    ``LS2``: J^2 (1/n1 + 1/n2 + d^2 / (2N)) (Borenstein 2009, eq. 4.28 with J^2).
    ``revman``: RevMan 5's "Hedges' adjusted g", N/(n1 n2) + g^2 / (2 (N - 3.94))
    (Deeks & Higgins, Statistical algorithms in Review Manager 5, 2010).
    """
    g, d, n1, n2, j = _arr(g, d, n1, n2, j)
    n = n1 + n2
    if variance == "LS":
        return 1 / n1 + 1 / n2 + g**2 / (2 * n)
    if variance == "UB":
        m = n - 2
        return 1 / n1 + 1 / n2 + (1 - (m - 2) / (m * j**2)) * g**2
    if variance == "LS2":
        return j**2 * (1 / n1 + 1 / n2 + d**2 / (2 * n))
    if variance == "revman":
        return n / (n1 * n2) + g**2 / (2 * (n - 3.94))
    raise ValueError(f"variance must be one of {SMD_VARIANCES}, not {variance!r}")


def hedges_g(m1, sd1, n1, m2, sd2, n2, *, variance: str = "LS", correction: str = "exact") -> EffectSizes:
    """Hedges' g for two independent groups, group 1 minus group 2 (metafor measure "SMD").

    g = J(N-2) (m1 - m2) / s_pooled; variance by ``variance`` (see :func:`smd_variance`).
    """
    m1, sd1, n1, m2, sd2, n2 = _arr(m1, sd1, n1, m2, sd2, n2)
    _check_groups(n1, n2, sd1, sd2)
    d = (m1 - m2) / pooled_sd(sd1, n1, sd2, n2)
    j = hedges_correction(n1 + n2 - 2, correction)
    g = j * d
    return EffectSizes(g, smd_variance(g, d, n1, n2, j, variance), "SMD")


def mean_difference(m1, sd1, n1, m2, sd2, n2) -> EffectSizes:
    """Raw mean difference, group 1 minus group 2 (metafor measure "MD"; RevMan's MD), in the
    outcome's own units: var = sd1^2/n1 + sd2^2/n2 (Cochrane Handbook 6.5.1.1)."""
    m1, sd1, n1, m2, sd2, n2 = _arr(m1, sd1, n1, m2, sd2, n2)
    _check_groups(n1, n2, sd1, sd2)
    return EffectSizes(m1 - m2, sd1**2 / n1 + sd2**2 / n2, "MD")


def _smd_from_d(d, n1, n2, variance, correction) -> EffectSizes:
    d, n1, n2 = _arr(d, n1, n2)
    _check_groups(n1, n2)
    j = hedges_correction(n1 + n2 - 2, correction)
    g = j * d
    return EffectSizes(g, smd_variance(g, d, n1, n2, j, variance), "SMD")


def smd_from_t(t, n1, n2, *, variance: str = "LS", correction: str = "exact") -> EffectSizes:
    """SMD from an independent-samples t statistic: d = t sqrt(1/n1 + 1/n2) (metafor ``ti``)."""
    t, n1, n2 = _arr(t, n1, n2)
    _check_groups(n1, n2)
    return _smd_from_d(t * np.sqrt(1 / n1 + 1 / n2), n1, n2, variance, correction)


def smd_from_f(f, n1, n2, sign, *, variance: str = "LS", correction: str = "exact") -> EffectSizes:
    """SMD from a one-df F statistic: t = sign * sqrt(F); F carries no direction, so ``sign`` does."""
    f, sign = _arr(f, sign)
    _require(f >= 0, "an F statistic cannot be negative")
    return smd_from_t(np.sign(sign) * np.sqrt(f), n1, n2, variance=variance, correction=correction)


def smd_from_p(p, n1, n2, sign, *, variance: str = "LS", correction: str = "exact") -> EffectSizes:
    """SMD from an exact two-sided p-value of a t test: t = qt(1 - p/2, N - 2) with the given sign."""
    p, n1, n2, sign = _arr(p, n1, n2, sign)
    _require((p > 0) & (p <= 1), "p-values must be in (0, 1]")
    _check_groups(n1, n2)
    t = dist.t_isf(p / 2, n1 + n2 - 2) * np.sign(sign)
    return smd_from_t(t, n1, n2, variance=variance, correction=correction)


def smd_from_mean_difference(md, n1, n2, *, se=None, ci_lower=None, ci_upper=None, level: float = 0.95,
                             variance: str = "LS", correction: str = "exact") -> EffectSizes:
    """SMD from a mean difference with its SE or confidence interval.

    The SD is recovered as SE / sqrt(1/n1 + 1/n2); a CI gives SE = width / (2 t_{N-2}) as in the
    Cochrane Handbook 6.5.2.3 (t quantile for small samples).
    """
    md, n1, n2 = _arr(md, n1, n2)
    if se is None:
        if ci_lower is None or ci_upper is None:
            raise ValueError("give either se or both ci_lower and ci_upper")
        lo, hi = _arr(ci_lower, ci_upper)
        se = (hi - lo) / (2 * dist.t_isf((1 - level) / 2, n1 + n2 - 2))
    se = np.asarray(se, dtype=float)
    sd = se / np.sqrt(1 / n1 + 1 / n2)
    return _smd_from_d(md / sd, n1, n2, variance, correction)


def smd_change(m_post, m_pre, sd_post, sd_pre, n, r, *, standardizer: str = "change",
               variance: str = "LS") -> EffectSizes:
    """Standardized mean change within one arm (metafor "SMCC" and "SMCR").

    ``standardizer="change"`` (SMCC): d = (post - pre) / SD_change, SD_change from the pre and post
    SDs and the pre-post correlation r (Gibbons et al. 1993); v = 1/n + g^2/(2n).
    ``standardizer="pre"`` (SMCR): d = (post - pre) / SD_pre (Becker 1988); v = 2(1-r)/n + g^2/(2n).
    J uses df = n - 1.
    """
    m_post, m_pre, sd_post, sd_pre, n, r = _arr(m_post, m_pre, sd_post, sd_pre, n, r)
    j = hedges_correction(n - 1, "exact")
    if standardizer == "change":
        d = (m_post - m_pre) / np.sqrt(sd_post**2 + sd_pre**2 - 2 * r * sd_post * sd_pre)
        g = j * d
        v = 1 / n + g**2 / (2 * n) if variance == "LS" else j**2 * (1 / n + d**2 / (2 * n))
    elif standardizer == "pre":
        d = (m_post - m_pre) / sd_pre
        g = j * d
        v = 2 * (1 - r) / n + g**2 / (2 * n) if variance == "LS" else j**2 * (2 * (1 - r) / n + d**2 / (2 * n))
    else:
        raise ValueError("standardizer must be 'change' or 'pre'")
    return EffectSizes(g, v, "SMCC" if standardizer == "change" else "SMCR")


def smd_pre_post_control(arm1: dict, arm2: dict, *, r: float, standardizer: str = "pre") -> EffectSizes:
    """Between-arm difference of standardized mean changes (Morris 2008; Becker 1988).

    Each arm is a dict with ``m_post, m_pre, sd_post, sd_pre, n``; r is the pre-post correlation,
    usually not reported, so callers should run :func:`pre_post_correlation_sweep` as sensitivity.
    """
    a = smd_change(arm1["m_post"], arm1["m_pre"], arm1["sd_post"], arm1["sd_pre"], arm1["n"], r, standardizer=standardizer)
    b = smd_change(arm2["m_post"], arm2["m_pre"], arm2["sd_post"], arm2["sd_pre"], arm2["n"], r, standardizer=standardizer)
    return EffectSizes(a.yi - b.yi, a.vi + b.vi, "SMCR-diff" if standardizer == "pre" else "SMCC-diff")


def pre_post_correlation_sweep(arm1: dict, arm2: dict, rs=(0.2, 0.4, 0.5, 0.6, 0.8), standardizer: str = "pre"):
    """Effect and variance of :func:`smd_pre_post_control` for each assumed correlation in ``rs``."""
    return {float(r): smd_pre_post_control(arm1, arm2, r=r, standardizer=standardizer) for r in rs}


def mean_sd_from_quantiles(n, *, median, q1=None, q3=None, minimum=None, maximum=None):
    """Estimate a sample mean and SD from the median with IQR and/or range.

    Mean: Luo et al. (2018) weighted estimators; SD: Wan et al. (2014) eqs. 7, 13 and 16.
    Returns (mean, sd). Scenarios: S1 (min, median, max), S2 (q1, median, q3), S3 (all five).
    """
    n, median = _arr(n, median)
    has_iqr = q1 is not None and q3 is not None
    has_range = minimum is not None and maximum is not None
    if has_iqr and has_range:
        a, q1, q3, b = _arr(minimum, q1, q3, maximum)
        w1 = 2.2 / (2.2 + n**0.75)
        w2 = 0.7 - 0.72 / n**0.55
        mean = w1 * (a + b) / 2 + w2 * (q1 + q3) / 2 + (1 - w1 - w2) * median
        sd = (b - a) / (4 * dist.norm_ppf((n - 0.375) / (n + 0.25))) + \
            (q3 - q1) / (4 * dist.norm_ppf((0.75 * n - 0.125) / (n + 0.25)))
    elif has_range:
        a, b = _arr(minimum, maximum)
        w = 4 / (4 + n**0.75)
        mean = w * (a + b) / 2 + (1 - w) * median
        sd = (b - a) / (2 * dist.norm_ppf((n - 0.375) / (n + 0.25)))
    elif has_iqr:
        q1, q3 = _arr(q1, q3)
        w = 0.7 + 0.39 / n
        mean = w * (q1 + q3) / 2 + (1 - w) * median
        sd = (q3 - q1) / (2 * dist.norm_ppf((0.75 * n - 0.125) / (n + 0.25)))
    else:
        raise ValueError("need the IQR (q1, q3), the range (minimum, maximum), or both")
    return mean, sd


def combine_arms(n1, m1, sd1, n2, m2, sd2):
    """Merge two arms into one group (Cochrane Handbook 6.5.2.10, Table 6.5.a).

    Returns (n, mean, sd) of the combined group.
    """
    n1, m1, sd1, n2, m2, sd2 = _arr(n1, m1, sd1, n2, m2, sd2)
    n = n1 + n2
    mean = (n1 * m1 + n2 * m2) / n
    sd = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2 + n1 * n2 / n * (m1 - m2) ** 2) / (n - 1))
    return n, mean, sd


def split_shared_control(n_control, comparisons: int):
    """Share a control arm between ``comparisons`` comparisons (Cochrane Handbook 23.3.4).

    Divides the sample size (and, for binary data, the events) so the control is not counted twice.
    """
    if comparisons < 1:
        raise ValueError("comparisons must be at least 1")
    return np.asarray(n_control, dtype=float) / comparisons


def binary_effect(ai, n1i, ci, n2i, *, measure: str = "RR", add: float = 0.5, to: str = "only0") -> EffectSizes:
    """Risk ratio, odds ratio (both on the log scale) or risk difference from 2x2 counts.

    ai/n1i: events/total in group 1, ci/n2i in group 2. Zero cells: ``add`` is added to every cell
    of the studies with a zero cell (``to="only0"``, metafor's default), of all studies
    (``"all"``), or never (``"none"``). metafor applies the same to RD.
    Variances: Greenland & Robins 1985 (RR), Woolf 1955 (OR), large-sample binomial (RD).
    """
    ai, n1i, ci, n2i = _arr(ai, n1i, ci, n2i)
    _require((ai >= 0) & (ci >= 0), "event counts cannot be negative")
    _require((ai <= n1i) & (ci <= n2i), "events cannot exceed the group size")
    _require((n1i >= 1) & (n2i >= 1), "each group needs at least 1 participant")
    _require(add >= 0, "the zero-cell correction cannot be negative")
    bi, di = n1i - ai, n2i - ci
    if to == "only0":
        has0 = (ai == 0) | (bi == 0) | (ci == 0) | (di == 0)
        inc = np.where(has0, add, 0.0)
    elif to == "all":
        inc = np.full_like(ai, add)
    elif to == "none":
        inc = np.zeros_like(ai)
    else:
        raise ValueError("to must be 'only0', 'all' or 'none'")
    a, b, c, d = ai + inc, bi + inc, ci + inc, di + inc
    n1, n2 = a + b, c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "RR":
            yi = np.log(a / n1) - np.log(c / n2)
            vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
        elif measure == "OR":
            yi = np.log(a * d / (b * c))
            vi = 1 / a + 1 / b + 1 / c + 1 / d
        elif measure == "RD":
            p1, p2 = a / n1, c / n2
            yi = p1 - p2
            vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
        else:
            raise EffectSizeError(f"measure must be one of {BINARY_MEASURES}, not {measure!r}")
    return EffectSizes(yi, vi, measure)
