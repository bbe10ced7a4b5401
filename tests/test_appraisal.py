"""Risk of bias: judgements read from records (not assessed is never a risk level), the trial's
class on the criterion domains, weighted shares, the low-risk refit and the subgroups; RoB 1
with some domains only, RoB 2 per outcome, and the record schema."""

import numpy as np
import pandas as pd
import pytest
import yaml

from livingmeta.pipeline import appraisal as ap
from livingmeta.pipeline.records import RecordError, load_review

CRIT = ap.DEFAULTS["low_risk_domains"]


def rob1(**judgements):
    return {"tool": "rob1", "source": "crafted test record (synthetic)",
            "domains": {d: {"judgement": j, "support": None} for d, j in judgements.items()}}


def rob2(overall, by_outcome=None):
    block = {"tool": "rob2", "source": "crafted test record (synthetic)",
             "domains": {"overall": {"judgement": overall, "support": "study level"}}}
    if by_outcome:
        block["by_outcome"] = {o: {"overall": {"judgement": j, "support": None}} for o, j in by_outcome.items()}
    return block


LOW3 = dict(allocation_concealment="low", blinding_outcome_assessment="low", incomplete_outcome_data="low")


def test_absent_domains_are_not_assessed_and_no_block_means_no_tool():
    tool, j = ap.trial_judgements({"risk_of_bias": rob1(allocation_concealment="low")}, "depression")
    assert tool == "rob1"
    assert j["allocation_concealment"]["judgement"] == "low"
    assert j["other_bias"]["judgement"] == ap.NOT_ASSESSED
    assert ap.trial_judgements({}, "depression") == (None, {})


def test_a_block_of_not_assessed_domains_is_no_assessment():
    assert not ap.has_assessment({"risk_of_bias": rob1(allocation_concealment="not_assessed")})
    assert not ap.has_assessment({})
    assert ap.has_assessment({"risk_of_bias": rob2("not_assessed", by_outcome={"depression": "high"})})


def test_outcome_level_judgements_replace_study_level_ones():
    rec = {"risk_of_bias": rob2("some_concerns", by_outcome={"depression": "low"})}
    assert ap.trial_judgements(rec, "depression")[1]["overall"]["judgement"] == "low"
    assert ap.trial_judgements(rec, "completion")[1]["overall"]["judgement"] == "some_concerns"


@pytest.mark.parametrize("judgements,expected", [
    (LOW3, "low"),
    ({**LOW3, "incomplete_outcome_data": "unclear"}, "unclear"),
    ({**LOW3, "allocation_concealment": "high", "incomplete_outcome_data": "not_assessed"}, "high"),
    ({**LOW3, "incomplete_outcome_data": "not_assessed"}, ap.NOT_ASSESSED),
    ({"allocation_concealment": "low", "blinding_outcome_assessment": "low"}, ap.NOT_ASSESSED),  # ITT absent
    ({"sequence_generation": "high", **LOW3}, "low"),  # a domain outside the criterion does not count
])
def test_trial_class_on_the_criterion_domains(judgements, expected):
    tool, j = ap.trial_judgements({"risk_of_bias": rob1(**judgements)}, "x")
    assert ap.trial_class(tool, j, CRIT["rob1"]) == expected


def test_rob2_class_uses_overall_and_its_own_words():
    for overall in ("low", "some_concerns", "high", "not_assessed"):
        tool, j = ap.trial_judgements({"risk_of_bias": rob2(overall)}, "x")
        assert ap.trial_class(tool, j, CRIT["rob2"]) == overall
    assert ap.trial_class(None, {}, CRIT["rob1"]) == ap.NOT_ASSESSED


def test_weight_shares_add_to_one_and_map_some_concerns_to_the_middle_level():
    s = ap.weight_shares(["low", "some_concerns", "high", "not_assessed", "low"], [10, 20, 30, 25, 15])
    assert s == pytest.approx({"low": 0.25, "unclear": 0.20, "high": 0.30, "not_assessed": 0.25})


def test_settings_review_overrides_config_per_tool():
    s = ap.settings({"low_risk_domains": {"rob1": ["sequence_generation"]}}, {"low_risk_domains": {"rob2": ["measurement"]}})
    assert s["low_risk_domains"] == {"rob1": ["sequence_generation"], "rob2": ["measurement"]}


