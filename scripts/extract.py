"""Rule extract: validate the trial records, write the tidy tables."""
import sys

from livingmeta.files import stage_line, write_csv
from livingmeta.pipeline.records import RecordError, load_review
from livingmeta.pipeline.tables import arm_table, published_table, trial_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
try:
    review = load_review(sm.params.review_dir)
except RecordError as err:
    stage_line("extract", str(err), sm.log[0])
    sys.exit(1)
for warning in review.warnings:
    stage_line("extract", f"WARNING: {warning}", sm.log[0])
arms = arm_table(review)
write_csv(sm.output.arms, arms)
write_csv(sm.output.trials, trial_table(review))
write_csv(sm.output.published, published_table(review))
stage_line("extract", f"{len(review.trials)} trial records valid; {len(arms)} arm rows -> {sm.output.arms}", sm.log[0])
