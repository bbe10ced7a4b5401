"""RevMan 5's own conventions, so imported Cochrane analyses reproduce to the printed digit.

Reference: J J Deeks, J P T Higgins, "Statistical algorithms in Review Manager 5" (2010), and the
totals RevMan stores in its files. Where this differs from metafor's defaults it is a named choice:

- Zero cells (inverse-variance and Mantel-Haenszel): 0.5 is added to every cell of a study with a
  zero cell, for the study-level estimates and for the Mantel-Haenszel pooled estimate (RevMan's
  default, criticised by Ades et al., Res Synth Methods 2025; R package meta's
  ``MH.exact = FALSE``). For RD the corrected cells enter only the variances: the study RD, the
  MH estimate and its weights use the table as given. Peto needs no correction.
- Not estimable: for OR and RR a study with no events in either group (and for OR one where
  every participant had the event) has no estimate; it is listed, counted in the totals of
  events and participants, and left out of the pooling. RD is always estimable. Continuous
  studies with an SD of 0 or fewer than 2 participants in a group are not estimable.
- SMD: "Hedges' adjusted g", g = J d with J = 1 - 3/(4N - 9), variance N/(n1 n2) + g^2/(2(N - 3.94))
  (``effects.hedges_g(variance="revman", correction="approx")``).
- Mantel-Haenszel: OR and RR as ``pooling.mantel_haenszel``; RD with the Greenland-Robins variance
  sum(a b n2^3 + c d n1^3)/(n1 n2 N^2) / (sum n1 n2/N)^2. Heterogeneity Q: inverse-variance
  weights around the MH estimate.
- Random effects: DerSimonian-Laird. For Mantel-Haenszel data ("MH+DL") tau^2 comes from the
  Mantel-Haenszel Q: tau^2 = max(0, (Q_MH - df) / (sum w - sum w^2/sum w)), w = 1/v_i.
- Peto: ln OR_i = (O - E)/V, var 1/V; pooled as inverse variance (which gives Peto's formulas).
- Subgroup differences: Q = sum (theta_j - theta_bar)^2 / SE_j^2 over subgroup estimates.
Ratio measures are on the log scale in every result; RevMan prints them back-transformed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from livingmeta.stats import dist, pooling
from livingmeta.stats.effects import binary_effect, hedges_g, mean_difference
from livingmeta.errors import ModelError

RATIO = ("OR", "RR", "PETO_OR", "HR")


@dataclass(frozen=True)
class RevManMethod:
    """A pooling method of RevMan's beside the tau^2 estimators' registry
    (livingmeta.stats.estimators.METHODS): its name (the command line's and ``to_dict``'s), the
    words the report uses, the source, and how :func:`dichotomous` runs it."""

    name: str
    label: str
    citation: str
    statistical_method: str      # RevMan's: MH or Peto
    random: bool                 # DerSimonian-Laird random effects on top


REVMAN_METHODS: dict[str, RevManMethod] = {m.name: m for m in (
    RevManMethod("MH", "Mantel-Haenszel", "Mantel & Haenszel (1959); Greenland & Robins (1985)", "MH", False),
    RevManMethod("MH+DL", "Mantel-Haenszel heterogeneity with DerSimonian-Laird random effects (RevMan)",
                 "DerSimonian & Laird (1986); Deeks & Higgins (2010)", "MH", True),
    RevManMethod("Peto", "Peto's one-step odds ratio", "Yusuf et al. (1985)", "Peto", False),
)}


@dataclass
class RevManResult:
    """A RevMan-style analysis: per study (all rows, NaN where not estimable) and pooled."""

    measure: str
    method: str                 # MH, Peto or IV
    random: bool
    yi: np.ndarray
    vi: np.ndarray
    estimable: np.ndarray
    weights: np.ndarray         # percent of the total, NaN where not estimable
    estimate: float = float("nan")
    se: float = float("nan")
    ci_lower: float = float("nan")
    ci_upper: float = float("nan")
    zval: float = float("nan")
    pval: float = float("nan")
    QE: float = float("nan")
    df: int = 0
    QEp: float = float("nan")
    I2: float = float("nan")
    tau2: float = 0.0
    level: float = 0.95
    totals: dict = field(default_factory=dict)

    @property
    def k(self) -> int:
        return int(self.estimable.sum())

    def to_dict(self) -> dict:
        """The keys of ``livingmeta analyze --json`` (log scale for ratio measures)."""
        name = {"MH": "MH+DL" if self.random else "MH", "Peto": "Peto", "IV": "DL" if self.random else "FE"}[self.method]
        return {"k": self.k, "method": name, "measure": self.measure, "test": "z", "level": self.level,
                "tau2": self.tau2, "I2": self.I2, "QE": self.QE, "QEdf": self.df, "QEp": self.QEp,
                "estimate": self.estimate, "se": self.se, "zval": self.zval, "pval": self.pval,
                "ci_lower": self.ci_lower, "ci_upper": self.ci_upper,
                "not_estimable": [int(i) for i in np.flatnonzero(~self.estimable)]}


def _corrected(a, n1, c, n2, add=0.5):
    """Cells with ``add`` added to every cell of the studies with a zero cell."""
    b, d = n1 - a, n2 - c
    inc = np.where((a == 0) | (b == 0) | (c == 0) | (d == 0), add, 0.0)
    return a + inc, b + inc, c + inc, d + inc


def binary_estimable(a, n1, c, n2, measure: str) -> np.ndarray:
    """RevMan's "not estimable" rule for 2x2 data (see the module docstring)."""
    a, n1, c, n2 = (np.asarray(x, float) for x in (a, n1, c, n2))
    ok = (n1 > 0) & (n2 > 0)
    if measure in ("OR", "PETO_OR", "RR"):
        ok &= (a + c) > 0
    if measure in ("OR", "PETO_OR"):
        ok &= (a + c) < (n1 + n2)
    return ok


