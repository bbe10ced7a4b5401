"""Rule risk_of_bias_figures: traffic-light grid and weighted summary per tool, forest plot with
the criterion judgements, and the subgroup plot by risk of bias (primary analysis)."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

from pathlib import Path

import pandas as pd

from livingmeta.pipeline.analysis import primary_analysis_rows
from livingmeta.pipeline.appraisal import find_analysis
from livingmeta.report.figures import forest_plot_pages, save_figure, subgroup_forest
from livingmeta.files import read_json
from livingmeta.report.review_words import figure_style
from livingmeta.report.rob_figures import forest_rob_columns, summary_plot, traffic_light_pages
from livingmeta.report.review_words import figure_style
from livingmeta.pipeline.config_check import section
from livingmeta.formatting import plural
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
rob = read_json(sm.input.rob)
out = Path(sm.output[0])
out.mkdir(parents=True, exist_ok=True)
made = []
outcome, tp, rows = primary_analysis_rows(pd.read_csv(sm.input.effects), review_def)
a = find_analysis(rob, outcome["id"], tp["id"])
cfg = section("appraisal", sm.params.appraisal)
if a is not None:
    for tool in a["tools"]:
        for i, fig in enumerate(traffic_light_pages(a["trials"], tool, rows_per_page=cfg["traffic_light_rows_per_page"],
                                                    compress_above=cfg["traffic_light_compress_above"]), start=1):
            made += save_figure(fig, out / f"traffic_light_{tool}_{i}")
        if a["summary"][tool]:
            made += save_figure(summary_plot(a["summary"][tool], tool), out / f"summary_{tool}")
    entry = next(x for x in read_json(sm.input.pooled)["analyses"] if x["outcome"] == outcome["id"] and x["timepoint"] == tp["id"])
    rows["weight_pct"] = rows.trial_id.map({t["trial_id"]: t["weight_pct"] for t in entry["trials"]})
    per_trial, headings = forest_rob_columns(a["trials"], rob["criterion"])
    for j in range(len(headings)):
        rows[f"rob_{j}"] = rows.trial_id.map(lambda t, j=j: per_trial[t][j])
    words = figure_style(review_def, outcome["direction"], outcome)  # the review's words, never its arm keys
    for i, fig in enumerate(forest_plot_pages(rows, entry["model"], measure=entry["measure"], ratio=entry.get("ratio", False),
                                              arm_labels=words["arm_labels"], favours=words["favours"],
                                              rob_headings=headings), start=1):
        made += save_figure(fig, out / f"forest_rob_{i}")
    if "levels" in a["moderator"]:
        made += save_figure(subgroup_forest(a["moderator"], entry["model"], measure=entry["measure"],
                                            favours=words["favours"]), out / "subgroups")
ctx.line(f"{plural(len(made), 'figure')} -> {out}")
