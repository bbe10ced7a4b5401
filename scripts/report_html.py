"""Rule report_html: build the report context from the analysis files and render it twice: the
HTML that WeasyPrint prints (report_print.html) and the self-contained web edition (report.html)."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import os
from pathlib import Path

import pandas as pd
import yaml

from livingmeta.files import atomic_write_bytes, read_json
from livingmeta.report.context import TEMPLATE_DIR, attachments_of, build_context, render_html
from livingmeta.report.web import data_downloads, inline_figures
from livingmeta.report.settled import settled_inputs
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.formatting import plural
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
review_dir = Path(sm.input.review).parent
external = None
ext = review_def.get("external_evidence")
if ext:
    external = yaml.safe_load((review_dir / ext["file"]).read_text())[ext["key"]]
out_dir = Path(sm.output.html).parent
pages = sorted(Path(sm.input.forest).glob("page_*.svg"), key=lambda p: int(p.stem.split("_")[1]))
figures = {"cumulative": Path(sm.input.cumulative_plot).relative_to(out_dir).as_posix(),
           "forest_pages": [p.relative_to(out_dir).as_posix() for p in pages],
           "funnel": Path(sm.input.funnel).relative_to(out_dir).as_posix()}
for svg in Path(sm.input.forest_analyses).glob("analysis_*_page_*.svg"):  # every other analysis: analysis:<n>:<page>
    _, n, _, page = svg.stem.split("_")
    figures[f"analysis:{n}:{page}"] = svg.relative_to(out_dir).as_posix()
if (Path(sm.input.forest) / "overview.svg").is_file():  # a paged forest plot's one-page overview
    figures["forest_overview"] = (Path(sm.input.forest) / "overview.svg").relative_to(out_dir).as_posix()
for svg in sorted(Path(sm.input.moderator_plots).glob("*.svg")):
    figures[f"moderator:{svg.stem}"] = svg.relative_to(out_dir).as_posix()
for svg in sorted(Path(sm.input.rob_figures).glob("*.svg")):
    figures[f"rob:{svg.stem}"] = svg.relative_to(out_dir).as_posix()
for svg in sorted(Path(sm.input.prisma_figures).glob("edition_*.svg")):
    figures[f"prisma:{svg.stem.split('_')[1]}"] = svg.relative_to(out_dir).as_posix()
history = read_json(sm.input.history)
settled = settled_inputs(sm.input.bayes, sm.input.sequential, history,
                         Path(sm.input.sequential_plot).relative_to(out_dir).as_posix())
figures["sequential"] = settled["figure"]  # so the web edition inlines it too
edition = history["this_edition"]  # its id, date, fingerprint and sign-off
epoch = edition["source_date_epoch"]
context = build_context(
    review_def=review_def, trials=pd.read_csv(sm.input.trials), effects=pd.read_csv(sm.input.effects),
    pooled=read_json(sm.input.pooled), moderators=read_json(sm.input.moderators),
    small_study=read_json(sm.input.small_study_effects), config=dict(sm.params.config), external=external,
    edition=edition,
    changes=read_json(sm.input.changes), figures=figures, settled=settled,
    appraisal={"rob": read_json(sm.input.rob), "sof": read_json(sm.input.sof), "prisma": read_json(sm.input.prisma)},
    fonts_dir=os.path.relpath(TEMPLATE_DIR / "fonts", out_dir.resolve()).replace(os.sep, "/"))
context["revman_reproduction"] = read_json(sm.input.revman)["reproduction"]
context["source_date_epoch"] = epoch  # report_pdf stamps the PDF with it
write_stage_json(sm.output.context, context, "report_context")
atomic_write_bytes(sm.output.print_html, render_html(context).encode("utf-8"))
downloads = data_downloads([(path, name, media, desc) for path, (name, media, desc)
                            in zip((sm.input.arms, sm.input.pooled, sm.input.per_trial, sm.input.revman_csv),
                                   attachments_of(context))])
atomic_write_bytes(sm.output.html, render_html(context, web=True, inline_svgs=inline_figures(figures, out_dir),
                                               downloads=downloads).encode("utf-8"))
ctx.line(f"{plural(len(context['trial_rows']), 'trial')}, {plural(len(figures), 'figure')}, edition {edition['id']} -> {sm.output.html}")
