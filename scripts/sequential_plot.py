"""Rule sequential_plot: the trial sequential analysis figure."""
from livingmeta.report.figures import save_figure
from livingmeta.files import read_json, stage_line
from livingmeta.pipeline.records import load_yaml
from livingmeta.report.settled_figure import sequential_plot

sm = snakemake  # noqa: F821
review_def, _ = load_yaml(sm.input.review)
arms = review_def["arms"]
seq = read_json(sm.input.sequential)
save_figure(sequential_plot(seq, favours=(f"Favours {arms['intervention']}", f"Favours {arms['control']}")),
            sm.output.svg[: -len(".svg")])
stage_line("sequential_plot", f"{len(seq.get('looks', []))} looks -> {sm.output.svg}", sm.log[0])
