"""Rule history: the earlier editions of the review, from its archive."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

from livingmeta.pipeline.contracts import write_stage_json
from livingmeta.report.history import build_history
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
history = build_history(dict(sm.params.plan), ctx.review_def)
write_stage_json(sm.output[0], history, "history")
this = history["this_edition"]
status = " (draft for sign-off)" if this["draft"] else ""
earlier = (f"{len(history['editions'])} earlier edition{'s' if len(history['editions']) != 1 else ''}, compared with "
           f"{history['compare_with']}" if history["compare_with"] else "first edition")
for note in history["notes"]:
    ctx.line(f"note: {note}")
ctx.line(f"edition {this['id']}{status}; {earlier} -> {sm.output[0]}")
