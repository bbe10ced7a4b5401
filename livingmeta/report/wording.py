"""Rules that turn fitted numbers into sentences. Every sentence in the report that states a
result is built here, so the rules can be tested; the template only places the text.
"""

from __future__ import annotations

import math

from livingmeta.stats import dist
from livingmeta.stats.effects import RATIO_MEASURES


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


def is_ratio(measure) -> bool:
    """Analysed on the log scale and shown back-transformed (RR, OR)."""
    return measure in RATIO_MEASURES


def on_display_scale(x, measure):
    """A value of an effect as readers see it: a ratio measure's log value exponentiated."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return x
    return math.exp(x) if is_ratio(measure) else x


def fmt_effect(x, measure, nd: int = 2) -> str:
    """One value of an effect (an estimate, a bound) on the measure's display scale."""
    return fmt(on_display_scale(x, measure), nd)


def effect_numbers(measure, estimate, lo, hi, nd: int = 2) -> tuple[str, str]:
    """An effect (log scale for ratio measures, as every analysis stores it) and its interval as
    printed: ('0.87', '0.74 to 1.02') for an OR, the values themselves for SMD, MD and RD."""
    return fmt_effect(estimate, measure, nd), fmt_ci(on_display_scale(lo, measure), on_display_scale(hi, measure), nd)


MEASURE_NAMES = {"SMD": "standardised mean difference", "MD": "mean difference", "RR": "risk ratio",
                 "OR": "odds ratio", "RD": "risk difference", "generic": "effect estimate"}


def contrast_words(contrast: str, measure: str) -> str:
    """'intervention minus comparator' for a difference; 'intervention versus comparator' for a ratio."""
    return contrast.replace(" minus ", " versus ") if is_ratio(measure) else contrast


def effect_text(measure, estimate, lo, hi, level: float) -> str:
    """'OR 0.87 (95% CI 0.74 to 1.02)': an effect with its confidence interval in a sentence."""
    est, ci = effect_numbers(measure, estimate, lo, hi)
    return f"{measure} {est} ({pct(level)} CI {ci})"


def count_words(n: int, noun: str) -> str:
    """'one randomised trial', '7 randomised trials': a count with its noun, never 'trial(s)'."""
    return f"one {noun}" if n == 1 else f"{n:,} {noun}s"


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


def size_words(estimate: float, measure: str) -> str:
    """The size of an effect in words where a convention exists (SMD: Cohen 1988); '' otherwise."""
    return smd_size_words(estimate) if measure == "SMD" else ""


def size_convention(measure: str) -> str:
    return SIZE_CONVENTION if measure == "SMD" else ""


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
                    outcome: str, measure: str = "SMD", level: float = DEFAULT_LEVEL) -> str:
    """One sentence stating the pooled result with its uncertainty, including the 'no clear
    evidence of a difference' wording when the confidence interval includes no effect."""
    null = 0.0  # ratio measures arrive on the log scale
    shown = effect_numbers(measure, estimate, lo, hi)
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


def prediction_sentence(pi_lo, pi_hi, *, direction: str, intervention: str, level: float = DEFAULT_LEVEL,
                        measure: str = "SMD") -> str:
    """What the prediction interval says about a new setting (bounds on the analysis scale)."""
    shown = effect_numbers(measure, pi_lo, pi_lo, pi_hi)[1]
    if ci_excludes_null(pi_lo, pi_hi):
        expected = "help" if benefit(pi_lo, direction) > 0 else "do harm"
        return (f"The {pct(level)} prediction interval ({shown}) lies entirely on one side of no effect: "
                f"in a new setting like those studied, {intervention} would be expected to {expected}.")
    could = "be large, small, or absent" if measure == "SMD" else "range from benefit to harm"
    return (f"The {pct(level)} prediction interval ({shown}) includes no effect and effects in the other "
            f"direction: in a new setting like those studied, the effect of {intervention} could {could}.")


