"""The pipeline's analysis stages as pure functions over tidy tables.

Each function is what one Snakemake rule calls: tables and plain config dicts in, a table or a
JSON-able dict out. No file I/O here.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
from livingmeta.errors import EffectSizeError
from livingmeta.pipeline import declared_analysis
from livingmeta.formatting import plural
from livingmeta.pipeline.config_check import section
from livingmeta.stats import bias, dependent, diagnostics, dist, effects, moderators, pooling, revman

RATIO_MEASURES = effects.RATIO_MEASURES


def text_column(values: pd.Series) -> pd.Series:
    """A column of text with '' for missing: a column read from CSV with every cell empty is float
    NaN, which ``fillna('')`` would have to turn into text (pandas refuses that in future versions)."""
    return values.astype(object).where(values.notna(), "").astype(str)


def _wide(arms: pd.DataFrame, review_def: dict) -> pd.DataFrame:
    """One row per trial x outcome x timepoint x subgroup with the intervention and control arms side by side."""
    key = ["trial_id", "label", "year", "outcome", "outcome_type", "timepoint", "effect_id", "subgroup"]
    arms = arms.assign(**{col: text_column(arms[col]) if col in arms else "" for col in ("effect_id", "subgroup")})
    i_arm, c_arm = review_def["arms"]["intervention"], review_def["arms"]["control"]
    a = arms[arms["arm"] == i_arm].set_index(key)
    c = arms[arms["arm"] == c_arm].set_index(key)
    vals = ["n", "mean", "sd", "events", "total"]
    wide = a[vals].add_suffix("_int").join(c[vals].add_suffix("_ctl"), how="inner")
    wide["source"] = a["source"]
    for col in ("yi", "se"):  # a computed effect (generic inverse variance) instead of arm data
        wide[f"given_{col}"] = a[col] if col in a else np.nan
    wide["reversed"] = a["reversed"].astype(bool) if "reversed" in a else False
    return wide.reset_index()


MEASURES_BY_TYPE = {"continuous": effects.CONTINUOUS_MEASURES, "binary": effects.BINARY_MEASURES}


def _measure(outcome: dict) -> str:
    """The outcome's declared effect measure (review.yaml outcomes[].effect_measure), checked
    against its type: the review's declaration is the only one (the config names no measure)."""
    measure, allowed = outcome["effect_measure"], MEASURES_BY_TYPE.get(outcome["type"])
    if allowed is not None and measure not in allowed:
        raise EffectSizeError(f"review.yaml: outcomes[id={outcome['id']}].effect_measure is {measure!r}, which does not "
                              f"fit a {outcome['type']} outcome; use one of {', '.join(allowed)}")
    return measure


def outcome_analysis(review_def: dict, outcome: dict, pooling_cfg: dict | None = None,
                     effect_size_cfg: dict | None = None) -> dict:
    """The analysis of one outcome: its own (review.yaml outcomes[].analysis), the review's
    (review.yaml analysis), then config/config.yaml's (livingmeta.pipeline.declared_analysis)."""
    return declared_analysis.resolve(review_def, outcome, section("pooling", pooling_cfg),
                                     section("effect_size", effect_size_cfg))


def _events(raw: pd.DataFrame, swap: bool) -> tuple:
    """Events and totals per group as analysed: non-events when the analysis swaps them."""
    e1, n1, e2, n2 = (raw[c].astype(float).to_numpy() for c in ("events_int", "total_int", "events_ctl", "total_ctl"))
    return (n1 - e1, n1, n2 - e2, n2) if swap else (e1, n1, e2, n2)


def not_estimable_reason(e1, n1, e2, n2, measure: str) -> np.ndarray:
    """Per 2x2 table, why it gives no odds or risk ratio ('' when it does): no events in either
    group (OR, RR), or every participant had the event (OR). Such a trial is shown, counted in the
    totals and left out of the pooling (Cochrane Handbook 10.4.4.2; RevMan 5; livingmeta.stats.revman)."""
    none = (e1 + e2) == 0
    every = (e1 + e2) == (n1 + n2)
    reason = np.full(len(e1), "", dtype=object)
    if measure in ("OR", "RR"):
        reason[none] = "no events in either group"
    if measure == "OR":
        reason[every & ~none] = "every participant had the event"
    return reason


