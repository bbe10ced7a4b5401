"""'How settled is the evidence?': the CLI contract of `analyze --bayes`, the pipeline stages
(livingmeta.pipeline.settled) and the report sentences (livingmeta.report.settled). Effect tables here are
synthetic (labelled so); the statistics themselves are checked in test_bayes.py and
test_sequential.py against published examples."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from livingmeta.report.history import history_entry, sequential_looks
from livingmeta.pipeline.settled import bayes_analysis, sequential_analysis
from livingmeta.report.settled import settled_context

REF = json.loads((__import__("pathlib").Path(__file__).parent / "reference" / "bayesmeta_published.json").read_text())
BRUTE = json.loads((__import__("pathlib").Path(__file__).parent / "reference" / "bayes_bruteforce_reference.json").read_text())
CLI = [sys.executable, "-m", "livingmeta.cli"]
CONTRACT = ("mu_mean", "mu_median", "mu_ci_lower", "mu_ci_upper", "tau_median", "tau_ci_lower", "tau_ci_upper",
            "pred_ci_lower", "pred_ci_upper", "prob_below_threshold")


def _no_nan(text):
    def refuse(name):
        raise AssertionError(f"JSON contains {name}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def crins_csv(tmp_path):
    c = REF["cases"]["crins2014_halfnormal05"]
    path = tmp_path / "crins.csv"
    pd.DataFrame({"study": [f"s{i}" for i in range(1, 7)], "yi": c["yi"], "vi": c["vi"]}).to_csv(path, index=False)
    return path


def test_analyze_bayes_json_contract_and_published_numbers(crins_csv):
    r = subprocess.run([*CLI, "analyze", str(crins_csv), "--bayes", "--tau-prior", "half-normal:0.5",
                        "--mu-prior", "normal:0,4", "--threshold", "-1.5", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = _no_nan(r.stdout)
    b = out["bayes"]
    assert all(isinstance(b[k], float) for k in CONTRACT)
    assert out["k"] == 6 and "estimate" in out  # the frequentist fit is still there
    pub = REF["cases"]["crins2014_halfnormal05"]
    assert b["mu_median"] == pytest.approx(pub["mu"]["median"], abs=5e-3 * pub["mu"]["sd"])
    assert b["tau_median"] == pytest.approx(pub["tau"]["median"], rel=2e-5)
    below = dict((x, p) for x, p in BRUTE["cases"]["crins2014_halfnormal05"]["prob_mu_below"])
    assert b["prob_below_threshold"] == pytest.approx(below[-1.5], abs=1e-8)
    assert b["interval"] == "central" and b["mu_prior"].startswith("normal")


def test_analyze_bayes_defaults_and_refusals(crins_csv):
    r = subprocess.run([*CLI, "analyze", str(crins_csv), "--bayes", "--json"], capture_output=True, text=True)
    b = _no_nan(r.stdout)["bayes"]
    assert b["mu_prior"].startswith("uniform") and b["threshold"] == 0.0
    assert b["prob_below_threshold"] == pytest.approx(b["prob_below_zero"])
    r = subprocess.run([*CLI, "analyze", str(crins_csv), "--bayes", "--tau-prior", "half-normal:zero"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "half-normal:SCALE" in r.stderr


def _synthetic_review(direction="lower_is_better", cid=0.2):
    outcome = {"id": "symptoms", "label": "Symptom score", "type": "continuous", "effect_measure": "SMD",
               "direction": direction, "timepoints": [{"id": "end", "label": "end"}]}
    if cid is not None:
        outcome["clinically_important_difference"] = {"value": cid, "source": "synthetic test value"}
    return {"id": "synthetic", "primary_outcome": "symptoms", "outcomes": [outcome],
            "arms": {"intervention": "widgetotherapy", "control": "usual care"},
            # the words sentences use are the review's labels (review_words), never its arm keys
            "labels": {"intervention": "widgetotherapy", "comparator": "usual care"}}


def _synthetic_effects(k=14, effect=-0.35, seed=11):
    """SYNTHETIC trials: SMDs around `effect`, 40-120 participants per arm, published 2001 onwards."""
    rng = np.random.default_rng(seed)
    n = rng.integers(40, 120, k)
    vi = 2 / n + effect ** 2 / (4 * n)
    yi = rng.normal(effect, 0.15, k) + rng.normal(0, np.sqrt(vi))
    return pd.DataFrame({"trial_id": [f"t{i}" for i in range(k)], "label": [f"Synthetic {i}" for i in range(k)],
                         "year": 2001 + np.arange(k) // 2, "outcome": "symptoms", "timepoint": "end", "measure": "SMD",
                         "yi": yi, "vi": vi, "n_int": n, "n_ctl": n, "total_int": np.nan, "total_ctl": np.nan})


def test_probabilities_follow_the_outcome_direction():
    eff = _synthetic_effects()
    low = bayes_analysis(eff, _synthetic_review("lower_is_better"), {})
    high = bayes_analysis(eff, _synthetic_review("higher_is_better"), {})
    assert low["probabilities"]["benefit"] == pytest.approx(low["model"]["prob_below_zero"])
    assert high["probabilities"]["benefit"] == pytest.approx(low["probabilities"]["harm"])
    # the threshold is applied on the benefit side: SMD < -0.2 when lower is better, > +0.2 when higher is better
    assert low["threshold_analysis_scale"] == -0.2 and high["threshold_analysis_scale"] == 0.2
    assert low["probabilities"]["important_benefit"] < low["probabilities"]["benefit"]


def test_sequential_information_size_from_the_review_threshold():
    eff = _synthetic_effects()
    out = sequential_analysis(eff, _synthetic_review(), {"heterogeneity_correction": "none"}, {"method": "REML"})
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.80)
    assert out["ris"]["adjusted"] == int(np.ceil(4 * z ** 2 / 0.2 ** 2))  # 785 participants, both arms
    assert [lk["label"] for lk in out["looks"]] == [str(y) for y in sorted(eff.year.unique())]
    assert out["looks"][-1]["participants"] == int(eff.n_int.sum() + eff.n_ctl.sum())
    with_d2 = sequential_analysis(eff, _synthetic_review(), {}, {"method": "REML"})
    assert with_d2["ris"]["adjusted"] >= out["ris"]["adjusted"]


def test_sequential_without_a_threshold_says_why():
    out = sequential_analysis(_synthetic_effects(), _synthetic_review(cid=None), {}, {})
    assert "sets no smallest difference that matters" in out["not_analysed_reason"]  # in a reader's words
    assert "review.yaml" not in out["not_analysed_reason"] and "_" not in out["not_analysed_reason"]
    ctx = settled_context(bayes=bayes_analysis(_synthetic_effects(), _synthetic_review(cid=None), {}), sequential=out,
                          review_def=_synthetic_review(cid=None))
    assert not ctx["sequential"]["available"] and "Not analysed" in ctx["sequential"]["text"]


def test_edition_points_and_changes_since_the_previous_edition(tmp_path):
    eff = _synthetic_effects()
    review = _synthetic_review()
    ed = tmp_path / "editions" / "2025-01-01-abcdef12"
    ed.mkdir(parents=True)
    (ed / "manifest.json").write_text(json.dumps({"edition": "2025-01-01-abcdef12", "date": "2025-01-01",
                                                  "fingerprint": {"all": "abcdef12"}}))
    first = eff.iloc[:8]
    (ed / "sequential.json").write_text(json.dumps(sequential_analysis(first, review, {}, {})))
    (ed / "bayes.json").write_text(json.dumps(bayes_analysis(first, review, {})))
    history = {"editions": [history_entry(ed, review)]}
    points = sequential_looks(history)
    assert len(points) == 1 and points[0]["participants"] == int(first.n_int.sum() * 2)
    seq = sequential_analysis(eff, review, {}, {}, edition_looks=points)
    assert len(seq["editions"]) == 1 and seq["editions"][0]["label"] == "2025-01-01"
    ctx = settled_context(bayes=bayes_analysis(eff, review, {}), sequential=seq, review_def=review,
                          previous_bayes=json.loads((ed / "bayes.json").read_text()),
                          previous_sequential=json.loads((ed / "sequential.json").read_text()), previous_label="2025-01-01")
    text = " ".join(ctx["changes"])
    assert "previous edition (2025-01-01)" in text and "% of the required information size" in text


def test_sentences_use_the_reviews_own_words():
    eff = _synthetic_effects()
    review = _synthetic_review()
    ctx = settled_context(bayes=bayes_analysis(eff, review, {}), sequential=sequential_analysis(eff, review, {}, {}),
                          review_def=review)
    assert "widgetotherapy is better than usual care for symptom score" in ctx["bayes"]["probabilities"]
    assert "Cochrane Handbook" in ctx["note"]
    words = json.dumps(ctx).lower()
    assert "exercise" not in words and "depress" not in words
    assert ctx["changes"] == []  # a first edition: the report's 'What changed in this edition' says so, once


def test_binary_primary_outcome_uses_ratio_threshold_and_control_risk():
    """SYNTHETIC binary trials (risk ratio, fewer events is better)."""
    rng = np.random.default_rng(5)
    k = 10
    n = rng.integers(60, 200, k)
    ec = rng.binomial(n, 0.30)
    ei = rng.binomial(n, 0.22)
    yi = np.log((ei + 0.5) / (n + 0.5)) - np.log((ec + 0.5) / (n + 0.5))
    vi = 1 / (ei + 0.5) - 1 / (n + 0.5) + 1 / (ec + 0.5) - 1 / (n + 0.5)
    eff = pd.DataFrame({"trial_id": [f"b{i}" for i in range(k)], "label": [f"Binary {i}" for i in range(k)],
                        "year": 2010 + np.arange(k), "outcome": "events", "timepoint": "end", "measure": "RR",
                        "yi": yi, "vi": vi, "n_int": np.nan, "n_ctl": np.nan, "total_int": n, "total_ctl": n,
                        "events_int": ei, "events_ctl": ec})
    review = {"id": "synthetic-binary", "primary_outcome": "events",
              "arms": {"intervention": "drug A", "control": "placebo"},
              "labels": {"intervention": "drug A", "comparator": "placebo"},
              "outcomes": [{"id": "events", "label": "Relapse", "type": "binary", "effect_measure": "RR",
                            "direction": "lower_is_better", "timepoints": [{"id": "end", "label": "end"}],
                            "clinically_important_difference": {"value": 1.25, "source": "synthetic"}}]}
    b = bayes_analysis(eff, review, {})
    assert b["threshold_analysis_scale"] == pytest.approx(np.log(0.8))
    s = sequential_analysis(eff, review, {"heterogeneity_correction": "none"}, {})
    pc = ec.sum() / n.sum()
    pi = 0.8 * pc
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    pbar = (pc + pi) / 2
    assert s["ris"]["adjusted"] == int(np.ceil(4 * z ** 2 * pbar * (1 - pbar) / (pc - pi) ** 2))
    ctx = settled_context(bayes=b, sequential=s, review_def=review)
    assert "RR " in ctx["bayes"]["estimates"] and "drug A is better than placebo for relapse" in ctx["bayes"]["probabilities"]


def _as_mean_difference(eff, review, s):
    """The same SYNTHETIC trials as mean differences in units of ``s`` (every group's SD is s, so the
    SD pooled over the groups is s): yi * s, vi * s^2, and the threshold s times the SMD one."""
    md = eff.assign(yi=eff.yi * s, vi=eff.vi * s * s, measure="MD", sd_int=s, sd_ctl=s)
    rv = json.loads(json.dumps(review))
    rv["outcomes"][0]["effect_measure"] = "MD"
    rv["outcomes"][0]["clinically_important_difference"]["value"] *= s
    return md, rv


@pytest.mark.parametrize("s", [10.0, 0.25])
def test_a_mean_difference_gets_the_same_information_size_and_boundaries_as_its_smd(s):
    """Wetterslev's nu is the outcome's variance: an MD of s * 0.2 with SD s needs the participants
    an SMD of 0.2 needs. Before, nu = 1 whatever the units (10 units: 8 participants, not 785)."""
    eff, review = _synthetic_effects(), _synthetic_review()
    smd = sequential_analysis(eff, review, {}, {"method": "REML"})
    md = sequential_analysis(*_as_mean_difference(eff, review, s), {}, {"method": "REML"})
    assert md["ris"]["adjusted"] == smd["ris"]["adjusted"] and md["ris"]["sd"] == pytest.approx(s)
    assert [lk["z"] for lk in md["looks"]] == pytest.approx([lk["z"] for lk in smd["looks"]], rel=1e-7)  # REML converged to ~1e-9
    assert md["status"] == smd["status"]
    text = settled_context(bayes=bayes_analysis(*_as_mean_difference(eff, review, s), {}), sequential=md,
                           review_def=_as_mean_difference(eff, review, s)[1])["sequential"]["basis"]
    assert f"standard deviation taken as {s:.2f}" in text


@pytest.mark.parametrize("prior", ["half-normal:0.5", "half-cauchy:0.3", "rhodes:mental-health:nonpharma"])
def test_a_mean_difference_gets_its_tau_prior_in_its_own_units(prior):
    """The tau priors are set in standard deviations: rescaled by the outcome's SD, the Bayesian fit
    of the trials as mean differences is the SMD fit times s (probabilities unchanged)."""
    s = 10.0
    eff, review = _synthetic_effects(), _synthetic_review()
    cfg = {"tau_prior": prior, "sensitivity_tau_priors": ["half-normal:1.0"]}
    smd = bayes_analysis(eff, review, cfg)
    md = bayes_analysis(*_as_mean_difference(eff, review, s), cfg)
    assert md["outcome_sd"] == pytest.approx(s)
    for key in ("benefit", "important_benefit", "harm"):
        assert md["probabilities"][key] == pytest.approx(smd["probabilities"][key], abs=1e-7)
    for key in ("mu_median", "mu_ci_lower", "mu_ci_upper", "tau_median", "tau_ci_upper"):
        assert md["model"][key] == pytest.approx(s * smd["model"][key], rel=1e-6)
    assert md["prior_sensitivity"][0]["benefit"] == pytest.approx(smd["prior_sensitivity"][0]["benefit"], abs=1e-7)
    assert "in standard deviations" in md["model"]["tau_prior"]


def test_a_mean_difference_without_standard_deviations_is_not_analysed_and_says_why():
    eff, review = _synthetic_effects(), _synthetic_review()
    md, rv = _as_mean_difference(eff, review, 10.0)
    md = md.assign(sd_int=np.nan, sd_ctl=np.nan)
    assert "standard deviations" in sequential_analysis(md, rv, {}, {})["not_analysed_reason"]
    assert "standard deviations" in bayes_analysis(md, rv, {})["not_analysed_reason"]
