"""Rule pool: meta-analysis of every outcome and timepoint."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import pandas as pd

from livingmeta.pipeline.analysis import pool_review
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.pipeline.rule import rule_context
from livingmeta.report.wording import effect_text, plural

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
pooled = pool_review(pd.read_csv(sm.input.effects), review_def, dict(sm.params.pooling),
                     all_effects=pd.read_csv(sm.input.effects_all))
write_stage_json(sm.output[0], pooled, "pooled")
first = next(a for a in pooled["analyses"] if "model" in a)
m = first["model"]
ctx.line(f"{plural(len(pooled['analyses']), 'analysis', 'analyses')}; {first['outcome']}/{first['timepoint']}: "
         f"{effect_text(first['measure'], m['estimate'], m['ci_lower'], m['ci_upper'], m['level'])}, "
         f"{plural(first['k'], 'trial')} ({m['method']}, {m['test']}) -> {sm.output[0]}")
