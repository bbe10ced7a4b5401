"""A report right for any effect measure (issue 13): the effect sizes follow each outcome's
declared effect_measure (review.yaml), and the report prints ratio measures as ratios, mean
differences in the outcome's units, with the words and methods of the measure used.

Test project: the Fleiss (1993) RevMan file (../shared/data/revman/Fleiss1993.rm5), whose
primary outcome is binary with an odds ratio; its continuous outcome is analysed as a mean
difference in a variant. The review's own analyses (Mantel-Haenszel, inverse-variance fixed
effect) are taken out here, so that the report shows the configuration's model (REML with
Hartung-Knapp); tests/test_declared_analysis.py reports the file's own. References: R's metafor on
the same counts and means (tests/reference/make_reference_measures.R -> measures_reference.json)
and the study odds ratios RevMan stored in the file."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import pytest
import yaml

from livingmeta.living.importers import rm5
from livingmeta.living.importers.review_writer import write_review
from livingmeta.pipeline import analysis, tables
from livingmeta.pipeline.appraisal import risk_of_bias_review
from livingmeta.pipeline.prisma import prisma_summary
from livingmeta.pipeline.records import load_review
from livingmeta.report import wording as w
from livingmeta.report.context import build_context, render_html
from livingmeta.report.grade import summary_of_findings
from shared_data import shared_path

ROOT = Path(__file__).resolve().parents[1]
REF = json.loads((ROOT / "tests" / "reference" / "measures_reference.json").read_text())
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
BINARY, CONTINUOUS = "analysis-1-1", "analysis-1-2"


@pytest.fixture(scope="module")
def fleiss(tmp_path_factory):
    """The Fleiss review pooled with the configuration's model: its declared analyses removed."""
    path = tmp_path_factory.mktemp("measures") / "fleiss"
    imported = rm5.read(shared_path("revman/Fleiss1993.rm5"))
    for outcome in imported.definition["outcomes"]:
        outcome.pop("analysis")
    write_review(path, imported)
    return load_review(path)


def report_context(review, review_def, records=None):
    """The report context computed in process by the functions the pipeline's rules call."""
    review = copy.copy(review)
    review.definition, review.trials = review_def, records if records is not None else review.trials
    arms, trials = tables.arm_table(review), tables.trial_table(review)
    effects = analysis.effect_size_table(arms, review_def, CONFIG["effect_size"])
    pooled = analysis.pool_review(effects, review_def, CONFIG["pooling"], effect_size_cfg=CONFIG["effect_size"])
    mods = analysis.moderator_analyses(effects, trials, review_def, CONFIG["pooling"], CONFIG["moderators"])
    sse = analysis.small_study_analysis(effects, review_def, CONFIG["pooling"], CONFIG["small_study_effects"])
    rob = risk_of_bias_review(review_def, review.trials, effects, pooled, CONFIG["pooling"], CONFIG.get("appraisal", {}),
                              CONFIG["moderators"])
    appraisal = {"rob": rob, "sof": summary_of_findings(review_def, pooled, effects, rob, CONFIG),
                 "prisma": prisma_summary(review_def, review.root / "review.yaml")}
    edition = {"id": "2025-01-01-test", "date": "2025-01-01", "fingerprint": {"data": "d", "config": "c", "code": "x"}}
    return build_context(review_def=review_def, trials=trials, effects=effects, pooled=pooled, moderators=mods,
                         small_study=sse, config=CONFIG, external=None, edition=edition,
                         changes={"first_edition": True}, figures={"forest_pages": ["f.svg"], "funnel": "u.svg",
                                                                   "cumulative": "c.svg"}, appraisal=appraisal)


