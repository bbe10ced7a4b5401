"""Rule changes: what changed since the previous edition."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

from livingmeta.files import read_json
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.pipeline.history import compared_entry
from livingmeta.pipeline.rule import rule_context
from livingmeta.report.changes import compare_editions, read_records

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
history = read_json(sm.input.history)
entry = compared_entry(history)
previous = None if entry is None else {"edition": entry["edition"], "records": read_records(sm.input.previous_trials),
                                       "primary": entry["primary"], "fingerprint": entry["fingerprint"]}
result = compare_editions(previous, read_records(sm.input.trials), read_json(sm.input.pooled), ctx.review_def,
                          history["this_edition"]["fingerprint"])
write_stage_json(sm.output[0], result, "changes")
msg = ("first edition" if previous is None else
       f"since {previous['edition']}: {len(result['added'])} added, {len(result['removed'])} removed, "
       f"{len(result['corrected'])} corrected")
ctx.line(f"{msg} -> {sm.output[0]}")
