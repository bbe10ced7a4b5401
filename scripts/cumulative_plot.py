"""Rule cumulative_plot: the estimate as trials accrued."""
from livingmeta.report.figures import cumulative_plot, save_figure
from livingmeta.files import read_json, stage_line
from livingmeta.pipeline.records import load_yaml
from livingmeta.report.review_words import figure_style

sm = snakemake  # noqa: F821
cum = read_json(sm.input.cumulative)
review_def, _ = load_yaml(sm.input.review)
outcome = next(o for o in review_def["outcomes"] if o["id"] == cum["outcome"])
level = cum["rows"][0].get("level", sm.config.get("pooling", {}).get("level", 0.95)) if cum["rows"] else 0.95
save_figure(cumulative_plot(cum["rows"], measure=outcome["effect_measure"], favours=figure_style(review_def, outcome["direction"])["favours"], level=level),
            sm.output.svg[: -len(".svg")])
stage_line("cumulative_plot", f"{len(cum['rows'])} steps -> {sm.output.svg}", sm.log[0])
