"""Rules that turn fitted numbers into sentences. Every sentence in the report that states a
result is built here, so the rules can be tested; the template only places the text.
"""

from __future__ import annotations

import math

from livingmeta import formatting
from livingmeta.pipeline.labels import names_word
from livingmeta.stats import dist
from livingmeta.stats.effects import RATIO_MEASURES

# The one format of each number (livingmeta.formatting), under the names this module's callers use.
fmt = formatting.number
fmt_ci = formatting.ci
fmt_p = formatting.p_value
pct = formatting.percent
plural = formatting.plural


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


def in_sentence(label: str) -> str:
    """A label as it reads inside a sentence: a word capitalised only as a title is
    ('Pain Intensity', 'Self-Reported') is lowered; an acronym or a word with capitals inside
    ('PHQ-9', 'HbA1c', 'SF-36', the 'D' of 'Vitamin D') keeps them."""
    def part(p: str) -> str:
        title = len(p) > 1 and p[0].isupper() and not any(c.isupper() for c in p[1:])
        return p[0].lower() + p[1:] if title else p
    return " ".join("-".join(part(p) for p in word.split("-")) for word in label.split(" "))


def outcome_in_sentence(label: str, intervention: str) -> str:
    """The outcome as the result sentences name it ('X probably reduces Y'). A label that names the
    intervention itself (R meta's Fleiss 1993 file calls its outcome 'Aspirin for Preventing Death
    after Myocardial Infarction') cannot be Y: it is quoted as the source wrote it."""
    if names_word(label, intervention):
        return f"the outcome \u2018{label}\u2019"
    return in_sentence(label)


def count_words(n: int, noun: str) -> str:
    """'one randomised trial', '7 randomised trials': a count with its noun, never 'trial(s)'."""
    return f"one {noun}" if n == 1 else f"{n:,} {noun}s"


DEFAULT_LEVEL = 0.95  # the configured level is passed in everywhere; this is only the fallback


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


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def result_sentence(estimate, lo, hi, *, direction: str, intervention: str, control: str,
                    outcome: str, measure: str = "SMD", level: float = DEFAULT_LEVEL) -> str:
    """One sentence stating the pooled result with its uncertainty, including the 'no clear
    evidence of a difference' wording when the confidence interval includes no effect. It
    describes the pooled data (which group the result favoured), never a cause: how sure one may
    be that the intervention causes it is the certainty statement's job (:func:`certainty_statement`)."""
    effect = effect_text(measure, estimate, lo, hi, level)
    if not ci_excludes_null(lo, hi):  # ratio measures arrive on the log scale: no effect is 0 for all
        return (f"There was no clear evidence of a difference in {outcome} between {intervention} and {control}: "
                f"{effect}; the interval includes no effect.")
    who = intervention if benefit(estimate, direction) > 0 else control
    size = size_words(estimate, measure)
    return f"The pooled result favoured {who} for {outcome}: " + (f"a {size} difference, " if size else "") + f"{effect}."


# GRADE's informative statements (Santesso N, Glenton C, Dahm P, et al. GRADE guidelines 26:
# informative statements to communicate the findings of systematic reviews of interventions.
# J Clin Epidemiol 2020;119:126-135): the verb carries the certainty of the evidence.
CERTAINTY_HEDGES = {"high": "", "moderate": "probably ", "low": "may "}


def certainty_statement(model: dict, *, direction: str, intervention: str, outcome: str, certainty: str,
                        measure: str) -> str:
    """What the evidence says, in GRADE's informative statement for its certainty (Santesso et al.
    2020): high 'X reduces Y', moderate 'X probably reduces Y', low 'X may reduce Y', very low
    'the evidence is very uncertain about the effect of X on Y'; with the size of the effect where
    a convention names it ('a moderate benefit'). An interval that includes no effect reads 'X may
    result in little to no difference in Y' (the hedge again by certainty). No sentence below
    high certainty says that X causes a change without a hedge."""
    if certainty not in CERTAINTY_HEDGES:
        return f"The evidence is very uncertain about the effect of {intervention} on {outcome}"
    hedge = CERTAINTY_HEDGES[certainty]
    bare = hedge == "may "  # 'may reduce', not 'may reduces'
    if not ci_excludes_null(model["ci_lower"], model["ci_upper"]):
        verb = "result" if bare else "results"
        return _capital(f"{intervention} {hedge}{verb} in little to no difference in {outcome}")
    verb = ("reduce" if model["estimate"] < 0 else "increase") + ("" if bare else "s")
    size = size_words(model["estimate"], measure)
    gain = "benefit" if benefit(model["estimate"], direction) > 0 else "harm"
    return _capital(f"{intervention} {hedge}{verb} {outcome}") + (f": a {size} {gain}" if size else "")


def headline(model: dict, *, direction: str, intervention: str, outcome: str, certainty: str, measure: str) -> str:
    """The report's title: the certainty statement and the GRADE level it rests on (after a comma
    where the statement ends in a parenthesis of its own, e.g. an outcome label's)."""
    statement = certainty_statement(model, direction=direction, intervention=intervention, outcome=outcome,
                                    certainty=certainty, measure=measure)
    level = f"{certainty}-certainty evidence"
    return f"{statement}, {level}" if statement.endswith(")") else f"{statement} ({level})"


