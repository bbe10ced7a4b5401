"""A review's own analysis is the headline (issue 20, items 1 and 2).

review.yaml may declare how each outcome is analysed (``analysis``, ``outcomes[].analysis``);
importers write what their source declares. The Fleiss (1993) RevMan file declares a
Mantel-Haenszel fixed-effect odds ratio: the report leads with RevMan's own stored result, OR 0.90
(0.84 to 0.96), P = 0.001, and this report's REML + Hartung-Knapp model is a sensitivity row.
An analysis that cannot be estimated is shown as RevMan shows it, and never takes the report down.

References: the totals RevMan stored in ../shared/data/revman/Fleiss1993.rm5 (read here with a plain
XML parser, not the importer), metafor (tests/reference/measures_reference.json for the REML row;
tests/reference/revman_synthetic_reference.json, made by make_reference_revman_synthetic.R, for
the SYNTHETIC review in tests/fixtures/revman-synthetic/).
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from livingmeta.errors import ConvergenceError
from livingmeta.living.importers import rm5
from livingmeta.living.importers.review_writer import write_review
from livingmeta.pipeline import analysis, declared_analysis, tables
from livingmeta.pipeline.records import RecordError, load_review
from livingmeta.report import wording as w
from livingmeta.stats import estimators, pooling
from livingmeta.stats.revman import REVMAN_METHODS
from shared_data import shared_path
from test_report_any_measure import CONFIG, report_context

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = ROOT / "tests" / "fixtures" / "revman-synthetic" / "synthetic-review.rm5"
SYNTHETIC_REF = json.loads((ROOT / "tests" / "reference" / "revman_synthetic_reference.json").read_text())
MEASURES_REF = json.loads((ROOT / "tests" / "reference" / "measures_reference.json").read_text())


def _import(source: Path, target: Path):
    write_review(target, rm5.read(source))
    return load_review(target)


@pytest.fixture(scope="module")
def fleiss(tmp_path_factory):
    return _import(shared_path("revman/Fleiss1993.rm5"), tmp_path_factory.mktemp("declared") / "fleiss")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return _import(SYNTHETIC, tmp_path_factory.mktemp("declared") / "synthetic")


def _pooled(review, review_def=None):
    review_def = review_def or review.definition
    effects = analysis.effect_size_table(tables.arm_table(review), review_def, CONFIG["effect_size"])
    return analysis.pool_review(effects, review_def, CONFIG["pooling"], effect_size_cfg=CONFIG["effect_size"])


def _stored_totals(path: Path, analysis_no: str = "1") -> dict:
    """RevMan's stored totals of comparison 1's outcome ``analysis_no``, read with a plain XML parser."""
    root = ET.fromstring(path.read_bytes())
    out = next(el for el in root.iter("DICH_OUTCOME") if el.get("NO") == analysis_no)
    return {k: float(out.get(k)) for k in ("EFFECT_SIZE", "CI_START", "CI_END", "P_Z", "Z", "CHI2", "I2")}


def test_the_fleiss_report_headlines_revmans_own_mantel_haenszel_result(fleiss):
    stored = _stored_totals(shared_path("revman/Fleiss1993.rm5"))
    ctx = report_context(fleiss, fleiss.definition)
    key = ctx["key"]
    assert (key["measure"], key["estimate"], key["ci"], key["p"]) == ("OR", "0.90", "0.84 to 0.96", "p = 0.001")
    assert (key["estimate"], key["ci"]) == w.effect_numbers("OR", math.log(stored["EFFECT_SIZE"]),
                                                            math.log(stored["CI_START"]), math.log(stored["CI_END"]))
    assert key["p"] == w.fmt_p(stored["P_Z"])
    assert "OR 0.90 (95% CI 0.84 to 0.96)" in ctx["result_text"] and "No clear evidence" not in ctx["headline"]
    assert key["model"] == "Mantel-Haenszel, fixed effect, as declared by the review's RevMan 5 file"
    assert key["pi"] is None  # a fixed-effect model has no prediction interval
    # the pooled result to RevMan's stored precision: estimate, CI, Z, P, Q, I²
    main = next(a for a in _pooled(fleiss)["analyses"] if a["outcome"] == "analysis-1-1")
    m = main["model"]
    assert m["method"] == "MH" and main["analysis"]["declared"]
    assert math.exp(m["estimate"]) == pytest.approx(stored["EFFECT_SIZE"], rel=1e-10)
    assert (math.exp(m["ci_lower"]), math.exp(m["ci_upper"])) == pytest.approx((stored["CI_START"], stored["CI_END"]), rel=1e-10)
    assert (abs(m["zval"]), m["QE"], m["I2"]) == pytest.approx((stored["Z"], stored["CHI2"], stored["I2"]), rel=1e-8)
    assert m["pval"] == pytest.approx(stored["P_Z"], abs=1e-6)


def test_this_reports_own_models_are_sensitivity_rows_labelled_as_ours(fleiss):
    ctx = report_context(fleiss, fleiss.definition)
    ref = MEASURES_REF["aspirin_or"]  # metafor: REML + Hartung-Knapp, then DL + z, PM + knha, FE + z
    rows = ctx["sensitivity"]
    assert rows[0]["label"] == "This report's default model: REML estimator, Hartung-Knapp CI"
    assert (rows[0]["estimate"], rows[0]["ci"]) == (w.fmt(ref["estimate"]), w.fmt_ci(ref["ci_lower"], ref["ci_upper"]))
    assert [(r["estimate"], r["ci"]) for r in rows[1:]] == [
        (w.fmt(s["estimate"]), w.fmt_ci(s["ci_lower"], s["ci_upper"])) for s in ref["sensitivity"]]
    assert all(r["label"].startswith("This report's") for r in rows)
    assert "as declared by the review's RevMan 5 file" in ctx["methods"]["pooling"]


def test_precedence_outcome_then_review_then_config_then_defaults():
    pooling_cfg = {"method": "REML", "test": "knha", "level": 0.95}
    effect_size = {"zero_cell_add": 0.5, "correction": "exact", "variance": "LS"}
    outcome = {"id": "o", "type": "binary", "effect_measure": "OR"}
    review = {"outcomes": [outcome]}
    got = declared_analysis.resolve(review, outcome, pooling_cfg, effect_size)
    assert (got["method"], got["test"], got["declared"], got["declared_by"]) == ("REML", "knha", False, None)
    review["analysis"] = {"method": "DL", "test": "z", "smd_variance": "revman"}
    got = declared_analysis.resolve(review, outcome, pooling_cfg, effect_size)
    assert (got["method"], got["test"], got["smd_variance"], got["declared_by"]) == ("DL", "z", "revman", "the review")
    outcome["analysis"] = {"method": "MH", "level": 0.9, "declared_by": "its protocol"}
    got = declared_analysis.resolve(review, outcome, pooling_cfg, effect_size)
    assert (got["method"], got["test"], got["level"], got["declared_by"]) == ("MH", "z", 0.9, "its protocol")
    assert got["zero_cell_add"] == 0.5 and got["smd_correction"] == "exact"


def test_the_methods_a_review_may_declare_are_the_registries():
    assert set(declared_analysis.INVERSE_VARIANCE) == set(estimators.METHODS)
    assert set(declared_analysis.COUNT_METHODS) == set(REVMAN_METHODS)
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "review.schema.yaml").read_text())
    assert schema["$defs"]["analysis"]["properties"]["method"]["enum"] == [*declared_analysis.INVERSE_VARIANCE,
                                                                           *declared_analysis.COUNT_METHODS]


def _set(path, value):
    """An edit of review.yaml: set the key at ``path`` (outcomes are addressed by index)."""
    def edit(d):
        node = d
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(key, str) else node[key]
        node[path[-1]] = value
    return edit


BAD = [  # (edits of the Fleiss review.yaml, outcome 0 binary OR, outcome 1 continuous SMD; field; message)
    ([_set(["analysis"], {"method": "MH"})], "analysis.method", "MH pools 2x2 counts, and outcome 'analysis-1-2' is continuous"),
    ([_set(["outcomes", 0, "effect_measure"], "RR"), _set(["outcomes", 0, "analysis"], {"method": "Peto"})],
     "outcomes[0].analysis.method", "Peto does not estimate a RR"),
    ([_set(["outcomes", 0, "analysis"], {"method": "MH", "test": "knha"})], "outcomes[0].analysis.test",
     "MH gives a Wald (z) interval"),
    ([_set(["outcomes", 1, "analysis"], {"swap_events": True})], "outcomes[1].analysis.swap_events",
     "outcome 'analysis-1-2' is continuous: only events of a binary outcome can be swapped"),
    ([_set(["analysis"], {"methd": "MH"})], "analysis.methd", "unknown key"),
    ([_set(["analysis"], {"method": "MH+REML"})], "analysis.method", "'MH+REML' is not one of"),
]


@pytest.mark.parametrize("edits, field, message", BAD, ids=[b[1] for b in BAD])
def test_check_names_a_bad_analysis_with_file_field_value_and_fix(fleiss, tmp_path, edits, field, message):
    review_dir = tmp_path / "fleiss"
    shutil.copytree(fleiss.root, review_dir)
    d = yaml.safe_load((review_dir / "review.yaml").read_text())
    for o in d["outcomes"]:
        o.pop("analysis")
    for edit in edits:
        edit(d)
    (review_dir / "review.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    with pytest.raises(RecordError) as err:
        load_review(review_dir)
    text = str(err.value)
    assert f"{review_dir / 'review.yaml'}: {field}: " in text and message in text, text
    res = subprocess.run([sys.executable, "-m", "livingmeta.cli", "check", str(review_dir)], capture_output=True, text=True)
    assert res.returncode == 1 and field in res.stdout + res.stderr and "Traceback" not in res.stderr


def test_fixed_combinations_that_are_fine_pass_the_check(fleiss, tmp_path):
    review_dir = tmp_path / "fleiss"
    shutil.copytree(fleiss.root, review_dir)
    d = yaml.safe_load((review_dir / "review.yaml").read_text())
    d["analysis"] = {"method": "REML", "test": "knha"}            # the review-wide model...
    d["outcomes"][0]["analysis"] = {"method": "Peto"}               # ...and Peto for the binary OR outcome
    d["outcomes"][1].pop("analysis")
    (review_dir / "review.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    load_review(review_dir)


# --- every analysis of a review that hits the hard cases (SYNTHETIC) ---------------------------------

def _reference(number: str) -> dict:
    c, o = (int(x) for x in number.split("."))
    return next(a for a in SYNTHETIC_REF["analyses"] if a["comparison"] == c and a["no"] == o)


@pytest.mark.parametrize("number", ["1.1", "1.2", "1.3", "1.4", "1.5", "2.1", "2.2", "2.3"])
def test_each_analysis_of_the_synthetic_review_pools_as_declared_and_matches_metafor(synthetic, number):
    pooled = _pooled(synthetic)
    entry = next(a for a in pooled["analyses"] if a["outcome"] == "analysis-" + number.replace(".", "-"))
    ref = _reference(number)["overall"]
    back = math.exp if entry["ratio"] else (lambda x: x)
    m = entry["model"]
    assert entry["analysis"]["declared"]
    assert back(m["estimate"]) == pytest.approx(ref["effect"], rel=1e-9)
    assert (back(m["ci_lower"]), back(m["ci_upper"])) == pytest.approx((ref["ci_lower"], ref["ci_upper"]), rel=1e-9)
    assert m["QE"] == pytest.approx(ref["chi2"], rel=1e-9, abs=1e-12)
    assert m["tau2"] == pytest.approx(ref["tau2"], rel=1e-8, abs=1e-12)
    assert m["pval"] == pytest.approx(ref["p_z"], rel=1e-9)
    assert m["k"] == ref["k"]


def test_a_total_that_cannot_be_estimated_is_shown_as_not_estimable_with_the_reason(synthetic):
    entry = next(a for a in _pooled(synthetic)["analyses"] if a["outcome"] == "analysis-1-6")
    assert "model" not in entry and entry["k"] == 0 and entry["k_total"] == 2
    assert entry["not_pooled_reason"] == "not estimable: no trial has an estimate for this measure"
    assert [t["reason"] for t in entry["not_estimable"]] == ["no events in either group"] * 2
    assert entry["participants"] == 40 + 42 + 35 + 36  # counted in the totals, as RevMan does


def test_one_study_gives_its_own_result_and_so_does_a_one_study_subgroup(synthetic):
    pooled = _pooled(synthetic)
    single = next(a for a in pooled["analyses"] if a["outcome"] == "analysis-2-3")
    ref = _reference("2.3")["studies"][0]
    assert single["model"]["k"] == 1 and single["model"]["I2"] is None
    assert (single["model"]["estimate"], single["model"]["ci_lower"], single["model"]["ci_upper"]) == pytest.approx(
        (ref["effect"], ref["ci_lower"], ref["ci_upper"]), rel=1e-12)
    mortality = next(a for a in pooled["analyses"] if a["outcome"] == "analysis-1-1")
    sub = {s["name"]: s for s in mortality["subgroups"]}
    assert list(sub) == ["Low dose", "High dose", "Very high dose"]
    foxtrot = next(s for s in _reference("1.1")["studies"] if s["subgroup"] == "Very high dose")
    assert sub["Very high dose"]["model"]["k"] == 1
    assert math.exp(sub["Very high dose"]["model"]["estimate"]) == pytest.approx(foxtrot["effect"], rel=1e-12)
    for s in _reference("1.1")["subgroups"]:
        assert math.exp(sub[s["name"]]["model"]["estimate"]) == pytest.approx(s["effect"], rel=1e-9)
    test = _reference("1.1")["subgroup_test"]
    assert (mortality["subgroup_test"]["QM"], mortality["subgroup_test"]["QMdf"], mortality["subgroup_test"]["QMp"]) == \
        pytest.approx((test["chi2"], test["df"], test["p"]), rel=1e-9)
    # Bravo (no events in either group) is shown in its subgroup, not pooled
    assert sub["Low dose"]["k"] == 2 and sub["Low dose"]["k_total"] == 3


def test_a_model_that_cannot_be_fitted_is_not_estimable_and_the_report_still_builds(synthetic, monkeypatch):
    """A tau² estimator that fails after every safeguard raises ConvergenceError (a ModelError):
    that analysis is reported as not estimable with the reason, every other one stands."""
    real = pooling.rma

    def failing(yi, vi, *args, method="REML", **kwargs):
        if method == "DL":
            raise ConvergenceError("DL did not converge (simulated)")
        return real(yi, vi, *args, method=method, **kwargs)

    monkeypatch.setattr(pooling, "rma", failing)
    pooled = _pooled(synthetic)
    pain = next(a for a in pooled["analyses"] if a["outcome"] == "analysis-1-3")
    assert "model" not in pain
    assert pain["not_pooled_reason"] == ("not estimable: the inverse variance, random effects (DL) model could not be "
                                         "fitted (DL did not converge (simulated))")
    assert sum("model" in a for a in pooled["analyses"]) == 6   # 1.3 and 2.1 (DL), 1.6 (no estimate) are not
    ctx = report_context(synthetic, synthetic.definition)
    rows = {r["outcome"]: r for s in ctx["outcome_sections"] for r in s["rows"]}
    assert rows["Pain score"]["text"].startswith("not estimable: the inverse variance, random effects (DL) model")
    assert ctx["key"]["estimate"] == w.fmt(_reference("1.1")["overall"]["effect"])


def test_a_primary_outcome_that_cannot_be_estimated_hands_the_lead_to_the_next_analysis(synthetic):
    review_def = copy.deepcopy(synthetic.definition)
    review_def["primary_outcome"] = "analysis-1-6"
    ctx = report_context(synthetic, review_def)
    assert ctx["primary_note"].startswith("The review's primary outcome, Serious harm, could not be estimated "
                                          "(no trial has an estimate for this measure)")
    assert ctx["key"]["estimate"] == w.fmt(_reference("1.1")["overall"]["effect"])


# --- reviews with many outcomes (issue 20, item 4) ----------------------------------------------------

def test_the_summary_of_findings_has_a_row_per_main_outcome_or_the_first_seven_analyses(synthetic):
    from livingmeta.report.grade import SOF_ROWS, sof_analyses
    pooled = _pooled(synthetic)
    chosen, how = sof_analyses(synthetic.definition, pooled)  # no outcome marked main: 8 estimated analyses
    assert how == "capped" and SOF_ROWS == 7
    assert [a["outcome"] for a in chosen] == ["analysis-1-1", "analysis-1-2", "analysis-1-3", "analysis-1-4",
                                              "analysis-1-5", "analysis-2-1", "analysis-2-2"]
    review_def = copy.deepcopy(synthetic.definition)
    for o in review_def["outcomes"]:
        o["main"] = o["id"] in ("analysis-2-2", "analysis-1-6", "analysis-1-3")   # 1.6 has no estimate: no row
    review_def["primary_outcome"] = "analysis-2-3"                              # the lead always has a row
    chosen, how = sof_analyses(review_def, pooled)
    assert how == "main" and [a["outcome"] for a in chosen] == ["analysis-1-3", "analysis-2-2", "analysis-2-3"]


def test_leave_one_out_and_small_study_effects_follow_the_declared_model(fleiss):
    """Leave-one-out refits Mantel-Haenszel (metafor's leave1out(rma.mh)); Egger's test and
    trim-and-fill refit its inverse-variance counterpart, the common-effect model (trimfill(rma(FE)))."""
    ref = MEASURES_REF["aspirin_or_mh"]
    ctx = report_context(fleiss, fleiss.definition)
    assert f"ranged from {w.fmt(ref['loo_min'])} (without AMIS)" in ctx["loo_text"]
    assert f"to {w.fmt(ref['loo_max'])} (without CDP)" in ctx["loo_text"]
    main = next(a for a in _pooled(fleiss)["analyses"] if a["outcome"] == "analysis-1-1")
    loo = {r["study"]: math.exp(r["estimate"]) for r in main["leave_one_out"]["rows"]}
    assert [loo[s] for s in ref["loo_study"]] == pytest.approx(ref["loo_estimate"], rel=1e-10)
    assert (f"adjusted estimate is OR {w.fmt(ref['trimfill_estimate'])} (95% CI "
            f"{w.fmt_ci(ref['trimfill_ci_lower'], ref['trimfill_ci_upper'])})") in ctx["small_study_text"]


def test_who_benefits_most_leads_with_the_subgroups_the_review_defines(synthetic):
    ctx = report_context(synthetic, synthetic.definition)
    first = ctx["moderators"][0]
    test = _reference("1.1")["subgroup_test"]
    assert first["label"] == "Subgroups defined by the review"
    assert f"\u03c7\u00b2 = {w.fmt(test['chi2'])}, df = {test['df']}, {w.fmt_p(test['p'])}" in first["text"]
    for s in _reference("1.1")["subgroups"]:
        trials = w.plural(s["k"], "trial")
        assert f"{s['name']}, OR {w.fmt(s['effect'])} (95% CI {w.fmt_ci(s['ci_lower'], s['ci_upper'])}) in {trials}" in first["text"]
