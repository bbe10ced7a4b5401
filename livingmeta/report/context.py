"""The report: a context of ready-to-print strings built from the analysis files, a Jinja2
template that places them, and WeasyPrint for the PDF.

Trial text is untrusted: Jinja2 autoescapes everything, and WeasyPrint gets a URL fetcher that
serves only files inside the build folder and the templates folder, never the network or any
other file.
"""

from __future__ import annotations

import functools
import json
import math
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from livingmeta import formatting
from livingmeta.report import appraisal as appraisal_report, grade
from livingmeta.pipeline.config_check import section
from livingmeta.stats import dependent
from livingmeta.stats.estimators import METHODS
from livingmeta.stats.revman import REVMAN_METHODS
from livingmeta.report import wording as w
from livingmeta.pipeline.analysis import analysis_rows, primary_analysis
from livingmeta.pipeline.declared_analysis import method_words
from livingmeta.pipeline.instruments import instrument_counts
from livingmeta.report.pdf import ATTACHMENTS, attachments_of  # noqa: F401 (defined beside the renderer so report_pdf need not import this module)
from livingmeta.report.per_trial import compact_print_section
from livingmeta.report.references import format_references, provenance_row
from livingmeta.report.review_words import analysis_name, favours_pair, moderator_unit, review_words
from livingmeta.report.settled import settled_context
from livingmeta.report.web import web_font_faces, with_contents

from livingmeta.paths import INSTALL_ROOT as PROJECT_ROOT, TEMPLATE_DIR
HKSJ_TEXT = "Hartung-Knapp-Sidik-Jonkman method (t distribution, k \u2212 1 df)"
SOFTWARE = ("livingmeta", "numpy", "scipy", "pandas", "statsmodels", "matplotlib", "jinja2", "weasyprint", "snakemake")


def software_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in SOFTWARE:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    from livingmeta.pipeline.lockfile import lock_summary
    out["dependency lock"] = lock_summary(PROJECT_ROOT)
    return out


def _analysis(pooled: dict, outcome: str, timepoint: str) -> dict:
    return next(a for a in pooled["analyses"] if a["outcome"] == outcome and a["timepoint"] == timepoint)


def _range_text(values, unit: str) -> str:
    v = pd.Series(values).dropna()
    if v.empty:
        return "not reported by any trial"
    unit = f" {unit}" if unit else ""
    return f"{w.fmt(v.min(), 0)} to {w.fmt(v.max(), 0)}{unit} (median {w.fmt(v.median(), 0)}; reported by {len(v)} trials)"


def _words_and_level(review_def: dict, model: dict, outcome: dict | None = None) -> tuple[dict, float]:
    """The review's own words (the outcome's first) and the confidence level of the fit (as pooled.json wrote it)."""
    return review_words(review_def, outcome), float(model["level"])


