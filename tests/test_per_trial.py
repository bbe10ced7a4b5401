"""The per-trial results CSV (attached to the PDF, a download of the web edition) and the compact
print appendix a review of many trials gets instead of printing every per-trial row."""

import re

import numpy as np
import pandas as pd
import pytest
import yaml

from livingmeta.report.per_trial import COMPACT_TOP, CSV_NAME, compact_print_section, per_trial_results
from livingmeta.report.context import render_html
from test_report_any_review import REVIEW_DIR, _context

REVIEW_DEF = {"primary_outcome": "mood", "outcomes": [{"id": "mood", "timepoints": [{"id": "post"}, {"id": "fu"}]}],
              "moderators": [{"name": "dose", "type": "continuous"}, {"name": "year", "type": "continuous"}]}


def _inputs(measure="SMD"):
    trials = pd.DataFrame({"trial_id": ["b", "a", "c"], "label": ["Beta, 2001", "Alpha, 2000", "Gamma, 2002"],
                           "year": [2001, 2000, 2002], "dose": [3.0, np.nan, 5.0], "title": ["x", "y", "z"]})
    binary = measure in ("OR", "RR")
    effects = pd.DataFrame({
        "trial_id": ["a", "b", "a", "c"], "label": ["Alpha, 2000", "Beta, 2001", "Alpha, 2000", "Gamma, 2002"],
        "outcome": ["mood"] * 4, "timepoint": ["post", "post", "fu", "post"],
        "n_int": [np.nan] * 4 if binary else [10, 20, 9, 30], "n_ctl": [np.nan] * 4 if binary else [11, 21, 8, 31],
        "events_int": [3, 5, 2, 0] if binary else [np.nan] * 4, "total_int": [10, 20, 9, 30] if binary else [np.nan] * 4,
        "events_ctl": [4, 2, 3, 0] if binary else [np.nan] * 4, "total_ctl": [11, 21, 8, 31] if binary else [np.nan] * 4,
        "measure": [measure] * 4, "yi": [-0.5, 0.25, -0.1, np.nan], "vi": [0.04, 0.09, 0.1, np.nan],
        "ci_lower": [-1.0, -0.2, -0.9, np.nan], "ci_upper": [0.0, 0.7, 0.7, np.nan],
        "source": ["S a", "S b", "S a fu", "S c"],
        "not_estimable": ["", "", "", "no events in either group" if binary else "x"]})
    pooled = {"analyses": [{"outcome": "mood", "timepoint": "post", "measure": measure, "model": {},
                            "trials": [{"trial_id": "a", "label": "Alpha, 2000", "subgroup": "", "yi": -0.5, "vi": 0.04,
                                        "ci_lower": -1.0, "ci_upper": 0.0, "weight_pct": 40.0},
                                       {"trial_id": "b", "label": "Beta, 2001", "subgroup": "", "yi": 0.25, "vi": 0.09,
                                        "ci_lower": -0.2, "ci_upper": 0.7, "weight_pct": 60.0}]},
                           {"outcome": "mood", "timepoint": "fu", "model": {},
                            "trials": [{"trial_id": "a", "weight_pct": 100.0}]}]}
    return trials, effects, pooled


def test_the_csv_has_one_row_per_trial_of_the_analysis_with_its_effect_weight_and_source():
    trials, effects, pooled = _inputs()
    effects = effects[effects.trial_id != "c"]  # Gamma is a trial of the review, not of this analysis
    table = per_trial_results(trials, effects, pooled, REVIEW_DEF)
    assert list(table.label) == ["Alpha, 2000", "Beta, 2001"]  # only the analysis' trials (issue 20), in label order
    alpha, beta = (table.iloc[i] for i in range(2))
    assert (alpha.smd, alpha.smd_ci_lower, alpha.smd_ci_upper, alpha.smd_se, alpha.weight_pct) == (-0.5, -1.0, 0.0, 0.2, 40.0)
    assert (beta.n_intervention, beta.n_comparator, beta.source, beta.weight_pct) == (20, 21, "S b", 60.0)
    assert set(table.timepoint) == {"post"}  # the follow-up effect is not the primary analysis
    assert pd.isna(alpha.dose) and beta.dose == 3.0
    assert "title" not in table and list(table.columns).count("year") == 1
    assert not {"estimate", "ci_lower", "ci_upper"} & set(table.columns)


def test_a_ratio_measure_is_written_on_both_scales_under_named_columns_with_events():
    """Issue 20: never a log value under 'OR'; binary trials show events and totals; a trial
    without an estimate keeps its row with the reason, its values blank (never invented)."""
    table = per_trial_results(*_inputs("OR"), REVIEW_DEF)
    assert list(table.label) == ["Alpha, 2000", "Beta, 2001", "Gamma, 2002"]
    alpha, _, gamma = (table.iloc[i] for i in range(3))
    assert alpha.log_or == -0.5 and alpha.log_or_se == pytest.approx(0.2)
    assert (alpha["or"], alpha.or_ci_lower, alpha.or_ci_upper) == pytest.approx((np.exp(-0.5), np.exp(-1.0), 1.0))
    assert (alpha.events_intervention, alpha.n_intervention, alpha.events_comparator, alpha.n_comparator) == (3, 10, 4, 11)
    assert gamma.not_estimable == "no events in either group" and pd.isna(gamma["or"]) and pd.isna(gamma.weight_pct)
    assert "estimate" not in table and "smd" not in table


