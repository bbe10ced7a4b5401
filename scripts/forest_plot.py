"""Rule forest_plot: RevMan-style forest plot of the primary outcome."""
import pandas as pd

from livingmeta.analysis import primary_analysis_rows
from livingmeta.figures import forest_plot, save_figure
from livingmeta.files import read_json, stage_line
from livingmeta.records import load_yaml

sm = snakemake  # noqa: F821
review_def, _ = load_yaml(sm.input.review)
outcome, tp, rows = primary_analysis_rows(pd.read_csv(sm.input.effects), review_def)
pooled = read_json(sm.input.pooled)
entry = next(a for a in pooled["analyses"] if a["outcome"] == outcome["id"] and a["timepoint"] == tp["id"])
weights = {t["trial_id"]: t["weight_pct"] for t in entry["trials"]}
rows["weight_pct"] = rows.trial_id.map(weights)
fig = forest_plot(rows, entry["model"], measure=entry["measure"])
save_figure(fig, sm.output.svg[: -len(".svg")])
stage_line("forest_plot", f"{len(rows)} trials -> {sm.output.svg}", sm.log[0])
