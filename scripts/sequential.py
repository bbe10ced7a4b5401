"""Rule sequential: trial sequential analysis of the primary outcome across years and editions."""
import pandas as pd

from livingmeta.files import stage_line, write_json
from livingmeta.pipeline.records import load_yaml
from livingmeta.pipeline.settled import sequential_analysis

sm = snakemake  # noqa: F821
review_def, _ = load_yaml(sm.input.review)
result = sequential_analysis(pd.read_csv(sm.input.effects), review_def, dict(sm.params.sequential),
                             dict(sm.params.pooling), editions_dir=sm.params.editions_dir)
write_json(sm.output[0], result)
stage_line("sequential", (f"{result['percent_of_ris']:.0f}% of {result['ris']['adjusted']:,} participants, {result['status']}"
                          if "ris" in result else result["not_analysed_reason"]) + f" -> {sm.output[0]}", sm.log[0])
