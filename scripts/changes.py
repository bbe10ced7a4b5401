"""Rule changes: what changed since the previous edition."""
from pathlib import Path

from livingmeta.living.editions import compare_editions, record_hashes
from livingmeta.files import read_json, stage_line, write_json
from livingmeta.pipeline.records import load_yaml

sm = snakemake  # noqa: F821
review_def, _ = load_yaml(sm.input.review)
previous = None
if sm.params.previous:
    ed = Path(sm.params.previous)
    previous = {"edition": ed.name, "records": record_hashes(ed / "inputs" / "trials"),
                "pooled": read_json(ed / "pooled.json")}
result = compare_editions(previous, record_hashes(sm.params.trial_dir), read_json(sm.input.pooled), review_def)
write_json(sm.output[0], result)
msg = ("first edition" if previous is None else
       f"since {previous['edition']}: {len(result['added'])} added, {len(result['removed'])} removed, "
       f"{len(result['corrected'])} corrected")
stage_line("changes", f"{msg} -> {sm.output[0]}", sm.log[0])
