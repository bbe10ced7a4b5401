"""Rule pool: meta-analysis of every outcome and timepoint."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import pandas as pd

from livingmeta.pipeline.analysis import pool_review, primary_analysis
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.pipeline.rule import rule_context
from livingmeta.report.wording import effect_text, plural

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
pooled = pool_review(pd.read_csv(sm.input.effects), review_def, dict(sm.params.pooling),
                     all_effects=pd.read_csv(sm.input.effects_all), effect_size_cfg=dict(sm.params.effect_size))
write_stage_json(sm.output[0], pooled, "pooled")
first = primary_analysis(review_def, pooled)
m = first["model"]
not_estimable = sum("model" not in a for a in pooled["analyses"])
ctx.line(f"{plural(len(pooled['analyses']), 'analysis', 'analyses')} ({not_estimable} not estimable); "
         f"{first['outcome']}/{first['timepoint']}: "
         f"{effect_text(first['measure'], m['estimate'], m['ci_lower'], m['ci_upper'], m['level'])}, "
         f"{plural(first['k'], 'trial')} ({m['method']}, {m['test']}) -> {sm.output[0]}")
