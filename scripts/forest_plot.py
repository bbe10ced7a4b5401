"""Rule forest_plot: RevMan-style forest plot of the primary outcome, split into pages (the report)
and forest_plot.svg (the whole plot when it fits one page, else its first page)."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import shutil
from pathlib import Path

import pandas as pd

from livingmeta.pipeline.analysis import primary_analysis_rows
from livingmeta.report.figures import FOREST_ROWS_PER_PAGE, forest_overview, forest_plot, forest_plot_pages, save_figure
from livingmeta.files import read_json
from livingmeta.report.review_words import figure_style
from livingmeta.pipeline.rule import rule_context
from livingmeta.formatting import plural

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
outcome, tp, rows = primary_analysis_rows(pd.read_csv(sm.input.effects), review_def)
pooled = read_json(sm.input.pooled)
entry = next(a for a in pooled["analyses"] if a["outcome"] == outcome["id"] and a["timepoint"] == tp["id"])
rows["weight_pct"] = rows.trial_id.map({t["trial_id"]: t["weight_pct"] for t in entry["trials"]})
words = figure_style(review_def, outcome["direction"])
style = dict(measure=entry["measure"], ratio=entry.get("ratio", False), level=entry["model"]["level"],
             arm_labels=words["arm_labels"], favours=words["favours"])
pages = Path(sm.output.pages)
pages.mkdir(parents=True, exist_ok=True)
if len(rows) <= FOREST_ROWS_PER_PAGE:
    # One page: the whole plot is the page; draw it once (the PDF uses the SVG).
    save_figure(forest_plot(rows, entry["model"], **style), sm.output.svg[: -len(".svg")])
    shutil.copyfile(sm.output.svg, pages / "page_1.svg")
    n_pages = 1
else:
    # Several pages: forest_plot.svg is the first page. A one-piece plot of hundreds of rows
    # (80 inches tall at 480) took half this rule's time, and the report never used it.
    figs = forest_plot_pages(rows, entry["model"], **style)
    for i, fig in enumerate(figs, start=1):
        save_figure(fig, pages / f"page_{i}")
    shutil.copyfile(pages / "page_1.svg", sm.output.svg)
    # one page for the PDF of a review too large to print row by row (report.compact_print_above)
    save_figure(forest_overview(rows, entry["model"], **style), pages / "overview")
    n_pages = len(figs)
ctx.line(f"{plural(len(rows), 'trial')} on {plural(n_pages, 'page')} -> {sm.output.svg}")