def _arm_effects(raw: pd.DataFrame, outcome_type: str, measure: str, settings: dict) -> effects.EffectSizes:
    """Effect sizes from arm-level data: means and SDs (SMD with the analysis' correction and
    variance, or MD) or 2x2 counts (RR, OR, RD with its zero-cell correction; events swapped for
    non-events when the analysis says so)."""
    if outcome_type == "continuous":
        groups = (raw.mean_int, raw.sd_int, raw.n_int.astype(float), raw.mean_ctl, raw.sd_ctl, raw.n_ctl.astype(float))
        if measure == "MD":
            return effects.mean_difference(*groups)
        return effects.hedges_g(*groups, variance=settings["smd_variance"], correction=settings["smd_correction"])
    return effects.binary_effect(*_events(raw, settings["swap_events"]), measure=measure, add=settings["zero_cell_add"])


def effect_size_table(arms: pd.DataFrame, review_def: dict, cfg: dict, level: float = 0.95) -> pd.DataFrame:
    """Effect size and sampling variance per trial, outcome, timepoint and effect (intervention
    minus control; log scale for ratios) in each outcome's declared effect measure and analysis
    (:func:`outcome_analysis`; ``cfg`` is config effect_size, ``level`` config pooling.level).
    Continuous outcomes: SMD (Hedges' g with the analysis' correction and variance) or MD;
    binary: RR, OR or RD with its zero-cell correction, a trial without an estimate for the
    measure kept with the reason (column ``not_estimable``). A block given as a computed effect
    (yi, se: generic inverse variance) is taken as it is, on the measure's scale."""
    cfg = section("effect_size", cfg)
    wide = _wide(arms, review_def)
    parts = []
    for outcome in review_def["outcomes"]:
        sub = wide[wide["outcome"] == outcome["id"]].copy()
        if sub.empty:
            continue
        measure = _measure(outcome)
        settings = outcome_analysis(review_def, outcome, {"level": level}, cfg)
        given = (sub["given_yi"].notna() & sub["given_se"].notna()).to_numpy()
        yi, vi = np.full(len(sub), np.nan), np.full(len(sub), np.nan)
        reason = np.full(len(sub), "", dtype=object)
        yi[given], vi[given] = sub["given_yi"].to_numpy(float)[given], sub["given_se"].to_numpy(float)[given] ** 2
        raw = sub[~given]
        if len(raw):
            es = _arm_effects(raw, outcome["type"], measure, settings)
            # a scale running against the outcome's direction: flip the sign (Cochrane Handbook 6.5.1.2)
            flip = raw.reversed.to_numpy(dtype=bool) & (outcome["type"] == "continuous")
            raw_yi, raw_vi = np.where(flip, -es.yi, es.yi), es.vi
            if outcome["type"] == "binary":
                why = not_estimable_reason(*_events(raw, settings["swap_events"]), measure)
                raw_yi, raw_vi = np.where(why == "", raw_yi, np.nan), np.where(why == "", raw_vi, np.nan)
                reason[~given] = why
            yi[~given], vi[~given] = raw_yi, raw_vi
        sub = sub.drop(columns=["given_yi", "given_se"])
        sub["measure"] = measure
        sub["yi"], sub["vi"] = yi, vi
        sub["sei"] = np.sqrt(vi)
        sub["ci_lower"], sub["ci_upper"] = effects.wald_ci(sub.yi, sub.sei, settings["level"])
        sub["not_estimable"] = reason
        parts.append(sub)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["outcome", "timepoint", "label", "effect_id"], ignore_index=True)


