"""Rule sequential_plot: the trial sequential analysis figure."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

from livingmeta.report.figures import save_figure
from livingmeta.files import read_json
from livingmeta.report.settled_figure import sequential_plot
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
arms = review_def["arms"]
seq = read_json(sm.input.sequential)
save_figure(sequential_plot(seq, favours=(f"Favours {arms['intervention']}", f"Favours {arms['control']}")),
            sm.output.svg[: -len(".svg")])
ctx.line(f"{len(seq.get('looks', []))} looks -> {sm.output.svg}")
