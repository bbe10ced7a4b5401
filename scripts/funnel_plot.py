"""Rule funnel_plot: contour-enhanced funnel plot."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

from livingmeta.report.figures import funnel_plot, plt, save_figure
from livingmeta.files import read_json
from livingmeta.report.review_words import figure_style
from livingmeta.formatting import plural
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
sse = read_json(sm.input.small_study_effects)
review_def = ctx.review_def
outcome = next(o for o in review_def["outcomes"] if o["id"] == sse["outcome"])
if "funnel" not in sse:  # too few trials: the report leaves the figure out and says why
    save_figure(plt.figure(figsize=(1, 1)), sm.output.svg[: -len(".svg")])  # the rule's output; not printed
    ctx.line(f"not drawn ({sse['not_analysed_reason']}) -> {sm.output.svg}")
else:
    fig = funnel_plot(sse["funnel"], measure=outcome["effect_measure"], filled=sse.get("trim_and_fill"),
                      contrast=figure_style(review_def, outcome["direction"])["contrast"])
    save_figure(fig, sm.output.svg[: -len(".svg")])
    ctx.line(f"{plural(len(sse['funnel']['yi']), 'trial')} -> {sm.output.svg}")