def subgroup_sentence(analysis: dict, level_labels: dict, measure: str = "SMD") -> str:
    """One sentence per categorical moderator, built on the test for subgroup differences."""
    pooled = [lv for lv in analysis["levels"] if lv["pooled"]]
    parts = ", ".join("{} {} ({}; k = {})".format(level_labels.get(lv["level"], lv["level"]),
                                                  *effect_numbers(measure, lv["estimate"], lv["ci_lower"], lv["ci_upper"]),
                                                  lv["k"]) for lv in pooled)
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
    measure = f"log {measure}" if is_ratio(measure) else measure  # the slope is on the analysis scale
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
        size = size_words(model["estimate"], measure)
        verb = "reduces" if direction == "lower_is_better" else "improves"
        # GRADE informative statements (Santesso et al. 2020, J Clin Epidemiol 119:126): the verb carries the certainty
        verb = {"moderate": "probably " + verb, "low": "may " + verb[:-1], "very low": "may " + verb[:-1]}.get(certainty, verb)
        return (f"{intervention[0].upper() + intervention[1:]} {verb} {outcome}: a {size + ' ' if size else ''}benefit "
                f"({certainty}-certainty evidence)")
    return f"{intervention[0].upper() + intervention[1:]} may make {outcome} worse ({certainty}-certainty evidence)"


def changes_sentences(changes: dict, measure: str = "SMD", level: float = DEFAULT_LEVEL) -> list[str]:
    """The 'what changed in this edition' paragraph, as sentences (then the surveillance ledger's
    update trigger and notices on included trials, when the review has a ledger)."""
    surveillance = [*changes.get("retraction_warnings", []), *([changes["update_trigger"]] if changes.get("update_trigger") else [])]
    if changes.get("first_edition"):
        return ["This is the first edition of this living review; later editions will say here which trials "
                "were added, removed or corrected and how the result moved.", *surveillance]
    out = []
    parts = [(changes["added"], "added"), (changes["removed"], "removed"), (changes["corrected"], "corrected")]
    listed = [f"{len(names)} trial{'s' if len(names) != 1 else ''} {verb} ({', '.join(names)})"
              for names, verb in parts if names]
    also = {"config": "the analysis settings changed", "code": "the software that computes the report changed"}
    listed += [also[part] for part in changes.get("inputs_changed", []) if part in also]
    out.append(f"Since edition {changes['previous_edition']}: " + ("; ".join(listed) if listed
                                                                   else "no trial records changed") + ".")
    out += [f"{c['text']}." for c in changes.get("corrections", [])]
    prev, cur = changes.get("previous"), changes.get("current")
    if prev and cur:
        before, after = (effect_numbers(measure, e["estimate"], e["ci_lower"], e["ci_upper"]) for e in (prev, cur))
        out.append(f"The pooled {measure} moved from {before[0]} ({pct(level)} CI {before[1]}; "
                   f"k = {prev['k']}) to {after[0]} ({pct(level)} CI {after[1]}; k = {cur['k']}).")
        out.append(f"The conclusion changed, from {prev['conclusion']} to {cur['conclusion']}." if changes.get("conclusion_changed")
                   else f"The conclusion did not change ({cur['conclusion']}).")
    return out + surveillance


def subgroup_level_sentence(level_result: dict, name: str, measure: str, level: float) -> str:
    """One subgroup of this review, set beside an external meta-analysis of the same question."""
    k = level_result["k"]
    if not level_result["pooled"]:
        return f"In this review only {k} trial was in the subgroup \u2018{name}\u2019."
    return (f"In this review, {k} trials were in the subgroup \u2018{name}\u2019: pooled "
            f"{effect_text(measure, level_result['estimate'], level_result['ci_lower'], level_result['ci_upper'], level)}.")


