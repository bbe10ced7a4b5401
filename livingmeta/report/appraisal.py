"""Report context for the appraisal sections (risk of bias, summary of findings, PRISMA flow,
and the methods text of their rules): ready-to-print strings built from rob.json, sof.json and
prisma.json. The templates in templates/sections/ only place them."""

from __future__ import annotations

from livingmeta.report import wording as w
from livingmeta.report.review_words import review_words
from livingmeta.pipeline.appraisal import DOMAINS, JUDGEMENT_WORDS, NOT_ASSESSED, TOOL_NAMES, find_analysis

MAX_SUPPORT_ROWS = 60  # above this many trials the support-text table is left to the data files
MAX_NAMED_TRIALS = 20  # trials named in a sentence; more are counted (the tables and grid name them)


def _domain_list(tool: str, domains: list[str]) -> str:
    names = [DOMAINS[tool][d].split(" (")[0].lower() for d in domains]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _effect(x: dict, measure: str, level: float) -> str:
    est, ci = w.effect_numbers(measure, x["estimate"], x["ci_lower"], x["ci_upper"])
    return f"{est} ({w.pct(level)} CI {ci})"


def risk_of_bias_section(rob: dict, figures: dict) -> dict:
    """The risk-of-bias section: what was assessed, the figures, the low-risk analysis of every
    outcome, and the subgroup test, with the trials and participants each rests on."""
    primary = find_analysis(rob, rob["primary"]["outcome"], rob["primary"].get("timepoint"))
    crit = rob["criterion"]
    tools = primary["tools"] if primary else []
    criterion_text = "; ".join(f"{TOOL_NAMES[t].split(' (')[0]}: low risk on {_domain_list(t, crit[t])}" for t in tools)
    rows = []
    for a in rob["analyses"]:
        lr = a["low_risk"]
        c = a["counts"]
        left_out = ", ".join(f"{n} {JUDGEMENT_WORDS[k]}" for k, n in c.items() if k != "low" and n)
        rows.append({"label": f"{a['outcome_label']}, {a['timepoint_label']}", "measure": a["measure"],
                     "main": f"{_effect(a['main'], a['measure'], a['level'])}; {a['main']['k']} trials, {a['main']['participants']:,} participants",
                     "low": (f"{_effect(lr, a['measure'], a['level'])}; {lr['k']} trials, {lr['participants']:,} participants"
                             if "estimate" in lr else f"not pooled: {lr['not_pooled_reason']}"),
                     "left_out": left_out or "none"})
    out = {"available": bool(primary and tools), "criterion_text": criterion_text, "rows": rows,
           "tool_text": "; ".join(TOOL_NAMES[t] for t in tools),
           "figures": {k.split(":", 1)[1]: v for k, v in figures.items() if k.startswith("rob:")},
           # every key the templates read, empty until there is something to print
           "weight_text": "", "sensitivity_text": "", "moderator_text": "", "grid_legend": {}, "forest_legend": "",
           "support_domains": [], "support_rows": []}
    if not out["available"]:
        out["text"] = ("No risk-of-bias judgements were recorded for the trials of this review, so their risk of bias "
                       "is not reported.")
        return out
    k, c = primary["k"], primary["counts"]
    not_assessed = [t["label"] for t in primary["trials"] if t["class"] == NOT_ASSESSED]
    criterion_domains = "; ".join(_domain_list(t, crit[t]) for t in tools)
    named = f" ({', '.join(not_assessed)})" if len(not_assessed) <= MAX_NAMED_TRIALS else ""
    out["text"] = (f"Risk of bias was recorded for {k - primary['k_not_assessed_at_all']} of the {k} trials of the primary "
                   f"analysis ({out['tool_text']}). "
                   + (f"For {w.plural(len(not_assessed), 'trial')} the criterion domains ({criterion_domains}) were not "
                      f"assessed in the sources read{named}; {'it is' if len(not_assessed) == 1 else 'they are'} counted "
                      f"as not assessed, never as a risk level. "
                      if not_assessed else "")
                   + f"On the criterion domains, {w.plural(c['low'], 'trial')} {'was' if c['low'] == 1 else 'were'} at low risk, "
                   f"{c['unclear'] + c['some_concerns']} unclear or with some concerns, and {c['high']} at high risk.")
    shares = primary["weight_shares"]
    out["weight_text"] = (f"Share of the primary analysis' weight: {100 * shares['low']:.0f}% from trials at low risk of bias, "
                          f"{100 * shares['unclear']:.0f}% unclear or some concerns, {100 * shares['high']:.0f}% high, "
                          f"{100 * shares['not_assessed']:.0f}% not assessed.")
    lr, main = primary["low_risk"], primary["main"]
    ratio = w.is_ratio(primary["measure"])
    if "estimate" in lr:
        out["sensitivity_text"] = (
            f"Restricted to the {lr['k']} trials at low risk of bias ({lr['participants']:,} participants), the pooled "
            f"{primary['measure']} was {_effect(lr, primary['measure'], primary['level'])}, against {_effect(main, primary['measure'], primary['level'])} from all {main['k']} trials "
            f"({main['participants']:,} participants): a shift of {w.fmt(lr['shift'])}"
            f"{' on the log scale' if ratio else ''}."
            + (" The interval now includes no effect." if w.ci_excludes_null(main["ci_lower"], main["ci_upper"])
               and not w.ci_excludes_null(lr["ci_lower"], lr["ci_upper"]) else ""))
    else:
        out["sensitivity_text"] = f"The low-risk-of-bias analysis was not possible: {lr['not_pooled_reason']}."
    out["sensitivity_text"] += (" This analysis is this report's own, on the judgements recorded in the trial records; "
                                "trials not assessed are left out of it and counted as not assessed.")
    mod = primary["moderator"]
    if "levels" in mod:
        out["moderator_text"] = w.subgroup_sentence(mod, mod["level_labels"], primary["measure"], primary["level"]) + (
            f" {w.plural(mod['k_not_reported'], 'trial')} not assessed {'is' if mod['k_not_reported'] == 1 else 'are'} "
            f"left out." if mod["k_not_reported"] else "")
    else:
        out["moderator_text"] = f"Not analysed: {mod['not_analysed_reason']}."
    # the grid's columns are the domains some trial was judged on (as in the summary bars)
    out["grid_legend"] = {t: "; ".join(f"D{i + 1}: {row['label']}" for i, row in enumerate(primary["summary"][t]))
                          for t in tools}
    letters = [DOMAINS[t][d] for t in tools for d in crit[t]]
    out["forest_legend"] = "; ".join(f"{chr(65 + i)}: {name}" for i, name in enumerate(letters))
    # one row per trial, one column per criterion domain: judgement and the source's support text
    out["support_domains"] = [DOMAINS[t][d].split(" (")[0] for t in tools for d in crit[t]]
    out["support_rows"] = []
    if k <= MAX_SUPPORT_ROWS:
        for t in primary["trials"]:
            cells = []
            for tool in tools:
                for d in crit[tool]:
                    j = t["judgements"].get(d, {"judgement": NOT_ASSESSED, "support": None}) if t["tool"] == tool \
                        else {"judgement": NOT_ASSESSED, "support": None}
                    cells.append({"judgement": JUDGEMENT_WORDS[j["judgement"]], "support": j["support"] or ""})
            out["support_rows"].append({"trial": t["label"], "cells": cells})
    return out


