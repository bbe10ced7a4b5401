"""Rule extract: validate the trial records, write the tidy tables."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

from livingmeta.pipeline.records import load_review
from livingmeta.pipeline.tables import arm_table, published_table, trial_table
from livingmeta.pipeline.contracts import write_stage_csv
from livingmeta.formatting import plural
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821 (injected by Snakemake)
ctx = rule_context(sm)
review = load_review(sm.params.review_dir)  # a RecordError stops the rule with its one-line message
for warning in review.warnings:
    ctx.line(f"WARNING: {warning}")
arms = arm_table(review)
write_stage_csv(sm.output.arms, arms, "arms_table")
write_stage_csv(sm.output.trials, trial_table(review), "trials_table")
write_stage_csv(sm.output.published, published_table(review), "published_table")
ctx.line(f"{plural(len(review.trials), 'trial record')} valid; {plural(len(arms), 'arm row')} -> {sm.output.arms}")
