"""Rule report_pdf: HTML to a tagged, archival PDF/A-3a with WeasyPrint (local project files only), with
the trial data and the fitted results attached inside it."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import os
from pathlib import Path

from livingmeta.files import read_json
from livingmeta.report.pdf import attachments_of, render_pdf
from livingmeta.formatting import plural
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
context = read_json(sm.input.context)
# Fonts' subset timestamps and the PDF's dates come from the inputs, never the clock.
os.environ["SOURCE_DATE_EPOCH"] = str(context["source_date_epoch"])
attachments = [(Path(path), name, desc) for path, (name, _, desc)
               in zip((sm.input.trial_data, sm.input.results, sm.input.per_trial, sm.input.revman_csv), attachments_of(context))]
# a resource the renderer refuses (a figure would print blank) stops the rule, naming the figure
render_pdf(Path(sm.input.html), Path(sm.output[0]), attachments=attachments, edition_date=context["edition"]["date"])
ctx.line(f"tagged PDF/A-3a, {Path(sm.output[0]).stat().st_size / 1024:.0f} kB, {plural(len(attachments), 'attachment')} "
         f"-> {sm.output[0]}")