def estimable(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of an effect table that have an effect (``not_estimable`` empty, yi present)."""
    reason = text_column(rows["not_estimable"]) if "not_estimable" in rows else pd.Series("", index=rows.index)
    return rows[(reason == "") & rows["yi"].notna()]


def analysis_rows(effect_table: pd.DataFrame, outcome: str, timepoint: str, *, all_rows: bool = False) -> pd.DataFrame:
    """The effect rows of one outcome x timepoint (estimable ones only unless ``all_rows``), with
    the subgroup column as text ('' = none)."""
    rows = effect_table[(effect_table.outcome == outcome) & (effect_table.timepoint == timepoint)]
    rows = rows if all_rows else estimable(rows)
    rows = rows.reset_index(drop=True)
    rows["subgroup"] = text_column(rows["subgroup"]) if "subgroup" in rows else ""
    rows["not_estimable"] = text_column(rows["not_estimable"]) if "not_estimable" in rows else ""
    return rows


def trials_report(n: int) -> str:
    """'1 trial reports', '0 trials report': the start of a reason readers see."""
    return f"{plural(n, 'trial')} {'reports' if n == 1 else 'report'}"


def _participants(sub: pd.DataFrame) -> tuple[int, int]:
    # group sizes not reported beside a precomputed effect (yi/se) are left out of the count
    n_int = sub["n_int"].fillna(sub["total_int"]).dropna().astype(int).sum()
    n_ctl = sub["n_ctl"].fillna(sub["total_ctl"]).dropna().astype(int).sum()
    return int(n_int), int(n_ctl)


def outcome_sd(rows: pd.DataFrame) -> float | None:
    """The outcome's standard deviation pooled over every group of ``rows`` (an analysis' effect
    rows; :func:`livingmeta.stats.effects.common_sd`), or None when no group reports one."""
    if not {"sd_int", "n_int", "sd_ctl", "n_ctl"} <= set(rows.columns):
        return None
    sd = effects.common_sd(np.concatenate([rows.sd_int.to_numpy(float), rows.sd_ctl.to_numpy(float)]),
                           np.concatenate([rows.n_int.to_numpy(float), rows.n_ctl.to_numpy(float)]))
    return None if np.isnan(sd) or sd <= 0 else sd


def _fit_dict(fit: pooling.MetaAnalysis, with_ci: bool = True) -> dict:
    d = fit.to_dict()
    if fit.method != "FE" and with_ci:
        ci = fit.confint_tau2()
        d["tau2_ci"] = list(ci["tau2"])
        d["I2_ci"] = list(ci["I2"])
    d["z_or_t"] = float(fit.zval[0])
    return d


def _finite(x) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def _single_trial(yi: float, vi: float, method: str, level: float) -> dict:
    """The result of an analysis of one trial: that trial's own estimate and Wald interval (as
    RevMan shows it); heterogeneity is not applicable."""
    se = float(np.sqrt(vi))
    lo, hi = effects.wald_ci(yi, se, level)
    z = yi / se
    return {"k": 1, "method": method, "test": "z", "level": level, "tau2": 0.0, "I2": None, "QE": 0.0, "QEdf": 0,
            "QEp": None, "estimate": float(yi), "se": se, "zval": float(z), "z_or_t": float(z),
            "pval": float(2 * dist.norm_sf(abs(z))), "ci_lower": float(lo), "ci_upper": float(hi),
            "pi_lower": None, "pi_upper": None}


def _revman_fit(rows: pd.DataFrame, settings: dict, measure: str) -> revman.RevManResult:
    """Mantel-Haenszel (fixed or random) or Peto on the rows' 2x2 counts (livingmeta.stats.revman)."""
    counts = rows[["events_int", "total_int", "events_ctl", "total_ctl"]]
    if counts.isna().any(axis=None):
        missing = rows.label[counts.isna().any(axis=1)].tolist()
        raise pooling.ModelError(f"{settings['method']} pools 2x2 counts, and {', '.join(missing)} gave a computed "
                                 "effect instead")
    method = settings["method"]
    return revman.dichotomous(*(counts[c].to_numpy(float) for c in counts), measure=measure,
                              method="Peto" if method == "Peto" else "MH", random=method == "MH+DL",
                              level=settings["level"], swap_events=settings["swap_events"])


