"""How every number is printed: the report's text and tables, its figures, the console lines of
the workflow and the e-mail announcing an edition all format a statistic here, so one
statistic reads the same wherever a reader meets it (issue 22).

It sits in the shared base layer (beside errors, files and paths) because the pipeline writes
reasons that readers see ("1 trial reports this outcome") and the rule scripts print console
lines, as well as the report and the e-mail.

The conventions (one each):

- numbers: fixed decimals (two unless a statistic needs more), the true minus sign U+2212, and
  never a negative zero ("0.00", not "−0.00"); a missing value reads "not available";
- counts: thousands separated by a comma ("1,353"); a noun agrees with its count
  ("1 trial", "0 trials"), never "trial(s)";
- probabilities (Bayesian): whole percent, one decimal near 0 or 100 ("99.2%");
- p-values: lower-case p (as APA style writes it; RevMan's capital P is not used), three
  decimals, "p < 0.001" below 0.001 and "p > 0.999" above 0.999, never "p = 0.000";
- confidence (and credible, prediction) intervals: "−0.84 to −0.41", the level named once
  beside them ("90% CI −0.84 to −0.41" at a 90% level);
- tests: "χ² = 6.37, df = 3, p = 0.095" for the test for subgroup differences, "Q = 94.78,
  df = 34, p < 0.001" for Cochran's Q of heterogeneity, "t = 5.88, df = 34, p < 0.001" or
  "z = 3.20, p = 0.001" for a test of the overall effect;
- heterogeneity: "I² = 64%" (whole percent), "τ² = 0.20";
- figures print the same strings with the hyphen-minus, because their font (Noto Sans) has no
  U+2212 glyph (:func:`figure_text`).
"""

from __future__ import annotations

import math

MINUS = "\u2212"
MISSING = "not available"


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def number(x, nd: int = 2) -> str:
    """A number as readers see it: ``nd`` fixed decimals, a true minus sign, no negative zero."""
    if _missing(x):
        return MISSING
    s = f"{float(x):.{nd}f}"
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    return s.replace("-", MINUS)


def ci(lo, hi, nd: int = 2) -> str:
    """An interval: '−0.84 to −0.41'."""
    return f"{number(lo, nd)} to {number(hi, nd)}"


def percent(level) -> str:
    """A level or a share as a percentage: 0.9 -> '90%', 0.995 -> '99.5%'."""
    return f"{100 * float(level):.10g}%"


def probability(p) -> str:
    """A probability as readers see it: '87%'; one decimal where the whole percent would read 1 or
    99 or beyond ('99.2%', '1.5%'), so close values near certainty are told apart; 'more than
    99.9%' and 'less than 0.1%' at the ends."""
    if _missing(p):
        return MISSING
    if p > 0.999:
        return "more than 99.9%"
    if p < 0.001:
        return "less than 0.1%"
    whole = f"{100 * p:.0f}"
    return f"{whole}%" if 2 <= int(whole) <= 98 else f"{100 * p:.1f}%"


def p_value(p) -> str:
    """'p = 0.095', 'p < 0.001', 'p > 0.999'."""
    if _missing(p):
        return f"p {MISSING}"
    if p < 0.001:
        return "p < 0.001"
    if p > 0.999:
        return "p > 0.999"
    return f"p = {p:.3f}"


def statistic(symbol: str, value, df, p, nd: int = 2) -> str:
    """A test as printed everywhere: 'χ² = 6.37, df = 3, p = 0.095' (``df`` None: no df part)."""
    df_part = "" if df is None else f", df = {_df(df)}"
    return f"{symbol} = {number(value, nd)}{df_part}, {p_value(p)}"


def _df(df) -> str:
    """Degrees of freedom: whole numbers without decimals, Satterthwaite's with one."""
    return f"{int(round(df))}" if abs(df - round(df)) < 1e-9 else number(df, 1)


def chi2_test(value, df, p) -> str:
    """The test for subgroup differences (a χ² statistic)."""
    return statistic("\u03c7\u00b2", value, df, p)


def q_test(value, df, p) -> str:
    """Cochran's Q test of heterogeneity."""
    return statistic("Q", value, df, p)


def overall_test(value, p, *, df=None) -> str:
    """The test of the overall effect: a t test (Hartung-Knapp, with its df) or a z test."""
    return statistic("t" if df is not None else "z", value, df, p)


def i2(value) -> str:
    """'I² = 64%'."""
    return f"I\u00b2 = {number(value, 0)}%"


def tau2(value) -> str:
    """'τ² = 0.20'."""
    return f"\u03c4\u00b2 = {number(value)}"


def count(n) -> str:
    """A count of people or trials: '1,353'."""
    return f"{int(n):,}"


def noun_for(n, noun: str, plural_noun: str | None = None) -> str:
    """The noun that agrees with a count of ``n``: 'row' for 1, 'rows' otherwise."""
    return noun if int(n) == 1 else plural_noun or noun + "s"


def plural(n, noun: str, plural_noun: str | None = None) -> str:
    """'1 trial', '0 trials', '1,353 participants': the noun agrees with the count."""
    return f"{count(n)} {noun_for(n, noun, plural_noun)}"


def plural_named(names, noun: str, plural_noun: str | None = None) -> str:
    """A count with what it counts: '2 figures (forest, funnel)', '1 figure (funnel)', '0 figures'."""
    names = list(names)
    return plural(len(names), noun, plural_noun) + (f" ({', '.join(names)})" if names else "")


def figure_text(text: str) -> str:
    """A string of this module's formats for a figure: the figures' font has no U+2212, so the
    minus is the hyphen-minus there."""
    return text.replace(MINUS, "-")
