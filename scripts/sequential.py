"""Rule sequential: trial sequential analysis of the primary outcome across years and editions."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import pandas as pd

from livingmeta.files import read_json
from livingmeta.pipeline.settled import CID_FIELD, important_difference, sequential_analysis
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.report.history import sequential_looks
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
result = sequential_analysis(pd.read_csv(sm.input.effects), review_def, dict(sm.params.sequential),
                             dict(sm.params.pooling), edition_looks=sequential_looks(read_json(sm.input.history)))
write_stage_json(sm.output[0], result, "sequential")
primary = next(o for o in review_def["outcomes"] if o["id"] == review_def["primary_outcome"])
hint = f" (set outcomes[].{CID_FIELD} in review.yaml)" if important_difference(primary) is None else ""
ctx.line((f"{result['percent_of_ris']:.0f}% of {result['ris']['adjusted']:,} participants, {result['status']}"
         if "ris" in result else result["not_analysed_reason"] + hint) + f" -> {sm.output[0]}")