def build_context(*, review_def: dict, trials: pd.DataFrame, effects: pd.DataFrame, pooled: dict,
                  moderators: dict, small_study: dict, config: dict, external: dict | None,
                  edition: dict, changes: dict, figures: dict, appraisal: dict, fonts_dir: str = "fonts",
                  settled: dict | None = None) -> dict:
    """Everything the template prints, as strings and simple lists. One entry point; each part
    of the report has its own builder below. ``appraisal``: the rob.json, sof.json and prisma.json
    results; the certainty everywhere is the summary-of-findings table's."""
    main = primary_analysis(review_def, pooled)  # the primary outcome, unless it could not be estimated
    primary = main["outcome"]
    outcome = next(o for o in review_def["outcomes"] if o["id"] == primary)
    tp = next(t for t in outcome["timepoints"] if t["id"] == main["timepoint"])
    m = main["model"]
    words, level = _words_and_level(review_def, m, outcome)
    # a figure with nothing to show (a funnel plot of fewer than 3 trials) is left out of the report
    figures = {k: v for k, v in figures.items() if k != "funnel" or "funnel" in small_study}
    ctx = {"words": words, "level": level, "level_pct": w.pct(level), "measure": main["measure"],
           "figures": figures, "fonts_dir": fonts_dir, "software": software_versions()}
    certainty = grade.primary_certainty(appraisal["sof"], primary, tp["id"])
    ctx["settled"] = settled_context(review_def=review_def, certainty=certainty, **settled) if settled else None
    bayes = ctx["settled"]["bayes"] if ctx["settled"] else {}
    ctx.update(_main_result(review_def, outcome, tp, main, certainty, config, words, level,
                            bayes_predictive=bayes.get("predictive")))
    ctx["primary_note"] = _primary_note(review_def, pooled, main)
    ctx["other_outcomes"] = _other_outcomes(review_def, pooled, main, words, level)
    ctx["outcome_sections"] = _outcome_sections(review_def, pooled, main, words, level)
    ctx["analysis_figures"] = analysis_figures(review_def, pooled, main, figures)
    ctx["moderators"] = (_review_subgroups(main)
                         + _moderator_items(review_def, moderators, figures, outcome["direction"], main["measure"], level))
    ctx["small_subgroup_note"] = w.small_subgroup_note(moderators["analyses"], test=m["test"], level=level)
    ctx.update(_external(review_def, moderators, external, main["measure"], level))
    ctx.update(_bias_and_sensitivity(main, small_study, level))
    ctx.update(_trials_and_references(review_def, trials, effects, main, primary, tp["id"]))
    ctx["compact_print"] = compact_print_section(review_def, pooled, ctx["trial_rows"], config)
    ctx["what_they_did"] = _what_they_did(review_def, trials, main)
    ctx["methods"] = _methods(config, words, level, review_def, main, moderators, small_study, pooled)
    ctx["review"] = _review_block(review_def)
    ctx["edition"] = {"id": edition["id"], "date": edition["date"], "data_hash": edition["fingerprint"]["data"],
                      "config_hash": edition["fingerprint"]["config"], "code_hash": edition["fingerprint"]["code"],
                      "sign_off": _sign_off(edition)}
    ctx["changes"] = w.changes_sentences(changes, main["measure"], level=level) + (
        ctx["settled"]["changes"] if ctx["settled"] else [])
    ctx["missing_data"] = _missing_data(trials, review_def)
    ctx["risk_of_bias"] = appraisal_report.risk_of_bias_section(appraisal["rob"], figures)
    ctx["sof"] = appraisal_report.summary_of_findings_section(appraisal["sof"], review_def)
    ctx["prisma"] = appraisal_report.prisma_section(appraisal["prisma"], figures)
    ctx["appraisal_methods"] = appraisal_report.methods_section(appraisal["sof"], appraisal["rob"])
    return ctx


def _sign_off(edition: dict) -> str | None:
    """The colophon's sign-off line: who signed the edition off and when, or that it is a draft."""
    signed = edition.get("signed_off")
    if signed:
        return f"Signed off by {signed['by']} on {signed['at'][:10]}"
    return "Draft for sign-off: not yet published" if edition.get("draft") else None


def _review_block(review_def: dict) -> dict:
    rep = review_def.get("report", {})
    return {"title": review_def["title"], "subtitle": review_def.get("subtitle", ""),
            "question": review_def.get("question", ""), "authors": review_def.get("authors", []),
            "search_date": review_def.get("search_date"),
            "search_date_note": review_def.get("search_date_note", ""),
            "inclusion_criteria": review_def.get("inclusion_criteria", []),
            "data_source": review_def.get("data_source", ""),
            "attribution": review_def.get("attribution", ""), "licence": review_def.get("licence", ""),
            "short_title": rep.get("short_title", review_def["title"]), "keywords": rep.get("keywords", []),
            "context": rep.get("context", []), "language": rep.get("language", "en")}


