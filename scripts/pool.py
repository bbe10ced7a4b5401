"""Rule pool: meta-analysis of every outcome and timepoint."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import pandas as pd

from livingmeta.pipeline.analysis import pool_review
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
pooled = pool_review(pd.read_csv(sm.input.effects), review_def, dict(sm.params.pooling),
                     all_effects=pd.read_csv(sm.input.effects_all))
write_stage_json(sm.output[0], pooled, "pooled")
first = next(a for a in pooled["analyses"] if "model" in a)
m = first["model"]
ctx.line(f"{len(pooled['analyses'])} analyses; {first['outcome']}/{first['timepoint']}: "
         f"{first['measure']} {m['estimate']:.2f} [{m['ci_lower']:.2f}, {m['ci_upper']:.2f}], k = {first['k']} "
         f"({m['method']}, {m['test']}) -> {sm.output[0]}")
