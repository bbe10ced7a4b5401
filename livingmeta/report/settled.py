"""Context of the report section "How settled is the evidence?": plain-word sentences built from
bayes.json and sequential.json, each set beside the GRADE certainty in one sentence, and how
both changed since the previous edition (printed under 'What changed in this edition'). Every
review-specific word (intervention, control, outcome) comes from review.yaml's labels."""

from __future__ import annotations

from livingmeta.formatting import probability
from livingmeta.report import wording as w
from livingmeta.report.review_words import review_words

HANDBOOK_NOTE = ("These are aids to interpretation shown beside the main analysis above, not a replacement "
                 "for it (Cochrane Handbook for Systematic Reviews of Interventions, chapter 22). Both take the trials "
                 "at face value: they do not correct for risk of bias or small-study effects, so they are no more "
                 "certain than the certainty of the evidence rated above.")
DOMAIN_WORDS = {"risk_of_bias": "risk of bias", "inconsistency": "inconsistency", "indirectness": "indirectness",
                "imprecision": "imprecision", "publication_bias": "publication bias"}


def _listed(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _concerns(certainty: dict | None) -> str:
    """'risk of bias, inconsistency and publication bias': the GRADE domains rated down."""
    return _listed(DOMAIN_WORDS.get(d, d) for d in (certainty or {}).get("rated_down", []))


def _bayes_and_grade(certainty: dict | None) -> str:
    """One sentence on how the posterior probabilities relate to the GRADE rating."""
    if not certainty:
        return ""
    if certainty.get("rated_down"):
        return (f"They take the trials at face value, so they leave out what the GRADE certainty of {certainty['level']} "
                f"was rated down for ({_concerns(certainty)}): read them as how sure one could be if those concerns "
                f"did not apply, not as the certainty of the evidence.")
    return (f"They take the trials at face value, as the GRADE rating ({certainty['level']} certainty, not rated "
            f"down) found no reason not to.")


def _sequential_and_grade(certainty: dict | None, crossed: bool) -> str:
    """One sentence on how the sequential analysis relates to the GRADE rating (``crossed``: the
    z-curve lies beyond a monitoring boundary)."""
    if not certainty:
        return ""
    if certainty.get("rated_down") and crossed:
        return (f"It weighs only the amount of information and the play of chance: the GRADE certainty is "
                f"{certainty['level']} because of {_concerns(certainty)}, which a sequential analysis does not weigh, "
                f"so crossing the boundary does not make the evidence more certain than that.")
    if certainty.get("rated_down"):
        return (f"It weighs only the amount of information and the play of chance; the GRADE certainty of "
                f"{certainty['level']} also reflects {_concerns(certainty)}.")
    return ("It weighs only the amount of information and the play of chance; the GRADE rating, which also weighs "
            "risk of bias, inconsistency, indirectness and publication bias, found no reason to rate the evidence "
            "down.")


def _bayes_text(b: dict, names: dict, certainty: dict | None = None) -> dict:
    if "model" not in b:
        return {"available": False, "text": "Not analysed: " + b.get("not_analysed_reason", "") + "."}
    m, p, measure = b["model"], b["probabilities"], b["measure"]
    level = w.pct(m["level"])
    median, cri = w.effect_numbers(measure, m["mu_median"], m["mu_ci_lower"], m["mu_ci_upper"])
    est = (f"The average effect is {measure} {median} ({level} credible interval {cri}); "
           f"the effect in a new trial would lie between {w.fmt_effect(m['pred_ci_lower'], measure)} and "
           f"{w.fmt_effect(m['pred_ci_upper'], measure)} with {level} probability; the between-trial standard deviation "
           f"\u03c4 is {w.fmt(m['tau_median'])} ({level} credible interval {w.fmt_ci(m['tau_ci_lower'], m['tau_ci_upper'])}).")
    probs = (f"Under the priors stated below, the probability that {names['intervention']} is better than "
             f"{names['control']} for {names['outcome']} is {probability(p['benefit'])}")
    cid = b.get("important_difference")
    if cid:
        size = f"{measure} {w.fmt(cid['value'])}"
        probs += (f"; the probability that it is better by at least the smallest difference that matters "
                  f"({size}) is {probability(p['important_benefit'])}")
    probs += f"; the probability that it is worse is {probability(p['harm'])}."
    relation = _bayes_and_grade(certainty)
    if relation:
        probs += " " + relation
    prior = (f"Prior: {m['tau_prior']} for \u03c4 (the between-trial standard deviation) and {m['mu_prior']} "
             f"for the average effect, so the probabilities come from the trials alone, not from prior belief about the effect."
             if m["mu_prior"].startswith("uniform") else
             f"Prior: {m['tau_prior']} for \u03c4 (the between-trial standard deviation) and {m['mu_prior']} for the average effect.")
    sens = [{"prior": r["tau_prior"], "benefit": probability(r["benefit"]),
             "important_benefit": probability(r["important_benefit"]) if "important_benefit" in r else None,
             "median": w.fmt_effect(r["mu_median"], measure)} for r in b.get("prior_sensitivity", [])]
    return {"available": True, "probabilities": probs, "estimates": est, "prior": prior, "sensitivity": sens,
            "main_prior": m["tau_prior"], "main_median": w.fmt_effect(m["mu_median"], measure), "measure": measure,
            "cid_source": (cid.get("source") or None) if cid else None,
            "predictive": (m["level"], m["pred_ci_lower"], m["pred_ci_upper"]),
            "rows": [{"label": f"P({names['intervention']} better)", "value": probability(p["benefit"])}]
            + ([{"label": f"P(better by at least {measure} {w.fmt(cid['value'])})", "value": probability(p["important_benefit"])}]
               if cid else [])
            + [{"label": f"P({names['intervention']} worse)", "value": probability(p["harm"])}]}


def _information_sizes(ris: int, certainty: dict | None) -> str:
    """One sentence setting the sequential analysis's required information size beside GRADE's
    optimal information size, which the imprecision rating used: what each counts."""
    ois = (certainty or {}).get("ois")
    if not ois:
        return ""
    compare = "larger than" if ris > ois else "smaller than" if ris < ois else "the same as"
    return (f"This required information size is {compare} the optimal information size of {ois:,} participants that "
            f"the GRADE imprecision rating used, which counts the participants one trial needs and makes no "
            f"allowance for variation between trials.")


def _sequential_text(s: dict, names: dict, certainty: dict | None = None) -> dict:
    if "ris" not in s:
        return {"available": False, "text": "Not analysed: " + s.get("not_analysed_reason", "") + "."}
    ris = s["ris"]
    cid = s["important_difference"]
    d2 = (f", enlarged for the diversity between trials (D\u00b2 = {100 * ris['diversity']:.0f}%)"
          if ris["diversity"] > 0 else "")
    sd = (f" (the outcome's standard deviation taken as {w.fmt(ris['sd'])}, pooled over the trials' groups)"
          if "sd" in ris else "")
    basis = (f"The required information size is {ris['adjusted']:,} participants: the participants a meta-analysis "
             f"needs to detect a difference of {s['measure']} {w.fmt(cid['value'])}{sd} with {100 * s['power']:.0f}% power "
             f"at a two-sided {100 * s['alpha']:.0f}% level{d2} (Wetterslev et al. 2008). "
             + _information_sizes(ris["adjusted"], certainty)
             + (" " if certainty and certainty.get("ois") else "")
             + f"Boundaries: Lan-DeMets \u03b1-spending of O'Brien-Fleming type, for "
             f"benefit and for harm, so that looking again at every edition keeps the overall false-positive rate at "
             f"{100 * s['alpha']:.0f}%"
             + ("; non-binding futility boundaries by \u03b2-spending of the same type." if s.get("futility") else "."))
    share = f"{s['percent_of_ris']:.0f}% of the required information size"
    when = s.get("first_benefit_edition") or s.get("first_benefit_year")
    if s["status"] == "benefit":
        where = f"edition {s['first_benefit_edition']}" if s.get("first_benefit_edition") else f"{s['first_benefit_year']}"
        sentence = (f"The cumulative z-curve crossed the monitoring boundary for benefit of {names['intervention']} in "
                    f"{where} and lies beyond it, with {s['participants']:,} participants ({share}): by this analysis's "
                    f"standard, chance alone is an unlikely explanation of the difference.")
    elif s["status"] == "harm":
        where = s.get("first_harm_edition") or s.get("first_harm_year")
        sentence = (f"The cumulative z-curve crossed the monitoring boundary favouring {names['control']} in {where}, "
                    f"with {s['participants']:,} participants ({share}): by this analysis's standard, chance alone is an "
                    f"unlikely explanation of the harm.")
    elif s["status"] == "futility":
        sentence = (f"Futility: with {s['participants']:,} participants ({share}) the "
                    f"z-curve lies inside the futility boundaries, so a difference as large as {s['measure']} "
                    f"{w.fmt(cid['value'])} has become unlikely (the boundaries are non-binding: further trials "
                    f"may still be added).")
    elif s["status"] == "information_reached":
        sentence = (f"The required information size has been reached ({s['participants']:,} participants, "
                    f"{s['percent_of_ris']:.0f}%) without the z-curve crossing the boundary for benefit or harm.")
    else:
        sentence = (f"Not yet: the trials so far include {s['participants']:,} participants, {share}, "
                    f"and the z-curve has not crossed a monitoring boundary.")
        if when:
            sentence += f" (It crossed the boundary for benefit in {when} but is inside it now.)"
    return {"available": True, "sentence": sentence, "basis": basis,
            "relation": _sequential_and_grade(certainty, s["status"] in ("benefit", "harm")),
            "cid_source": cid.get("source") or None}


def _changes(bayes, seq, prev_bayes, prev_seq, prev_label) -> list[str]:
    """How the two analyses moved since the previous edition; nothing for a first edition (the
    report's 'What changed in this edition' says that once)."""
    if not prev_label:
        return []
    out = []
    if prev_bayes and "probabilities" in prev_bayes and "probabilities" in bayes:
        a, b = prev_bayes["probabilities"], bayes["probabilities"]
        s = f"Probability of benefit: {probability(a['benefit'])} in the previous edition ({prev_label}), {probability(b['benefit'])} now"
        if "important_benefit" in a and "important_benefit" in b:
            s += f"; of an important benefit: {probability(a['important_benefit'])} then, {probability(b['important_benefit'])} now"
        out.append(s + ".")
    if prev_seq and "percent_of_ris" in prev_seq and "percent_of_ris" in seq:
        out.append(f"Information: {prev_seq['percent_of_ris']:.0f}% of the required information size in the previous "
                   f"edition, {seq['percent_of_ris']:.0f}% now.")
    if not out:
        out.append(f"The Bayesian and sequential analyses are new since the previous edition ({prev_label}).")
    return out


def settled_context(*, bayes: dict, sequential: dict, review_def: dict, figure: str | None = None,
                    previous_bayes: dict | None = None, previous_sequential: dict | None = None,
                    previous_label: str | None = None, certainty: dict | None = None) -> dict:
    """Everything the section prints. ``certainty``: the primary outcome's GRADE certainty
    (grade.primary_certainty), which each analysis is set beside in one sentence."""
    outcome = next(o for o in review_def["outcomes"] if o["id"] == review_def["primary_outcome"])
    words = review_words(review_def, outcome)  # the review's words, never its arm keys ("experimental")
    names = {"intervention": words["intervention"], "control": words["comparator"],
             "outcome": w.outcome_in_sentence(outcome["label"], words["intervention"])}
    return {"note": HANDBOOK_NOTE, "bayes": _bayes_text(bayes, names, certainty),
            "sequential": _sequential_text(sequential, names, certainty),
            "figure": figure, "changes": _changes(bayes, sequential, previous_bayes, previous_sequential, previous_label)}


def settled_inputs(bayes_path, sequential_path, history: dict | None, figure: str | None) -> dict:
    """Read this build's bayes.json and sequential.json, and take what the previous edition said
    from history.json (absent in editions made before these analyses existed)."""
    import json
    from pathlib import Path

    from livingmeta.report.history import compared_entry

    def read(path):
        try:
            return json.loads(Path(path).read_text()) if path else None
        except (OSError, ValueError):
            return None

    prev = compared_entry(history) if history else None
    return {"bayes": read(bayes_path), "sequential": read(sequential_path), "figure": figure,
            "previous_bayes": {"probabilities": prev["probabilities"]} if prev and prev["probabilities"] else None,
            "previous_sequential": ({"percent_of_ris": prev["percent_of_ris"]}
                                    if prev and prev["percent_of_ris"] is not None else None),
            "previous_label": prev["date"] if prev else None}
