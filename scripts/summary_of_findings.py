"""Rule summary_of_findings: GRADE ratings and certainty per pooled outcome -> sof.json."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import pandas as pd

from livingmeta.files import read_json
from livingmeta.report.grade import summary_of_findings
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
sof = summary_of_findings(review_def, read_json(sm.input.pooled), pd.read_csv(sm.input.effects),
                          read_json(sm.input.rob), dict(sm.params.config))
write_stage_json(sm.output[0], sof, "sof")
ctx.line("; ".join(f"{r['outcome']}/{r['timepoint']}: {r['level']}" for r in sof["rows"])
         + f" -> {sm.output[0]}")
