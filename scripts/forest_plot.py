"""Rule forest_plot: RevMan-style forest plots. The analysis the report leads with is split into
pages (forest_plot_pages/, forest_plot.svg its first page; a one-page overview when it has several);
every other analysis, in the review's order, is drawn in forest_analyses/ (analysis_<n>_page_<p>.svg,
n its position in pooled.json)."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import shutil
from pathlib import Path

import pandas as pd

from livingmeta.files import read_json
from livingmeta.pipeline.analysis import analysis_rows, estimable, primary_analysis
from livingmeta.pipeline.rule import rule_context
from livingmeta.report.figures import analysis_forest_pages, forest_overview, save_figure
from livingmeta.report.review_words import figure_style
from livingmeta.formatting import plural

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
effects = pd.read_csv(sm.input.effects)
pooled = read_json(sm.input.pooled)
outcomes = {o["id"]: o for o in review_def["outcomes"]}


def draw(entry):
    """The pages of one analysis' forest plot, with the outcome's own words."""
    outcome = outcomes[entry["outcome"]]
    words = figure_style(review_def, outcome["direction"], outcome)
    rows = analysis_rows(effects, entry["outcome"], entry["timepoint"], all_rows=True)
    return rows, analysis_forest_pages(rows, entry, measure=entry["measure"], arm_labels=words["arm_labels"],
                                       favours=words["favours"])


main = primary_analysis(review_def, pooled)
pages = Path(sm.output.pages)
pages.mkdir(parents=True, exist_ok=True)
rows, figs = draw(main)
for i, fig in enumerate(figs, start=1):
    save_figure(fig, pages / f"page_{i}")
shutil.copyfile(pages / "page_1.svg", sm.output.svg)
if len(figs) > 1:  # one page for the PDF of a review too large to print row by row (report.compact_print_above)
    shown = estimable(rows).copy()
    shown["weight_pct"] = shown.trial_id.map({t["trial_id"]: t["weight_pct"] for t in main["trials"]})
    words = figure_style(review_def, main["direction"], outcomes[main["outcome"]])
    save_figure(forest_overview(shown, main["model"], measure=main["measure"], level=main["model"]["level"],
                                favours=words["favours"]), pages / "overview")
others = Path(sm.output.analyses)
others.mkdir(parents=True, exist_ok=True)
drawn = 0
for n, entry in enumerate(pooled["analyses"], start=1):
    if entry is main or not entry.get("k_total"):
        continue
    for i, fig in enumerate(draw(entry)[1], start=1):
        save_figure(fig, others / f"analysis_{n}_page_{i}")
    drawn += 1
ctx.line(f"{main['outcome']}/{main['timepoint']}: {plural(len(rows), 'trial')} on {plural(len(figs), 'page')} -> "
         f"{sm.output.svg}; {plural(drawn, 'other analysis', 'other analyses')} -> {others}")