def _revman_dict(res: revman.RevManResult, method: str) -> dict:
    return {"k": res.k, "method": method, "test": "z", "level": res.level, "tau2": float(res.tau2),
            "I2": _finite(res.I2), "QE": float(res.QE), "QEdf": int(res.df), "QEp": _finite(res.QEp),
            "estimate": res.estimate, "se": res.se, "zval": res.zval, "z_or_t": res.zval, "pval": res.pval,
            "ci_lower": res.ci_lower, "ci_upper": res.ci_upper, "pi_lower": None, "pi_upper": None}


def fit_analysis(rows: pd.DataFrame, settings: dict, measure: str, *, study=None):
    """The analysis' declared model on its estimable rows: (model dict as pooled.json writes it,
    per-row yi, vi and weight in percent, the fitted object for leave-one-out or None). One
    trial: its own result. Raises ModelError when the data cannot be fitted as declared."""
    method, level = settings["method"], settings["level"]
    if method in declared_analysis.COUNT_METHODS:
        res = _revman_fit(rows, settings, measure)
        if res.k == 0:
            raise pooling.ModelError("no trial has an estimate")
        return _revman_dict(res, method), res.yi, res.vi, res.weights, None
    yi, vi = rows.yi.to_numpy(float), rows.vi.to_numpy(float)
    if len(rows) == 1:
        return _single_trial(yi[0], vi[0], method, level), yi, vi, np.array([100.0]), None
    fit = pooling.rma(yi, vi, method=method, test=settings["test"], level=level, study=study)
    return _fit_dict(fit), yi, vi, fit.weights, fit


def _leave_one_out(rows: pd.DataFrame, settings: dict, measure: str, model: dict, fit) -> dict | None:
    """The pooled estimate with each trial left out in turn, in the declared model (metafor's
    leave1out for inverse-variance models; a refit per trial for Mantel-Haenszel and Peto)."""
    if fit is not None:
        loo = diagnostics.leave_one_out(fit)
    else:
        out = []
        for i in range(len(rows)):
            m = fit_analysis(rows.drop(index=rows.index[i]), settings, measure)[0]
            out.append({"study": rows.label.iloc[i], "estimate": m["estimate"], "ci_lower": m["ci_lower"],
                        "ci_upper": m["ci_upper"], "tau2": m["tau2"], "I2": m["I2"]})
        loo = pd.DataFrame(out)
    excludes = (loo.ci_lower > 0) | (loo.ci_upper < 0)
    return {"min_estimate": float(loo.estimate.min()), "max_estimate": float(loo.estimate.max()),
            "min_trial": str(loo.study[loo.estimate.idxmin()]), "max_trial": str(loo.study[loo.estimate.idxmax()]),
            "any_changes_significance": bool(excludes.ne((model["ci_lower"] > 0) | (model["ci_upper"] < 0)).any()),
            "rows": loo[["study", "estimate", "ci_lower", "ci_upper", "tau2", "I2"]].to_dict(orient="records")}


def _sensitivity(rows: pd.DataFrame, settings: dict, cfg: dict) -> list[dict]:
    """The configuration's models on the same trials (inverse variance), each labelled as this
    report's when the review declared its own analysis; the declared model itself is left out."""
    models = [{"method": s["method"], "test": s["test"]} for s in cfg["sensitivity"]]
    if settings["declared"]:
        models = [{"method": cfg["method"], "test": cfg["test"], "default": True}] + models
    out, seen = [], {(settings["method"], settings["test"])}
    for s in models:
        if (s["method"], s["test"]) in seen:
            continue
        seen.add((s["method"], s["test"]))
        try:
            sf = pooling.rma(rows.yi, rows.vi, method=s["method"], test=s["test"], level=settings["level"])
        except pooling.ModelError:
            continue  # a sensitivity model that cannot be fitted is left out, the analysis stands
        row = {"method": s["method"], "test": s["test"], **_fit_dict(sf, with_ci=False)}
        if settings["declared"]:
            kind = "default model" if s.get("default") else "sensitivity model"
            row["label"] = f"This report's {kind}: {s['method']} estimator, {TEST_WORDS[s['test']]} CI"
        out.append(row)
    return out


