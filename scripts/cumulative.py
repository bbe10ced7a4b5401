"""Rule cumulative: cumulative meta-analysis by publication year."""
import pandas as pd

from livingmeta.pipeline.analysis import cumulative_by_year
from livingmeta.files import stage_line, write_json
from livingmeta.pipeline.records import load_yaml

sm = snakemake  # noqa: F821
review_def, _ = load_yaml(sm.input.review)
result = cumulative_by_year(pd.read_csv(sm.input.effects), review_def, dict(sm.params.pooling))
write_json(sm.output[0], result)
stage_line("cumulative", f"{len(result['rows'])} cumulative steps -> {sm.output[0]}", sm.log[0])
