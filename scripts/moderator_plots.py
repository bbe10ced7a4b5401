"""Rule moderator_plots: a subgroup forest or bubble plot per analysed moderator."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

from pathlib import Path

from livingmeta.report.figures import bubble_plot, save_figure, subgroup_forest
from livingmeta.files import read_json
from livingmeta.report.review_words import figure_style
from livingmeta.formatting import plural_named
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
mods = read_json(sm.input.moderators)
pooled = read_json(sm.input.pooled)
overall = next(a for a in pooled["analyses"] if a["outcome"] == mods["outcome"] and a["timepoint"] == mods["timepoint"])
review_def = ctx.review_def
outcome = next(o for o in review_def["outcomes"] if o["id"] == mods["outcome"])
style = figure_style(review_def, outcome["direction"])
out = Path(sm.output[0])
out.mkdir(parents=True, exist_ok=True)
made = []
for a in mods["analyses"]:
    if "not_analysed_reason" in a:
        continue
    fig = (subgroup_forest(a, overall["model"], measure=overall["measure"], favours=style["favours"])
           if a["type"] == "categorical" else bubble_plot(a, measure=overall["measure"], contrast=style["contrast"]))
    save_figure(fig, out / a["name"])
    made.append(a["name"])
ctx.line(f"{plural_named(made, 'figure')} -> {out}")
