"""A report written for any review: no review's words in code or templates, the review's own
words (or generic ones) from review.yaml, slopes in the moderator's unit, the configured
confidence level everywhere, and one compact section per comparison."""

import copy
import re
from pathlib import Path

import pytest
import yaml

from livingmeta.pipeline import analysis, tables
from livingmeta.pipeline.records import load_review
from livingmeta.report.context import build_context, render_html

ROOT = Path(__file__).resolve().parents[1]
REVIEW_DIR = ROOT / "data" / "reviews" / "exercise-depression"
CODE = [*ROOT.glob("livingmeta/*.py"), *ROOT.glob("scripts/*.py"), *ROOT.glob("templates/*.j2"),
        *ROOT.glob("templates/*.css"), *ROOT.glob("templates/sections/*.j2"), *ROOT.glob("workflow/rules/*.smk"),
        ROOT / "Snakefile"]
GENERIC_NAMES = {"year", "population", "control", "yes", "no", "mixed", "unclear"}  # also plain field names


def exercise_review_words() -> set[str]:
    """The default review's own words, read from its review.yaml: arm and label nouns, moderator
    names and level keys, outcome ids and labels, plus the words the issue names."""
    d = yaml.safe_load((REVIEW_DIR / "review.yaml").read_text())
    words = {"exercise", "depress", "weeks", "sessions", "training", "aerobic", "resistance"}
    words |= {d["arms"]["intervention"], *(v for v in d.get("labels", {}).values())}
    for m in d["moderators"]:
        words |= {m["name"], *m.get("levels", {})}
    for o in d["outcomes"]:
        words |= {o["id"], o["label"].lower()}
    return {w.lower() for w in words if w.lower() not in GENERIC_NAMES and len(w) >= 4}  # "Ex" is in "next"


def test_no_review_word_in_code_templates_or_figure_defaults():
    words = exercise_review_words()
    assert {"exercise_type", "sessions_per_week", "depressive symptoms", "favours exercise"} <= words
    hits = []
    for path in CODE:
        text = path.read_text(encoding="utf-8").lower()
        hits += [f"{path.relative_to(ROOT)}: {w!r}" for w in sorted(words) if w in text]
    assert not hits, "review-specific words in code/templates (move them to review.yaml):\n" + "\n".join(hits)


def test_no_hard_coded_confidence_level_in_code_or_templates():
    pattern = re.compile(r"95 ?%|(?<![-\d.])\b1\.96\b|1\.95996|\b0\.975\b")  # -1.96: a prior table value
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in CODE for i, line in enumerate(p.read_text().splitlines(), 1)
            if pattern.search(line)]
    assert not hits, hits


def _context(review_def, config_changes=None):
    """The report context of the default review's records under ``review_def``, computed in
    process by the same functions the pipeline's rules call."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for section, values in (config_changes or {}).items():
        config[section] = {**config.get(section, {}), **values}
    review = load_review(REVIEW_DIR)
    review.definition = review_def
    arms, trials = tables.arm_table(review), tables.trial_table(review)
    effects = analysis.effect_size_table(arms, review_def, config["effect_size"])
    pooled = analysis.pool_review(effects, review_def, config["pooling"])
    mods = analysis.moderator_analyses(effects, trials, review_def, config["pooling"], config["moderators"])
    sse = analysis.small_study_analysis(effects, review_def, config["pooling"], config["small_study_effects"])
    figures = {"forest_pages": ["f.svg"], "funnel": "u.svg", "cumulative": "c.svg"}
    edition = {"id": "2025-01-01-test", "date": "2025-01-01", "fingerprint": {"data": "d", "config": "c", "code": "x"}}
    from livingmeta.pipeline.appraisal import risk_of_bias_review
    from livingmeta.report.grade import summary_of_findings
    from livingmeta.pipeline.prisma import prisma_summary
    rob = risk_of_bias_review(review_def, review.trials, effects, pooled, config["pooling"], config.get("appraisal", {}),
                              config["moderators"])
    appraisal = {"rob": rob, "sof": summary_of_findings(review_def, pooled, effects, rob, config),
                 "prisma": prisma_summary(review_def, REVIEW_DIR / "review.yaml")}
    return build_context(review_def=review_def, trials=trials, effects=effects, pooled=pooled, moderators=mods,
                         small_study=sse, config=config, external=None, edition=edition,
                         changes={"first_edition": True}, figures=figures, appraisal=appraisal)


@pytest.fixture(scope="module")
def review_def():
    return yaml.safe_load((REVIEW_DIR / "review.yaml").read_text())


def _visible_text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_level_of_090_is_printed_as_90_percent_everywhere_and_never_95(review_def):
    ctx = _context(review_def, {"pooling": {"level": 0.90}})
    html = render_html(ctx)
    assert ctx["level_pct"] == "90%" and "90% CI" in ctx["result_text"] and "90% prediction interval" in ctx["pi_text"]
    assert "90% CI" in html and "95%" not in html and "95 %" not in html
    narrower = _context(review_def)["key"]
    assert narrower["ci"] != ctx["key"]["ci"]  # the level reached the fit, not just the words


def test_the_review_words_come_from_review_yaml(review_def):
    ctx = _context(review_def)
    html = _visible_text(render_html(ctx))
    assert "favoured exercise" in ctx["result_text"]
    slopes = {m["name"]: m["text"] for m in ctx["moderators"] if m["type"] == "continuous"}
    assert "per additional week" in slopes["weeks"]
    assert "per additional session a week" in slopes["sessions_per_week"]  # the unit review.yaml gives
    assert "per additional year" in slopes["year"]
    assert "per session per week" not in html and "additional unit" not in html and "n (Ex / Ctl)" in html


def test_without_labels_or_units_the_report_uses_generic_words(review_def):
    bare = copy.deepcopy(review_def)
    bare.pop("labels")
    bare.pop("external_evidence")
    for m in bare["moderators"]:
        m.pop("unit", None)
    ctx = _context(bare)
    html = _visible_text(render_html(ctx))
    assert "the intervention" in ctx["result_text"] and "favours intervention" in ctx["favours_note"]
    assert "per additional unit" in html
    assert "exercise" not in ctx["result_text"] and "n (I / C)" in html


def test_many_outcomes_and_comparisons_get_one_compact_section_each(review_def):
    multi = copy.deepcopy(review_def)
    multi["outcomes"][0]["comparison"] = "Comparison 1"
    multi["outcomes"][1]["comparison"] = "Comparison 2"
    ctx = _context(multi)
    sections = {s["comparison"]: [r["outcome"] for r in s["rows"]] for s in ctx["outcome_sections"]}
    labels = {o["id"]: o["label"] for o in multi["outcomes"]}
    assert sections == {"Comparison 1": [labels["depression"]], "Comparison 2": [labels["completion"]]}
    html = render_html(ctx)
    assert html.index("Comparison 1: other outcomes") < html.index("Comparison 2: other outcomes")
    assert html.index(ctx["result_text"]) < html.index("Comparison 1: other outcomes")  # main outcome first
