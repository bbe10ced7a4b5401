"""Rule cumulative_plot: the estimate as trials accrued."""
from livingmeta.figures import cumulative_plot, save_figure
from livingmeta.files import read_json, stage_line

sm = snakemake  # noqa: F821
cum = read_json(sm.input.cumulative)
save_figure(cumulative_plot(cum["rows"]), sm.output.svg[: -len(".svg")])
stage_line("cumulative_plot", f"{len(cum['rows'])} steps -> {sm.output.svg}", sm.log[0])