def _visible(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _with(review_def, primary, **outcome_changes):
    d = copy.deepcopy(review_def)
    d["primary_outcome"] = primary
    for o in d["outcomes"]:
        if o["id"] == primary:
            o.update(outcome_changes)
    return d


def test_the_effect_size_table_uses_each_outcomes_declared_measure(fleiss):
    """Analysis 1.1 declares OR, 1.2 SMD: no configured measure overrides them. Study odds ratios
    are RevMan's stored ones (Woolf, no zero cells)."""
    arms = tables.arm_table(fleiss)
    effects = analysis.effect_size_table(arms, fleiss.definition, CONFIG["effect_size"])
    assert set(effects[effects.outcome == BINARY].measure) == {"OR"}
    assert set(effects[effects.outcome == CONTINUOUS].measure) == {"SMD"}
    stored = {r["label"]: float(b["published"]["revman"]["effect"]) for r in fleiss.trials
              for b in r["outcomes"].get(BINARY, [])}
    for _, row in effects[effects.outcome == BINARY].iterrows():
        assert math.exp(row.yi) == pytest.approx(stored[row.label], rel=1e-10)
    as_rr = _with(fleiss.definition, BINARY, effect_measure="RR")
    rr = analysis.effect_size_table(arms, as_rr, CONFIG["effect_size"])
    ref = REF["aspirin_rr"]["studies"]
    got = rr[rr.outcome == BINARY].set_index("label").yi
    assert set(rr[rr.outcome == BINARY].measure) == {"RR"}
    assert [got[s] for s in ref["study"]] == pytest.approx(ref["yi"], rel=1e-10)
    as_md = _with(fleiss.definition, CONTINUOUS, effect_measure="MD")
    md = analysis.effect_size_table(arms, as_md, CONFIG["effect_size"])
    ref = REF["mental_md"]["studies"]
    got = md[md.outcome == CONTINUOUS].set_index("label")
    assert set(got.measure) == {"MD"}
    assert [got.yi[s] for s in ref["study"]] == pytest.approx(ref["yi"], rel=1e-10)
    assert [got.sei[s] for s in ref["study"]] == pytest.approx(ref["sei"], rel=1e-10)


def test_an_outcome_whose_measure_does_not_fit_its_data_is_refused_with_the_fix(fleiss):
    arms = tables.arm_table(fleiss)
    wrong = _with(fleiss.definition, CONTINUOUS, effect_measure="OR")
    with pytest.raises(analysis.EffectSizeError, match=r"analysis-1-2.*effect_measure.*OR.*(MD|SMD)"):
        analysis.effect_size_table(arms, wrong, CONFIG["effect_size"])


@pytest.fixture(scope="module")
def odds_ratio_report(fleiss):
    return report_context(fleiss, fleiss.definition)


def test_an_odds_ratio_primary_outcome_is_reported_as_odds_ratios(odds_ratio_report):
    ctx, ref = odds_ratio_report, REF["aspirin_or"]
    key = ctx["key"]
    assert ctx["measure"] == key["measure"] == "OR"
    assert key["estimate"] == w.fmt(ref["estimate"]) == "0.87"
    assert key["ci"] == w.fmt_ci(ref["ci_lower"], ref["ci_upper"])
    assert key["pi"] == w.fmt_ci(ref["pi_lower"], ref["pi_upper"])
    assert f"OR {w.fmt(ref['estimate'])} (95% CI {w.fmt_ci(ref['ci_lower'], ref['ci_upper'])})" in ctx["result_text"]
    assert w.fmt_ci(ref["pi_lower"], ref["pi_upper"]) in ctx["pi_text"]
    assert f"ranged from {w.fmt(ref['loo_min'])}" in ctx["loo_text"] and f"to {w.fmt(ref['loo_max'])}" in ctx["loo_text"]
    assert (f"adjusted estimate is OR {w.fmt(ref['trimfill_estimate'])} (95% CI "
            f"{w.fmt_ci(ref['trimfill_ci_lower'], ref['trimfill_ci_upper'])})") in ctx["small_study_text"]
    assert [(s["estimate"], s["ci"]) for s in ctx["sensitivity"]] == [
        (w.fmt(s["estimate"]), w.fmt_ci(s["ci_lower"], s["ci_upper"])) for s in ref["sensitivity"]]
    assert (ctx["model_line"]["estimate"], ctx["model_line"]["ci"]) == (key["estimate"], key["ci"])


def test_the_trial_table_shows_the_odds_ratios_revman_stored(odds_ratio_report, fleiss):
    stored = {r["label"]: b["published"]["revman"] for r in fleiss.trials for b in r["outcomes"].get(BINARY, [])}
    rows = {r["label"]: r for r in odds_ratio_report["trial_rows"] if r["label"] in stored}
    assert len(rows) == 7
    for label, pub in stored.items():
        assert rows[label]["g"] == w.fmt(float(pub["effect"]))
        assert rows[label]["ci"] == w.fmt_ci(float(pub["ci_lower"]), float(pub["ci_upper"]))


def test_a_ratio_result_gets_no_smd_words_and_the_methods_name_the_measures_used(odds_ratio_report):
    ctx = odds_ratio_report
    html = _visible(render_html(ctx))
    assert "Size in words" not in html and w.SIZE_CONVENTION not in html
    assert "large, small, or absent" not in ctx["pi_text"]
    assert not re.search(r"\ba a\b", ctx["headline"] + ctx["take_home"])
    # the file's outcome name names the intervention: quoted, never "Aspirin probably reduces aspirin for ..."
    assert "reduces aspirin" not in ctx["headline"].lower() and "\u2018Aspirin for Preventing Death" in ctx["headline"]
    assert "Aspirin for aspirin" not in html
    methods = ctx["methods"]["effect_size"]
    assert "odds ratio" in methods and "Aspirin for Preventing Death" in methods
    assert "Hedges' g" in methods and "Mental Health Treatment" in methods  # the review's SMD outcome
    assert "risk ratio" not in methods and "RR" not in methods
    # no log-scale number printed as an effect anywhere in the key findings
    assert "\u22120.12" not in html and "OR 0.87" in html


def test_a_mean_difference_primary_outcome_is_reported_in_the_outcomes_units(fleiss):
    ctx, ref = report_context(fleiss, _with(fleiss.definition, CONTINUOUS, effect_measure="MD")), REF["mental_md"]
    key = ctx["key"]
    assert key["measure"] == "MD" and key["size_words"] == "" and key["nnt"] is None
    assert key["estimate"] == w.fmt(ref["estimate"])
    assert key["ci"] == w.fmt_ci(ref["ci_lower"], ref["ci_upper"])
    assert key["pi"] == w.fmt_ci(ref["pi_lower"], ref["pi_upper"])
    assert f"ranged from {w.fmt(ref['loo_min'])}" in ctx["loo_text"]
    shown = {r["label"]: (r["g"], r["ci"]) for r in ctx["trial_rows"] if r["g"]}
    studies = ref["studies"]
    assert {s: shown[s] for s in studies["study"]} == {
        s: (w.fmt(y), w.fmt_ci(lo, hi)) for s, y, lo, hi in zip(studies["study"], studies["effect"], studies["ci_lower"],
                                                                 studies["ci_upper"])}
    assert "mean difference" in ctx["methods"]["effect_size"]
    assert "Size in words" not in _visible(render_html(ctx))


def test_a_generic_inverse_variance_outcome_is_pooled_on_its_measures_scale(fleiss):
    """The aspirin trials given as computed log odds ratios with their SEs (metafor's escalc),
    a generic block each: pooled and reported like the 2x2 counts."""
    ref = REF["aspirin_or"]
    given = dict(zip(ref["studies"]["study"], zip(ref["studies"]["yi"], ref["studies"]["sei"])))
    records = copy.deepcopy(fleiss.trials)
    for r in records:
        for b in r["outcomes"].get(BINARY, []):
            yi, sei = given[r["label"]]
            b["generic"] = {"estimate": yi, "se": sei, "log_scale": True}
            b["arms"] = {arm: {"n": v["total"]} for arm, v in b["arms"].items()}
    review_def = _with(fleiss.definition, BINARY, type="generic")
    ctx = report_context(fleiss, review_def, records)
    assert ctx["key"]["measure"] == "OR"
    assert ctx["key"]["estimate"] == w.fmt(ref["estimate"])
    assert ctx["key"]["ci"] == w.fmt_ci(ref["ci_lower"], ref["ci_upper"])
    assert "generic inverse variance" in ctx["methods"]["effect_size"]


def test_one_function_prints_an_effect_for_every_measure():
    assert w.effect_numbers("OR", math.log(0.5), math.log(0.25), math.log(1.0)) == ("0.50", "0.25 to 1.00")
    assert w.effect_numbers("RR", 0.0, -0.1, 0.1) == ("1.00", "0.90 to 1.11")
    assert w.effect_numbers("MD", -1.5, -2.25, -0.75) == ("\u22121.50", "\u22122.25 to \u22120.75")
    assert w.effect_numbers("SMD", 0.2, 0.1, 0.3) == ("0.20", "0.10 to 0.30")
    assert w.effect_numbers("RD", -0.05, -0.1, 0.0) == ("\u22120.05", "\u22120.10 to 0.00")


def test_the_config_no_longer_names_a_binary_measure_and_says_where_it_went():
    from livingmeta.errors import ConfigError
    from livingmeta.pipeline.config_check import check_config
    old = {**CONFIG, "effect_size": {**CONFIG["effect_size"], "binary_measure": "RR"}}
    with pytest.raises(ConfigError, match=r"config.yaml: effect_size.binary_measure .*review.yaml.*effect_measure"):
        check_config(old, "config/config.yaml")
    assert "binary_measure" not in CONFIG["effect_size"]


def _tick_texts(axis):
    axis.figure.canvas.draw()
    return [(t.get_position(), t.get_text()) for t in axis.get_ticklabels() if t.get_text()]


def test_funnel_and_cumulative_plots_of_an_odds_ratio_have_ratio_axes(fleiss):
    """Drawn on the log scale, labelled as odds ratios: each tick's text is exp of its position."""
    from livingmeta.report import figures
    arms = tables.arm_table(fleiss)
    effects = analysis.effect_size_table(arms, fleiss.definition, CONFIG["effect_size"])
    sse = analysis.small_study_analysis(effects, fleiss.definition, CONFIG["pooling"], CONFIG["small_study_effects"])
    cum = analysis.cumulative_by_year(effects, fleiss.definition, CONFIG["pooling"])
    drawn = {"funnel": figures.funnel_plot(sse["funnel"], measure="OR", filled=sse["trim_and_fill"]),
             "cumulative": figures.cumulative_plot(cum["rows"], measure="OR")}
    for name, fig in drawn.items():
        ax = fig.axes[0]
        assert "OR" in ax.get_xlabel() and "log scale" in ax.get_xlabel() and "SMD" not in ax.get_xlabel(), name
        ticks = _tick_texts(ax.xaxis)
        assert len(ticks) >= 3 and ("1", ) in [(text,) for _, text in ticks], (name, ticks)
        for (x, _), text in ticks:
            assert float(text) == pytest.approx(math.exp(x), rel=0.01), (name, text, x)
    smd = figures.funnel_plot(sse["funnel"], measure="SMD")
    assert smd.axes[0].get_xlabel().startswith("SMD (")


def test_livingmeta_check_refuses_a_measure_that_does_not_fit_the_outcome_type(fleiss, tmp_path):
    """`livingmeta check` is the gate: what passes it builds, so the mismatch is found there."""
    import shutil
    from livingmeta.pipeline.records import RecordError
    review_dir = tmp_path / "fleiss"
    shutil.copytree(fleiss.root, review_dir)
    d = yaml.safe_load((review_dir / "review.yaml").read_text())
    d["outcomes"][1]["effect_measure"] = "OR"
    (review_dir / "review.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    with pytest.raises(RecordError, match=r"outcomes\[?.?1.*effect_measure"):
        load_review(review_dir)


def test_subgroup_and_edition_sentences_print_ratios_as_ratios():
    levels = [{"level": "a", "pooled": True, "estimate": math.log(0.5), "ci_lower": math.log(0.25),
               "ci_upper": math.log(1.0), "k": 3},
              {"level": "b", "pooled": True, "estimate": 0.0, "ci_lower": -0.1, "ci_upper": 0.1, "k": 4}]
    text = w.subgroup_sentence({"levels": levels, "QM": 1.0, "QMdf": 1, "QMp": 0.3}, {}, "OR")
    assert "a, OR 0.50 (95% CI 0.25 to 1.00) in 3 trials" in text and "b, OR 1.00 (95% CI 0.90 to 1.11) in 4 trials" in text
    step = {"estimate": math.log(0.8), "ci_lower": math.log(0.6), "ci_upper": math.log(1.1), "k": 5,
            "conclusion": "no clear evidence of a difference"}
    changes = {"previous_edition": "e1", "added": ["X 2020"], "removed": [], "corrected": [], "previous": step,
               "current": {**step, "k": 6}, "conclusion_changed": False}
    assert "moved from RR 0.80 (95% CI 0.60 to 1.10) in 5 trials" in " ".join(w.changes_sentences(changes, "RR"))
    slope = {"slope": 0.1, "slope_ci": [0.05, 0.15], "pval": 0.01, "label": "Dose", "k_used": 8}
    assert "the log OR changed by 0.100" in w.regression_sentence(slope, measure="OR")