def _main_result(review_def, outcome, tp, main, certainty, config, words, level, bayes_predictive=None) -> dict:
    """Headline, lead, key findings and the sentences about the primary outcome. Each states the
    result in GRADE's informative statement for the certainty of the evidence (wording.certainty_statement)."""
    m, direction, measure = main["model"], outcome["direction"], main["measure"]
    intervention, comparator = words["intervention"], words["comparator"]
    outcome_words = w.outcome_in_sentence(outcome["label"], intervention)
    cer = section("report", config.get("report"))["nnt_control_response_rate"]
    nnt = w.nnt_from_smd(w.benefit(m["estimate"], direction), cer) if measure == "SMD" else None
    estimate, ci = w.effect_numbers(measure, m["estimate"], m["ci_lower"], m["ci_upper"])
    key = {"estimate": estimate, "ci": ci,
           "pi": w.effect_numbers(measure, m["estimate"], m["pi_lower"], m["pi_upper"])[1] if m.get("pi_lower") is not None else None,
           "measure": measure, "size_words": w.size_words(m["estimate"], measure),
           "size_convention": w.size_convention(measure), "k": main["k"], "participants": main["participants"],
           "participants_intervention": main["participants_intervention"],
           "participants_control": main["participants_control"],
           "heterogeneity": w.heterogeneity_words(m["I2"]) if m["I2"] is not None else "not applicable (one trial)",
           "I2": w.fmt(m["I2"], 0), "tau2": w.fmt(m["tau2"]),
           "heterogeneity_convention": w.HETEROGENEITY_CONVENTION,
           "nnt": None if nnt is None else f"{math.ceil(nnt)}"  # rounded up (Cochrane Handbook 15.4.4), as in the SoF table
           , "nnt_cer": f"{100 * cer:.0f}%", "certainty": certainty["level"], "p": w.fmt_p(m["pval"]),
           "model": model_label(main)}
    result_text = w.result_sentence(m["estimate"], m["ci_lower"], m["ci_upper"], direction=direction,
                                    intervention=intervention, control=comparator, outcome=outcome_words,
                                    measure=measure, level=level)
    pi_text = (w.prediction_sentence(m["pi_lower"], m["pi_upper"], direction=direction, intervention=intervention,
                                     level=level, measure=measure, tau2=m.get("tau2"),
                                     bayes_predictive=bayes_predictive) if m.get("pi_lower") is not None else "")
    statement = dict(direction=direction, intervention=intervention, outcome=outcome_words,
                     certainty=certainty["level"], measure=measure)
    favours = favours_pair(words, direction)
    return {
        "key": key, "result_text": result_text, "pi_text": pi_text, "certainty": certainty,
        "headline": w.headline(m, **statement),
        "lead": (f"Across {w.plural(main['k'], 'randomised trial')} with {w.plural(main['participants'], 'participant')}, "
                 + result_text[0].lower() + result_text[1:]
                 + f" The certainty of this evidence is {certainty['summary']}."),
        "take_home": w.take_home(m, direction=direction, intervention=intervention, outcome=outcome_words,
                                 certainty=certainty["summary"], certainty_level=certainty["level"], measure=measure,
                                 rated_down=certainty.get("rated_down", ())),
        "heterogeneity_text": _heterogeneity_text(m, level),
        "primary_label": w.in_sentence(analysis_name(review_def, main)),
        "favours_note": f"Left of the line of no effect: {favours[0][0].lower() + favours[0][1:]}; right: {favours[1][0].lower() + favours[1][1:]}.",
        "model_line": {"method": m["method"], "test": m["test"], "label": model_label(main), "estimate": estimate, "ci": ci,
                       "tau2": w.fmt(m["tau2"]), "single_trial": m["k"] == 1,
                       "tau2_ci": w.fmt_ci(*m["tau2_ci"]) if m.get("tau2_ci") else "", "I2": w.fmt(m["I2"], 0),
                       "random": m["method"] not in ("FE", "MH", "Peto"),
                       "QE": w.fmt(m["QE"]), "QEdf": m["QEdf"], "QEp": w.fmt_p(m["QEp"])},
    }


def model_label(entry: dict) -> str:
    """How a reader names an analysis' model, and who chose it: 'Mantel-Haenszel, fixed effect,
    as declared by the review's RevMan file'; 'inverse variance, random effects (REML), Hartung-Knapp CI'."""
    a = entry.get("analysis") or {"method": entry["model"]["method"], "test": entry["model"]["test"]}
    words = method_words(a["method"])
    text = words + (", Hartung-Knapp CI" if a["test"] == "knha" else "")
    by = (a.get("declared_by") or "").replace(f" ({words})", "")  # the source's words may repeat the method
    return text + (f", as declared by {by}" if by else "")


def _primary_note(review_def, pooled, main) -> str:
    """Why the report leads with another analysis than the review's primary outcome ('' when it does not)."""
    if main["outcome"] == review_def["primary_outcome"]:
        return ""
    first = next((a for a in pooled["analyses"] if a["outcome"] == review_def["primary_outcome"]), None)
    why = first.get("not_pooled_reason", "not estimable") if first else "no trial reports it"
    name = first["outcome_label"] if first else review_def["primary_outcome"]
    return (f"The review's primary outcome, {name}, could not be estimated ({why.removeprefix('not estimable: ')}); "
            f"this report leads with {analysis_name(review_def, main)}.")


def _heterogeneity_text(m: dict, level: float) -> str:
    """'Heterogeneity was substantial: I² = 64%, τ² = 0.20 (CI 0.10 to 0.57); Q = 94.78, df = 34, p < 0.001.'
    A common-effect model (FE, Mantel-Haenszel, Peto) estimates no τ²; one trial has no heterogeneity."""
    if m.get("I2") is None or m.get("QEp") is None:
        return "Heterogeneity: not applicable (one trial)."
    tau2 = ""
    if m["method"] not in ("FE", "MH", "Peto"):
        tau2_ci = f" ({w.pct(level)} CI {w.fmt_ci(*m['tau2_ci'])})" if m.get("tau2_ci") else ""
        tau2 = f", {formatting.tau2(m['tau2'])}{tau2_ci}"
    return (f"Heterogeneity was {w.heterogeneity_words(m['I2'])}: {formatting.i2(m['I2'])}{tau2}; "
            f"{formatting.q_test(m['QE'], m['QEdf'], m['QEp'])}.")


