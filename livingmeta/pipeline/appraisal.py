"""Risk of bias of the included trials: judgements read from the records, the summary across
trials weighted as in the meta-analysis (robvis's weighted summary plot), the analysis restricted
to trials at low risk of bias, and risk of bias as a subgroup moderator.

The tools are Cochrane RoB 1 (Higgins et al. 2011, BMJ 343:d5928; Cochrane Handbook 5.1 ch. 8)
and RoB 2 (Sterne et al. 2019, BMJ 366:l4898). ``not_assessed`` (or a domain absent from a
record) is a state of its own: it is never read as a risk level, a trial with a criterion domain
not assessed is left out of the low-risk analysis and counted as "not assessed".

Everything here is a refit of the review's own model on a subset (``pooling.rma`` with the same
settings) or a weighted share: no new statistics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from livingmeta.formatting import plural
from livingmeta.pipeline import analysis
from livingmeta.pipeline.config_check import section
from livingmeta.stats import moderators, pooling

NOT_ASSESSED = "not_assessed"
DOMAINS = {
    "rob1": {
        "sequence_generation": "Random sequence generation (selection bias)",
        "allocation_concealment": "Allocation concealment (selection bias)",
        "blinding_participants": "Blinding of participants (performance bias)",
        "blinding_personnel": "Blinding of personnel (performance bias)",
        "blinding_outcome_assessment": "Blinding of outcome assessment (detection bias)",
        "incomplete_outcome_data": "Incomplete outcome data (attrition bias)",
        "selective_reporting": "Selective reporting (reporting bias)",
        "other_bias": "Other bias",
    },
    "rob2": {
        "randomisation": "Bias arising from the randomisation process",
        "deviations": "Bias due to deviations from intended interventions",
        "missing_data": "Bias due to missing outcome data",
        "measurement": "Bias in measurement of the outcome",
        "selection": "Bias in selection of the reported result",
        "overall": "Overall risk of bias",
    },
}
# the judgement words of each tool, from least to most concern
JUDGEMENTS = {"rob1": ("low", "unclear", "high"), "rob2": ("low", "some_concerns", "high")}
JUDGEMENT_WORDS = {"low": "low risk", "unclear": "unclear risk", "some_concerns": "some concerns",
                   "high": "high risk", NOT_ASSESSED: "not assessed"}
TOOL_NAMES = {"rob1": "Cochrane risk-of-bias tool, version 1 (RoB 1; Higgins et al. 2011)",
              "rob2": "Cochrane risk-of-bias tool, version 2 (RoB 2; Sterne et al. 2019)"}
# The default low-risk criterion is config.schema.yaml's (appraisal.low_risk_domains, with its source).
DEFAULTS = {"low_risk_domains": section("appraisal")["low_risk_domains"]}


def settings(config_appraisal: dict | None, review_appraisal: dict | None) -> dict:
    """The criterion in force: config.yaml's appraisal block, then the review's override."""
    out = {"low_risk_domains": dict(DEFAULTS["low_risk_domains"])}
    for source in (config_appraisal or {}, review_appraisal or {}):
        out["low_risk_domains"].update(source.get("low_risk_domains") or {})
    return out


def trial_judgements(record: dict, outcome_id: str) -> tuple[str | None, dict]:
    """(tool, {domain: {"judgement", "support"}}) for one trial and outcome; the outcome-level
    judgements (``by_outcome``) replace the study-level ones domain by domain. Domains the record
    does not mention are ``not_assessed``. A record without risk_of_bias gives (None, {})."""
    rob = record.get("risk_of_bias")
    if not rob:
        return None, {}
    tool = rob["tool"]
    merged = {**(rob.get("domains") or {}), **((rob.get("by_outcome") or {}).get(outcome_id) or {})}
    return tool, {d: {"judgement": (merged.get(d) or {}).get("judgement", NOT_ASSESSED),
                      "support": (merged.get(d) or {}).get("support")} for d in DOMAINS[tool]}


def has_assessment(record: dict) -> bool:
    """The record carries at least one judgement other than not_assessed (any domain, any outcome)."""
    rob = record.get("risk_of_bias") or {}
    blocks = [rob.get("domains") or {}, *((rob.get("by_outcome") or {}).values())]
    return any((v or {}).get("judgement", NOT_ASSESSED) != NOT_ASSESSED for b in blocks for v in b.values())


def trial_class(tool: str | None, judgements: dict, criterion_domains: list[str]) -> str:
    """One trial's risk of bias on the criterion domains: ``high`` if any is high; else
    ``not_assessed`` if any is not assessed; else ``low`` if all are low; else the tool's middle
    word (``unclear`` / ``some_concerns``). A trial without an assessment is ``not_assessed``."""
    if tool is None:
        return NOT_ASSESSED
    values = [judgements.get(d, {}).get("judgement", NOT_ASSESSED) for d in criterion_domains]
    if "high" in values:
        return "high"
    if NOT_ASSESSED in values:
        return NOT_ASSESSED
    if all(v == "low" for v in values):
        return "low"
    return JUDGEMENTS[tool][1]


def weight_shares(classes, weights) -> dict:
    """Share of the total weight in each class (low, unclear/some concerns, high, not assessed)."""
    classes = np.asarray(classes, dtype=object)
    weights = np.asarray(weights, float)
    total = weights.sum()
    out = {"low": 0.0, "unclear": 0.0, "high": 0.0, NOT_ASSESSED: 0.0}
    for c, w in zip(classes, weights):
        out["unclear" if c == "some_concerns" else c] += w / total if total > 0 else 0.0
    return out


def domain_summary(trials: list[dict], tool: str) -> list[dict]:
    """robvis's weighted summary: for each domain of ``tool``, the share of the meta-analysis
    weight (and the number of trials) at each judgement, among the trials assessed with it."""
    sel = [t for t in trials if t["tool"] == tool]
    total = sum(t["weight_pct"] for t in sel)
    out = []
    for d, label in DOMAINS[tool].items():
        present = [t for t in sel if t["judgements"][d]["judgement"] != NOT_ASSESSED]
        if not present:
            continue  # a domain no trial was judged on is not drawn (e.g. RoB 1 with 4 of 7 domains)
        row = {"domain": d, "label": label, "shares": {}, "counts": {}}
        for j in (*JUDGEMENTS[tool], NOT_ASSESSED):
            members = [t for t in sel if t["judgements"][d]["judgement"] == j]
            row["counts"][j] = len(members)
            row["shares"][j] = sum(t["weight_pct"] for t in members) / total if total > 0 else 0.0
        out.append(row)
    return out


def _fit_summary(fit: pooling.MetaAnalysis, sub: pd.DataFrame) -> dict:
    pred = fit.predict()
    return {"k": fit.k, "participants": _participants(sub), "estimate": fit.estimate, "ci_lower": float(fit.ci_lower[0]),
            "ci_upper": float(fit.ci_upper[0]), "tau2": fit.tau2, "I2": fit.I2,
            "pi_lower": float(pred["pi_lower"]), "pi_upper": float(pred["pi_upper"])}


def _participants(sub: pd.DataFrame) -> int:
    """Participants as the main analysis counts them (analysis._participants)."""
    return sum(analysis._participants(sub))


def analysis_risk_of_bias(sub: pd.DataFrame, records: dict, outcome_id: str, main_model: dict, weights: dict,
                          criterion: dict, pooling_cfg: dict, min_k_per_level: int = 2) -> dict:
    """Risk of bias for one pooled analysis: per-trial judgements and class, weight shares,
    the low-risk-of-bias refit and the subgroup analysis by risk of bias.

    ``sub``: that analysis' effect rows (trial_id, label, yi, vi, n or totals); ``records``:
    trial records by id; ``weights``: the main model's weight (%) by trial id."""
    pooling_cfg = section("pooling", pooling_cfg)
    method, test, level = pooling_cfg["method"], pooling_cfg["test"], pooling_cfg["level"]
    sub = sub.reset_index(drop=True)
    trials = []
    for _, r in sub.iterrows():
        tool, judg = trial_judgements(records.get(r.trial_id, {}), outcome_id)
        domains = criterion.get(tool, []) if tool else []
        trials.append({"trial_id": r.trial_id, "label": r.label, "tool": tool, "judgements": judg,
                       "source": (records.get(r.trial_id, {}).get("risk_of_bias") or {}).get("source"),
                       "class": trial_class(tool, judg, domains), "weight_pct": float(weights.get(r.trial_id, 0.0))})
    classes = [t["class"] for t in trials]
    out = {"outcome": outcome_id, "k": len(trials), "trials": trials, "level": level,
           "tools": sorted({t["tool"] for t in trials if t["tool"]}),
           "criterion": {tool: criterion.get(tool, []) for tool in sorted({t["tool"] for t in trials if t["tool"]})},
           "counts": {c: classes.count(c) for c in ("low", "unclear", "some_concerns", "high", NOT_ASSESSED)},
           "weight_shares": weight_shares(classes, [t["weight_pct"] for t in trials])}
    out["k_not_assessed_at_all"] = sum(1 for t in trials if t["tool"] is None or all(
        v["judgement"] == NOT_ASSESSED for v in t["judgements"].values()))
    out["summary"] = {tool: domain_summary(trials, tool) for tool in out["tools"]}
    low = sub[np.array(classes) == "low"]
    out["main"] = {"k": len(sub), "participants": _participants(sub), "estimate": main_model["estimate"],
                   "ci_lower": main_model["ci_lower"], "ci_upper": main_model["ci_upper"]}
    out["low_risk"] = {"k": len(low), "participants": _participants(low) if len(low) else 0,
                       "trials": low.label.tolist()}
    if len(low) >= 2:
        fit = pooling.rma(low.yi, low.vi, method=method, test=test, level=level)
        out["low_risk"].update(_fit_summary(fit, low), shift=fit.estimate - main_model["estimate"])
    else:
        out["low_risk"]["not_pooled_reason"] = (f"{plural(len(low), 'trial')} at low risk of bias on the criterion domains; "
                                                "pooling needs 2 or more")
    out["moderator"] = risk_of_bias_subgroups(sub, classes, method=method, test=test, level=level, min_k=min_k_per_level)
    return out