def tau2_is_zero(tau2) -> bool:
    """tau^2 estimated at the boundary (0): the prediction interval is then the confidence interval."""
    return tau2 is not None and abs(tau2) < 1e-10


def prediction_sentence(pi_lo, pi_hi, *, direction: str, intervention: str, level: float = DEFAULT_LEVEL,
                        measure: str = "SMD", tau2: float | None = None,
                        bayes_predictive: tuple | None = None) -> str:
    """What the prediction interval says about a new setting (bounds on the analysis scale). When
    tau^2 is estimated at 0 the interval is the confidence interval and allows for no variation
    between settings: the sentence says so and points to the Bayesian predictive interval
    (``bayes_predictive``: its level and bounds), whose prior for tau allows for that variation."""
    shown = effect_numbers(measure, pi_lo, pi_lo, pi_hi)[1]
    if tau2_is_zero(tau2):
        text = (f"The between-trial variance \u03c4\u00b2 was estimated at 0, so the {pct(level)} prediction interval "
                f"({shown}) is the confidence interval: it allows for no variation of the effect between settings, "
                f"which the trials cannot rule out.")
        if bayes_predictive:
            b_level, b_lo, b_hi = bayes_predictive
            text += (f" The Bayesian analysis (\u2018How settled is the evidence?\u2019), whose prior allows for such "
                     f"variation, puts the effect in a new trial between {fmt_effect(b_lo, measure)} and "
                     f"{fmt_effect(b_hi, measure)} with {pct(b_level)} probability.")
        return text
    if ci_excludes_null(pi_lo, pi_hi):
        expected = "help" if benefit(pi_lo, direction) > 0 else "do harm"
        return (f"The {pct(level)} prediction interval ({shown}) lies entirely on one side of no effect: "
                f"in a new setting like those studied, {intervention} would be expected to {expected}.")
    could = "be large, small, or absent" if measure == "SMD" else "range from benefit to harm"
    return (f"The {pct(level)} prediction interval ({shown}) includes no effect and effects in the other "
            f"direction: in a new setting like those studied, the effect of {intervention} could {could}.")


def subgroup_sentence(analysis: dict, level_labels: dict, measure: str = "SMD", level: float = DEFAULT_LEVEL) -> str:
    """One sentence per categorical moderator, built on the test for subgroup differences; every
    subgroup's pooled effect with its measure and interval."""
    pooled = [lv for lv in analysis["levels"] if lv["pooled"]]
    parts = "; ".join(f"{level_labels.get(lv['level'], lv['level'])}, "
                      f"{effect_text(measure, lv['estimate'], lv['ci_lower'], lv['ci_upper'], level)} in "
                      f"{plural(lv['k'], 'trial')}" for lv in pooled)
    if analysis["QMp"] < 0.05:
        verdict = "The effect differed between subgroups"
    else:
        verdict = "There was no clear evidence that the effect differed between subgroups"
    return (f"{verdict} (test for subgroup differences: "
            f"{formatting.chi2_test(analysis['QM'], analysis['QMdf'], analysis['QMp'])}). Pooled effects: {parts}.")


SMALL_SUBGROUP_CRITICAL = 4.0  # a t critical value above this (k <= 3 at 95%) makes an interval worth explaining


def small_subgroup_note(analyses: list[dict], *, test: str, level: float = DEFAULT_LEVEL) -> str:
    """Why a subgroup of two or three trials has a very wide Hartung-Knapp interval: its t
    distribution has k - 1 degrees of freedom (Hartung & Knapp 2001), so the critical value is
    large; '' when no pooled subgroup is that small or the intervals are Wald intervals."""
    if test != "knha":
        return ""
    ks = sorted({lv["k"] for a in analyses for lv in a.get("levels", []) if lv.get("pooled")})
    crit = {k: dist.t_isf((1 - level) / 2, k - 1) for k in ks}
    small = [k for k in ks if crit[k] > SMALL_SUBGROUP_CRITICAL]
    if not small:
        return ""
    values = " and ".join(f"{fmt(crit[k])} for {k} trials" for k in small)
    return (f"Subgroups of few trials have very wide intervals: the Hartung-Knapp method uses a t distribution with "
            f"one degree of freedom fewer than the trials, whose {pct(level)} critical value is {values} "
            f"(against {fmt(dist.norm_isf((1 - level) / 2))} for a normal distribution). Such an interval says how "
            f"little so few trials can pin down, not that they disagree.")


