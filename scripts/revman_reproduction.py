"""Rule revman_reproduction: an imported RevMan review's analyses recomputed and compared with RevMan's
stored totals -> revman_reproduction.json (the appendix's summary) and revman_reproduction.csv (every comparison)."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import pandas as pd

from livingmeta.pipeline import revman_reproduction as rr
from livingmeta.pipeline.contracts import write_stage_csv, write_stage_json
from livingmeta.formatting import plural
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
table = rr.table_for_review_dir(sm.params.review_dir, review_def)
section = rr.section_from_table(review_def, table) if table is not None else None
write_stage_json(sm.output.json, {"review": review_def["id"], "reproduction": section}, "revman_reproduction")
comparisons = pd.DataFrame(rr.comparison_rows(table or []), columns=rr.CSV_COLUMNS)
write_stage_csv(sm.output.csv, comparisons, "revman_reproduction_table")
if section is None:
    ctx.line(f"no RevMan totals in this review; nothing to reproduce -> {sm.output.json}")
else:
    s = section["summary"]
    ctx.line(f"{plural(s['analyses'], 'analysis', 'analyses')}: {s['reproduced']} reproduced, {s['not_estimable_in_both']} not estimable in "
             f"both, {s['differing']} differing, {s['not_stored']} without stored totals -> {sm.output.csv}")