TEST_WORDS = {"knha": "Hartung-Knapp", "z": "Wald (z)"}


def _pool_rows(rows: pd.DataFrame, settings: dict, measure: str) -> dict:
    """Pool the estimable rows as declared: {'model', 'trials'} or {'not_pooled_reason'}."""
    if rows.empty:
        return {"not_pooled_reason": "not estimable: no trial has an estimate for this measure"}
    try:
        model, yi, vi, weights, fit = fit_analysis(rows, settings, measure, study=rows.label)
    except pooling.ModelError as e:
        return {"not_pooled_reason": f"not estimable: the {declared_analysis.method_words(settings['method'])} "
                                     f"model could not be fitted ({e})", "error": True}
    lo, hi = effects.wald_ci(yi, np.sqrt(vi), settings["level"])
    trials = [{"trial_id": t, "label": lab, "subgroup": sg, "yi": float(y), "vi": float(v), "ci_lower": float(a),
               "ci_upper": float(b), "weight_pct": float(w)}
              for t, lab, sg, y, v, a, b, w in zip(rows.trial_id, rows.label, rows.get("subgroup", [""] * len(rows)),
                                                  yi, vi, lo, hi, weights)]
    return {"model": model, "trials": trials, "fit": fit}


def _subgroups(rows_all: pd.DataFrame, names: list[str], settings: dict, measure: str, overall: dict) -> list[dict]:
    """Each subgroup of an analysis pooled as declared; a study's weight is its share of the
    overall analysis when there is one (as RevMan prints it), else of its subgroup."""
    weights = {(t["trial_id"], t["subgroup"]): t["weight_pct"] for t in overall.get("trials", [])}
    out = []
    for name in names:
        sg_all = rows_all[rows_all.subgroup == name]
        sg = estimable(sg_all).reset_index(drop=True)
        n_int, n_ctl = _participants(sg_all)
        entry = {"name": name, "k": int(len(sg)), "k_total": int(len(sg_all)), "participants_intervention": n_int,
                 "participants_control": n_ctl, **_event_totals(sg_all)}
        pooled = _pool_rows(sg, settings, measure)
        pooled.pop("fit", None)
        pooled.pop("error", None)
        if "trials" in pooled and weights:
            for t in pooled["trials"]:
                t["weight_pct"] = weights.get((t["trial_id"], t["subgroup"]), t["weight_pct"])
            entry["weight_pct"] = float(sum(t["weight_pct"] for t in pooled["trials"]))
        out.append({**entry, **pooled})
    return out


def _event_totals(rows: pd.DataFrame) -> dict:
    if rows.empty or rows[["events_int", "events_ctl"]].isna().all(axis=None):
        return {}
    return {"events_intervention": int(rows.events_int.dropna().sum()), "events_control": int(rows.events_ctl.dropna().sum())}


def subgroup_test(subgroups: list[dict]) -> dict | None:
    """The test for subgroup differences over the subgroups with an estimate (RevMan; Deeks &
    Higgins 2010): Q on the subgroup estimates with weights 1/SE², as metafor's QM."""
    fitted = [SimpleNamespace(estimate=s["model"]["estimate"], se=s["model"]["se"], k=s["model"]["k"])
              for s in subgroups if "model" in s]
    if len(fitted) < 2:
        return None
    test = revman.subgroup_differences(fitted)
    return {"QM": test["chi2"], "QMdf": int(test["df"]), "QMp": test["p"], "I2": test["i2"]}