def summary_of_findings_section(sof: dict, review_def: dict) -> dict:
    """GRADEpro-style rows with footnote letters and the footnotes."""
    footnotes, rows = [], []
    names = {"risk_of_bias": "risk of bias", "inconsistency": "inconsistency", "indirectness": "indirectness",
             "imprecision": "imprecision", "publication_bias": "publication bias"}
    for r in sof["rows"]:
        marks = []
        for rating in r["ratings"]:
            if rating["downgrade"]:
                footnotes.append({"mark": chr(97 + len(footnotes)), "text": rating["reason"]})
                marks.append(footnotes[-1]["mark"])
        down = [f"{names[x['domain']]}{' (two levels)' if x['downgrade'] == 2 else ''}" for x in r["ratings"] if x["downgrade"]]
        rows.append({"label": r["label"], "k": r["k"], "participants": f"{r['participants']:,}", "relative": r["relative"],
                     "absolute": r["absolute"]["text"], "level": r["level"], "symbols": r["symbols"], "marks": marks,
                     "rated_down": ", ".join(down) if down else "not rated down"})
    words = review_words(review_def)  # the review's own words ("Aspirin"), never its arm keys ("experimental")
    hidden = sof.get("analyses_not_shown", 0)
    note = ("" if not hidden else
            f"The review marks its main outcomes; {hidden} other {'analysis is' if hidden == 1 else 'analyses are'} "
            "reported under \u201cWhat they found\u201d, with forest plots in the appendix." if sof.get("selection") == "main"
            else f"The review marks no main outcomes, so this table shows its first {len(rows)} analyses (a summary of "
                 f"findings holds at most seven); {hidden} more {'is' if hidden == 1 else 'are'} reported under "
                 "\u201cWhat they found\u201d, with forest plots in the appendix.")
    return {"rows": rows, "footnotes": footnotes, "intervention": words["intervention"],
            "control": words["comparator"], "analyses_not_shown": hidden, "rows_note": note, "ratings": [
                {"label": r["label"], "items": [{"domain": names[x["domain"]], "text": x["reason"]} for x in r["ratings"]]}
                for r in sof["rows"]]}


