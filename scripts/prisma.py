"""Rule prisma: validate review.yaml's search_flow and draw one PRISMA 2020 diagram per edition."""
import sys
from pathlib import Path

from livingmeta.report.figures import save_figure
from livingmeta.files import stage_line, write_json
from livingmeta.pipeline.prisma import FlowError, prisma_summary
from livingmeta.report.prisma_figure import flow_diagram
from livingmeta.pipeline.records import load_yaml

sm = snakemake  # noqa: F821
review_def, _ = load_yaml(sm.input.review)
try:
    summary = prisma_summary(review_def, sm.input.review)
except FlowError as err:
    stage_line("prisma", str(err), sm.log[0])
    sys.exit(1)
out = Path(sm.output.figures)
out.mkdir(parents=True, exist_ok=True)
for ed in summary["editions"]:
    save_figure(flow_diagram(review_def["search_flow"], ed["index"]), out / f"edition_{ed['index'] + 1}", png=False)
write_json(sm.output.json, summary)
stage_line("prisma", f"{len(summary['editions'])} flow diagram(s)" if summary["editions"] else summary["not_drawn_reason"],
           sm.log[0])