def pool_review(effect_table: pd.DataFrame, review_def: dict, cfg: dict, all_effects: pd.DataFrame | None = None,
                effect_size_cfg: dict | None = None) -> dict:
    """Pool every outcome x timepoint with its analysis (:func:`outcome_analysis`: the review's
    declared model, else the configured one), then this report's other models as sensitivity rows,
    leave-one-out, per-trial weights, and the subgroups of an analysis that has them with the test
    for subgroup differences. An analysis that cannot be estimated (no trial with an estimate, a
    model that cannot be fitted) is kept with the reason, as RevMan shows it; one trial gives
    that trial's result. ``effect_table`` has one effect per trial; ``all_effects``, if given,
    every effect before aggregation within trials, for the dependent-effects sensitivity rows
    (three-level CR2, all effects independent)."""
    cfg = section("pooling", cfg)
    analyses = []
    for outcome in review_def["outcomes"]:
        settings = outcome_analysis(review_def, outcome, cfg, effect_size_cfg)
        for tp in outcome["timepoints"]:
            rows_all = analysis_rows(effect_table, outcome["id"], tp["id"], all_rows=True)
            sub = estimable(rows_all).reset_index(drop=True)
            entry = {"outcome": outcome["id"], "outcome_label": outcome["label"], "timepoint": tp["id"],
                     "timepoint_label": tp["label"], "measure": rows_all["measure"].iloc[0] if len(rows_all) else None,
                     "direction": outcome["direction"], "k": int(len(sub)), "k_total": int(len(rows_all)),
                     "published_result": tp.get("published_result"),
                     "analysis": {key: settings[key] for key in ("method", "test", "level", "declared")}
                     | ({"declared_by": settings["declared_by"]} if settings["declared_by"] else {}),
                     "not_estimable": [{"trial_id": t, "label": lab, "reason": r} for t, lab, r in
                                       zip(rows_all.trial_id, rows_all.label, rows_all.get("not_estimable", []))
                                       if isinstance(r, str) and r]}
            if rows_all.empty:
                entry["not_pooled_reason"] = "no trial reports this outcome"
                analyses.append(entry)
                continue
            n_int, n_ctl = _participants(rows_all)
            entry.update(participants=n_int + n_ctl, participants_intervention=n_int, participants_control=n_ctl,
                         ratio=entry["measure"] in RATIO_MEASURES, **_event_totals(rows_all))
            pooled = _pool_rows(sub, settings, entry["measure"])
            fit = pooled.pop("fit", None)
            failed = pooled.pop("error", False)
            entry.update(pooled)
            if outcome.get("subgroups") or outcome.get("totals"):
                entry["totals"] = outcome.get("totals", "overall")
            if outcome.get("subgroups"):
                entry["subgroups"] = _subgroups(rows_all, outcome["subgroups"], settings, entry["measure"],
                                                pooled if entry["totals"] == "overall" else {})
                test = subgroup_test(entry["subgroups"])
                if test:
                    entry["subgroup_test"] = test
            if "model" not in entry:
                if failed or len(sub) >= 2:  # this report's own models may still describe the data
                    entry["sensitivity"] = _sensitivity(sub, settings, cfg) if len(sub) >= 2 else []
                analyses.append(entry)
                continue
            entry["sensitivity"] = _sensitivity(sub, settings, cfg) if len(sub) >= 2 else []
            if all_effects is not None and len(sub) >= 2:
                every = estimable(all_effects[(all_effects.outcome == outcome["id"]) & (all_effects.timepoint == tp["id"])])
                entry["k_effects"] = int(len(every))
                try:
                    entry["sensitivity"] += dependent.dependent_sensitivity(every, method=cfg["method"], test=cfg["test"],
                                                                            level=settings["level"])
                except pooling.ModelError:
                    pass  # the three-level model is a sensitivity row; the analysis stands without it
            if len(sub) >= 3:
                try:
                    entry["leave_one_out"] = _leave_one_out(sub, settings, entry["measure"], entry["model"], fit)
                except pooling.ModelError:
                    pass
            analyses.append(entry)
    return {"review": review_def["id"], "settings": dict(cfg), "analyses": analyses}


