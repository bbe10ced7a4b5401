"""Rule bayes: Bayesian random-effects meta-analysis of the primary outcome."""
import pandas as pd

from livingmeta.files import stage_line, write_json
from livingmeta.pipeline.records import load_yaml
from livingmeta.pipeline.settled import bayes_analysis

sm = snakemake  # noqa: F821
review_def, _ = load_yaml(sm.input.review)
result = bayes_analysis(pd.read_csv(sm.input.effects), review_def, dict(sm.params.bayes))
write_json(sm.output[0], result)
m = result.get("model")
stage_line("bayes", (f"mu {m['mu_median']:.2f} [{m['mu_ci_lower']:.2f}, {m['mu_ci_upper']:.2f}], tau {m['tau_median']:.2f}"
                     if m else result["not_analysed_reason"]) + f" -> {sm.output[0]}", sm.log[0])