def risk_of_bias_subgroups(sub: pd.DataFrame, classes, *, method: str, test: str, level: float, min_k: int) -> dict:
    """Subgroup analysis by risk of bias (low / unclear or some concerns / high) with the test for
    subgroup differences; trials not assessed are left out and counted."""
    classes = np.asarray(classes, dtype=object)
    known = classes != NOT_ASSESSED
    entry = {"name": "risk_of_bias", "type": "categorical", "k_total": int(len(classes)), "k_used": int(known.sum()),
             "k_not_reported": int((~known).sum()), "not_reported_trials": sub.label[~known].tolist(),
             "level_labels": {"low": "low risk of bias", "unclear": "unclear risk of bias",
                              "some_concerns": "some concerns", "high": "high risk of bias"}}
    try:
        sg = moderators.subgroup_analysis(sub.yi[known], sub.vi[known], classes[known], moderator="risk_of_bias",
                                          method=method, test=test, level=level, min_k=min_k)
        entry.update(sg.to_dict())
    except pooling.ModelError as e:
        entry["not_analysed_reason"] = str(e)
    return entry


def risk_of_bias_review(review_def: dict, records: list[dict], effect_table: pd.DataFrame, pooled: dict,
                        pooling_cfg: dict, config_appraisal: dict | None, moderator_cfg: dict | None = None) -> dict:
    """Risk of bias for every pooled analysis of a review (the rob.json artefact)."""
    crit = settings(config_appraisal, review_def.get("appraisal"))
    by_id = {r["id"]: r for r in records}
    min_k = section("moderators", moderator_cfg)["min_trials_per_level"]
    out = {"review": review_def["id"], "criterion": crit["low_risk_domains"],
           "k_records": len(records), "k_with_assessment": sum(1 for r in records if has_assessment(r)),
           "primary": {"outcome": review_def["primary_outcome"]}, "analyses": []}
    outcomes = {o["id"]: o for o in review_def["outcomes"]}
    for a in pooled["analyses"]:
        if "model" not in a:
            continue
        sub = analysis.analysis_rows(effect_table, a["outcome"], a["timepoint"])  # trials with an estimate
        weights = {t["trial_id"]: t["weight_pct"] for t in a["trials"]}
        # refits of subsets use the outcome's own model (its inverse-variance counterpart for MH and Peto)
        model = analysis.model_settings(review_def, outcomes[a["outcome"]], pooling_cfg)
        entry = analysis_risk_of_bias(sub, by_id, a["outcome"], a["model"], weights, crit["low_risk_domains"],
                                      {**section("pooling", pooling_cfg), **model}, min_k)
        entry.update(timepoint=a["timepoint"], outcome_label=a["outcome_label"], timepoint_label=a["timepoint_label"],
                     measure=a["measure"], direction=a["direction"])
        out["analyses"].append(entry)
    primary = next((x for x in out["analyses"] if x["outcome"] == review_def["primary_outcome"]), None)
    if primary:
        out["primary"]["timepoint"] = primary["timepoint"]
    return out


def find_analysis(result: dict, outcome: str, timepoint: str) -> dict | None:
    return next((a for a in result["analyses"] if a["outcome"] == outcome and a["timepoint"] == timepoint), None)
