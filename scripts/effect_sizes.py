"""Rule effect_sizes: one effect size and variance per trial, outcome and timepoint."""
import pandas as pd

from livingmeta.pipeline.analysis import effect_size_table
from livingmeta.stats.dependent import dependent_rho, one_effect_per_trial
from livingmeta.files import stage_line, write_csv
from livingmeta.pipeline.records import load_yaml

sm = snakemake  # noqa: F821
review_def, _ = load_yaml(sm.input.review)
every = effect_size_table(pd.read_csv(sm.input.arms), review_def, dict(sm.params.effect_size), level=sm.params.level)
write_csv(sm.output.all, every)
table = one_effect_per_trial(every, rho=dependent_rho(review_def), level=sm.params.level)
write_csv(sm.output[0], table)
stage_line("effect_sizes", f"{len(every)} effect sizes, {len(table)} after aggregating within trials ({', '.join(sorted(table.measure.unique()))}; "
           f"SMD variance {sm.params.effect_size.get('variance', 'LS')}) -> {sm.output[0]}", sm.log[0])
