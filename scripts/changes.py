"""Rule changes: what changed since the previous edition."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

from pathlib import Path

from livingmeta.living.editions import compare_editions, record_hashes
from livingmeta.files import read_json
from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
previous = None
if sm.params.previous:
    ed = Path(sm.params.previous)
    previous = {"edition": ed.name, "records": record_hashes(ed / "inputs" / "trials"),
                "pooled": read_json(ed / "pooled.json")}
result = compare_editions(previous, record_hashes(sm.params.trial_dir), read_json(sm.input.pooled), review_def)
if sm.input.ledger:  # a surveillance ledger: why an update may be due, and notices on included trials
    from livingmeta.pipeline.records import load_review
    from livingmeta.surveillance.flow import retraction_sentences, retraction_warnings, update_trigger
    review_dir = Path(sm.input.review).parent
    trials = load_review(review_dir).trials
    result["update_trigger"] = update_trigger(review_dir, trials)["sentence"]
    result["retraction_warnings"] = retraction_sentences(retraction_warnings(review_dir, trials))
write_stage_json(sm.output[0], result, "changes")
msg = ("first edition" if previous is None else
       f"since {previous['edition']}: {len(result['added'])} added, {len(result['removed'])} removed, "
       f"{len(result['corrected'])} corrected")
ctx.line(f"{msg} -> {sm.output[0]}")
