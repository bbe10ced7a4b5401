"""Rule effect_sizes: one effect size and variance per trial, outcome and timepoint."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import pandas as pd

from livingmeta.pipeline.analysis import effect_size_table
from livingmeta.stats.dependent import dependent_rho, one_effect_per_trial
from livingmeta.pipeline.config_check import section
from livingmeta.pipeline.contracts import write_stage_csv
from livingmeta.formatting import plural
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
every = effect_size_table(pd.read_csv(sm.input.arms), review_def, dict(sm.params.effect_size), level=sm.params.level)
write_stage_csv(sm.output.all, every, "effects_table")
# a trial without an estimate for its measure (no events in either group, ...) is kept, shown and not pooled
has_effect = every.yi.notna()
table = pd.concat([one_effect_per_trial(every[has_effect], rho=dependent_rho(review_def), level=sm.params.level),
                   every[~has_effect]], ignore_index=True)
table = table.sort_values(["outcome", "timepoint", "label", "effect_id"], ignore_index=True)[every.columns]
write_stage_csv(sm.output[0], table, "effects_table")
ctx.line(f"{plural(len(every), 'effect size')}, {len(table)} after aggregating within trials ({', '.join(sorted(table.measure.unique()))}; "
         f"SMD variance {section('effect_size', sm.params.effect_size)['variance']}) -> {sm.output[0]}")
