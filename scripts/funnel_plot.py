"""Rule funnel_plot: contour-enhanced funnel plot."""
from livingmeta.figures import funnel_plot, save_figure
from livingmeta.files import read_json, stage_line

sm = snakemake  # noqa: F821
sse = read_json(sm.input.small_study_effects)
fig = funnel_plot(sse["funnel"], filled=sse.get("trim_and_fill"))
save_figure(fig, sm.output.svg[: -len(".svg")])
stage_line("funnel_plot", f"{len(sse['funnel']['yi'])} trials -> {sm.output.svg}", sm.log[0])
