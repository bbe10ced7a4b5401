"""Rule risk_of_bias: judgements from the trial records, low-risk refit and subgroups -> rob.json."""
import pandas as pd

from livingmeta.pipeline.appraisal import risk_of_bias_review
from livingmeta.files import read_json, stage_line, write_json
from livingmeta.pipeline.records import load_review

sm = snakemake  # noqa: F821
review = load_review(sm.params.review_dir)
rob = risk_of_bias_review(review.definition, review.trials, pd.read_csv(sm.input.effects), read_json(sm.input.pooled),
                          dict(sm.params.pooling), dict(sm.params.appraisal), dict(sm.params.moderators))
write_json(sm.output[0], rob)
first = rob["analyses"][0] if rob["analyses"] else None
stage_line("risk_of_bias", (f"{rob['k_with_assessment']} of {rob['k_records']} records assessed; "
                            + (f"{first['outcome']}/{first['timepoint']}: {first['low_risk']['k']} trials at low risk"
                               if first else "no pooled analysis")) + f" -> {sm.output[0]}", sm.log[0])
