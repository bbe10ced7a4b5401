"""Rule cumulative: cumulative meta-analysis by publication year."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import pandas as pd

from livingmeta.pipeline.analysis import cumulative_by_year
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.formatting import plural
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
result = cumulative_by_year(pd.read_csv(sm.input.effects), review_def, dict(sm.params.pooling))
write_stage_json(sm.output[0], result, "cumulative")
ctx.line(f"{plural(len(result['rows']), 'cumulative step')} -> {sm.output[0]}")