def _outcome_row(review_def, a, words, level) -> dict:
    """One compact row of a secondary analysis: numbers and one sentence."""
    row = {"outcome": a["outcome_label"], "timepoint": a["timepoint_label"], "k": a.get("k", 0),
           "participants": f"{a['participants']:,}" if a.get("participants") is not None else "",
           "measure": a.get("measure", ""), "estimate": "", "ci": "", "I2": ""}
    if "model" not in a:
        row["text"] = a.get("not_pooled_reason", "not pooled")
        return row
    o = next(x for x in review_def["outcomes"] if x["id"] == a["outcome"])
    am = a["model"]
    estimate, ci = w.effect_numbers(a["measure"], am["estimate"], am["ci_lower"], am["ci_upper"])
    row.update(estimate=estimate, ci=ci, I2=f"{w.fmt(am['I2'], 0)}%")
    words = review_words(review_def, o)
    row["text"] = (w.result_sentence(am["estimate"], am["ci_lower"], am["ci_upper"], direction=o["direction"],
                                     intervention=words["intervention"], control=words["comparator"],
                                     outcome=w.outcome_in_sentence(o["label"], words["intervention"]),
                                     measure=a["measure"], level=am["level"])
                   + f" {w.plural(a['k'], 'trial')}, {w.plural(a['participants'], 'participant')}"
                   + ("" if am["I2"] is None else f"; {formatting.i2(am['I2'])}") + f"; {model_label(a)}.")
    row["I2"] = "" if am["I2"] is None else row["I2"]
    return row


def _other_outcomes(review_def, pooled, main, words, level) -> list[dict]:
    """Every analysis but the main one, in review.yaml's order, as compact rows."""
    return [{"title": f"{a['outcome_label']}, {a['timepoint_label']}", **_outcome_row(review_def, a, words, level)}
            for a in pooled["analyses"] if a is not main]


def _outcome_sections(review_def, pooled, main, words, level) -> list[dict]:
    """The secondary analyses grouped by comparison (review.yaml outcomes[].comparison, as a
    multi-comparison RevMan import writes it): one compact section per comparison, its
    outcomes as rows. A review without comparisons gets one section."""
    comparison = {o["id"]: o.get("comparison") or "" for o in review_def["outcomes"]}
    sections: dict[str, list] = {}
    for a in pooled["analyses"]:
        if a is not main:
            sections.setdefault(comparison.get(a["outcome"], ""), []).append(_outcome_row(review_def, a, words, level))
    return [{"comparison": name, "rows": rows} for name, rows in sections.items()]


def analysis_figures(review_def: dict, pooled: dict, main: dict, figures: dict) -> list[dict]:
    """Every analysis but the one the report leads with, in the review's order (RevMan's analysis
    order for an imported review), each with its forest plot's pages (figures
    ``analysis:<n>:<page>``, n its position in pooled.json) and its model."""
    outcomes = {o["id"]: o for o in review_def["outcomes"]}
    out = []
    for n, a in enumerate(pooled["analyses"], start=1):
        pages = sorted((int(k.split(":")[2]), v) for k, v in figures.items() if k.startswith(f"analysis:{n}:"))
        if a is main or not pages:
            continue
        number = (outcomes[a["outcome"]].get("revman") or {}).get("analysis")
        title = analysis_name(review_def, a)
        out.append({"title": f"Analysis {number}: {title}" if number else title,
                    "comparison": "" if outcomes[a["outcome"]].get("comparison", "") in title
                    else outcomes[a["outcome"]].get("comparison", ""), "pages": [v for _, v in pages],
                    "model": model_label(a) if "analysis" in a else "", "measure": a.get("measure") or "",
                    "status": a.get("not_pooled_reason", "")})
    return out


def _review_subgroups(main: dict) -> list[dict]:
    """The subgroups the review itself defines for the analysis the report leads with (RevMan's),
    as the first item of "Who benefits most": each subgroup's pooled effect and the test for
    subgroup differences, drawn in the main forest plot."""
    test = main.get("subgroup_test")
    if not test:
        return []
    levels = [{"level": s["name"], "pooled": True, "k": s["model"]["k"], **{k: s["model"][k] for k in
                                                                           ("estimate", "ci_lower", "ci_upper")}}
              for s in main["subgroups"] if "model" in s]
    text = w.subgroup_sentence({"levels": levels, **test}, {}, main["measure"])
    not_estimable = [s["name"] for s in main["subgroups"] if "model" not in s]
    if not_estimable:
        text += f" Not estimable: {', '.join(not_estimable)}."
    return [{"label": "Subgroups defined by the review", "figure": None, "name": "review-subgroups",
             "type": "categorical", "missing": "", "text": text + " The forest plot above shows each subgroup."}]


