"""Trial sequential analysis (livingmeta.stats.sequential): information sizes and Lan-DeMets O'Brien-Fleming
boundaries against R's RTSA documented examples (tests/reference/tsa_published.json), and the
boundaries against a Monte Carlo simulation of the z-process under no effect."""

import json
from pathlib import Path

import numpy as np
import pytest

from livingmeta.stats import sequential as sq
from livingmeta.errors import ModelError

REF = json.loads((Path(__file__).parent / "reference" / "tsa_published.json").read_text())


@pytest.mark.parametrize("case", REF["required_information_size"], ids=lambda c: c["where"][-40:])
def test_required_information_size_reproduces_rtsa(case):
    ris = sq.required_information_size(case["effect"], measure=case["measure"], alpha=case["alpha"],
                                       power=case["power"], control_risk=case["control_risk"],
                                       diversity=case["diversity"])
    assert ris["fixed"] == case["fixed"]
    if "adjusted" in case:
        assert ris["adjusted"] == case["adjusted"]


@pytest.mark.parametrize("case", REF["boundaries"], ids=lambda c: c["where"][-30:])
def test_obrien_fleming_boundaries_reproduce_rtsa(case):
    b = sq.spending_boundaries(case["timing"], alpha=case["alpha"], sides=case["sides"])
    np.testing.assert_allclose(b, case["upper"], atol=5e-4)  # RTSA prints 3 decimals
    # two-sided 5% splits alpha equally: the benefit boundary equals the one-sided 2.5% boundary
    np.testing.assert_allclose(sq.spending_boundaries(case["timing"], alpha=2 * case["alpha"], sides=2), b, atol=1e-6)


def test_boundaries_spend_alpha_as_promised_monte_carlo():
    """200,000 z-processes under no effect (fixed seed) at uneven looks: the share that has first
    crossed the benefit boundary by each look equals the alpha spent by then. Tolerance: 4 Monte
    Carlo standard errors, sqrt(p(1 - p)/n)."""
    times = np.array([0.08, 0.15, 0.3, 0.31, 0.55, 0.8, 1.0])
    b = sq.spending_boundaries(times, alpha=0.05, sides=2)
    rng = np.random.default_rng(20240601)
    n = 200_000
    incr = rng.standard_normal((n, len(times))) * np.sqrt(np.diff(np.concatenate([[0], times])))
    z = np.cumsum(incr, axis=1) / np.sqrt(times)
    up, down = z >= b, z <= -b
    first_up = np.where(up.any(1), up.argmax(1), len(times))
    first_down = np.where(down.any(1), down.argmax(1), len(times))
    for j, t in enumerate(times):
        p = sq.obrien_fleming_spending(t, 0.025)
        observed = np.mean((first_up <= j) & (first_up < first_down))
        assert abs(observed - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-5, (j, observed, p)


def test_boundary_stays_flat_after_the_required_information():
    b = sq.spending_boundaries([0.4, 0.9, 1.3, 2.0])
    assert b[2] == b[3] and b[1] > b[2] > 1.96


def test_monitor_reports_first_crossing():
    looks = [{"label": "2001", "participants": 100, "z": 1.5}, {"label": "2005", "participants": 400, "z": 2.9},
             {"label": "2010", "participants": 900, "z": 3.1}]
    out = sq.monitor(looks, 785)
    assert out["first_benefit"] == "2010"  # 2.9 at 51% of the information is still inside the boundary
    assert out["looks"][1]["crossed"] is None and out["looks"][1]["boundary"] > 2.9


def test_diversity_and_bad_inputs():
    assert sq.diversity(0.1, 0.2) == pytest.approx(0.75)
    with pytest.raises(ModelError, match="control-group event proportion"):
        sq.required_information_size(0.8, measure="RR")
    with pytest.raises(ModelError):
        sq.spending_boundaries([0.5, 0.3])


def test_threshold_orientation():
    assert sq.threshold_on_analysis_scale(0.2, "SMD", "lower_is_better") == -0.2
    assert sq.threshold_on_analysis_scale(1.25, "RR", "higher_is_better") == pytest.approx(np.log(1.25))
    assert sq.anticipated_effect(1.25, "RR", "lower_is_better") == pytest.approx(0.8)


def test_tiny_first_look_gets_no_finite_boundary_and_later_looks_still_work():
    b = sq.spending_boundaries([0.002, 0.01, 0.5, 1.0])
    assert np.isinf(b[0])
    np.testing.assert_allclose(b[2:], sq.spending_boundaries([0.01, 0.5, 1.0])[1:], atol=2e-3)
    rows = sq.monitor([{"label": "a", "participants": 2, "z": 1.0}, {"label": "b", "participants": 500, "z": 1.0}], 1000)
    assert rows["looks"][0]["boundary"] is None


def test_futility_boundaries_spend_beta_as_promised_monte_carlo():
    """Under the anticipated effect (drift z_{0.975} + z_{0.80} at the required information), the
    share of 400,000 simulated z-processes (fixed seed) that first enter the futility wedge |Z| < f
    by each look, before crossing an efficacy boundary, equals the beta spent by then (4 MC SEs)."""
    from scipy import stats
    times = np.array([0.2, 0.35, 0.5, 0.75, 0.9])
    b = sq.spending_boundaries(times)
    f = sq.futility_boundaries(times, b, alpha=0.05, power=0.80)
    assert np.all(np.diff(f) > 0) and np.all(f < b)
    theta = stats.norm.isf(0.025) + stats.norm.ppf(0.80)
    rng = np.random.default_rng(7)
    n = 400_000
    dt = np.diff(np.concatenate([[0], times]))
    z = np.cumsum(rng.standard_normal((n, len(times))) * np.sqrt(dt) + theta * dt, axis=1) / np.sqrt(times)
    eff, fut = np.abs(z) >= b, np.abs(z) < f
    first_eff = np.where(eff.any(1), eff.argmax(1), len(times))
    first_fut = np.where(fut.any(1), fut.argmax(1), len(times))
    for j, t in enumerate(times):
        p = sq.obrien_fleming_spending(t, 0.20)
        observed = np.mean((first_fut <= j) & (first_fut < first_eff))
        assert abs(observed - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-5, (j, observed, p)


def test_monitor_reports_futility_inside_the_wedge():
    looks = [{"label": "a", "participants": 300, "z": 0.3}, {"label": "b", "participants": 700, "z": 0.2}]
    out = sq.monitor(looks, 785, power=0.8)
    assert out["looks"][1]["crossed"] == "futility" and out["looks"][1]["futility"] > 0.2
    assert sq.monitor(looks, 785)["looks"][1]["crossed"] is None  # no wedge unless asked


def test_a_mean_difference_information_size_uses_the_outcome_variance():
    """Wetterslev 2008 eq. 1 with nu = sigma^2, by hand: MD 5 with SD 20, alpha 0.05, power 0.9:
    4 (1.959964 + 1.281552)^2 * 400 / 25 = 672.5 -> 673 participants, as an SMD of 0.25 needs."""
    ris = sq.required_information_size(5.0, measure="MD", alpha=0.05, power=0.90, sd=20.0)
    assert ris["fixed"] == 673 and ris["sd"] == 20.0
    assert ris["fixed"] == sq.required_information_size(0.25, measure="SMD", alpha=0.05, power=0.90)["fixed"]
    with pytest.raises(ModelError, match="standard deviation"):
        sq.required_information_size(5.0, measure="MD")
