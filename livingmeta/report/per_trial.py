"""The per-trial results of the primary analysis as one tidy table (the per_trial_results.csv
attached to the PDF and offered by the web edition), and the compact print appendix a large
review gets instead of printing that table row by row.

Why: a review of hundreds of trials printed 480-row tables and a second 20-page forest plot
that nobody reads on paper and that took most of the PDF's layout time. The full rows still
reach the reader: in the CSV (attached to the PDF, downloadable from the web edition) and in
the web edition's tables and figures; the PDF says where.
"""

from __future__ import annotations

import pandas as pd

from livingmeta.pipeline.config_check import section

CSV_NAME = "per_trial_results.csv"
# Trials of the primary analysis listed in the compact appendix (the heaviest by weight).
COMPACT_TOP = 20


def per_trial_results(trials: pd.DataFrame, effects: pd.DataFrame, pooled: dict, review_def: dict) -> pd.DataFrame:
    """One row per trial (every trial of trials.csv, in label order): its effect in the primary
    analysis (blank when it has none), the weight it got, the source of the numbers and the
    review's moderators. Raw numbers, not rounded: the table is for reanalysis."""
    outcome = review_def["primary_outcome"]
    timepoint = next(o for o in review_def["outcomes"] if o["id"] == outcome)["timepoints"][0]["id"]
    main = next(a for a in pooled["analyses"] if a["outcome"] == outcome and a["timepoint"] == timepoint)
    eff = effects[(effects.outcome == outcome) & (effects.timepoint == timepoint)]
    eff = eff[["trial_id", "n_int", "n_ctl", "measure", "yi", "ci_lower", "ci_upper", "source"]].rename(columns={
        "n_int": "n_intervention", "n_ctl": "n_comparator", "yi": "estimate"})
    weights = pd.DataFrame([(t["trial_id"], t["weight_pct"]) for t in main.get("trials", [])],
                           columns=["trial_id", "weight_pct"])
    moderators = [m["name"] for m in review_def.get("moderators", []) if m["name"] in trials and m["name"] != "year"]
    out = (trials[["trial_id", "label", "year", *moderators]]
           .merge(eff, on="trial_id", how="left", validate="one_to_one")
           .merge(weights, on="trial_id", how="left", validate="one_to_one"))
    out.insert(3, "outcome", outcome)
    out.insert(4, "timepoint", timepoint)
    return out.sort_values(["label", "trial_id"], kind="stable").reset_index(drop=True)


def compact_print_section(review_def: dict, pooled: dict, trial_rows: list, config: dict) -> dict | None:
    """None when the PDF prints every per-trial table (reviews up to ``report.compact_print_above``
    trials); otherwise what the compact appendix prints: the heaviest trials' rows (as the full
    table formats them) and where the rest is."""
    limit = int(section("report", config.get("report"))["compact_print_above"])
    if len(trial_rows) <= limit:
        return None
    outcome = review_def["primary_outcome"]
    timepoint = next(o for o in review_def["outcomes"] if o["id"] == outcome)["timepoints"][0]["id"]
    main = next(a for a in pooled["analyses"] if a["outcome"] == outcome and a["timepoint"] == timepoint)
    heaviest = sorted(main.get("trials", []), key=lambda t: (-t["weight_pct"], t["label"]))[:COMPACT_TOP]
    by_label = {r["label"]: r for r in trial_rows}
    rows = [by_label[t["label"]] for t in heaviest if t["label"] in by_label]
    share = sum(t["weight_pct"] for t in heaviest if t["label"] in by_label)
    return {"limit": limit, "trials": len(trial_rows), "rows": rows, "csv": CSV_NAME,
            "weight_share": f"{share:.0f}%"}
