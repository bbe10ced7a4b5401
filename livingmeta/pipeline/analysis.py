"""The pipeline's analysis stages as pure functions over tidy tables.

Each function is what one Snakemake rule calls: tables and plain config dicts in, a table or a
JSON-able dict out. No file I/O here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from livingmeta.errors import EffectSizeError
from livingmeta.formatting import plural
from livingmeta.pipeline.config_check import section
from livingmeta.stats import bias, dependent, diagnostics, dist, effects, moderators, pooling

RATIO_MEASURES = effects.RATIO_MEASURES


def _wide(arms: pd.DataFrame, review_def: dict) -> pd.DataFrame:
    """One row per trial x outcome x timepoint with the intervention and control arms side by side."""
    key = ["trial_id", "label", "year", "outcome", "outcome_type", "timepoint", "effect_id"]
    arms = arms.assign(effect_id=arms["effect_id"].fillna("")) if "effect_id" in arms else arms.assign(effect_id="")
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


def _arm_effects(raw: pd.DataFrame, outcome_type: str, measure: str, cfg: dict) -> effects.EffectSizes:
    """Effect sizes from arm-level data: means and SDs (SMD with the configured correction and
    variance, or MD) or 2x2 counts (RR, OR, RD with the configured zero-cell correction)."""
    if outcome_type == "continuous":
        groups = (raw.mean_int, raw.sd_int, raw.n_int.astype(float), raw.mean_ctl, raw.sd_ctl, raw.n_ctl.astype(float))
        if measure == "MD":
            return effects.mean_difference(*groups)
        return effects.hedges_g(*groups, variance=cfg["variance"], correction=cfg["correction"])
    return effects.binary_effect(raw.events_int.astype(float), raw.total_int.astype(float), raw.events_ctl.astype(float),
                                 raw.total_ctl.astype(float), measure=measure, add=cfg["zero_cell_add"])


def effect_size_table(arms: pd.DataFrame, review_def: dict, cfg: dict, level: float = 0.95) -> pd.DataFrame:
    """Effect size and sampling variance per trial, outcome, timepoint and effect (intervention
    minus control; log scale for ratios) in each outcome's declared effect measure. Continuous
    outcomes: SMD (Hedges' g with the configured correction and variance) or MD; binary: RR, OR or
    RD with the configured zero-cell correction. A block given as a computed effect (yi, se:
    generic inverse variance) is taken as it is, on the measure's scale."""
    cfg = section("effect_size", cfg)
    wide = _wide(arms, review_def)
    parts = []
    for outcome in review_def["outcomes"]:
        sub = wide[wide["outcome"] == outcome["id"]].copy()
        if sub.empty:
            continue
        measure = _measure(outcome)
        given = (sub["given_yi"].notna() & sub["given_se"].notna()).to_numpy()
        yi, vi = np.full(len(sub), np.nan), np.full(len(sub), np.nan)
        yi[given], vi[given] = sub["given_yi"].to_numpy(float)[given], sub["given_se"].to_numpy(float)[given] ** 2
        raw = sub[~given]
        if len(raw):
            es = _arm_effects(raw, outcome["type"], measure, cfg)
            # a scale running against the outcome's direction: flip the sign (Cochrane Handbook 6.5.1.2)
            flip = raw.reversed.to_numpy(dtype=bool) & (outcome["type"] == "continuous")
            yi[~given], vi[~given] = np.where(flip, -es.yi, es.yi), es.vi
        sub = sub.drop(columns=["given_yi", "given_se"])
        sub["measure"] = measure
        sub["yi"], sub["vi"] = yi, vi
        sub["sei"] = np.sqrt(vi)
        sub["ci_lower"], sub["ci_upper"] = effects.wald_ci(sub.yi, sub.sei, level)  # at the configured level
        parts.append(sub)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["outcome", "timepoint", "label", "effect_id"], ignore_index=True)


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


