"""Rule small_study_effects: Egger, Begg, trim-and-fill, funnel data."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

import pandas as pd

from livingmeta.pipeline.analysis import small_study_analysis
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.pipeline.rule import rule_context
from livingmeta.formatting import p_value, plural

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
result = small_study_analysis(pd.read_csv(sm.input.effects), review_def, dict(sm.params.pooling),
                              dict(sm.params.small_study_effects))
write_stage_json(sm.output[0], result, "small_study_effects")
msg = (f"Egger's test {p_value(result['egger']['pval'])}, Begg's test {p_value(result['begg']['pval'])}, "
       f"trim-and-fill imputed {plural(result['trim_and_fill']['k0'], 'trial')}") if "egger" in result \
    else result.get("not_analysed_reason")
ctx.line(f"{msg} -> {sm.output[0]}")