def peto_terms(a, n1, c, n2):
    """Observed minus expected events in group 1 and its hypergeometric variance (Yusuf et al. 1985)."""
    a, n1, c, n2 = (np.asarray(x, float) for x in (a, n1, c, n2))
    n, m = n1 + n2, a + c
    return a - n1 * m / n, n1 * n2 * m * (n - m) / (n**2 * (n - 1))


def _mh(raw, corrected, measure):
    """Mantel-Haenszel pooled estimate, its SE and the study weights. OR and RR use the corrected
    cells throughout; RD takes its estimate and weights from the raw table and only its variance
    from the corrected cells (as RevMan; R package meta's metabin, MH.exact = FALSE)."""
    a, n1, c, n2 = corrected
    b, d = n1 - a, n2 - c
    N = n1 + n2
    if measure == "RD":
        ra, rn1, rc, rn2 = raw
        w = rn1 * rn2 / (rn1 + rn2)
        est = float(np.sum(w * (ra / rn1 - rc / rn2)) / w.sum())
        se = float(np.sqrt(np.sum((a * b * n2**3 + c * d * n1**3) / (n1 * n2 * N**2))) / w.sum())
        return est, se, w
    mh = pooling.mantel_haenszel(a, n1, c, n2, measure=measure)
    w = b * c / N if measure == "OR" else c * n1 / N
    return mh.estimate, mh.se, w


def _heterogeneity(Q: float, df: int) -> tuple[float, float]:
    p = float(dist.chi2_sf(Q, df)) if df > 0 else float("nan")
    i2 = max(0.0, 100 * (Q - df) / Q) if (df > 0 and Q > 0) else 0.0
    return p, i2


def pool(yi, vi, estimable, *, measure: str, method: str = "IV", random: bool = False, level: float = 0.95,
         counts=None) -> RevManResult:
    """Pool study estimates the way RevMan does. ``counts`` = ((a, n1, c, n2) as given,
    (a, n1, c, n2) with zero cells corrected), needed for Mantel-Haenszel."""
    yi, vi, ok = np.asarray(yi, float), np.asarray(vi, float), np.asarray(estimable, bool)
    res = RevManResult(measure=measure, method=method, random=random, yi=yi, vi=vi, estimable=ok,
                       weights=np.full(yi.shape, np.nan), level=level)
    y, v = yi[ok], vi[ok]
    k = y.size
    if k == 0:
        return res
    crit = dist.norm_isf((1 - level) / 2)
    res.df = k - 1
    if method == "MH":
        raw, corrected = ([np.asarray(x, float)[ok] for x in table] for table in counts)
        est, se, w = _mh(raw, corrected, measure)
        res.QE = max(0.0, float(np.sum((y - est) ** 2 / v))) if k > 1 else 0.0
        res.QEp, res.I2 = _heterogeneity(res.QE, res.df) if k > 1 else (float("nan"), float("nan"))
        if random and k > 1:
            wi = 1 / v
            res.tau2 = max(0.0, (res.QE - res.df) / (wi.sum() - np.sum(wi**2) / wi.sum()))
            fit = pooling.rma(y, v, tau2=res.tau2, level=level)
            est, se, w = fit.estimate, float(fit.se[0]), 1 / (v + res.tau2)
        res.estimate, res.se = float(est), float(se)
    elif k == 1:
        res.estimate, res.se, w = float(y[0]), float(np.sqrt(v[0])), np.ones(1)
        res.QE, res.QEp, res.I2 = 0.0, float("nan"), float("nan")
    else:
        fit = pooling.rma(y, v, method="DL" if random else "FE", level=level)
        res.estimate, res.se, res.tau2 = fit.estimate, float(fit.se[0]), fit.tau2
        res.QE = fit.QE
        res.QEp, res.I2 = _heterogeneity(res.QE, res.df)
        w = 1 / (v + fit.tau2)
    res.weights[ok] = 100 * w / np.sum(w)
    res.ci_lower, res.ci_upper = res.estimate - crit * res.se, res.estimate + crit * res.se
    res.zval = res.estimate / res.se
    res.pval = float(2 * dist.norm_sf(abs(res.zval)))
    return res