def _moderator_items(review_def, moderators, figures, direction, measure, level) -> list[dict]:
    items = []
    for a in moderators["analyses"]:
        item = {"label": a["label"], "figure": figures.get(f"moderator:{a['name']}"), "name": a["name"], "type": a["type"],
                "missing": (f"{a['label']}: not reported by {a['k_not_reported']} of {w.plural(a['k_total'], 'trial')}, "
                            f"left out of this analysis." if a["k_not_reported"] else "")}
        if "not_analysed_reason" in a:
            item["text"] = f"{a['label']} was not analysed: {a['not_analysed_reason']}."
        elif a["type"] == "categorical":
            item["text"] = w.subgroup_sentence(a, a.get("level_labels", {}), measure, level)
            if a.get("not_pooled"):
                item["text"] += " Subgroups with too few trials to pool (shown, not pooled): " + ", ".join(
                    a["level_labels"].get(x, x) for x in a["not_pooled"]) + "."
        else:
            item["text"] = w.regression_sentence(a, unit=moderator_unit(review_def, a["name"]), direction=direction,
                                                 measure=measure, level=level)
        items.append(item)
    return items


def _external(review_def, moderators, external, measure, level) -> dict:
    """A subgroup of this review set beside an external meta-analysis of the same question
    (review.yaml external_evidence: heading, moderator, level, subject, effect_words,
    sign_note, note, ci_level); quoted, never pooled."""
    spec = review_def.get("external_evidence") or {}
    subgroup = None
    mod = next((a for a in moderators["analyses"] if a["name"] == spec.get("moderator") and "levels" in a), None)
    lv = next((x for x in mod["levels"] if x["level"] == spec.get("level")), None) if mod else None
    if lv is not None:
        name = mod.get("level_labels", {}).get(lv["level"], lv["level"])
        subgroup = {"k": lv["k"], "text": w.subgroup_level_sentence(lv, name, measure, level)}
    box = None
    if external:
        box = {"citation": " ".join(external["citation"].split()), "text": w.external_evidence_sentence(external, spec)}
    return {"subgroup_vs_external": subgroup, "external": box,
            "external_heading": spec.get("heading", "External evidence")}


def _bias_and_sensitivity(main, small_study, level) -> dict:
    measure = main["measure"]
    sse_text = w.small_study_sentence(small_study, measure)

    # Sensitivity rows.
    sens = [{"label": s.get("label") or f"{s['method']} estimator, {'Hartung-Knapp' if s['test'] == 'knha' else 'Wald (z)'} CI",
             **dict(zip(("estimate", "ci"), w.effect_numbers(measure, s["estimate"], s["ci_lower"], s["ci_upper"]))),
             "tau2": w.fmt(s["tau2"]), "I2": w.fmt(s["I2"], 0)} for s in main.get("sensitivity", [])]
    loo = main.get("leave_one_out")
    loo_text = w.leave_one_out_sentence(main["leave_one_out"], measure) if main.get("leave_one_out") else ""
    return {"small_study_text": sse_text, "sensitivity": sens, "loo_text": loo_text}


def _table_moderators(review_def) -> list[dict]:
    """The moderators shown as columns of the per-trial table: review.yaml
    report.trial_table_moderators, else the first categorical and the first continuous one."""
    mods = review_def.get("moderators", [])
    names = review_def.get("report", {}).get("trial_table_moderators")
    if names is None:
        names = [m["name"] for kind in ("categorical", "continuous")
                 for m in [next((x for x in mods if x["type"] == kind and x["name"] != "year"), None)] if m]
    return [m for n in names for m in mods if m["name"] == n]


def group_sizes(e) -> str:
    """A trial's groups as the per-trial tables print them: 'events/total; events/total' for a
    binary result, else 'n / n' (blank when not reported, e.g. beside a computed effect)."""
    if pd.notna(e.get("events_int")) and pd.notna(e.get("total_int")):
        return (f"{w.fmt(e.events_int, 0)}/{w.fmt(e.total_int, 0)}; "
                f"{w.fmt(e.events_ctl, 0)}/{w.fmt(e.total_ctl, 0)}")
    return f"{w.fmt(e.n_int, 0)} / {w.fmt(e.n_ctl, 0)}" if pd.notna(e.get("n_int")) else ""