def external_evidence_sentence(external: dict, spec: dict) -> str:
    """An external meta-analysis quoted (never pooled), in the words review.yaml's
    external_evidence gives (subject, effect_words, sign_note) and at its ci_level."""
    ci_level = float(spec.get("ci_level", DEFAULT_LEVEL))
    ci = external.get(f"ci_{round(100 * ci_level)}") or external.get("ci")
    return (f"A separate meta-analysis of {external['trials']} randomised trials of {spec.get('subject', 'the same question')} "
            f"({external['participants']['total']:,} participants) found {spec.get('effect_words', 'an effect')} of "
            f"\u0394 = {fmt(external['delta'])} ({pct(ci_level)} CI {fmt_ci(*ci)}), with "
            f"I\u00b2 = {fmt(external['i2_pct'], 0)}%. {spec.get('sign_note', '')} "
            f"{external.get('note', '')} It is quoted, not pooled.").replace("  ", " ")


def small_study_sentence(small_study: dict, measure: str) -> str:
    """Egger's and Begg's tests and trim-and-fill (small_study_effects.json), or why not assessed."""
    if "egger" not in small_study:
        return "Not assessed: " + small_study.get("not_analysed_reason", "too few trials") + "."
    tf = small_study["trim_and_fill"]
    text = (f"Egger's regression test {fmt_p(small_study['egger']['pval'])}; Begg's rank correlation "
            f"Kendall's \u03c4 = {fmt(small_study['begg']['tau'])}, {fmt_p(small_study['begg']['pval'])}. "
            f"Trim-and-fill imputed {tf['k0']} trial(s) on the {tf['side']} side; the adjusted estimate is "
            f"{effect_text(measure, tf['estimate'], tf['ci_lower'], tf['ci_upper'], tf['level'])}.")
    if small_study["egger"]["pval"] < 0.10:
        text += (" Funnel-plot asymmetry suggests that small trials reported larger benefits, which can "
                 "come from publication bias or from lower quality of small trials.")
    if small_study["below_minimum"]:
        text += f" With fewer than {small_study['min_trials']} trials these tests have little power."
    return text


def leave_one_out_sentence(loo: dict, measure: str) -> str:
    """The range of the pooled estimate with one trial left out at a time, and whether leaving out
    a single trial changes whether the interval includes no effect."""
    return (f"Leaving out one trial at a time, the pooled {measure} ranged from {fmt_effect(loo['min_estimate'], measure)} "
            f"(without {loo['min_trial']}) to {fmt_effect(loo['max_estimate'], measure)} (without {loo['max_trial']})"
            + ("; no single trial changes whether the confidence interval includes no effect." if not loo["any_changes_significance"]
               else "; leaving out a single trial can change whether the confidence interval includes no effect."))


TAKE_HOME_VARIED_I2 = 50  # % : the "substantial" band (Cochrane Handbook 10.10.2) and GRADE's inconsistency rule here


def take_home(model: dict, *, direction: str, intervention: str, outcome: str, certainty: str, certainty_level: str,
              measure: str) -> str:
    """The closing sentence for readers (``certainty``: the GRADE summary as printed; its level one
    of high, moderate, low, very low). It says the effect varied between trials only when it did
    (I\u00b2 of 50% or more) and that more trials are needed only when the certainty is low or very low."""
    if not ci_excludes_null(model["ci_lower"], model["ci_upper"]):
        return f"The trials do not show a clear effect of {intervention} on {outcome}."
    if benefit(model["estimate"], direction) <= 0:
        return f"On average {outcome} was worse with {intervention}; the certainty of the evidence is {certainty}."
    size = size_words(model["estimate"], measure)
    change = "reduction in" if direction == "lower_is_better" else "improvement in"
    varied = model.get("I2") is not None and model["I2"] >= TAKE_HOME_VARIED_I2
    text = (f"{intervention[0].upper() + intervention[1:]} led to a {size + ' ' if size else ''}{change} {outcome} on average"
            + (", but the effect varied between trials" if varied else "")
            + f"; the certainty of the evidence is {certainty}")
    if certainty_level in ("low", "very low"):
        text += "; larger, well-concealed and blinded trials are needed to pin it down"
    return text + "."