def _rows(n):
    return [{"label": f"Trial {i:03d}", "n": "1 / 1", "g": "0.1", "ci": "x", "weight": f"{w:.1f}%", "source": "S1"}
            for i, w in enumerate(0.1 + 0.5 * np.arange(n))]


def test_compact_print_only_above_the_configured_number_of_trials_and_lists_the_heaviest():
    rows = _rows(30)
    pooled = {"analyses": [{"outcome": "mood", "timepoint": "post", "model": {},
                            "trials": [{"trial_id": r["label"], "label": r["label"], "weight_pct": float(r["weight"][:-1])}
                                       for r in rows]}]}
    assert compact_print_section(REVIEW_DEF, pooled, rows, {"report": {"compact_print_above": 30}}) is None
    assert compact_print_section(REVIEW_DEF, pooled, rows, {}) is None  # default 100
    section = compact_print_section(REVIEW_DEF, pooled, rows, {"report": {"compact_print_above": 29}})
    assert section["trials"] == 30 and section["csv"] == CSV_NAME
    assert [r["label"] for r in section["rows"]] == [f"Trial {i:03d}" for i in range(29, 29 - COMPACT_TOP, -1)]


@pytest.fixture(scope="module")
def review_def():
    return yaml.safe_load((REVIEW_DIR / "review.yaml").read_text())


def _h3(html):
    return re.findall(r"<h3[^>]*>(.*?)</h3>", html)


def test_the_default_review_prints_every_per_trial_table(review_def):
    ctx = _context(review_def)
    assert ctx["compact_print"] is None
    html = render_html(ctx)
    assert "Data provenance of the citations" in _h3(html)
    assert html.count('<th scope="row" class="trial">') == 2 * len(ctx["trial_rows"])  # results + provenance


def test_above_the_limit_the_pdf_prints_a_compact_appendix_and_says_where_the_rest_is(review_def):
    ctx = _context(review_def, {"report": {"compact_print_above": 10}})
    ctx["risk_of_bias"]["figures"]["forest_rob_1"] = "figures/risk_of_bias/forest_rob_1.svg"
    n = len(ctx["trial_rows"])
    assert n > 10 + COMPACT_TOP
    printed = render_html(ctx)
    assert "Data provenance of the citations" not in _h3(printed)
    assert printed.count('<th scope="row" class="trial">') == COMPACT_TOP
    assert CSV_NAME in printed and "web edition" in printed
    assert "forest_rob_1.svg" not in printed
    web = render_html(ctx, web=True, inline_svgs={p: "" for p in ["f.svg", "u.svg", "c.svg",
                                                                    "figures/risk_of_bias/forest_rob_1.svg"]})
    assert "Data provenance of the citations" in _h3(web)   # the web edition keeps every row
    assert web.count('<th scope="row" class="trial">') == 2 * n


def test_the_forest_overview_draws_every_trial_on_one_page_sorted_by_estimate():
    from livingmeta.report import figures
    from test_figures import synthetic_rows
    rows, model = synthetic_rows(480)
    fig = figures.forest_overview(rows, model)
    ax = fig.axes[0]
    segments = ax.collections[0].get_segments()
    points = ax.collections[1].get_offsets()
    assert len(segments) == len(points) == 480
    assert fig.get_size_inches()[1] < 10.5                        # one A4 page at the report's scale
    order = np.argsort(-points[:, 1])                             # top to bottom
    assert np.all(np.diff(points[order, 0]) >= 0)                 # sorted by estimate
    assert sorted(points[:, 0]) == sorted(rows.yi)                # every trial's estimate, none invented
    assert not [t.get_text() for t in ax.texts if "Synthetic" in t.get_text()]  # no per-trial text
    figures.plt.close(fig)


def test_the_compact_pdf_prints_the_forest_overview_and_the_web_edition_every_page(review_def):
    ctx = _context(review_def, {"report": {"compact_print_above": 10}})
    ctx["figures"]["forest_overview"] = "o.svg"
    printed = render_html(ctx)
    assert 'src="o.svg"' in printed and 'src="f.svg"' not in printed and "web edition" in printed
    web = render_html(ctx, web=True, inline_svgs={"f.svg": "PAGE-ONE", "o.svg": "OVERVIEW", "u.svg": "", "c.svg": ""})
    assert "PAGE-ONE" in web and "OVERVIEW" not in web
    ctx = _context(review_def)
    ctx["figures"]["forest_overview"] = "o.svg"
    assert 'src="o.svg"' not in render_html(ctx) and 'src="f.svg"' in render_html(ctx)