def _trials_and_references(review_def, trials, effects, main, primary, timepoint) -> dict:
    """The per-trial table of the analysis the report leads with (its trials only; a trial in two
    of its subgroups once per subgroup; events/total for a binary outcome; "not estimable" with the
    reason), and the references and provenance of every trial of the review."""
    rows_all = analysis_rows(effects, primary, timepoint, all_rows=True)
    fitted = {(t["trial_id"], t.get("subgroup", "")): t for t in main["trials"]}
    subgroups = bool(main.get("subgroups"))
    measure = main["measure"]
    columns = _table_moderators(review_def)
    by_id = trials.set_index("trial_id")
    rows, sources = [], {}
    for _, e in rows_all.sort_values(["label", "trial_id"], kind="stable").iterrows():
        t = by_id.loc[e.trial_id]
        source_key = sources.setdefault(e.source, f"S{len(sources) + 1}")
        fit = fitted.get((e.trial_id, e.subgroup))
        if fit is not None:  # the trial's estimate in the analysis' method (Peto's for a Peto analysis)
            g, ci = w.effect_numbers(measure, fit["yi"], fit["ci_lower"], fit["ci_upper"])
        elif isinstance(e.get("not_estimable"), str) and e.not_estimable:
            g, ci = "not estimable", e.not_estimable
        else:
            g, ci = w.effect_numbers(e.measure, e.yi, e.ci_lower, e.ci_upper)
        rows.append({"label": e.label + (f" ({e.subgroup})" if subgroups and e.subgroup else ""),
                     "mods": [_moderator_cell(review_def, c, t.get(c["name"])) for c in columns],
                     "n": group_sizes(e), "g": g, "ci": ci,
                     "weight": f"{fit['weight_pct']:.1f}%" if fit else "", "source": source_key})
    entries, provenance = [], []
    for _, t in trials.sort_values("label").iterrows():
        citation = _citation(t)
        entries.append((t.trial_id, int(t.year), citation))
        provenance.append(provenance_row(t.label, citation))
    binary = rows_all["events_int"].notna().any() if len(rows_all) else False
    return {"trial_rows": rows, "trial_columns": [c["label"] for c in columns],
            "trial_n_heading": "Events/total" if binary else "n",
            "references": format_references(entries), "citation_provenance": provenance,
            "sources": [{"key": key, "text": text} for text, key in sources.items()]}


def _moderator_cell(review_def, mod, value) -> str:
    if mod["type"] == "continuous":
        return w.fmt(value, 0) if value is not None and pd.notna(value) else "not reported"
    return _level(review_def, mod["name"], value)


def _citation(t) -> dict:
    """The trial's citation block (trials.csv citation_json); older tables without it give the
    flat columns, which are then the only fields known."""
    raw = t.get("citation_json")
    if isinstance(raw, str) and raw:
        return json.loads(raw)
    return {k: (t.get(k) if isinstance(t.get(k), str) else None) for k in ("title", "journal", "detail", "identifier")} | {
        "first_author": t.first_author if isinstance(t.get("first_author"), str) else t.label.split()[0]}


def _what_they_did(review_def, trials, main) -> dict:
    ranges = [{"label": m["label"], "text": _range_text(trials.get(m["name"]), "")}
              for m in review_def.get("moderators", []) if m["type"] == "continuous" and m["name"] in trials
              and m["name"] != "year"]
    measures = {t.label: (t.get("outcome_measure") if isinstance(t.get("outcome_measure"), str) else None)
                for _, t in trials.iterrows()}
    return {"trials": main["k"], "participants": main["participants"],
            "years": f"{int(trials.year.min())} to {int(trials.year.max())}", "ranges": ranges,
            "instruments": instrument_counts(measures, review_def.get("instruments"))}


def _pooling_methods(pooled: dict, main: dict, level_pct: str) -> str:
    """The models as pooled.json says they were fitted: this report's model, or each outcome's own
    analysis when the review declared one (this report's models are then sensitivity rows)."""
    settings = pooled["settings"]
    ours = (f"\u03c4\u00b2 estimated by {_method_name(settings['method'])}, {level_pct} confidence intervals by the "
            f"{HKSJ_TEXT if settings['test'] == 'knha' else 'Wald method (normal distribution)'}")
    heterogeneity = ("Heterogeneity: Cochran's Q, I\u00b2 (Higgins & Thompson 2002) and \u03c4\u00b2 with Q-profile "
                     "confidence intervals (Viechtbauer 2007).")
    if not any((a.get("analysis") or {}).get("declared") for a in pooled["analyses"]):
        return (f"Random-effects meta-analysis, {ours}, and a {level_pct} prediction interval (Higgins, Thompson & "
                f"Spiegelhalter 2009). {heterogeneity}")
    groups: dict[str, list] = {}
    for a in pooled["analyses"]:
        groups.setdefault(model_label(a), []).append(a["outcome_label"])
    parts = []
    for label, names in groups.items():
        names = list(dict.fromkeys(names))
        parts.append(f"{'; '.join(names) if len(names) <= 3 else f'{len(names)} outcomes'}: {label}")
    return (f"Each outcome is pooled with the analysis the review declares. {'. '.join(parts)}. Mantel-Haenszel, Peto "
            "and Mantel-Haenszel random effects (DerSimonian-Laird) follow RevMan 5 (Deeks & Higgins 2010): a trial "
            "with no events in either group gives no odds or risk ratio and is shown but not pooled, and an analysis "
            f"that cannot be estimated is reported as such. {heterogeneity} This report's own model (random effects, "
            f"{ours}) and the configured sensitivity models are shown beside the review's as sensitivity analyses.")


