"""Rules that turn fitted numbers into sentences. Every sentence in the report that states a
result is built here, so the rules can be tested; the template only places the text.
"""

from __future__ import annotations

import math

from livingmeta.stats import dist


def fmt(x, nd: int = 2) -> str:
    """The one rounding rule for numbers shown to readers: fixed decimals, true minus sign."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "not available"
    s = f"{x:.{nd}f}"
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    return s.replace("-", "\u2212")


def fmt_ci(lo, hi, nd: int = 2) -> str:
    return f"{fmt(lo, nd)} to {fmt(hi, nd)}"


def pct(level: float) -> str:
    """A confidence level as printed: 0.9 -> '90%', 0.995 -> '99.5%'."""
    return f"{100 * float(level):.10g}%"


DEFAULT_LEVEL = 0.95  # the configured level is passed in everywhere; this is only the fallback


def fmt_p(p) -> str:
    if p is None:
        return "not available"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


SIZE_BANDS = ((0.2, "very small"), (0.5, "small"), (0.8, "moderate"), (math.inf, "large"))
SIZE_CONVENTION = "Cohen's (1988) rule of thumb for standardised mean differences: 0.2 small, 0.5 moderate, 0.8 large"


def smd_size_words(smd: float) -> str:
    """Size of an SMD in words by Cohen's (1988) conventions (absolute value)."""
    a = abs(smd)
    for upper, word in SIZE_BANDS:
        if a < upper:
            return word
    return "large"


HETEROGENEITY_CONVENTION = ("Cochrane Handbook 10.10.2 bands for I\u00b2 (used here without overlap): below 30% low, "
                            "30-49% moderate, 50-74% substantial, 75% or more considerable")


def heterogeneity_words(i2: float) -> str:
    if i2 < 30:
        return "low"
    if i2 < 50:
        return "moderate"
    if i2 < 75:
        return "substantial"
    return "considerable"


def benefit(estimate: float, direction: str) -> float:
    """The effect turned so that positive means the intervention is better."""
    return -estimate if direction == "lower_is_better" else estimate


def ci_excludes_null(lo: float, hi: float, null: float = 0.0) -> bool:
    return lo > null or hi < null


def nnt_from_smd(smd_benefit: float, control_rate: float) -> float | None:
    """Number needed to treat from an SMD (Furukawa 1999): EER = Phi(d + Phi^-1(CER)),
    NNT = 1 / (EER - CER). ``smd_benefit`` positive = intervention better. None if no benefit."""
    eer = dist.norm_cdf(smd_benefit + dist.norm_ppf(control_rate))
    diff = eer - control_rate
    return None if diff <= 0 else 1 / diff


def result_sentence(estimate, lo, hi, *, direction: str, intervention: str, control: str,
                    outcome: str, measure: str = "SMD", ratio: bool = False, level: float = DEFAULT_LEVEL) -> str:
    """One sentence stating the pooled result with its uncertainty, including the 'no clear
    evidence of a difference' wording when the confidence interval includes no effect."""
    null = 0.0
    shown = (fmt(math.exp(estimate)), fmt_ci(math.exp(lo), math.exp(hi))) if ratio else (fmt(estimate), fmt_ci(lo, hi))
    if not ci_excludes_null(lo, hi, null):
        return (f"There was no clear evidence of a difference in {outcome} between {intervention} and {control} "
                f"({measure} {shown[0]}, {pct(level)} CI {shown[1]}); the interval includes no effect.")
    better = benefit(estimate, direction) > 0
    who = intervention if better else control
    if measure == "SMD":
        size = smd_size_words(estimate)
        return (f"{outcome[0].upper() + outcome[1:]} favoured {who}: the difference was {size} "
                f"({measure} {shown[0]}, {pct(level)} CI {shown[1]}).")
    return f"{outcome[0].upper() + outcome[1:]} favoured {who} ({measure} {shown[0]}, {pct(level)} CI {shown[1]})."


def prediction_sentence(pi_lo, pi_hi, *, direction: str, intervention: str, level: float = DEFAULT_LEVEL) -> str:
    """What the prediction interval says about a new setting."""
    if ci_excludes_null(pi_lo, pi_hi):
        return (f"The {pct(level)} prediction interval ({fmt_ci(pi_lo, pi_hi)}) lies entirely on one side of no effect: "
                f"in a new setting like those studied, {intervention} would be expected to help.")
    return (f"The {pct(level)} prediction interval ({fmt_ci(pi_lo, pi_hi)}) includes no effect and effects in the other "
            f"direction: in a new setting like those studied, the effect of {intervention} could be large, "
            f"small, or absent.")


