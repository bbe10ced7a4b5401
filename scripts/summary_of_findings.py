"""Rule summary_of_findings: GRADE ratings and certainty per pooled outcome -> sof.json."""
import pandas as pd

from livingmeta.files import read_json, stage_line, write_json
from livingmeta.report.grade import summary_of_findings
from livingmeta.pipeline.records import load_yaml

sm = snakemake  # noqa: F821
review_def, _ = load_yaml(sm.input.review)
sof = summary_of_findings(review_def, read_json(sm.input.pooled), pd.read_csv(sm.input.effects),
                          read_json(sm.input.rob), dict(sm.params.config))
write_json(sm.output[0], sof)
stage_line("summary_of_findings", "; ".join(f"{r['outcome']}/{r['timepoint']}: {r['level']}" for r in sof["rows"])
           + f" -> {sm.output[0]}", sm.log[0])