def _crafted(n_low=3, with_missing=True):
    """Synthetic trials: yi, vi and RoB 1 on four domains only (as in Metapsy: sg, ac, ba, itt)."""
    rng = np.random.default_rng(7)
    rows, records = [], {}
    kinds = ["low"] * n_low + ["high"] * 3 + ["unclear"] * 2 + (["missing"] if with_missing else [])
    for i, kind in enumerate(kinds):
        tid = f"t{i}"
        rows.append({"trial_id": tid, "label": f"Trial {i}", "yi": float(rng.normal(-0.4, 0.3)),
                     "vi": float(rng.uniform(0.02, 0.1)), "n_int": 20 + i, "n_ctl": 20,
                     "total_int": np.nan, "total_ctl": np.nan})
        if kind == "missing":
            records[tid] = {"id": tid}
        else:
            j = {"sequence_generation": "low", "allocation_concealment": kind, "blinding_outcome_assessment": "low",
                 "incomplete_outcome_data": "low"}
            records[tid] = {"id": tid, "risk_of_bias": rob1(**j)}
    return pd.DataFrame(rows), records


def test_low_risk_refit_is_the_same_model_on_the_low_risk_trials_and_counts_the_rest():
    sub, records = _crafted()
    weights = {t: 100 / len(sub) for t in sub.trial_id}
    main = {"estimate": -0.4, "ci_lower": -0.6, "ci_upper": -0.2}
    out = ap.analysis_risk_of_bias(sub, records, "depression", main, weights, CRIT, {"method": "FE", "test": "z"})
    low = sub.iloc[:3]
    w = 1 / low.vi
    assert out["low_risk"]["k"] == 3
    assert out["low_risk"]["estimate"] == pytest.approx(float(np.sum(w * low.yi) / np.sum(w)), abs=1e-12)
    assert out["low_risk"]["participants"] == int(low.n_int.sum() + low.n_ctl.sum())
    assert out["low_risk"]["shift"] == pytest.approx(out["low_risk"]["estimate"] + 0.4)
    assert out["counts"] == {"low": 3, "unclear": 2, "some_concerns": 0, "high": 3, "not_assessed": 1}
    assert out["k_not_assessed_at_all"] == 1
    # subgroups: the trial not assessed is left out and counted, never a level
    mod = out["moderator"]
    assert mod["k_not_reported"] == 1 and mod["not_reported_trials"] == ["Trial 8"]
    assert sorted(lv["level"] for lv in mod["levels"]) == ["high", "low", "unclear"]


def test_fewer_than_two_low_risk_trials_is_not_pooled_and_says_why():
    sub, records = _crafted(n_low=1)
    out = ap.analysis_risk_of_bias(sub, records, "d", {"estimate": 0, "ci_lower": -1, "ci_upper": 1},
                                   {t: 1.0 for t in sub.trial_id}, CRIT, {"method": "REML", "test": "knha"})
    assert "estimate" not in out["low_risk"] and "pooling needs 2" in out["low_risk"]["not_pooled_reason"]


def test_summary_draws_only_domains_someone_was_judged_on():
    sub, records = _crafted()
    out = ap.analysis_risk_of_bias(sub, records, "d", {"estimate": 0, "ci_lower": -1, "ci_upper": 1},
                                   {t: 10.0 for t in sub.trial_id}, CRIT, {"method": "FE", "test": "z"})
    drawn = [r["domain"] for r in out["summary"]["rob1"]]
    assert drawn == ["sequence_generation", "allocation_concealment", "blinding_outcome_assessment", "incomplete_outcome_data"]
    ac = out["summary"]["rob1"][1]
    assert ac["counts"] == {"low": 3, "unclear": 2, "high": 3, "not_assessed": 0}  # the trial without a block is not in it
    assert ac["shares"]["low"] == pytest.approx(3 / 8)


