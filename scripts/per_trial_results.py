"""Rule per_trial_results: the analysis the report leads with, per trial, as one tidy CSV."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import pandas as pd

from livingmeta.files import read_json
from livingmeta.pipeline.contracts import write_stage_csv
from livingmeta.formatting import plural
from livingmeta.pipeline.rule import rule_context
from livingmeta.report.per_trial import per_trial_results

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
table = per_trial_results(pd.read_csv(sm.input.trials), pd.read_csv(sm.input.effects), read_json(sm.input.pooled),
                          ctx.review_def)
write_stage_csv(sm.output[0], table, "per_trial_table")
ctx.line(f"{plural(len(table), 'trial')} of {table.outcome.iloc[0] if len(table) else 'no analysis'}, "
         f"{int((table.not_estimable == '').sum())} with an estimate -> {sm.output[0]}")
