"""Rule risk_of_bias: judgements from the trial records, low-risk refit and subgroups -> rob.json."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import pandas as pd

from livingmeta.pipeline.appraisal import risk_of_bias_review
from livingmeta.files import read_json
from livingmeta.pipeline.records import load_review
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.formatting import plural
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review = load_review(sm.params.review_dir)
rob = risk_of_bias_review(review.definition, review.trials, pd.read_csv(sm.input.effects), read_json(sm.input.pooled),
                          dict(sm.params.pooling), dict(sm.params.appraisal), dict(sm.params.moderators))
write_stage_json(sm.output[0], rob, "rob")
first = rob["analyses"][0] if rob["analyses"] else None
ctx.line((f"{rob['k_with_assessment']} of {rob['k_records']} records assessed; "
         + (f"{first['outcome']}/{first['timepoint']}: {plural(first['low_risk']['k'], 'trial')} at low risk"
         if first else "no pooled analysis")) + f" -> {sm.output[0]}")