def primary_analysis(review_def: dict, pooled: dict) -> dict:
    """The analysis the report leads with: the primary outcome's first timepoint when it could be
    estimated, else the first estimated analysis in the review's order (the report says so).
    The one place this is decided for pooled results (see also :func:`primary_analysis_rows`)."""
    # pooled.json lists the analyses in the review's order: the primary outcome's first is its first timepoint
    main = next((a for a in pooled["analyses"] if a["outcome"] == review_def["primary_outcome"]), None)
    if main is not None and "model" in main:
        return main
    fallback = next((a for a in pooled["analyses"] if "model" in a), None)
    if fallback is None:
        raise pooling.ModelError("no analysis of this review could be estimated: "
                                 + "; ".join(f"{a['outcome_label']}: {a.get('not_pooled_reason', '')}"
                                             for a in pooled["analyses"]))
    return fallback


def primary_analysis_rows(effect_table: pd.DataFrame, review_def: dict) -> tuple[dict, dict, pd.DataFrame]:
    """The primary outcome, its first timepoint, and its estimable effect rows; when it has none,
    the first outcome and timepoint in the review's order that has (as :func:`primary_analysis`)."""
    candidates = [(o, o["timepoints"][0]) for o in review_def["outcomes"] if o["id"] == review_def["primary_outcome"]]
    candidates += [(o, tp) for o in review_def["outcomes"] for tp in o["timepoints"]]
    for outcome, tp in candidates:
        rows = analysis_rows(effect_table, outcome["id"], tp["id"])
        if len(rows):
            return outcome, tp, rows
    outcome, tp = candidates[0]
    return outcome, tp, analysis_rows(effect_table, outcome["id"], tp["id"])


def model_settings(review_def: dict, outcome: dict, pooling_cfg: dict) -> dict:
    """The inverse-variance model (method, test, level) of an outcome's analysis, for the stages
    that refit subsets of its trials (declared_analysis.inverse_variance_model)."""
    return declared_analysis.inverse_variance_model(outcome_analysis(review_def, outcome, pooling_cfg))


def moderator_analyses(effect_table: pd.DataFrame, trial_tab: pd.DataFrame, review_def: dict,
                       pooling_cfg: dict, mod_cfg: dict) -> dict:
    """Subgroup analyses for categorical moderators and meta-regressions for continuous ones,
    on the primary outcome; trials with a moderator not reported are left out of that analysis
    and counted."""
    outcome, tp, sub = primary_analysis_rows(effect_table, review_def)
    mods_tab = trial_tab.drop(columns=["label", "year"], errors="ignore")
    data = sub.merge(mods_tab, on="trial_id", how="left")
    mod_cfg = section("moderators", mod_cfg)
    model = model_settings(review_def, outcome, pooling_cfg)
    method, test, level = model["method"], model["test"], model["level"]
    out = {"outcome": outcome["id"], "timepoint": tp["id"], "analyses": []}
    for mod in review_def["moderators"]:
        name = mod["name"]
        col = data[name] if name in data else pd.Series([None] * len(data))
        known = col.notna().to_numpy()
        entry = {"name": name, "label": mod["label"], "type": mod["type"], "k_total": int(len(data)),
                 "k_used": int(known.sum()), "k_not_reported": int((~known).sum()),
                 "not_reported_trials": data.label[~known].tolist()}
        try:
            if mod["type"] == "categorical":
                sg = moderators.subgroup_analysis(data.yi[known], data.vi[known], col[known].astype(str),
                                                  moderator=name, method=method, test=test, level=level,
                                                  tau2_model=mod_cfg["subgroup_tau2"],
                                                  min_k=mod_cfg["min_trials_per_level"])
                entry.update(sg.to_dict())
                entry["level_labels"] = dict(mod["levels"])
                entry["k_in_test"] = int(sg.levels.loc[sg.levels.pooled, "k"].sum())
            else:
                x = pd.to_numeric(col, errors="coerce")
                ok = x.notna().to_numpy()
                entry["k_used"] = int(ok.sum())
                fit = moderators.meta_regression(data.yi[ok], data.vi[ok], pd.DataFrame({name: x[ok].to_numpy()}),
                                                 method=method, test=test, level=level)
                entry.update(slope=float(fit.beta[1]), slope_se=float(fit.se[1]), slope_ci=[float(fit.ci_lower[1]), float(fit.ci_upper[1])],
                             intercept=float(fit.beta[0]), pval=float(fit.pval[1]), QM=fit.QM, QMp=fit.QMp,
                             R2=fit.R2, tau2=fit.tau2, x=x[ok].tolist(), yi=data.yi[ok].tolist(),
                             vi=data.vi[ok].tolist(), labels=data.label[ok].tolist(), x_range=[float(x[ok].min()), float(x[ok].max())])
        except pooling.ModelError as e:
            entry["not_analysed_reason"] = str(e)
        out["analyses"].append(entry)
    return out


