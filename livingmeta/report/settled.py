"""Context of the report section "How settled is the evidence?": plain-word sentences built from
bayes.json and sequential.json, and how both changed since the previous edition. Every
review-specific word (intervention, control, outcome) comes from review.yaml."""

from __future__ import annotations


from livingmeta.report import wording as w
from livingmeta.report.review_words import review_words

HANDBOOK_NOTE = ("These are aids to interpretation shown beside the main analysis above, not a replacement "
                 "for it (Cochrane Handbook for Systematic Reviews of Interventions, chapter 22). Both take the trials "
                 "at face value: they do not correct for risk of bias or small-study effects, so they are no more "
                 "certain than the certainty of the evidence rated above.")


def _pct(p: float) -> str:
    if p is None:
        return "not available"
    if p > 0.999:
        return "more than 99.9%"
    if p < 0.001:
        return "less than 0.1%"
    return f"{100 * p:.0f}%" if 0.01 <= p <= 0.99 else f"{100 * p:.1f}%"


def _bayes_text(b: dict, names: dict) -> dict:
    if "model" not in b:
        return {"available": False, "text": "Not analysed: " + b.get("not_analysed_reason", "") + "."}
    m, p, measure = b["model"], b["probabilities"], b["measure"]
    level = f"{100 * m['level']:.0f}%"
    median, cri = w.effect_numbers(measure, m["mu_median"], m["mu_ci_lower"], m["mu_ci_upper"])
    est = (f"The average effect is {measure} {median} ({level} credible interval {cri}); "
           f"the effect in a new trial would lie between {w.fmt_effect(m['pred_ci_lower'], measure)} and "
           f"{w.fmt_effect(m['pred_ci_upper'], measure)} with {level} probability; the between-trial standard deviation "
           f"\u03c4 is {w.fmt(m['tau_median'])} ({level} credible interval {w.fmt_ci(m['tau_ci_lower'], m['tau_ci_upper'])}).")
    probs = (f"Given these trials, the probability that {names['intervention']} is better than {names['control']} "
             f"for {names['outcome']} is {_pct(p['benefit'])}")
    cid = b.get("important_difference")
    if cid:
        size = f"{measure} {w.fmt(cid['value'])}"
        probs += (f"; the probability that it is better by at least the smallest difference that matters "
                  f"({size}) is {_pct(p['important_benefit'])}")
    probs += f"; the probability that it is worse is {_pct(p['harm'])}."
    prior = (f"Prior: {m['tau_prior']} for \u03c4 (the between-trial standard deviation) and {m['mu_prior']} "
             f"for the average effect, so the probabilities come from the trials alone, not from prior belief about the effect."
             if m["mu_prior"].startswith("uniform") else
             f"Prior: {m['tau_prior']} for \u03c4 (the between-trial standard deviation) and {m['mu_prior']} for the average effect.")
    sens = [{"prior": r["tau_prior"], "benefit": _pct(r["benefit"]),
             "important_benefit": _pct(r["important_benefit"]) if "important_benefit" in r else None,
             "median": w.fmt_effect(r["mu_median"], measure)} for r in b.get("prior_sensitivity", [])]
    return {"available": True, "probabilities": probs, "estimates": est, "prior": prior, "sensitivity": sens,
            "main_prior": m["tau_prior"], "main_median": w.fmt_effect(m["mu_median"], measure), "measure": measure,
            "cid_source": cid.get("source") if cid else None,
            "rows": [{"label": f"P({names['intervention']} better)", "value": _pct(p["benefit"])}]
            + ([{"label": f"P(better by at least {measure} {w.fmt(cid['value'])})", "value": _pct(p["important_benefit"])}]
               if cid else [])
            + [{"label": f"P({names['intervention']} worse)", "value": _pct(p["harm"])}]}


