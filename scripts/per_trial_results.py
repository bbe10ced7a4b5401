"""Rule per_trial_results: the primary analysis per trial as one tidy CSV."""
import pandas as pd

from livingmeta.files import read_json, stage_line, write_csv
from livingmeta.report.per_trial import per_trial_results
from livingmeta.pipeline.records import load_yaml

sm = snakemake  # noqa: F821
review_def, _ = load_yaml(sm.input.review)
table = per_trial_results(pd.read_csv(sm.input.trials), pd.read_csv(sm.input.effects), read_json(sm.input.pooled),
                          review_def)
write_csv(sm.output[0], table)
stage_line("per_trial_results", f"{len(table)} trials, {int(table.estimate.notna().sum())} with an effect "
           f"-> {sm.output[0]}", sm.log[0])
