"""Rule funnel_plot: contour-enhanced funnel plot."""
from livingmeta.report.figures import funnel_plot, save_figure
from livingmeta.files import read_json, stage_line
from livingmeta.pipeline.records import load_yaml
from livingmeta.report.review_words import figure_style

sm = snakemake  # noqa: F821
sse = read_json(sm.input.small_study_effects)
review_def, _ = load_yaml(sm.input.review)
outcome = next(o for o in review_def["outcomes"] if o["id"] == sse["outcome"])
fig = funnel_plot(sse["funnel"], measure=outcome["effect_measure"], filled=sse.get("trim_and_fill"), contrast=figure_style(review_def, outcome["direction"])["contrast"])
save_figure(fig, sm.output.svg[: -len(".svg")])
stage_line("funnel_plot", f"{len(sse['funnel']['yi'])} trials -> {sm.output.svg}", sm.log[0])
