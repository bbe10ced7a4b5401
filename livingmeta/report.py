"""The report: a context of ready-to-print strings built from the analysis files, a Jinja2
template that places them, and WeasyPrint for the PDF.

Trial text is untrusted: Jinja2 autoescapes everything, and WeasyPrint gets a URL fetcher that
serves only files inside the build folder and the templates folder, never the network or any
other file.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from . import dependent
from . import wording as w

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DIR = PROJECT_ROOT / "templates"
HKSJ_TEXT = "Hartung-Knapp-Sidik-Jonkman method (t distribution, k \u2212 1 df)"
SOFTWARE = ("livingmeta", "numpy", "scipy", "pandas", "statsmodels", "matplotlib", "jinja2", "weasyprint", "snakemake")


def software_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in SOFTWARE:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _analysis(pooled: dict, outcome: str, timepoint: str) -> dict:
    return next(a for a in pooled["analyses"] if a["outcome"] == outcome and a["timepoint"] == timepoint)


def _range_text(values, unit: str) -> str:
    v = pd.Series(values).dropna()
    if v.empty:
        return "not reported by any trial"
    return f"{w.fmt(v.min(), 0)} to {w.fmt(v.max(), 0)} {unit} (median {w.fmt(v.median(), 0)}; reported by {len(v)} trials)"


def build_context(*, review_def: dict, trials: pd.DataFrame, effects: pd.DataFrame, pooled: dict,
                  moderators: dict, small_study: dict, config: dict, external: dict | None,
                  edition: dict, changes: dict, figures: dict, fonts_dir: str = "fonts") -> dict:
    """Everything the template prints, as strings and simple lists."""
    primary = review_def["primary_outcome"]
    outcome = next(o for o in review_def["outcomes"] if o["id"] == primary)
    tp = outcome["timepoints"][0]
    main = _analysis(pooled, primary, tp["id"])
    m = main["model"]
    direction = outcome["direction"]
    intervention, control = review_def["arms"]["intervention"], review_def["arms"]["control"]
    outcome_words = outcome["label"].lower()
    certainty = w.certainty_assessment(m, main["k"], main["participants"], small_study)
    cer = config.get("report", {}).get("nnt_control_response_rate", 0.30)
    nnt = w.nnt_from_smd(w.benefit(m["estimate"], direction), cer) if main["measure"] == "SMD" else None
    pooling_cfg = config.get("pooling", {})
    es_cfg = config.get("effect_size", {})
    level_pct = int(round(100 * pooling_cfg.get("level", 0.95)))

    key_findings = {
        "estimate": w.fmt(m["estimate"]), "ci": w.fmt_ci(m["ci_lower"], m["ci_upper"]),
        "pi": w.fmt_ci(m["pi_lower"], m["pi_upper"]) if m.get("pi_lower") is not None else None,
        "measure": main["measure"], "size_words": w.smd_size_words(m["estimate"]) if main["measure"] == "SMD" else "",
        "size_convention": w.SIZE_CONVENTION, "k": main["k"], "participants": main["participants"],
        "participants_intervention": main["participants_intervention"], "participants_control": main["participants_control"],
        "heterogeneity": w.heterogeneity_words(m["I2"]), "I2": w.fmt(m["I2"], 0), "tau2": w.fmt(m["tau2"]),
        "heterogeneity_convention": w.HETEROGENEITY_CONVENTION,
        "nnt": None if nnt is None else f"{nnt:.0f}", "nnt_cer": f"{100 * cer:.0f}%",
        "certainty": certainty["level"],
    }
    result_text = w.result_sentence(m["estimate"], m["ci_lower"], m["ci_upper"], direction=direction,
                                    intervention=intervention, control=control, outcome=outcome_words,
                                    measure=main["measure"], ratio=main.get("ratio", False))
    pi_text = (w.prediction_sentence(m["pi_lower"], m["pi_upper"], direction=direction, intervention=intervention)
               if m.get("pi_lower") is not None else "")

    # Other outcomes/timepoints, each with its sentence.
    other = []
    for a in pooled["analyses"]:
        if a is main:
            continue
        if "model" not in a:
            other.append({"title": f"{a['outcome_label']}, {a['timepoint_label']}", "text": a["not_pooled_reason"]})
            continue
        o = next(x for x in review_def["outcomes"] if x["id"] == a["outcome"])
        am = a["model"]
        other.append({"title": f"{a['outcome_label']}, {a['timepoint_label']}",
                      "text": w.result_sentence(am["estimate"], am["ci_lower"], am["ci_upper"], direction=o["direction"],
                                                intervention=intervention, control=control,
                                                outcome=o["label"].lower(), measure=a["measure"], ratio=a.get("ratio", False))
                      + f" {a['k']} trials, {a['participants']:,} participants; I\u00b2 = {w.fmt(am['I2'], 0)}%."})

    # Moderators.
    mod_items = []
    for a in moderators["analyses"]:
        item = {"label": a["label"], "figure": figures.get(f"moderator:{a['name']}"), "name": a["name"], "type": a["type"],
                "missing": (f"{a['k_not_reported']} of {a['k_total']} trials did not report this and are left out."
                            if a["k_not_reported"] else "")}
        if "not_analysed_reason" in a:
            item["text"] = f"Not analysed: {a['not_analysed_reason']}."
        elif a["type"] == "categorical":
            item["text"] = w.subgroup_sentence(a, a.get("level_labels", {}))
            if a.get("not_pooled"):
                item["text"] += " Subgroups with too few trials to pool (shown, not pooled): " + ", ".join(
                    a["level_labels"].get(x, x) for x in a["not_pooled"]) + "."
        else:
            item["text"] = w.regression_sentence(a)
        mod_items.append(item)

    # Resistance training beside the external meta-analysis (clearly labelled).
    resistance = None
    et = next((a for a in moderators["analyses"] if a["name"] == "exercise_type" and "levels" in a), None)
    if et is not None:
        lv = next((x for x in et["levels"] if x["level"] == "resistance"), None)
        if lv is not None:
            resistance = {
                "k": lv["k"],
                "text": (f"In this review, {lv['k']} trials tested resistance training alone: pooled SMD "
                         f"{w.fmt(lv['estimate'])} (95% CI {w.fmt_ci(lv['ci_lower'], lv['ci_upper'])})."
                         if lv["pooled"] else f"In this review only {lv['k']} trial tested resistance training alone."),
            }
    external_box = None
    if external:
        external_box = {
            "citation": " ".join(external["citation"].split()),
            "text": (f"A separate meta-analysis of {external['trials']} randomised trials of resistance training "
                     f"({external['participants']['total']:,} participants) found a reduction in depressive symptoms of "
                     f"\u0394 = {w.fmt(external['delta'])} (95% CI {w.fmt_ci(*external['ci_95'])}), with "
                     f"I\u00b2 = {w.fmt(external['i2_pct'], 0)}%. Its sign is reversed relative to this review "
                     f"(positive = fewer symptoms). Its trial-level data are not public, so it is quoted, not pooled."),
        }

    # Small-study effects.
    if "egger" in small_study:
        sse_text = (f"Egger's regression test {w.fmt_p(small_study['egger']['pval'])}; Begg's rank correlation "
                    f"Kendall's \u03c4 = {w.fmt(small_study['begg']['tau'])}, {w.fmt_p(small_study['begg']['pval'])}. "
                    f"Trim-and-fill imputed {small_study['trim_and_fill']['k0']} trial(s) on the "
                    f"{small_study['trim_and_fill']['side']} side; the adjusted estimate is "
                    f"{w.fmt(small_study['trim_and_fill']['estimate'])} "
                    f"(95% CI {w.fmt_ci(small_study['trim_and_fill']['ci_lower'], small_study['trim_and_fill']['ci_upper'])}).")
        if small_study["egger"]["pval"] < 0.10:
            sse_text += (" Funnel-plot asymmetry suggests that small trials reported larger benefits, which can "
                         "come from publication bias or from lower quality of small trials.")
        if small_study["below_minimum"]:
            sse_text += f" With fewer than {small_study['min_trials']} trials these tests have little power."
    else:
        sse_text = "Not assessed: " + small_study.get("not_analysed_reason", "too few trials") + "."

    # Sensitivity rows.
    sens = [{"label": s.get("label") or f"{s['method']} estimator, {'Hartung-Knapp' if s['test'] == 'knha' else 'Wald (z)'} CI",
             "estimate": w.fmt(s["estimate"]), "ci": w.fmt_ci(s["ci_lower"], s["ci_upper"]),
             "tau2": w.fmt(s["tau2"]), "I2": w.fmt(s["I2"], 0)} for s in main.get("sensitivity", [])]
    loo = main.get("leave_one_out")
    loo_text = (f"Leaving out one trial at a time, the pooled SMD ranged from {w.fmt(loo['min_estimate'])} "
                f"(without {loo['min_trial']}) to {w.fmt(loo['max_estimate'])} (without {loo['max_trial']})"
                + ("; no single trial changes whether the confidence interval includes no effect." if not loo["any_changes_significance"]
                   else "; leaving out a single trial can change whether the confidence interval includes no effect.")) if loo else ""

    # Trials table and references.
    eff = effects[(effects.outcome == primary) & (effects.timepoint == tp["id"])].set_index("trial_id")
    weights = {t["trial_id"]: t["weight_pct"] for t in main["trials"]}
    rows, refs, sources = [], [], {}
    for _, t in trials.sort_values("label").iterrows():
        e = eff.loc[t.trial_id] if t.trial_id in eff.index else None
        source_key = sources.setdefault(e.source, f"S{len(sources) + 1}") if e is not None else ""
        rows.append({"label": t.label, "type": _level(review_def, "exercise_type", t.get("exercise_type")),
                     "weeks": w.fmt(t.weeks, 0) if pd.notna(t.get("weeks")) else "not reported",
                     "n": f"{w.fmt(e.n_int, 0)} / {w.fmt(e.n_ctl, 0)}" if e is not None and pd.notna(e.n_int) else "",
                     "g": w.fmt(e.yi) if e is not None else "", "ci": w.fmt_ci(e.ci_lower, e.ci_upper) if e is not None else "",
                     "weight": f"{weights.get(t.trial_id, float('nan')):.1f}%" if t.trial_id in weights else "",
                     "source": source_key})
        refs.append(_reference(t))
    measures = sorted({str(x) for x in trials.get("outcome_measure", pd.Series(dtype=str)).dropna()})
    year_lo, year_hi = int(trials.year.min()), int(trials.year.max())
    methods = {
        "effect_size": (f"Hedges' g (standardised mean difference, exercise minus control) with the "
                        f"{'exact' if es_cfg.get('correction', 'exact') == 'exact' else es_cfg.get('correction')} small-sample correction "
                        f"and the {_variance_name(es_cfg.get('variance', 'LS'))} sampling variance; binary outcomes as "
                        f"{es_cfg.get('binary_measure', 'RR')} with {es_cfg.get('zero_cell_add', 0.5)} added to every cell of trials with a zero cell."),
        "pooling": (f"Random-effects meta-analysis, \u03c4\u00b2 estimated by {_method_name(pooling_cfg.get('method', 'REML'))}, "
                    f"{level_pct}% confidence intervals by the "
                    f"{HKSJ_TEXT if pooling_cfg.get('test', 'knha') == 'knha' else 'Wald method (normal distribution)'}, "
                    f"and a {level_pct}% prediction interval (Higgins, Thompson & Spiegelhalter 2009). Heterogeneity: Cochran's Q, "
                    f"I\u00b2 (Higgins & Thompson 2002) and \u03c4\u00b2 with Q-profile confidence intervals (Viechtbauer 2007)."),
        "moderators": (f"Subgroup analyses with {'a separate' if config.get('moderators', {}).get('subgroup_tau2', 'separate') == 'separate' else 'a common'} "
                       f"\u03c4\u00b2 per subgroup and the test for subgroup differences; mixed-effects meta-regression for "
                       f"continuous moderators. Trials that did not report a moderator are left out of that analysis only."),
        "small_study": (f"Egger's regression test ({'classic weighted regression' if config.get('small_study_effects', {}).get('egger_model', 'lm') == 'lm' else 'mixed-effects version'}), "
                        f"Begg and Mazumdar's rank correlation, trim-and-fill (Duval & Tweedie 2000, L0 estimator), and a "
                        f"contour-enhanced funnel plot (Peters et al. 2008)."),
        "settings": _settings_rows(config),
        "dependent_effects": dependent.methods_text(review_def, main),
    }
    return {
        "review": {"title": review_def["title"], "subtitle": review_def.get("subtitle", ""),
                   "question": review_def["question"], "authors": review_def.get("authors", []),
                   "search_date": review_def.get("search_date", "not stated"),
                   "search_date_note": review_def.get("search_date_note", ""),
                   "inclusion_criteria": review_def.get("inclusion_criteria", []),
                   "data_source": review_def.get("data_source", ""),
                   "attribution": review_def.get("attribution", ""), "licence": review_def.get("licence", ""),
                   "short_title": review_def.get("report", {}).get("short_title", review_def["title"]),
                   "keywords": review_def.get("report", {}).get("keywords", []),
                   "context": review_def.get("report", {}).get("context", [])},
        "edition": {"id": edition["id"], "date": edition["date"], "data_hash": edition["fingerprint"]["data"],
                    "config_hash": edition["fingerprint"]["config"], "code_hash": edition["fingerprint"]["code"]},
        "changes": w.changes_sentences(changes, main["measure"]),
        "headline": w.headline(m, direction=direction, intervention=intervention, outcome=outcome_words,
                               certainty=certainty["level"], measure=main["measure"]),
        "lead": (f"{review_def['question']} Across {main['k']} randomised trials with {main['participants']:,} participants, "
                 + result_text[0].lower() + result_text[1:] + f" The certainty of this evidence is {certainty['level']}."),
        "key": key_findings, "result_text": result_text, "pi_text": pi_text, "other_outcomes": other,
        "what_they_did": {
            "trials": main["k"], "participants": main["participants"], "years": f"{year_lo} to {year_hi}",
            "weeks": _range_text(trials.get("weeks"), "weeks"),
            "sessions": _range_text(trials.get("sessions_per_week"), "sessions per week"),
            "measures": measures,
        },
        "moderators": mod_items, "resistance": resistance, "external": external_box,
        "certainty": certainty, "small_study_text": sse_text, "sensitivity": sens, "loo_text": loo_text,
        "model_line": {"method": m["method"], "test": m["test"], "estimate": w.fmt(m["estimate"]),
                       "ci": w.fmt_ci(m["ci_lower"], m["ci_upper"]), "tau2": w.fmt(m["tau2"]),
                       "tau2_ci": w.fmt_ci(*m["tau2_ci"]) if m.get("tau2_ci") else "", "I2": w.fmt(m["I2"], 0),
                       "Q": w.fmt(m["Q"]), "Q_df": m["Q_df"], "Q_p": w.fmt_p(m["Q_p"])},
        "take_home": _take_home(m, direction, intervention, outcome_words, certainty["level"], main["measure"]),
        "primary_label": f"{outcome_words}, {tp['label']}",
        "favours_note": (f"Values below zero favour {intervention}." if direction == "lower_is_better"
                         else f"Values above zero favour {intervention}."),
        "trial_rows": rows, "references": refs,
        "sources": [{"key": key, "text": text} for text, key in sources.items()], "methods": methods, "figures": figures, "fonts_dir": fonts_dir,
        "software": software_versions(),
        "missing_data": _missing_data(trials, review_def),
    }


def _level(review_def, name, value):
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "not reported"
    mod = next((m for m in review_def["moderators"] if m["name"] == name), None)
    return mod["levels"].get(str(value), str(value)) if mod and "levels" in mod else str(value)


def _reference(t) -> str:
    def ok(x):
        return isinstance(x, str) and x.strip() and x.lower() != "nan"
    parts = [t.first_author if ok(t.first_author) else t.label.split()[0], f"({t.year})."]
    if ok(t.get("title")):
        parts.append(t.title.rstrip(".") + ".")
    else:
        parts.append("Title not found in the sources read.")
    if ok(t.get("journal")):
        parts.append(t.journal + ".")
    if ok(t.get("identifier")):
        parts.append(t.identifier)
    return " ".join(parts)


def _variance_name(v):
    return {"LS": "large-sample (Hedges & Olkin 1985; metafor's default)", "UB": "unbiased (Hedges 1983)",
            "LS2": "large-sample with J\u00b2 (Borenstein 2009)", "revman": "RevMan 5 'Hedges' adjusted g'"}.get(v, v)


def _method_name(m):
    return {"REML": "restricted maximum likelihood (REML)", "DL": "DerSimonian-Laird", "PM": "Paule-Mandel",
            "ML": "maximum likelihood", "HE": "Hedges", "HS": "Hunter-Schmidt", "SJ": "Sidik-Jonkman",
            "EB": "empirical Bayes", "FE": "a common-effect model (\u03c4\u00b2 = 0)"}.get(m, m)


def _settings_rows(config):
    rows = []
    for section in ("effect_size", "pooling", "moderators", "small_study_effects", "report"):
        for k, v in (config.get(section) or {}).items():
            if k == "sensitivity":
                v = "; ".join(f"{s['method']} + {s['test']}" for s in v)
            rows.append({"setting": f"{section}.{k}", "value": str(v)})
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


def _take_home(m, direction, intervention, outcome, certainty, measure):
    if not w.ci_excludes_null(m["ci_lower"], m["ci_upper"]):
        return f"The trials do not show a clear effect of {intervention} on {outcome}."
    if w.benefit(m["estimate"], direction) > 0:
        size = w.smd_size_words(m["estimate"]) if measure == "SMD" else "a"
        return (f"{intervention.capitalize()} led to a {size} reduction in {outcome} on average, but the effect varied "
                f"between trials and the certainty of the evidence is {certainty}; larger, well-concealed and "
                f"blinded trials are needed to pin it down.")
    return f"On average {outcome} was worse with {intervention}; the certainty of the evidence is {certainty}."


def css_string(text) -> "markupsafe.Markup":
    """A quoted CSS string with every character but letters, digits and spaces escaped as a
    CSS hex escape, so review text cannot end the string or the style sheet."""
    import markupsafe
    out = "".join(c if (c.isascii() and (c.isalnum() or c == " ")) else f"\\{ord(c):06x}" for c in str(text))
    return markupsafe.Markup(f'"{out}"')


def render_html(context: dict, template_dir: Path = TEMPLATE_DIR) -> str:
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["css_string"] = css_string
    return env.get_template("report.html.j2").render(**context)
