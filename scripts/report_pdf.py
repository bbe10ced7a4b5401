"""Rule report_pdf: HTML to PDF with WeasyPrint (local project files only)."""
from pathlib import Path

from livingmeta.files import stage_line
from livingmeta.report import render_pdf

sm = snakemake  # noqa: F821
refused = render_pdf(Path(sm.input.html), Path(sm.output[0]))
for url in refused:
    stage_line("report_pdf", f"WARNING: refused to fetch {url!r} (only files of this build are embedded)", sm.log[0])
stage_line("report_pdf", f"{Path(sm.output[0]).stat().st_size / 1024:.0f} kB -> {sm.output[0]}", sm.log[0])