def pool_review(effect_table: pd.DataFrame, review_def: dict, cfg: dict, all_effects: pd.DataFrame | None = None) -> dict:
    """Pool every outcome x timepoint: the configured model, sensitivity models (other
    estimators/CI methods), leave-one-out, and per-trial weights. ``effect_table`` has one
    effect per trial; ``all_effects``, if given, every effect before aggregation within trials,
    for the dependent-effects sensitivity rows (three-level CR2, all effects independent)."""
    cfg = section("pooling", cfg)
    method, test, level = cfg["method"], cfg["test"], cfg["level"]
    analyses = []
    for outcome in review_def["outcomes"]:
        for tp in outcome["timepoints"]:
            sub = effect_table[(effect_table.outcome == outcome["id"]) & (effect_table.timepoint == tp["id"])]
            sub = sub.reset_index(drop=True)
            entry = {"outcome": outcome["id"], "outcome_label": outcome["label"], "timepoint": tp["id"],
                     "timepoint_label": tp["label"], "measure": sub["measure"].iloc[0] if len(sub) else None,
                     "direction": outcome["direction"], "k": int(len(sub)),
                     "published_result": tp.get("published_result")}
            if len(sub) < 2:
                entry["not_pooled_reason"] = f"{trials_report(len(sub))} this outcome; pooling needs 2 or more"
                analyses.append(entry)
                continue
            n_int, n_ctl = _participants(sub)
            fit = pooling.rma(sub.yi, sub.vi, method=method, test=test, level=level, study=sub.label)
            entry.update(participants=n_int + n_ctl, participants_intervention=n_int, participants_control=n_ctl,
                         model=_fit_dict(fit), ratio=entry["measure"] in RATIO_MEASURES)
            entry["sensitivity"] = []
            for s in cfg["sensitivity"]:
                sf = pooling.rma(sub.yi, sub.vi, method=s["method"], test=s["test"], level=level)
                entry["sensitivity"].append({"method": s["method"], "test": s["test"], **_fit_dict(sf, with_ci=False)})
            if all_effects is not None:
                every = all_effects[(all_effects.outcome == outcome["id"]) & (all_effects.timepoint == tp["id"])]
                entry["k_effects"] = int(len(every))
                entry["sensitivity"] += dependent.dependent_sensitivity(every, method=method, test=test, level=level)
            if len(sub) >= 3:
                loo = diagnostics.leave_one_out(fit)
                entry["leave_one_out"] = {
                    "min_estimate": float(loo.estimate.min()), "max_estimate": float(loo.estimate.max()),
                    "min_trial": str(loo.study[loo.estimate.idxmin()]), "max_trial": str(loo.study[loo.estimate.idxmax()]),
                    "any_changes_significance": bool(((loo.ci_lower > 0) | (loo.ci_upper < 0)).ne(
                        (fit.ci_lower[0] > 0) | (fit.ci_upper[0] < 0)).any()),
                    "rows": loo[["study", "estimate", "ci_lower", "ci_upper", "tau2", "I2"]].to_dict(orient="records")}
            entry["trials"] = [{"trial_id": t, "label": lab, "yi": float(y), "vi": float(v), "weight_pct": float(w)}
                               for t, lab, y, v, w in zip(sub.trial_id, sub.label, sub.yi, sub.vi, fit.weights)]
            analyses.append(entry)
    return {"review": review_def["id"], "settings": dict(cfg), "analyses": analyses}


def primary_analysis_rows(effect_table: pd.DataFrame, review_def: dict) -> tuple[dict, dict, pd.DataFrame]:
    """The primary outcome, its first timepoint, and its effect rows."""
    outcome = next(o for o in review_def["outcomes"] if o["id"] == review_def["primary_outcome"])
    tp = outcome["timepoints"][0]
    sub = effect_table[(effect_table.outcome == outcome["id"]) & (effect_table.timepoint == tp["id"])]
    return outcome, tp, sub.reset_index(drop=True)


def moderator_analyses(effect_table: pd.DataFrame, trial_tab: pd.DataFrame, review_def: dict,
                       pooling_cfg: dict, mod_cfg: dict) -> dict:
    """Subgroup analyses for categorical moderators and meta-regressions for continuous ones,
    on the primary outcome; trials with a moderator not reported are left out of that analysis
    and counted."""
    outcome, tp, sub = primary_analysis_rows(effect_table, review_def)
    mods_tab = trial_tab.drop(columns=["label", "year"], errors="ignore")
    data = sub.merge(mods_tab, on="trial_id", how="left")
    pooling_cfg, mod_cfg = section("pooling", pooling_cfg), section("moderators", mod_cfg)
    method, test, level = pooling_cfg["method"], pooling_cfg["test"], pooling_cfg["level"]
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
    pooling_cfg, cfg = section("pooling", pooling_cfg), section("small_study_effects", cfg)
    method = pooling_cfg["method"]
    k = len(sub)
    out = {"outcome": outcome["id"], "timepoint": tp["id"], "k": k, "min_trials": cfg["min_trials"],
           "below_minimum": k < cfg["min_trials"]}
    if k < 3:
        out["not_analysed_reason"] = "fewer than 3 trials"
        return out
    eg = bias.egger_test(sub.yi, sub.vi, model=cfg["egger_model"], method=method)
    bg = bias.begg_test(sub.yi, sub.vi)
    level = pooling_cfg["level"]
    tf = bias.trim_and_fill(sub.yi, sub.vi, method=method, level=level)
    fit = pooling.rma(sub.yi, sub.vi, method=method)
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
    settings = {key: section("pooling", cfg)[key] for key in ("method", "test", "level")}  # they travel: the figure reads the level here
    out = {"outcome": outcome["id"], "timepoint": tp["id"], "settings": settings, "rows": []}
    if len(sub) < 2:
        return out
    fit = pooling.rma(sub.yi, sub.vi, **settings, study=sub.label)
    table = diagnostics.cumulative(fit, np.arange(len(sub)))
    table["year"] = sub.year.to_numpy()
    out["rows"] = table.to_dict(orient="records")
    return out