def _methods(config, words, level, review_def, main, moderators, small_study, pooled) -> dict:
    """The methods as the analysis files say they were run (model, test and level from pooled.json,
    the subgroups' tau^2 from moderators.json, Egger's model from small_study_effects.json); the
    effect-size settings, which no analysis file carries, from the configuration."""
    es_cfg, model = section("effect_size", config.get("effect_size")), main["model"]
    tau2_models = [a["tau2_model"] for a in moderators["analyses"] if "tau2_model" in a]
    subgroup_tau2 = tau2_models[0] if tau2_models else section("moderators", config.get("moderators"))["subgroup_tau2"]
    egger_model = ((small_study.get("egger") or {}).get("model")
                   or section("small_study_effects", config.get("small_study_effects"))["egger_model"])
    level_pct = w.pct(level)
    return {
        "effect_size": _effect_size_methods(es_cfg, words, review_def),
        "pooling": _pooling_methods(pooled, main, level_pct),
        "moderators": (f"Subgroup analyses with {'a separate' if subgroup_tau2 == 'separate' else 'a common'} "
                       f"\u03c4\u00b2 per subgroup and the test for subgroup differences; mixed-effects meta-regression for "
                       f"continuous moderators. Trials that did not report a moderator are left out of that analysis only."),
        "small_study": (f"Egger's regression test ({'classic weighted regression' if egger_model == 'lm' else 'mixed-effects version'}), "
                        f"Begg and Mazumdar's rank correlation, trim-and-fill (Duval & Tweedie 2000, L0 estimator), and a "
                        f"contour-enhanced funnel plot (Peters et al. 2008)."),
        "settings": _settings_rows(config),
        "dependent_effects": dependent.methods_text(review_def, main),
    }


def _effect_size_methods(es_cfg, words, review_def) -> str:
    """The effect measures this review's outcomes use (review.yaml effect_measure), one sentence
    each, naming the outcomes (or counting them, when there are many)."""
    groups: dict[tuple, list] = {}
    for o in review_def["outcomes"]:
        groups.setdefault((o["type"] == "generic", o["effect_measure"]), []).append(o["label"])
    add = f"{es_cfg['zero_cell_add']} added to every cell of trials with a zero cell"
    correction = es_cfg["correction"]
    how = {
        "SMD": (f"Hedges' g (standardised mean difference, {words['contrast']}) with the {correction} small-sample "
                f"correction and the {_variance_name(es_cfg['variance'])} sampling variance"),
        "MD": (f"mean difference ({words['contrast']}) in the outcome's own units, with sampling variance "
               "SD\u2081\u00b2/n\u2081 + SD\u2082\u00b2/n\u2082"),
        "RR": f"risk ratio ({w.contrast_words(words['contrast'], 'RR')}; variance of Greenland & Robins 1985), {add}",
        "OR": f"odds ratio ({w.contrast_words(words['contrast'], 'OR')}; variance of Woolf 1955), {add}",
        "RD": f"risk difference ({words['contrast']}), {add}",
    }
    sentences = []
    for (given, measure), labels in groups.items():
        which = "; ".join(labels) if len(labels) <= 3 else f"{len(labels)} outcomes"
        if given or measure == "generic":
            text = (f"the trials' own {w.MEASURE_NAMES.get(measure, measure)} estimates with their standard errors, as "
                    "reported (generic inverse variance)")
        else:
            text = how[measure]
        if w.is_ratio(measure):
            text += "; analysed on the log scale and reported back-transformed"
        sentences.append(f"{which}: {text}.")
    return "Effect sizes by outcome. " + " ".join(sentences)


def _level(review_def, name, value):
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "not reported"
    mod = next((m for m in review_def["moderators"] if m["name"] == name), None)
    return mod["levels"].get(str(value), str(value)) if mod and "levels" in mod else str(value)


def _variance_name(v):
    return {"LS": "large-sample (Hedges & Olkin 1985; metafor's default)", "UB": "unbiased (Hedges 1983)",
            "LS2": "large-sample with J\u00b2 (Borenstein 2009)", "revman": "RevMan 5 'Hedges' adjusted g'"}.get(v, v)


