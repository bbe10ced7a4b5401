"""Rule sequential_plot: the trial sequential analysis figure."""
from livingmeta.pipeline.warm import hand_off

hand_off()  # in the workflow's warm process when one runs, where these imports are done

from livingmeta.formatting import plural
from livingmeta.report.figures import save_figure
from livingmeta.files import read_json
from livingmeta.report.review_words import review_words
from livingmeta.report.settled_figure import sequential_plot
from livingmeta.pipeline.rule import rule_context

sm = snakemake  # noqa: F821
ctx = rule_context(sm)
review_def = ctx.review_def
outcome = next(o for o in review_def["outcomes"] if o["id"] == review_def["primary_outcome"])
words = review_words(review_def, outcome)  # the review's words, never its arm keys
seq = read_json(sm.input.sequential)
save_figure(sequential_plot(seq, favours=(words["favours_intervention"], words["favours_comparator"])),
            sm.output.svg[: -len(".svg")])
ctx.line(f"{plural(len(seq.get('looks', [])), 'look')} -> {sm.output.svg}")