def test_rob2_records_by_outcome_enter_the_low_risk_set_per_outcome():
    sub = pd.DataFrame({"trial_id": ["a", "b", "c"], "label": ["A", "B", "C"], "yi": [-0.2, -0.5, -0.9],
                        "vi": [0.04, 0.05, 0.06], "n_int": [30, 30, 30], "n_ctl": [30, 30, 30],
                        "total_int": [np.nan] * 3, "total_ctl": [np.nan] * 3})
    records = {"a": {"risk_of_bias": rob2("low")}, "b": {"risk_of_bias": rob2("high", {"depression": "low"})},
               "c": {"risk_of_bias": rob2("low", {"depression": "some_concerns"})}}
    out = ap.analysis_risk_of_bias(sub, records, "depression", {"estimate": -0.5, "ci_lower": -0.8, "ci_upper": -0.2},
                                   {"a": 40, "b": 30, "c": 30}, CRIT, {"method": "FE", "test": "z"})
    assert out["low_risk"]["trials"] == ["A", "B"]
    assert out["counts"]["some_concerns"] == 1
    assert out["weight_shares"]["unclear"] == pytest.approx(0.30)


def _edit(review_dir, trial_id, block):
    path = review_dir / "trials" / f"{trial_id}.yaml"
    rec = yaml.safe_load(path.read_text())
    rec["risk_of_bias"] = block
    path.write_text(yaml.safe_dump(rec, sort_keys=False))


@pytest.mark.parametrize("block,words", [
    (rob1(allocation_concealment="some_concerns"), "some_concerns"),            # RoB 2 word in a RoB 1 block
    (rob2("unclear"), "unclear"),                                                # RoB 1 word in a RoB 2 block
    (rob1(randomisation="low"), "randomisation"),                               # RoB 2 domain in RoB 1
    (rob1(allocation_concealment="unknown"), "unknown"),                        # unknown is written not_assessed
    ({"tool": "rob3", "source": "x", "domains": {}}, "rob3"),
    ({"tool": "rob1", "domains": {}}, "source"),
])
def test_schema_rejects_bad_risk_of_bias_blocks(review_copy, block, words):
    _edit(review_copy, "blumenthal-2007", block)
    with pytest.raises(RecordError) as err:
        load_review(review_copy)
    assert "blumenthal-2007.yaml" in str(err.value) and "risk_of_bias" in str(err.value) and words in str(err.value)


def test_schema_accepts_not_assessed_and_rob2_by_outcome(review_copy):
    _edit(review_copy, "blumenthal-2007", rob2("not_assessed", {"depression": "low"}))
    assert len(load_review(review_copy).trials) == 35


def test_shipped_exercise_records_keep_unknown_as_not_assessed(review_copy):
    review = load_review(review_copy)
    by_label = {t["label"]: t for t in review.trials}
    klein = by_label["Klein 1985"]["risk_of_bias"]
    assert {d["judgement"] for d in klein["domains"].values()} == {"not_assessed"}
    assert klein["source"].startswith("not assessed")
    krogh = by_label["Krogh 2009"]["risk_of_bias"]["domains"]
    assert krogh["selective_reporting"]["judgement"] == "not_assessed"          # row cut off in the copy read
    assert by_label["Blumenthal 2007"]["risk_of_bias"]["domains"]["allocation_concealment"]["support"] == \
        "Central allocation by a computer"
    assert sum(1 for t in review.trials if any(d["judgement"] != "not_assessed"
                                               for d in t["risk_of_bias"]["domains"].values())) == 24


def test_by_outcome_must_name_an_outcome_of_the_review(review_copy):
    _edit(review_copy, "blumenthal-2007", rob2("low", {"mood": "high"}))
    with pytest.raises(RecordError) as err:
        load_review(review_copy)
    assert "risk_of_bias.by_outcome.mood" in str(err.value) and "unknown outcome" in str(err.value)


def test_traffic_light_pages_then_compresses_for_large_databases():
    from livingmeta.report import rob_figures as rf
    import matplotlib.pyplot as plt

    def trials(n):
        return [{"trial_id": f"t{i}", "label": f"Trial {i}", "tool": "rob1", "weight_pct": 1.0,
                 "judgements": ap.trial_judgements({"risk_of_bias": rob1(allocation_concealment="low")}, "x")[1]}
                for i in range(n)]
    assert len(rf.traffic_light_pages(trials(120), "rob1", rows_per_page=50, compress_above=150)) == 3
    assert len(rf.traffic_light_pages(trials(480), "rob1", rows_per_page=50, compress_above=150)) == 1
    assert rf._domains_drawn(trials(3), "rob1") == ["allocation_concealment"]
    plt.close("all")
