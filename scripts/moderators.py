"""Rule moderators: subgroup analyses and meta-regressions on the primary outcome."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import pandas as pd

from livingmeta.pipeline.analysis import moderator_analyses
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.formatting import plural_named
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
result = moderator_analyses(pd.read_csv(sm.input.effects), pd.read_csv(sm.input.trials), review_def,
                            dict(sm.params.pooling), dict(sm.params.moderators))
write_stage_json(sm.output[0], result, "moderators")
done = [a["name"] for a in result["analyses"] if "not_analysed_reason" not in a]
ctx.line(f"{plural_named(done, 'moderator analysis', 'moderator analyses')} -> {sm.output[0]}")