def small_study_analysis(effect_table: pd.DataFrame, review_def: dict, pooling_cfg: dict, cfg: dict) -> dict:
    """Egger's and Begg's tests, trim-and-fill, and contour-enhanced funnel data for the primary
    outcome. Flags when there are fewer trials than the Cochrane Handbook's minimum of 10."""
    outcome, tp, sub = primary_analysis_rows(effect_table, review_def)
    cfg = section("small_study_effects", cfg)
    model = model_settings(review_def, outcome, pooling_cfg)
    method, level = model["method"], model["level"]
    k = len(sub)
    out = {"outcome": outcome["id"], "timepoint": tp["id"], "k": k, "min_trials": cfg["min_trials"],
           "below_minimum": k < cfg["min_trials"]}
    if k < 3:
        out["not_analysed_reason"] = "fewer than 3 trials"
        return out
    try:
        eg = bias.egger_test(sub.yi, sub.vi, model=cfg["egger_model"], method=method)
        bg = bias.begg_test(sub.yi, sub.vi)
        tf = bias.trim_and_fill(sub.yi, sub.vi, method=method, level=level)
        fit = pooling.rma(sub.yi, sub.vi, method=method)
    except pooling.ModelError as e:  # one analysis that cannot be fitted never takes the report down
        out["not_analysed_reason"] = f"the {method} model could not be fitted ({e})"
        return out
    out.update(
        egger={"model": eg.model, "statistic": eg.statistic, "pval": eg.pval, "df": eg.df,
               "limit_estimate": eg.limit_estimate},
        begg={"tau": bg.tau, "pval": bg.pval, "exact": bg.exact},
        trim_and_fill={"k0": tf.k0, "side": tf.side, "estimate": tf.fit.estimate,
                       "ci_lower": float(tf.fit.ci_lower[0]), "ci_upper": float(tf.fit.ci_upper[0]), "level": level,
                       "filled_yi": tf.filled_yi.tolist(), "filled_vi": tf.filled_vi.tolist()},
        funnel={"yi": sub.yi.tolist(), "sei": sub.sei.tolist(), "labels": sub.label.tolist(),
                "estimate": fit.estimate, **bias.funnel_contours(float(sub.sei.max()) * 1.05, fit.estimate, funnel_level=level)})
    return out


def cumulative_by_year(effect_table: pd.DataFrame, review_def: dict, cfg: dict) -> dict:
    """Cumulative meta-analysis of the primary outcome with trials added in order of publication
    year (then label): how the estimate and its CI evolved as evidence accrued."""
    outcome, tp, sub = primary_analysis_rows(effect_table, review_def)
    sub = sub.sort_values(["year", "label"], kind="stable").reset_index(drop=True)
    settings = model_settings(review_def, outcome, cfg)  # they travel: the figure reads the level here
    out = {"outcome": outcome["id"], "timepoint": tp["id"], "settings": settings, "rows": []}
    if len(sub) < 2:
        return out
    try:
        fit = pooling.rma(sub.yi, sub.vi, **settings, study=sub.label)
        table = diagnostics.cumulative(fit, np.arange(len(sub)))
    except pooling.ModelError as e:
        out["not_analysed_reason"] = f"the {settings['method']} model could not be fitted ({e})"
        return out
    table["year"] = sub.year.to_numpy()
    out["rows"] = table.to_dict(orient="records")
    return out