def _sequential_text(s: dict, names: dict) -> dict:
    if "ris" not in s:
        return {"available": False, "text": "Not analysed: " + s.get("not_analysed_reason", "") + "."}
    ris = s["ris"]
    cid = s["important_difference"]
    d2 = (f", enlarged for between-trial diversity D\u00b2 = {100 * ris['diversity']:.0f}%" if ris["diversity"] > 0 else "")
    sd = (f" (the outcome's standard deviation taken as {w.fmt(ris['sd'])}, pooled over the trials' groups)"
          if "sd" in ris else "")
    basis = (f"The required information size is {ris['adjusted']:,} participants: enough to detect a difference of "
             f"{s['measure']} {w.fmt(cid['value'])}{sd} with {100 * s['power']:.0f}% power at a two-sided {100 * s['alpha']:.0f}% "
             f"level{d2} (Wetterslev et al. 2008). Boundaries: Lan-DeMets \u03b1-spending of O'Brien-Fleming type, for "
             f"benefit and for harm, so that looking again at every edition keeps the overall false-positive rate at "
             f"{100 * s['alpha']:.0f}%"
             + ("; non-binding futility boundaries by \u03b2-spending of the same type." if s.get("futility") else "."))
    pct = f"{s['percent_of_ris']:.0f}%"
    when = s.get("first_benefit_edition") or s.get("first_benefit_year")
    if s["status"] == "benefit":
        where = f"edition {s['first_benefit_edition']}" if s.get("first_benefit_edition") else f"{s['first_benefit_year']}"
        sentence = (f"Firm evidence of benefit since {where}: the cumulative z-curve has crossed the monitoring boundary "
                    f"for benefit of {names['intervention']}; the trials now include {s['participants']:,} participants "
                    f"({pct} of the required information).")
    elif s["status"] == "harm":
        where = s.get("first_harm_edition") or s.get("first_harm_year")
        sentence = (f"Firm evidence of harm since {where}: the cumulative z-curve crossed the monitoring boundary "
                    f"favouring {names['control']}.")
    elif s["status"] == "futility":
        sentence = (f"Futility: with {s['participants']:,} participants ({pct} of the required information) the "
                    f"z-curve lies inside the futility boundaries, so a difference as large as {s['measure']} "
                    f"{w.fmt(cid['value'])} has become unlikely (the boundaries are non-binding: further trials "
                    f"may still be added).")
    elif s["status"] == "information_reached":
        sentence = (f"The required information has been reached ({s['participants']:,} participants, {pct}) without the "
                    f"z-curve crossing the boundary for benefit or harm.")
    else:
        sentence = (f"Not yet: the trials so far include {s['participants']:,} participants, {pct} of the required "
                    f"information, and the z-curve has not crossed a monitoring boundary.")
        if when:
            sentence += f" (It crossed the boundary for benefit in {when} but is inside it now.)"
    return {"available": True, "sentence": sentence, "basis": basis,
            "cid_source": cid.get("source")}


def _changes(bayes, seq, prev_bayes, prev_seq, prev_label) -> list[str]:
    if not prev_label:
        return ["This is the first edition: there is no earlier edition to compare with."]
    out = []
    if prev_bayes and "probabilities" in prev_bayes and "probabilities" in bayes:
        a, b = prev_bayes["probabilities"], bayes["probabilities"]
        s = f"Probability of benefit: {_pct(a['benefit'])} in the previous edition ({prev_label}), {_pct(b['benefit'])} now"
        if "important_benefit" in a and "important_benefit" in b:
            s += f"; of an important benefit: {_pct(a['important_benefit'])} then, {_pct(b['important_benefit'])} now"
        out.append(s + ".")
    if prev_seq and "percent_of_ris" in prev_seq and "percent_of_ris" in seq:
        out.append(f"Information: {prev_seq['percent_of_ris']:.0f}% of the required size in the previous edition, "
                   f"{seq['percent_of_ris']:.0f}% now.")
    if not out:
        out.append(f"The previous edition ({prev_label}) predates these analyses, so there is nothing to compare.")
    return out


def settled_context(*, bayes: dict, sequential: dict, review_def: dict, figure: str | None = None,
                    previous_bayes: dict | None = None, previous_sequential: dict | None = None,
                    previous_label: str | None = None) -> dict:
    """Everything the section prints."""
    outcome = next(o for o in review_def["outcomes"] if o["id"] == review_def["primary_outcome"])
    words = review_words(review_def, outcome)  # the review's words, never its arm keys ("experimental")
    names = {"intervention": words["intervention"], "control": words["comparator"], "outcome": outcome["label"].lower()}
    return {"note": HANDBOOK_NOTE, "bayes": _bayes_text(bayes, names), "sequential": _sequential_text(sequential, names),
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