def regression_sentence(analysis: dict, *, unit: str | None = None, direction: str = "lower_is_better",
                        measure: str = "SMD", level: float = DEFAULT_LEVEL) -> str:
    """One sentence per continuous moderator: the slope per additional ``unit`` of the moderator
    (review.yaml moderators[].unit, e.g. 'week', 'session a week'; 'unit' when not given) and
    which way the benefit moves."""
    slope, (lo, hi) = analysis["slope"], analysis["slope_ci"]
    label = in_sentence(analysis["label"])
    measure = f"log {measure}" if is_ratio(measure) else measure  # the slope is on the analysis scale
    per = f"per additional {unit or 'unit'}"
    stats = f"{pct(level)} CI {fmt_ci(lo, hi, 3)}, {fmt_p(analysis['pval'])}; {plural(analysis['k_used'], 'trial')}"
    if ci_excludes_null(lo, hi):
        trend = "larger" if benefit(slope, direction) > 0 else "smaller"
        return (f"{analysis['label']}: the {measure} changed by {fmt(slope, 3)} {per} ({stats}), that is, "
                f"the benefit was {trend} where {label} was higher.")
    return (f"There was no clear association between {label} and the effect: the {measure} changed by "
            f"{fmt(slope, 3)} {per} ({stats}).")


def changes_sentences(changes: dict, measure: str = "SMD", level: float = DEFAULT_LEVEL) -> list[str]:
    """The 'what changed in this edition' paragraph, as sentences (then the surveillance ledger's
    update trigger and notices on included trials, when the review has a ledger)."""
    surveillance = [*changes.get("retraction_warnings", []), *([changes["update_trigger"]] if changes.get("update_trigger") else [])]
    if changes.get("first_edition"):
        return ["This is the first edition of this living review; later editions will say here which trials "
                "were added, removed or corrected and how the result moved.", *surveillance]
    out = []
    parts = [(changes["added"], "added"), (changes["removed"], "removed"), (changes["corrected"], "corrected")]
    listed = [f"{plural(len(names), 'trial')} {verb} ({', '.join(names)})"
              for names, verb in parts if names]
    also = {"config": "the analysis settings changed", "code": "the software that computes the report changed"}
    listed += [also[part] for part in changes.get("inputs_changed", []) if part in also]
    out.append(f"Since edition {changes['previous_edition']}: " + ("; ".join(listed) if listed
                                                                   else "no trial records changed") + ".")
    out += [f"{c['text']}." for c in changes.get("corrections", [])]
    prev, cur = changes.get("previous"), changes.get("current")
    if prev and cur:
        before, after = (f"{effect_text(measure, e['estimate'], e['ci_lower'], e['ci_upper'], level)} in "
                         f"{plural(e['k'], 'trial')}" for e in (prev, cur))
        out.append(f"The pooled result moved from {before} to {after}.")
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
            f"{formatting.i2(external['i2_pct'])}. {spec.get('sign_note', '')} "
            f"{external.get('note', '')} It is quoted, not pooled.").replace("  ", " ")


def small_study_sentence(small_study: dict, measure: str) -> str:
    """Egger's and Begg's tests and trim-and-fill (small_study_effects.json), or why not assessed."""
    if "egger" not in small_study:
        return "Not assessed: " + small_study.get("not_analysed_reason", "too few trials") + "."
    tf = small_study["trim_and_fill"]
    text = (f"Egger's regression test {fmt_p(small_study['egger']['pval'])}; Begg's rank correlation "
            f"Kendall's \u03c4 = {fmt(small_study['begg']['tau'])}, {fmt_p(small_study['begg']['pval'])}. "
            f"Trim-and-fill imputed {plural(tf['k0'], 'trial')} on the {tf['side']} side; the adjusted estimate is "
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


def more_trials_needed(rated_down) -> str:
    """Which trials would settle the question, from the GRADE domains rated down."""
    size = "larger " if "imprecision" in rated_down else "more "
    kind = " at low risk of bias" if "risk_of_bias" in rated_down else ""
    return _capital(f"{size}trials{kind} are needed to pin it down.")


def take_home(model: dict, *, direction: str, intervention: str, outcome: str, certainty: str, certainty_level: str,
              measure: str, rated_down=()) -> str:
    """The closing paragraph for readers: the certainty statement (``certainty_level``: high,
    moderate, low or very low) with the size of the effect, and the certainty as printed
    (``certainty``, the GRADE summary). It says the effect varied between trials only when it did
    (I\u00b2 of 50% or more) and that more trials are needed only when the certainty is low or
    very low (which trials, from the domains ``rated_down``)."""
    statement = certainty_statement(model, direction=direction, intervention=intervention, outcome=outcome,
                                    certainty=certainty_level, measure=measure)
    clear = ci_excludes_null(model["ci_lower"], model["ci_upper"])
    varied = clear and model.get("I2") is not None and model["I2"] >= TAKE_HOME_VARIED_I2
    but = ", but the effect varied between trials" if varied else ""
    if certainty_level not in CERTAINTY_HEDGES:  # very low: the statement says nothing of size
        size = size_words(model["estimate"], measure)
        gain = "benefit" if benefit(model["estimate"], direction) > 0 else "harm"
        found = f"on average the trials found a {size + ' ' if size else ''}{gain}" if clear else \
            "the trials do not show a clear effect"
        text = f"{statement}: {found}{but}, and the certainty of the evidence is {certainty}."
    else:
        text = f"{statement}{but}; the certainty of the evidence is {certainty}."
    if certainty_level in ("low", "very low"):
        text += " " + more_trials_needed(rated_down)
    return text
