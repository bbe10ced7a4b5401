"""Rule prisma: validate the PRISMA counts (review.yaml's search_flow, then the surveillance ledger's
searches where there is one) and draw one PRISMA 2020 diagram per edition."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

from pathlib import Path

from livingmeta.report.figures import save_figure
from livingmeta.formatting import plural
from livingmeta.pipeline.prisma import FlowError, held_problems, prisma_summary
from livingmeta.surveillance.flow import combined_flow
from livingmeta.report.prisma_figure import flow_diagram
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
entries, _ = combined_flow(Path(sm.input.review).parent, review_def)
held = held_problems(entries, len(sm.input.trials), sm.input.review)
if held:
    raise FlowError(held[0])
summary = prisma_summary(review_def, sm.input.review, entries)  # a FlowError stops the rule with its one-line message
out = Path(sm.output.figures)
out.mkdir(parents=True, exist_ok=True)
for ed in summary["editions"]:
    save_figure(flow_diagram(entries, ed["index"]), out / f"edition_{ed['index'] + 1}")
write_stage_json(sm.output.json, summary, "prisma")
ctx.line(plural(len(summary["editions"]), "flow diagram") if summary["editions"]
         else f"{summary['not_drawn_reason']} (review.yaml has no search_flow and the review no search ledger)")