def _method_name(m):
    """The registries' words for a method (livingmeta.stats.estimators.METHODS, revman.REVMAN_METHODS)."""
    entry = METHODS.get(m) or REVMAN_METHODS.get(m)
    return entry.label if entry else m


# The configuration table in readers' words (the configuration file itself, with its keys, is kept
# with every edition); a key missing here is printed with its underscores as spaces.
SETTING_WORDS = {
    ("effect_size", "correction"): "Small-sample correction of Hedges' g",
    ("effect_size", "variance"): "Sampling variance of Hedges' g",
    ("effect_size", "zero_cell_add"): "Added to every cell of a trial with a zero cell",
    ("pooling", "method"): "Estimator of \u03c4\u00b2",
    ("pooling", "test"): "Confidence intervals",
    ("pooling", "level"): "Confidence level",
    ("pooling", "prediction_interval"): "Prediction interval",
    ("pooling", "sensitivity"): "Sensitivity analyses (estimator and intervals)",
    ("moderators", "subgroup_tau2"): "\u03c4\u00b2 in subgroup analyses",
    ("moderators", "min_trials_per_level"): "Fewest trials to pool a subgroup",
    ("small_study_effects", "egger_model"): "Model of Egger's test",
    ("small_study_effects", "min_trials"): "Fewest trials for the small-study tests",
    ("report", "nnt_control_response_rate"): "Control response rate for the number needed to treat",
    ("report", "compact_print_above"): "Print a compact appendix above this many trials",
}
TEST_WORDS = {"knha": "Hartung-Knapp", "z": "Wald (z)"}
VALUE_WORDS = {("pooling", "test"): TEST_WORDS, ("effect_size", "correction"): {"approx": "approximate"},
               ("small_study_effects", "egger_model"): {"lm": "classic weighted regression", "rma": "mixed-effects"},
               ("moderators", "subgroup_tau2"): {"separate": "one per subgroup", "common": "one common to all subgroups"}}


def _setting_value(name: str, key: str, value) -> str:
    if key == "sensitivity":
        return "; ".join(f"{s['method']}, {TEST_WORDS.get(s['test'], s['test'])}" for s in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "level":
        return w.pct(value)
    return str(VALUE_WORDS.get((name, key), {}).get(value, value))


def _settings_rows(config):
    rows = []
    for name in ("effect_size", "pooling", "moderators", "small_study_effects", "report"):
        for k, v in (config.get(name) or {}).items():
            rows.append({"setting": SETTING_WORDS.get((name, k), k.replace("_", " ").capitalize()),
                         "value": _setting_value(name, k, v)})
    return rows


def _missing_data(trials, review_def):
    out = []
    for mod in review_def["moderators"]:
        if mod["name"] in trials:
            n = int(trials[mod["name"]].isna().sum())
            if n:
                out.append(f"{mod['label']}: not reported for {n} of {len(trials)} trials")
    for col, label in (("title", "full citation"),):
        n = int(trials[col].isna().sum()) if col in trials else 0
        if n:
            out.append(f"{label.capitalize()}: not found for {n} of {len(trials)} trials")
    return out


def css_string(text) -> "markupsafe.Markup":
    """A quoted CSS string with every character but letters, digits and spaces escaped as a
    CSS hex escape, so review text cannot end the string or the style sheet."""
    import markupsafe
    out = "".join(c if (c.isascii() and (c.isalnum() or c == " ")) else f"\\{ord(c):06x}" for c in str(text))
    return markupsafe.Markup(f'"{out}"')


@functools.lru_cache(maxsize=4)
def _template_environment(template_dir: Path):
    """One Jinja2 environment per template folder, so each template is compiled once per process
    (Jinja recompiles a template whose file changed)."""
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["css_string"] = css_string
    return env


def warm_up() -> None:
    """Compile the report's templates in the workflow's warm process (livingmeta.pipeline.warm)."""
    env = _template_environment(TEMPLATE_DIR)
    for name in env.list_templates(extensions=["j2"]):
        env.get_template(name)


def render_html(context: dict, template_dir: Path = TEMPLATE_DIR, *, web: bool = False, inline_svgs=None,
                downloads=()) -> str:
    """The report's HTML: for print (WeasyPrint; figures as files, data attached to the PDF) or,
    with ``web=True``, the self-contained web edition (figures inline, data as downloads)."""
    html = _template_environment(Path(template_dir)).get_template("report.html.j2").render(
        **context, web=web, inline_svgs=inline_svgs or {}, downloads=list(downloads),
        attachment_names=[name for name, _, _ in attachments_of(context)], web_fonts=web_font_faces() if web else "")
    return with_contents(html) if web else html