def dichotomous(a, n1, c, n2, *, measure: str, method: str = "MH", random: bool = False, level: float = 0.95,
                swap_events: bool = False) -> RevManResult:
    """RevMan analysis of 2x2 data: measure OR, RR, RD (or PETO_OR); method MH, IV or Peto."""
    a, n1, c, n2 = (np.asarray(x, float) for x in (a, n1, c, n2))
    entered = {"events_1": float(a.sum()), "total_1": float(n1.sum()), "events_2": float(c.sum()), "total_2": float(n2.sum())}
    if swap_events:  # RevMan's "swap event and non-event": the effect is computed on non-events
        a, c = n1 - a, n2 - c
    method = "Peto" if method.upper() == "PETO" else method.upper()
    if measure == "PETO_OR" or method == "Peto":
        measure, method = "PETO_OR", "Peto"
    if measure not in ("OR", "RR", "RD", "PETO_OR"):
        raise ModelError(f"dichotomous effect measure must be OR, RR, RD or Peto OR, not {measure!r}")
    if method not in ("MH", "IV", "Peto"):
        raise ModelError(f"statistical method must be MH, IV or Peto, not {method!r}")
    ok = binary_estimable(a, n1, c, n2, measure)
    yi, vi = np.full(a.shape, np.nan), np.full(a.shape, np.nan)
    counts = None
    if method == "Peto":
        oe, V = peto_terms(a, n1, c, n2)
        ok &= V > 0
        yi[ok], vi[ok] = oe[ok] / V[ok], 1 / V[ok]
    elif ok.any():
        ca, cb, cc, cd = _corrected(a[ok], n1[ok], c[ok], n2[ok])
        es = binary_effect(ca, ca + cb, cc, cc + cd, measure=measure, to="none")
        yi[ok], vi[ok] = es.yi, es.vi
        if measure == "RD":  # the risk difference itself is not corrected, only its variance
            yi[ok] = a[ok] / n1[ok] - c[ok] / n2[ok]
        corrected = [np.full(a.shape, np.nan) for _ in range(4)]
        for arr, val in zip(corrected, (ca, ca + cb, cc, cc + cd)):
            arr[ok] = val
        counts = ((a, n1, c, n2), corrected)
    res = pool(yi, vi, ok, measure=measure, method=method, random=random, level=level, counts=counts)
    # Totals of events as entered (RevMan's forest plot lists the entered events even when swapped;
    # not yet checked against a file with SWAP_EVENTS="YES").
    res.totals = entered
    return res


def continuous(m1, sd1, n1, m2, sd2, n2, *, measure: str, random: bool = False, level: float = 0.95,
               revman: bool = True) -> RevManResult:
    """RevMan analysis of means and SDs: MD or SMD (Hedges' adjusted g when ``revman``), inverse variance."""
    m1, sd1, n1, m2, sd2, n2 = (np.asarray(x, float) for x in (m1, sd1, n1, m2, sd2, n2))
    ok = (sd1 > 0) & (sd2 > 0) & (n1 >= 2) & (n2 >= 2)
    yi, vi = np.full(m1.shape, np.nan), np.full(m1.shape, np.nan)
    if ok.any():
        if measure == "MD":
            es = mean_difference(m1[ok], sd1[ok], n1[ok], m2[ok], sd2[ok], n2[ok])
            yi[ok], vi[ok] = es.yi, es.vi
        elif measure == "SMD":
            opts = {"variance": "revman", "correction": "approx"} if revman else {}
            es = hedges_g(m1[ok], sd1[ok], n1[ok], m2[ok], sd2[ok], n2[ok], **opts)
            yi[ok], vi[ok] = es.yi, es.vi
        else:
            raise ModelError(f"continuous effect measure must be MD or SMD, not {measure!r}")
    res = pool(yi, vi, ok, measure=measure, method="IV", random=random, level=level)
    res.totals = {"total_1": float(n1.sum()), "total_2": float(n2.sum())}
    return res


def generic(estimate, se, *, measure: str, random: bool = False, level: float = 0.95, log_scale: bool = True) -> RevManResult:
    """Generic inverse variance: the studies' own estimates and SEs (ratio measures on the log
    scale; ``log_scale=False`` takes the log of estimates given on the ratio scale)."""
    y, s = np.asarray(estimate, float), np.asarray(se, float)
    if measure in RATIO and not log_scale:
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.log(y)
    ok = np.isfinite(y) & (s > 0)
    return pool(np.where(ok, y, np.nan), np.where(ok, s**2, np.nan), ok, measure=measure, method="IV",
                random=random, level=level)


def subgroup_differences(results: list[RevManResult]) -> dict:
    """Test for subgroup differences: Q on the subgroup estimates with weights 1/SE^2."""
    est = np.array([r.estimate for r in results if r.k > 0 and np.isfinite(r.se)])
    se = np.array([r.se for r in results if r.k > 0 and np.isfinite(r.se)])
    if est.size < 2:
        return {"chi2": float("nan"), "df": 0, "p": float("nan"), "i2": float("nan")}
    w = 1 / se**2
    Q = float(np.sum(w * (est - np.sum(w * est) / w.sum()) ** 2))
    p, i2 = _heterogeneity(Q, est.size - 1)
    return {"chi2": Q, "df": est.size - 1, "p": p, "i2": i2}
