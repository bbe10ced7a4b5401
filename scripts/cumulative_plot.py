"""Rule cumulative_plot: the estimate as trials accrued."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

from livingmeta.report.figures import cumulative_plot, save_figure
from livingmeta.files import read_json
from livingmeta.report.review_words import figure_style
from livingmeta.formatting import plural
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
cum = read_json(sm.input.cumulative)
review_def = ctx.review_def
outcome = next(o for o in review_def["outcomes"] if o["id"] == cum["outcome"])
save_figure(cumulative_plot(cum["rows"], measure=outcome["effect_measure"],
                            favours=figure_style(review_def, outcome["direction"])["favours"],
                            level=cum["settings"]["level"]),
            sm.output.svg[: -len(".svg")])
ctx.line(f"{plural(len(cum['rows']), 'step')} -> {sm.output.svg}")
