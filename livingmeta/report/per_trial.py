"""The per-trial results of the analysis the report leads with as one tidy table (the per_trial_results.csv
attached to the PDF and offered by the web edition), and the compact print appendix a large
review gets instead of printing that table row by row.

Why: a review of hundreds of trials printed 480-row tables and a second 20-page forest plot
that nobody reads on paper and that took most of the PDF's layout time. The full rows still
reach the reader: in the CSV (attached to the PDF, downloadable from the web edition) and in
the web edition's tables and figures; the PDF says where.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from livingmeta.pipeline.analysis import RATIO_MEASURES, analysis_rows, primary_analysis, text_column
from livingmeta.pipeline.config_check import section

CSV_NAME = "per_trial_results.csv"
# Trials of the primary analysis listed in the compact appendix (the heaviest by weight).
COMPACT_TOP = 20


def effect_columns(measure: str) -> dict:
    """The columns a trial's effect is written under, named for its scale (issue 20: never a log
    value under 'OR'): a ratio measure gives log_or and log_or_se (the analysis scale) and or,
    or_ci_lower, or_ci_upper (the ratio scale); a difference gives smd, smd_se, smd_ci_lower,
    smd_ci_upper; a measure the review names itself, estimate, ..."""
    m = measure.lower() if measure and measure != "generic" else "estimate"
    if measure in RATIO_MEASURES:
        return {"log": f"log_{m}", "se": f"log_{m}_se", "value": m, "lower": f"{m}_ci_lower", "upper": f"{m}_ci_upper"}
    return {"value": m, "se": f"{m}_se", "lower": f"{m}_ci_lower", "upper": f"{m}_ci_upper"}


def per_trial_results(trials: pd.DataFrame, effects: pd.DataFrame, pooled: dict, review_def: dict) -> pd.DataFrame:
    """One row per trial of the analysis the report leads with (a trial in two of its subgroups:
    one row each; a trial without an estimate keeps its row with the reason, values blank): its
    group sizes (and events, binary), its estimate in the analysis' method on the analysis scale and
    on the measure's own scale (columns named for the scale: :func:`effect_columns`), the weight it
    got, the source of its numbers and the review's moderators. Raw numbers, not rounded: the table
    is for reanalysis."""
    main = primary_analysis(review_def, pooled)
    rows = analysis_rows(effects, main["outcome"], main["timepoint"], all_rows=True)
    measure = main["measure"]
    fitted = {(t["trial_id"], t.get("subgroup", "")): t for t in main.get("trials", [])}
    for sg in main.get("subgroups", []) if main.get("totals") != "overall" else []:
        fitted.update({(t["trial_id"], t.get("subgroup", "")): t for t in sg.get("trials", [])})
    cols = effect_columns(measure)
    out = pd.DataFrame({"trial_id": rows.trial_id, "outcome": main["outcome"], "timepoint": main["timepoint"],
                        "subgroup": rows.subgroup,
                        "n_intervention": rows.n_int.fillna(rows.total_int).astype("Int64"),
                        "n_comparator": rows.n_ctl.fillna(rows.total_ctl).astype("Int64"),
                        "events_intervention": rows.events_int.astype("Int64"),
                        "events_comparator": rows.events_ctl.astype("Int64"), "measure": measure})
    fit = [fitted.get((t, sg), {}) for t, sg in zip(rows.trial_id, rows.subgroup)]
    value = lambda key: pd.Series([f.get(key, np.nan) for f in fit], dtype=float)  # noqa: E731
    back = np.exp if measure in RATIO_MEASURES else (lambda x: x)
    if "log" in cols:
        out[cols["log"]] = value("yi")
    out[cols["se"]] = np.sqrt(value("vi"))
    out[cols["value"]], out[cols["lower"]], out[cols["upper"]] = back(value("yi")), back(value("ci_lower")), back(value("ci_upper"))
    out["not_estimable"] = text_column(rows.not_estimable)
    out["weight_pct"] = value("weight_pct")
    out["source"] = rows.source
    moderators = [m["name"] for m in review_def.get("moderators", []) if m["name"] in trials and m["name"] != "year"]
    out = trials[["trial_id", "label", "year", *moderators]].merge(out, on="trial_id", how="right", validate="one_to_many")
    first = ["trial_id", "label", "year", "outcome", "timepoint", "subgroup"]
    out = out[first + [c for c in out.columns if c not in first and c not in moderators] + moderators]
    return out.sort_values(["label", "trial_id", "subgroup"], kind="stable").reset_index(drop=True)


def compact_print_section(review_def: dict, pooled: dict, trial_rows: list, config: dict) -> dict | None:
    """None when the PDF prints every per-trial table (reviews up to ``report.compact_print_above``
    trials); otherwise what the compact appendix prints: the heaviest trials' rows (as the full
    table formats them) and where the rest is."""
    limit = int(section("report", config.get("report"))["compact_print_above"])
    if len(trial_rows) <= limit:
        return None
    main = primary_analysis(review_def, pooled)
    heaviest = sorted(main.get("trials", []), key=lambda t: (-t["weight_pct"], t["label"]))[:COMPACT_TOP]
    by_label = {r["label"]: r for r in trial_rows}
    rows = [by_label[t["label"]] for t in heaviest if t["label"] in by_label]
    share = sum(t["weight_pct"] for t in heaviest if t["label"] in by_label)
    return {"limit": limit, "trials": len(trial_rows), "rows": rows, "csv": CSV_NAME,
            "weight_share": f"{share:.0f}%"}