def prisma_section(prisma: dict, figures: dict) -> dict:
    if not prisma["editions"]:  # in the reader's words (prisma.json's reason names the review.yaml key)
        return {"editions": [], "text": "The sources of this review give no search and screening counts, so no "
                                        "PRISMA 2020 flow diagram is drawn."}
    eds = [{"label": e["label"], "date": e.get("date"), "source": e.get("source"), "form": e["form"],
            "figure": figures.get(f"prisma:{e['index'] + 1}")} for e in prisma["editions"]]
    return {"editions": eds, "text": ""}


def methods_section(sof: dict, rob: dict) -> list[str]:
    """Every appraisal rule and threshold, from the settings actually used."""
    g = sof["settings"]
    crit = rob["criterion"]
    return [
        (f"Risk of bias was read from the trial records (Cochrane RoB 1 or RoB 2 judgements with their support text). A "
         f"trial is at low risk of bias when every criterion domain is judged low (RoB 1: "
         f"{_domain_list('rob1', crit['rob1'])}; RoB 2: {_domain_list('rob2', crit['rob2'])}); at high risk when any is "
         f"high; unclear (some concerns) otherwise; a trial with a criterion domain not assessed is 'not assessed', is "
         f"left out of the low-risk analysis and the risk-of-bias subgroups, and is counted. The low-risk analysis and the "
         f"subgroups refit the main model with the same settings."),
        (f"GRADE (Guyatt et al. 2011; GRADE Handbook, Sch\u00fcnemann et al. 2013): evidence from randomised trials "
         f"starts at high certainty; each domain removes 0, 1 or 2 levels; certainty is high, moderate, low or very low."),
        (f"Risk of bias: one level when more than {100 * g['rob_weight_share']:.0f}% of the weight comes from trials not at "
         f"low risk ({'including' if g['rob_not_assessed_as_not_low'] else 'excluding'} trials not assessed), or when "
         f"the low-risk analysis differs materially (by {g['rob_material_shift_smd']:g} SMD or a factor of "
         f"{g['rob_material_shift_ratio']:g} on a ratio, or its interval leads to another conclusion); two levels when "
         f"more than {100 * g['rob_weight_share']:.0f}% of the weight is at high risk, or both concerns hold."),
        (f"Inconsistency: one level when I\u00b2 is above {g['i2_serious']:g}% or the prediction interval includes no "
         f"effect while the confidence interval does not; two when I\u00b2 is above {g['i2_very_serious']:g}% and the "
         f"prediction interval includes no effect. A single trial is not assessable."),
        (f"Imprecision: one level when the confidence interval includes the decision threshold (no effect unless "
         f"the review sets one) or the participants are fewer than GRADE's optimal information size (alpha "
         f"{g['ois_alpha']:g}, power {g['ois_power']:g}, for an SMD of {g['ois_smd']:g} or a relative risk reduction of "
         f"{100 * g['ois_relative_risk_reduction']:.0f}% from the assumed control risk: the participants one trial needs, "
         f"with no allowance for variation between trials); two levels when the interval "
         f"includes both an appreciable benefit and an appreciable harm (beyond {g['mid_smd']:g} SMD or a factor of "
         f"{g['mid_ratio']:g} either side of the threshold). A mean difference takes the thresholds set in SMD "
         f"in its own units: times the outcome's standard deviation pooled over the trials' groups."),
        "Indirectness: the review team's judgement and reason, declared per outcome in the review's definition.",
        (f"Publication bias: with at least {g['publication_bias_min_trials']} trials, one level when Egger's test gives "
         f"p below {g['egger_p']:g} or the trim-and-fill interval leads to another conclusion; with fewer trials not "
         f"assessable and not rated down."),
        ("Absolute effects: binary outcomes per 1,000 people from the assumed control risk (the review's, else the "
         "trials' control groups) and the pooled ratio; standardised mean differences in words by Cohen's rule of thumb "
         "and as a number needed to treat (Furukawa 1999). Ties at a threshold do not rate down ('above', 'more than', "
         "'below' are strict); an interval that ends exactly at the threshold includes it."),
        ("PRISMA 2020 (Page et al. 2021): counts from the review's record of its searches; every box whose parts are all reported "
         "must add up, or the build stops naming the entry, field and numbers; counts not reported are printed as such."),
    ]
