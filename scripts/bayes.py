"""Rule bayes: Bayesian random-effects meta-analysis of the primary outcome."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import pandas as pd

from livingmeta.pipeline.settled import bayes_analysis
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
result = bayes_analysis(pd.read_csv(sm.input.effects), review_def, dict(sm.params.bayes))
write_stage_json(sm.output[0], result, "bayes")
m = result.get("model")
ctx.line((f"mu {m['mu_median']:.2f} [{m['mu_ci_lower']:.2f}, {m['mu_ci_upper']:.2f}], tau {m['tau_median']:.2f}"
         if m else result["not_analysed_reason"]) + f" -> {sm.output[0]}")
