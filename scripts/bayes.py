"""Rule bayes: Bayesian random-effects meta-analysis of the primary outcome."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import pandas as pd

from livingmeta.pipeline.settled import bayes_analysis
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.pipeline.rule import rule_context
from livingmeta.report.wording import effect_numbers, fmt, pct

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
result = bayes_analysis(pd.read_csv(sm.input.effects), review_def, dict(sm.params.bayes))
write_stage_json(sm.output[0], result, "bayes")
m = result.get("model")
if m:
    median, interval = effect_numbers(result["measure"], m["mu_median"], m["mu_ci_lower"], m["mu_ci_upper"])
    msg = f"average {result['measure']} {median} ({pct(m['level'])} credible interval {interval}), \u03c4 {fmt(m['tau_median'])}"
ctx.line((msg if m else result["not_analysed_reason"]) + f" -> {sm.output[0]}")