def subgroup_sentence(analysis: dict, level_labels: dict) -> str:
    """One sentence per categorical moderator, built on the test for subgroup differences."""
    pooled = [lv for lv in analysis["levels"] if lv["pooled"]]
    parts = ", ".join(f"{level_labels.get(lv['level'], lv['level'])} {fmt(lv['estimate'])} "
                      f"({fmt_ci(lv['ci_lower'], lv['ci_upper'])}; k = {lv['k']})" for lv in pooled)
    if analysis["QMp"] < 0.05:
        verdict = "The effect differed between subgroups"
    else:
        verdict = "There was no clear evidence that the effect differed between subgroups"
    return (f"{verdict} (test for subgroup differences: \u03c7\u00b2 = {fmt(analysis['QM'])}, "
            f"df = {analysis['QMdf']}, {fmt_p(analysis['QMp'])}). Pooled effects: {parts}.")


def regression_sentence(analysis: dict, *, unit: str | None = None, direction: str = "lower_is_better",
                        measure: str = "SMD", level: float = DEFAULT_LEVEL) -> str:
    """One sentence per continuous moderator: the slope per ``unit`` of the moderator (review.yaml
    moderators[].unit, e.g. 'week'; 'unit' when not given) and which way the benefit moves."""
    slope, (lo, hi) = analysis["slope"], analysis["slope_ci"]
    label = analysis["label"].lower()
    per = unit or "unit"
    if ci_excludes_null(lo, hi):
        trend = "larger benefits" if benefit(slope, direction) > 0 else "smaller benefits"
        return (f"{analysis['label']}: each additional {per} was associated with a change in the {measure} of {fmt(slope, 3)} "
                f"({pct(level)} CI {fmt_ci(lo, hi, 3)}, {fmt_p(analysis['pval'])}), that is, {trend} "
                f"(k = {analysis['k_used']}).")
    return (f"There was no clear association between {label} and the effect (slope {fmt(slope, 3)} per {per}, "
            f"{pct(level)} CI {fmt_ci(lo, hi, 3)}, {fmt_p(analysis['pval'])}; k = {analysis['k_used']}).")


def headline(model: dict, *, direction: str, intervention: str, outcome: str, certainty: str, measure: str) -> str:
    if not ci_excludes_null(model["ci_lower"], model["ci_upper"]):
        return f"No clear evidence that {intervention} changes {outcome}"
    if benefit(model["estimate"], direction) > 0:
        size = smd_size_words(model["estimate"]) if measure == "SMD" else "a"
        verb = "reduces" if direction == "lower_is_better" else "improves"
        # GRADE informative statements (Santesso et al. 2020, J Clin Epidemiol 119:126): the verb carries the certainty
        verb = {"moderate": "probably " + verb, "low": "may " + verb[:-1], "very low": "may " + verb[:-1]}.get(certainty, verb)
        return f"{intervention[0].upper() + intervention[1:]} {verb} {outcome}: a {size} benefit ({certainty}-certainty evidence)"
    return f"{intervention[0].upper() + intervention[1:]} may make {outcome} worse ({certainty}-certainty evidence)"


def changes_sentences(changes: dict, measure: str = "SMD", level: float = DEFAULT_LEVEL) -> list[str]:
    """The 'what changed in this edition' paragraph, as sentences."""
    if changes.get("first_edition"):
        return ["This is the first edition of this living review; later editions will say here which trials "
                "were added, removed or corrected and how the result moved."]
    out = []
    parts = [(changes["added"], "added"), (changes["removed"], "removed"), (changes["corrected"], "corrected")]
    listed = [f"{len(names)} trial{'s' if len(names) != 1 else ''} {verb} ({', '.join(names)})"
              for names, verb in parts if names]
    out.append(f"Since edition {changes['previous_edition']}: " + ("; ".join(listed) if listed
                                                                   else "no trial records changed") + ".")
    prev, cur = changes.get("previous"), changes.get("current")
    if prev and cur:
        out.append(f"The pooled {measure} moved from {fmt(prev['estimate'])} ({pct(level)} CI {fmt_ci(prev['ci_lower'], prev['ci_upper'])}; "
                   f"k = {prev['k']}) to {fmt(cur['estimate'])} ({pct(level)} CI {fmt_ci(cur['ci_lower'], cur['ci_upper'])}; "
                   f"k = {cur['k']}).")
        out.append(f"The conclusion changed, from {prev['conclusion']} to {cur['conclusion']}." if changes.get("conclusion_changed")
                   else f"The conclusion did not change ({cur['conclusion']}).")
    return out
