"""One format per statistic (issue 22 item 3): livingmeta.formatting prints every p-value, test,
interval, I², τ² and count, and the report's text, its figures and the console lines all use it,
so a statistic reads the same wherever a reader meets it."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pytest

from livingmeta import formatting as f

ROOT = Path(__file__).resolve().parents[1]
REVIEW_DIR = ROOT / "data" / "reviews" / "exercise-depression"


@pytest.mark.parametrize("p,text", [(0.0, "p < 0.001"), (0.0004, "p < 0.001"), (0.001, "p = 0.001"),
                                    (0.0949, "p = 0.095"), (0.1, "p = 0.100"), (0.9996, "p > 0.999"),
                                    (None, "p not available")])
def test_a_p_value_is_lower_case_three_decimals_and_never_zero(p, text):
    assert f.p_value(p) == text


def test_tests_give_the_statistic_its_df_and_p():
    assert f.chi2_test(6.3712, 3, 0.0949) == "\u03c7\u00b2 = 6.37, df = 3, p = 0.095"
    assert f.q_test(94.78, 34, 1e-9) == "Q = 94.78, df = 34, p < 0.001"
    assert f.overall_test(5.934, 2e-6, df=34) == "t = 5.93, df = 34, p < 0.001"
    assert f.overall_test(3.2, 0.00137) == "z = 3.20, p = 0.001"
    assert f.statistic("t", 2.5, 7.25, 0.04) == "t = 2.50, df = 7.2, p = 0.040"  # Satterthwaite's df


def test_intervals_heterogeneity_counts_and_plurals():
    assert f.ci(-0.84, -0.41) == "\u22120.84 to \u22120.41"
    assert f.number(-0.004) == "0.00" and f.number(float("nan")) == "not available"
    assert f.i2(63.6) == "I\u00b2 = 64%" and f.tau2(0.2) == "\u03c4\u00b2 = 0.20"
    assert [f.plural(n, "trial") for n in (0, 1, 2)] == ["0 trials", "1 trial", "2 trials"]
    assert f.plural(1353, "participant") == "1,353 participants" and f.plural(2, "analysis", "analyses") == "2 analyses"
    assert f.percent(0.9) == "90%" and f.percent(0.995) == "99.5%"


def test_figures_print_the_same_strings_with_the_hyphen_minus_their_font_has():
    assert f.figure_text(f.ci(-0.84, -0.41)) == "-0.84 to -0.41"


# -- the report's text and its figures print a statistic the same way ----------------------------

def _svg_text(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    return html.unescape(" ".join(re.findall(r"<text[^>]*>([^<]*)</text>", buf.getvalue())))


@pytest.fixture(scope="module")
def default_report():
    from report_text import report_context
    from livingmeta.files import read_json  # noqa: F401
    return report_context(REVIEW_DIR)


def test_the_forest_plot_prints_heterogeneity_and_the_overall_test_as_the_text_does(default_report):
    """The text said 'Q = 94.78 on 34 df (p < 0.001)' and the plot 'Chi² = 94.78, df = 34 (P < 0.00001)'."""
    import json
    import pandas as pd
    from livingmeta.report.figures import forest_plot
    from livingmeta.pipeline import analysis, tables
    from livingmeta.pipeline.records import load_review
    from report_text import CONFIG
    review = load_review(REVIEW_DIR)
    effects = analysis.effect_size_table(tables.arm_table(review), review.definition, CONFIG["effect_size"])
    pooled = analysis.pool_review(effects, review.definition, CONFIG["pooling"])
    main = next(a for a in pooled["analyses"] if a["timepoint"] == "post_treatment")
    m = main["model"]
    rows = effects[(effects.outcome == "depression") & (effects.timepoint == "post_treatment")].copy()
    rows["weight_pct"] = rows.trial_id.map({t["trial_id"]: t["weight_pct"] for t in main["trials"]})
    svg = _svg_text(forest_plot(rows.reset_index(drop=True), json.loads(json.dumps(m))))
    heterogeneity = f.q_test(m["QE"], m["QEdf"], m["QEp"])
    assert heterogeneity in default_report["heterogeneity_text"]
    assert f.figure_text(heterogeneity) in svg and f.figure_text(f.i2(m["I2"])) in svg
    assert f.figure_text(f.overall_test(abs(m["z_or_t"]), m["pval"], df=m["df"])) in svg
    assert "Chi" not in svg and "P =" not in svg and "P <" not in svg
    est, lo, hi = (f.figure_text(f.number(m[k])) for k in ("estimate", "ci_lower", "ci_upper"))
    assert f"{est} ({lo} to {hi})" in svg  # the pooled row, as the text's 'SMD −0.62 (95% CI −0.84 to −0.41)'
    assert isinstance(rows, pd.DataFrame)


def test_the_subgroup_figure_prints_the_test_as_the_sentence_does(default_report):
    """The figure said 'Chi² = 6.37, df = 3 (P = 0.10)' where the text said 'χ² = 6.37, df = 3, p = 0.095'."""
    from livingmeta.report.figures import subgroup_forest
    from report_text import CONFIG
    from livingmeta.pipeline import analysis, tables
    from livingmeta.pipeline.records import load_review
    review = load_review(REVIEW_DIR)
    effects = analysis.effect_size_table(tables.arm_table(review), review.definition, CONFIG["effect_size"])
    mods = analysis.moderator_analyses(effects, tables.trial_table(review), review.definition, CONFIG["pooling"],
                                       CONFIG["moderators"])
    a = next(x for x in mods["analyses"] if x["name"] == "exercise_type")
    test = f.chi2_test(a["QM"], a["QMdf"], a["QMp"])
    sentence = next(m["text"] for m in default_report["moderators"] if m["name"] == "exercise_type")
    assert test in sentence
    assert f.figure_text(test) in _svg_text(subgroup_forest(a))


# a computed p printed by hand: 'p = {...}', 'P = ', "pval']:.3f"
NO_P_FORMAT_OUTSIDE = re.compile(r"""(?<![\w.])[pP] [=<] \{|["']P [=<] |pval['"]?\]?:\.\d[fg]""")
# The metafor-style summaries of a fit (stats.pooling.MetaAnalysis.summary and the command line's
# `livingmeta meta`/`analyze` prints) mirror R's print.rma, four significant digits, so a result can
# be set beside metafor's; they are a tool's output for analysts, not the report's text.
METAFOR_STYLE = {"livingmeta/stats/pooling.py", "livingmeta/cli.py"}


def test_no_p_value_is_formatted_outside_the_formatting_module():
    hits = []
    for path in [*ROOT.glob("livingmeta/**/*.py"), *ROOT.glob("scripts/*.py")]:
        rel = path.relative_to(ROOT).as_posix()
        if rel == "livingmeta/formatting.py" or rel in METAFOR_STYLE:
            continue
        hits += [f"{rel}:{i}: {line.strip()}" for i, line in enumerate(path.read_text().splitlines(), 1)
                 if NO_P_FORMAT_OUTSIDE.search(line)]
    assert not hits, "format p-values with livingmeta.formatting.p_value:\n" + "\n".join(hits)


def test_probabilities_read_the_same_on_both_sides_of_a_comparison():
    """An e-mail read 'Probability of benefit: 99% in the previous edition, 99.2% now': 0.9896 was
    printed whole and 0.992 with a decimal. A probability whose whole percent would read 99 (or 1)
    or beyond keeps one decimal, so two close values are told apart and never look rounded alike."""
    from livingmeta import formatting as f
    assert f.probability(0.5) == "50%" and f.probability(0.98) == "98%" and f.probability(0.02) == "2%"
    assert f.probability(0.9896) == "99.0%" and f.probability(0.992) == "99.2%"
    assert f.probability(0.0104) == "1.0%" and f.probability(0.0149) == "1.5%"
    assert f.probability(0.9995) == "more than 99.9%" and f.probability(0.0004) == "less than 0.1%"
    assert f.probability(None) == "not available"
