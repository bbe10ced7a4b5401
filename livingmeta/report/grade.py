"""GRADE certainty of the evidence and the summary-of-findings table.

Each of the five GRADE domains (Guyatt et al. 2011, J Clin Epidemiol 64:383-394 and GRADE
guidelines 4-8; Schünemann et al., GRADE Handbook 2013, section 5) is rated by a small pure
function with explicit thresholds taken from the configuration (``appraisal.grade``). Each
returns how many levels to rate down (0, 1 or 2) and a sentence giving the reason, which becomes
the footnote of the summary-of-findings table. Evidence from randomised trials starts at high
certainty; the levels removed add up, and certainty never falls below very low.

Thresholds and their sources (defaults in config.schema.yaml, appraisal.grade; every one is printed in the report's methods):
- risk of bias: more than half of the weight from trials not at low risk on the criterion
  domains (GRADE guidelines 4, Guyatt 2011 JCE 64:407: "most information from studies at
  moderate or high risk"), or a material shift of the low-risk-of-bias analysis;
- inconsistency: I² above 50% (Cochrane Handbook 10.10.2 "may represent substantial"), or the
  prediction interval includes no effect while the confidence interval does not (GRADE
  guidelines 7, Guyatt 2011 JCE 64:1294); two levels when I² is above 75% ("considerable") and
  the prediction interval includes no effect;
- imprecision: the confidence interval includes the decision threshold (default: no effect), or
  the total sample is below the optimal information size (GRADE guidelines 6, Guyatt 2011 JCE
  64:1283: a conventional sample-size calculation, alpha 0.05, power 0.80, for an SMD of 0.2 or a
  25% relative risk reduction); two levels when the interval includes both an appreciable benefit
  and an appreciable harm (beyond the minimal important difference on either side);
- indirectness: the review team's declared judgement (review.yaml), with its reason;
- publication bias: with at least 10 trials (Cochrane Handbook 13.3.5.4), Egger's test p below
  0.10 (Egger 1997) or a trim-and-fill estimate whose interval leads to another conclusion
  (GRADE guidelines 5, Guyatt 2011 JCE 64:1277); fewer trials: not assessable, not rated down.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from livingmeta.errors import ModelError
from livingmeta.pipeline.analysis import analysis_rows, outcome_sd, primary_analysis
from livingmeta.pipeline.declared_analysis import inverse_variance_model
from livingmeta.pipeline.config_check import section
from livingmeta.stats import bias, dist
from livingmeta import formatting
from livingmeta.report import wording as w
from livingmeta.report.review_words import analysis_name, review_words

LEVELS = ("very low", "low", "moderate", "high")
# The thresholds' defaults live in workflow/schemas/config.schema.yaml (appraisal.grade), with
# what each means: rate down for risk of bias when MORE than rob_weight_share of the weight is not
# at low risk; I² above i2_serious (percent) is serious inconsistency; mid_* is the minimal
# important difference either side of the threshold; rate down for publication bias when Egger's
# p is BELOW egger_p.
DEFAULTS = section("appraisal", {"grade": {}})["grade"]


@dataclass(frozen=True)
class Rating:
    domain: str
    downgrade: int            # 0, 1 or 2 levels
    reason: str               # footnote (why rated down) or why not
    assessable: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def grade_settings(config_appraisal: dict | None, review_appraisal: dict | None = None) -> dict:
    """The thresholds in force: DEFAULTS, then config.yaml's appraisal.grade, then the review's."""
    return {**DEFAULTS, **((config_appraisal or {}).get("grade") or {}), **((review_appraisal or {}).get("grade") or {})}


def includes(lo: float, hi: float, value: float) -> bool:
    """The interval includes ``value`` (ends included: an interval ending exactly at the
    threshold does not exclude it)."""
    return lo <= value <= hi


def rate_risk_of_bias(share_not_low: float, share_high: float, *, shift: float | None, low_ci: tuple | None,
                      main_ci: tuple, threshold: float, share_limit: float, material_shift: float,
                      k_low: int, scale_words: str = "") -> Rating:
    """Rate down one level when more than ``share_limit`` of the weight comes from trials not at
    low risk, or when the low-risk-of-bias analysis differs materially (|shift| at or above
    ``material_shift``, or its interval leads to the other conclusion about ``threshold``); two
    levels when more than ``share_limit`` of the weight is at high risk, or when both concerns hold.
    With fewer than 2 low-risk trials the shift cannot be judged and only the shares count."""
    share_concern = share_not_low > share_limit
    high_concern = share_high > share_limit
    shift_concern = False
    shift_words = ""
    if shift is not None and low_ci is not None:
        flips = includes(*low_ci, threshold) != includes(*main_ci, threshold)
        shift_concern = abs(shift) >= material_shift or flips
        shift_words = (f"the analysis of the {k_low} trials at low risk of bias gave an estimate "
                       f"{'differing by ' + w.fmt(abs(shift)) + scale_words}"
                       + (" and a different conclusion" if flips else ""))
    reasons = []
    if share_concern:
        reasons.append(f"{100 * share_not_low:.0f}% of the weight came from trials not at low risk of bias "
                       f"(high, unclear or not assessed)")
    if shift_concern:
        reasons.append(shift_words)
    downgrade = 2 if high_concern or (share_concern and shift_concern) else 1 if (share_concern or shift_concern) else 0
    if downgrade == 0:
        why = (f"{100 * share_not_low:.0f}% of the weight from trials not at low risk of bias"
               + (f"; the low-risk-of-bias analysis differed by {w.fmt(abs(shift))}{scale_words}" if shift is not None
                  else f"; too few trials at low risk of bias ({k_low}) to compare"))
        return Rating("risk_of_bias", 0, "Not rated down: " + why + ".")
    if high_concern:
        reasons.insert(0, f"{100 * share_high:.0f}% of the weight came from trials at high risk of bias")
    return Rating("risk_of_bias", downgrade, "Rated down for risk of bias: " + "; ".join(reasons) + ".")


def rate_inconsistency(i2: float | None, k: int, ci: tuple, pi: tuple | None, *, threshold: float,
                       serious: float, very_serious: float) -> Rating:
    """One level when I² > ``serious`` or the prediction interval includes ``threshold`` while
    the confidence interval does not; two when I² > ``very_serious`` and the prediction interval
    includes ``threshold``. A single trial: not assessable, not rated down."""
    if k < 2 or i2 is None:
        return Rating("inconsistency", 0, "Not assessable: a single trial.", assessable=False)
    pi_includes = pi is not None and pi[0] is not None and includes(pi[0], pi[1], threshold)
    pi_only = pi_includes and not includes(*ci, threshold)
    if i2 > very_serious and pi_includes:
        return Rating("inconsistency", 2, f"Rated down two levels for inconsistency: I\u00b2 = {w.fmt(i2, 0)}% "
                                          f"(above {very_serious:g}%) and the prediction interval includes no effect.")
    if i2 > serious or pi_only:
        parts = ([f"I\u00b2 = {w.fmt(i2, 0)}% (above {serious:g}%)"] if i2 > serious else []) + (
            ["the prediction interval includes no effect while the confidence interval does not"] if pi_only else [])
        return Rating("inconsistency", 1, "Rated down for inconsistency: " + " and ".join(parts) + ".")
    return Rating("inconsistency", 0, f"Not rated down: I\u00b2 = {w.fmt(i2, 0)}%"
                                      + ("" if pi is None or pi[0] is None else
                                         ", and the prediction interval agrees with the confidence interval") + ".")


def optimal_information_size_smd(smd: float, alpha: float, power: float) -> int:
    """Total participants (two equal arms) to detect ``smd`` with a two-sided test at ``alpha``
    with ``power``: per arm 2 (z_{1-alpha/2} + z_{power})² / smd², rounded up (GRADE guidelines 6)."""
    z = dist.norm_ppf(1 - alpha / 2) + dist.norm_ppf(power)
    return int(2 * math.ceil(2 * z ** 2 / smd ** 2))


def optimal_information_size_binary(control_risk: float, rrr: float, alpha: float, power: float) -> int:
    """Total participants (two equal arms) to detect a relative risk reduction ``rrr`` from
    ``control_risk``: per arm (z_a + z_b)² [p0(1-p0) + p1(1-p1)] / (p0 - p1)²."""
    p0, p1 = control_risk, control_risk * (1 - rrr)
    z = dist.norm_ppf(1 - alpha / 2) + dist.norm_ppf(power)
    return int(2 * math.ceil(z ** 2 * (p0 * (1 - p0) + p1 * (1 - p1)) / (p0 - p1) ** 2))


def ois_basis(settings: dict, control_risk: float | None = None) -> str:
    """What GRADE's optimal information size counts, in words: the participants of one trial
    sized by a conventional calculation, with no allowance for variation between trials (the
    trial sequential analysis's required information size makes one, and is larger)."""
    power, alpha = formatting.percent(settings["ois_power"]), formatting.percent(settings["ois_alpha"])
    if control_risk is None:
        target = f"a standardised mean difference of {settings['ois_smd']:g}"
    else:
        target = (f"a relative risk reduction of {formatting.percent(settings['ois_relative_risk_reduction'])} from a "
                  f"control risk of {formatting.percent(round(control_risk, 3))}")
    return (f"the participants one trial needs to detect {target} with {power} power at a two-sided {alpha} level, "
            f"with no allowance for variation between trials")


def rate_imprecision(ci: tuple, participants: int, ois: int | None, *, threshold: float, mid: float,
                     basis: str = "") -> Rating:
    """One level when the confidence interval includes ``threshold`` or the participants are
    fewer than the optimal information size; two when the interval includes both
    ``threshold - mid`` and ``threshold + mid`` (appreciable benefit and appreciable harm).
    ``ois`` None (no control risk to size it on): the interval alone decides. ``basis``: what
    the optimal information size counts (:func:`ois_basis`), printed with it."""
    basis = f" ({basis})" if basis else ""
    lo, hi = ci
    crosses = includes(lo, hi, threshold)
    small = ois is not None and participants < ois
    if lo <= threshold - mid and hi >= threshold + mid:
        return Rating("imprecision", 2, "Rated down two levels for imprecision: the confidence interval includes "
                                        "both an appreciable benefit and an appreciable harm.")
    if crosses or small:
        parts = (["the confidence interval includes no effect" if threshold == 0 else
                  "the confidence interval includes the decision threshold"] if crosses else []) + (
            [f"{participants:,} participants, fewer than GRADE's optimal information size of {ois:,}{basis}"] if small else [])
        return Rating("imprecision", 1, "Rated down for imprecision: " + " and ".join(parts) + ".")
    if ois is None:
        return Rating("imprecision", 0, "Not rated down: the confidence interval excludes the decision threshold (no "
                                        "control risk to compute an optimal information size).")
    return Rating("imprecision", 0, f"Not rated down: the confidence interval excludes the decision threshold and "
                                    f"{participants:,} participants reach GRADE's optimal information size of {ois:,}{basis}.")


def rate_indirectness(declared: dict | None) -> Rating:
    """The review team's judgement from review.yaml (appraisal.indirectness.<outcome>)."""
    if not declared:
        return Rating("indirectness", 0, "Not rated down: no indirectness declared in the review definition.")
    return Rating("indirectness", int(declared["downgrade"]), " ".join(str(declared["reason"]).split()))


def rate_publication_bias(k: int, egger_p: float | None, tf_ci: tuple | None, main_ci: tuple, *, threshold: float,
                          min_trials: int, p_limit: float) -> Rating:
    """One level when, with at least ``min_trials`` trials, Egger's p is below ``p_limit`` or the
    trim-and-fill interval leads to another conclusion about ``threshold``. Fewer trials: not
    assessable and not rated down (the tests have too little power)."""
    if k < min_trials or egger_p is None:
        return Rating("publication_bias", 0, f"Not assessable: {k} trials, fewer than the {min_trials} that "
                                             "small-study tests need; not rated down.", assessable=False)
    low_p = egger_p < p_limit
    tf_flips = tf_ci is not None and includes(*tf_ci, threshold) != includes(*main_ci, threshold)
    if low_p or tf_flips:
        parts = ([f"Egger's test {w.fmt_p(egger_p)} (below {p_limit:.2f})"] if low_p else []) + (
            ["the trim-and-fill estimate leads to another conclusion"] if tf_flips else [])
        return Rating("publication_bias", 1, "Rated down for suspected publication bias: " + " and ".join(parts) + ".")
    return Rating("publication_bias", 0, f"Not rated down: Egger's test {w.fmt_p(egger_p)}, and trim-and-fill does "
                                         "not change the conclusion.")


def certainty(ratings: list[Rating]) -> dict:
    """Start at high (randomised trials), subtract the levels rated down, floor at very low."""
    levels_down = sum(r.downgrade for r in ratings)
    index = max(0, 3 - levels_down)
    return {"level": LEVELS[index], "symbols": index + 1, "levels_down": levels_down}


# -- absolute effects -------------------------------------------------------------------------

def risk_with_intervention(control_risk: float, effect: float, measure: str) -> float:
    """Risk in the intervention group implied by a pooled effect (log scale for RR/OR)."""
    if measure == "RR":
        return min(1.0, control_risk * math.exp(effect))
    if measure == "OR":
        odds = control_risk / (1 - control_risk) * math.exp(effect)
        return odds / (1 + odds)
    if measure == "RD":
        return min(1.0, max(0.0, control_risk + effect))
    raise ValueError(f"no absolute effect for measure {measure!r}")


def per_thousand(control_risk: float, est: float, lo: float, hi: float, measure: str) -> dict:
    c = 1000 * control_risk
    vals = [1000 * risk_with_intervention(control_risk, x, measure) for x in (est, lo, hi)]
    diff = [v - c for v in vals]
    return {"control": round(c), "intervention": round(vals[0]), "difference": round(diff[0]),
            "difference_ci": sorted([round(diff[1]), round(diff[2])])}


def _more_fewer(n: int) -> str:
    return f"{abs(n)} {'more' if n > 0 else 'fewer' if n < 0 else 'more or fewer'}"


# -- the table --------------------------------------------------------------------------------

def _small_study(sub, method: str, egger_model: str):
    eg = bias.egger_test(sub.yi, sub.vi, model=egger_model, method=method)
    tf = bias.trim_and_fill(sub.yi, sub.vi, method=method)
    return eg.pval, (float(tf.fit.ci_lower[0]), float(tf.fit.ci_upper[0])), tf.k0


def summary_row(analysis: dict, rob: dict, sub, outcome_def: dict, review_appraisal: dict, gs: dict,
                sse_cfg: dict | None, report_cfg: dict | None, arms: tuple = ("the intervention", "control")) -> dict:
    """One row of the summary-of-findings table: numbers, effects, the five ratings, certainty.
    The model's method comes from pooled.json (``analysis["model"]``), not from the config."""
    m, measure = analysis["model"], analysis["measure"]
    ratio = w.is_ratio(measure)
    oid = analysis["outcome"]
    declared_threshold = (review_appraisal.get("decision_threshold") or {}).get(oid)
    threshold = (math.log(declared_threshold) if ratio else float(declared_threshold)) if declared_threshold is not None else 0.0
    # The continuous thresholds are set in standard deviations (SMD); a mean difference's are those
    # times the outcome's SD pooled over the trials' groups (none reported: no such threshold applies).
    sd_units = 1.0 if measure != "MD" else (outcome_sd(sub) or math.inf)
    mid = math.log(gs["mid_ratio"]) if ratio else gs["mid_smd"] * sd_units
    shift_limit = math.log(gs["rob_material_shift_ratio"]) if ratio else gs["rob_material_shift_smd"] * sd_units
    main_ci = (m["ci_lower"], m["ci_upper"])
    k = analysis["k"]
    # risk of bias
    shares = rob["weight_shares"]
    not_low = 1 - shares["low"] if gs["rob_not_assessed_as_not_low"] else (
        (shares["unclear"] + shares["high"]) / max(1e-12, 1 - shares["not_assessed"]) if shares["not_assessed"] < 1 else 1.0)
    lr = rob["low_risk"]
    r_rob = rate_risk_of_bias(not_low, shares["high"], shift=lr.get("shift"),
                              low_ci=(lr["ci_lower"], lr["ci_upper"]) if "ci_lower" in lr else None, main_ci=main_ci,
                              threshold=threshold, share_limit=gs["rob_weight_share"], material_shift=shift_limit,
                              k_low=lr["k"], scale_words=" on the log scale" if ratio else "")
    r_inc = rate_inconsistency(m.get("I2"), k, main_ci, (m.get("pi_lower"), m.get("pi_upper")), threshold=threshold,
                               serious=gs["i2_serious"], very_serious=gs["i2_very_serious"])
    # imprecision, with the optimal information size of the outcome's type
    control_risk, risk_source = None, None
    if outcome_def["type"] == "binary":
        acr = (review_appraisal.get("assumed_control_risk") or {}).get(oid)
        if acr:
            control_risk, risk_source = float(acr["risk"]), " ".join(str(acr["source"]).split())
        elif sub.total_ctl.sum() > 0:
            control_risk = float(sub.events_ctl.sum() / sub.total_ctl.sum())
            risk_source = "the trials' control groups (total events / total participants)"
        if control_risk is not None and 0 < control_risk < 1:
            ois = optimal_information_size_binary(control_risk, gs["ois_relative_risk_reduction"], gs["ois_alpha"],
                                                  gs["ois_power"])
        else:  # no control risk to size the trial for: the OIS criterion cannot be applied
            ois = None
    else:
        ois = optimal_information_size_smd(gs["ois_smd"], gs["ois_alpha"], gs["ois_power"])
    r_imp = rate_imprecision(main_ci, analysis["participants"], ois, threshold=threshold, mid=mid,
                             basis=ois_basis(gs, control_risk) if ois is not None else "")
    r_ind = rate_indirectness((review_appraisal.get("indirectness") or {}).get(oid))
    egger_p = tf_ci = None
    if k >= gs["publication_bias_min_trials"]:
        iv = inverse_variance_model(m)["method"]  # Egger and trim-and-fill refit by inverse variance
        try:
            egger_p, tf_ci, _ = _small_study(sub, iv, section("small_study_effects", sse_cfg)["egger_model"])
        except ModelError:
            egger_p = tf_ci = None  # not assessable, as with too few trials
    r_pub = rate_publication_bias(k, egger_p, tf_ci, main_ci, threshold=threshold,
                                  min_trials=gs["publication_bias_min_trials"], p_limit=gs["egger_p"])
    ratings = [r_rob, r_inc, r_ind, r_imp, r_pub]
    row = {"outcome": oid, "timepoint": analysis["timepoint"],
           "label": analysis.get("name") or f"{analysis['outcome_label']}, {analysis['timepoint_label']}", "measure": measure,
           "k": k, "participants": analysis["participants"], "estimate": m["estimate"],
           "ci_lower": m["ci_lower"], "ci_upper": m["ci_upper"], "threshold": threshold, "ois": ois,
           "ratings": [r.to_dict() for r in ratings], **certainty(ratings)}
    row["relative"] = "{} {} ({})".format(measure, *w.effect_numbers(measure, m["estimate"], m["ci_lower"], m["ci_upper"]))
    if control_risk is not None:
        pt = per_thousand(control_risk, m["estimate"], m["ci_lower"], m["ci_upper"], measure)
        row["absolute"] = {**pt, "control_risk": control_risk, "control_risk_source": risk_source,
                           "text": (f"{pt['control']} per 1,000 with {arms[1]}; {pt['intervention']} per 1,000 with "
                                    f"{arms[0]}: {_more_fewer(pt['difference'])} per 1,000 (from "
                                    f"{_more_fewer(pt['difference_ci'][0])} to {_more_fewer(pt['difference_ci'][1])})")}
    elif outcome_def["type"] == "binary":
        row["absolute"] = {"text": ("no absolute effect: the trials' control-group counts are not reported and the "
                                    "review gives no assumed control risk")}
    elif measure == "SMD":
        cer = section("report", report_cfg)["nnt_control_response_rate"]
        nnt = w.nnt_from_smd(w.benefit(m["estimate"], analysis["direction"]), cer)
        row["absolute"] = {"size_words": w.smd_size_words(m["estimate"]), "nnt": None if nnt is None else math.ceil(nnt),
                           "nnt_cer": cer,
                           "text": (f"a {w.smd_size_words(m['estimate'])} effect by Cohen's rule of thumb"
                                    + (f"; number needed to treat about {math.ceil(nnt)} (Furukawa's method, assuming "
                                       f"{100 * cer:.0f}% improve with {arms[1]})" if nnt else
                                       "; no number needed to treat (no benefit at the point estimate)"))}
    elif measure == "MD":
        scale = (f"; the GRADE thresholds set in standard deviations are, in these units, {w.fmt(mid)} (minimal "
                 f"important difference) and {w.fmt(shift_limit)} (material shift), from the SD {w.fmt(sd_units)} "
                 f"pooled over the trials' groups" if math.isfinite(sd_units) else
                 "; the trials report no standard deviations, so no threshold set in standard deviations is applied")
        row["absolute"] = {"text": "mean difference {} ({}) in the outcome's own units".format(
            *w.effect_numbers(measure, m["estimate"], m["ci_lower"], m["ci_upper"])) + scale}
    else:
        row["absolute"] = {"text": f"no absolute effect: the trials report {measure} estimates without their group counts"}
    return row


SOF_ROWS = 7  # a summary-of-findings table holds at most seven outcomes (Cochrane Handbook 14.1.4)


def sof_analyses(review_def: dict, pooled: dict) -> tuple[list[dict], str]:
    """The analyses that get a summary-of-findings row, and how they were chosen: one per outcome
    the review marks as main (outcomes[].main: its first estimated analysis), else every estimated
    analysis in the review's order up to SOF_ROWS. The analysis the report leads with is always
    one of them (its certainty is the headline's)."""
    estimated = [a for a in pooled["analyses"] if "model" in a]
    lead = primary_analysis(review_def, pooled)
    main = [o["id"] for o in review_def["outcomes"] if o.get("main")]
    if main:
        chosen = [next(a for a in estimated if a["outcome"] == oid) for oid in main
                  if any(a["outcome"] == oid for a in estimated)]
        how = "main"
    else:
        chosen = estimated[:SOF_ROWS]
        how = "all" if len(estimated) <= SOF_ROWS else "capped"
    if not any(a is lead for a in chosen):  # in the review's order, the last of a full table giving way
        keep = chosen[:SOF_ROWS - 1] if how == "capped" else chosen
        chosen = [a for a in estimated if a is lead or any(a is c for c in keep)]
    return chosen, how


def summary_of_findings(review_def: dict, pooled: dict, effect_table, rob: dict, config: dict) -> dict:
    """The summary-of-findings table (sof.json): one row per main outcome (:func:`sof_analyses`)."""
    review_appraisal = review_def.get("appraisal") or {}
    gs = grade_settings(config.get("appraisal"), review_appraisal)
    chosen, how = sof_analyses(review_def, pooled)
    rows = []
    for a in chosen:
        odef = next(o for o in review_def["outcomes"] if o["id"] == a["outcome"])
        words = review_words(review_def, odef)
        sub = analysis_rows(effect_table, a["outcome"], a["timepoint"])
        rob_a = next(x for x in rob["analyses"] if x["outcome"] == a["outcome"] and x["timepoint"] == a["timepoint"])
        rows.append(summary_row({**a, "name": analysis_name(review_def, a)}, rob_a, sub, odef, review_appraisal, gs,
                                config.get("small_study_effects"), config.get("report"),
                                (words["intervention"], words["comparator"])))
    estimated = sum("model" in a for a in pooled["analyses"])
    return {"review": review_def["id"], "settings": gs, "rows": rows, "selection": how,
            "analyses_not_shown": estimated - len(rows)}


def primary_certainty(sof: dict, outcome: str, timepoint: str) -> dict:
    """The certainty of the primary analysis: the one source of the lead, the headline and the
    take-home message."""
    row = next(r for r in sof["rows"] if r["outcome"] == outcome and r["timepoint"] == timepoint)
    down = [f"{'two levels' if r['downgrade'] == 2 else 'one level'} for {r['domain'].replace('_', ' ')}"
            for r in row["ratings"] if r["downgrade"]]
    listed = down[0] if len(down) == 1 else ", ".join(down[:-1]) + " and " + down[-1] if down else ""
    return {"level": row["level"], "reasons": [r["reason"] for r in row["ratings"] if r["downgrade"]],
            "rated_down": [r["domain"] for r in row["ratings"] if r["downgrade"]], "ois": row.get("ois"),
            "summary": row["level"] + (f" (GRADE: rated down {listed})" if down else " (GRADE: not rated down)")}
