"""Rule moderators: subgroup analyses and meta-regressions on the primary outcome."""
import pandas as pd

from livingmeta.pipeline.analysis import moderator_analyses
from livingmeta.files import stage_line, write_json
from livingmeta.pipeline.records import load_yaml

sm = snakemake  # noqa: F821
review_def, _ = load_yaml(sm.input.review)
result = moderator_analyses(pd.read_csv(sm.input.effects), pd.read_csv(sm.input.trials), review_def,
                            dict(sm.params.pooling), dict(sm.params.moderators))
write_json(sm.output[0], result)
done = [a["name"] for a in result["analyses"] if "not_analysed_reason" not in a]
stage_line("moderators", f"{len(done)} moderator analyses ({', '.join(done)}) -> {sm.output[0]}", sm.log[0])
