"""The Bayesian model's quadrature follows the posterior's mass whatever the prior's scale, refuses
priors double precision cannot integrate, and keeps memory linear in the number of trials
(issue 23, F15). Reference: tests/reference/bayes_prior_scale_reference.json, tau quantiles by
brute-force nested adaptive quadrature (tests/reference/bayes_bruteforce.py), independent of the
engine, on a SYNTHETIC 10-trial example."""

import json
import math
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from livingmeta.pipeline.config_check import check_config
from livingmeta.errors import ConfigError
from livingmeta.stats.bayes import PriorSpecError, bayes_rma, parse_mu_prior, parse_tau_prior

REF = json.loads((Path(__file__).parent / "reference" / "bayes_prior_scale_reference.json").read_text())
CLI = [sys.executable, "-m", "livingmeta.cli"]


@pytest.mark.parametrize("prior", sorted(REF["cases"]))
def test_tau_quantiles_match_brute_force_whatever_the_prior_scale(prior):
    fit = bayes_rma(REF["yi"], REF["vi"], tau_prior=prior)
    np.testing.assert_allclose(fit.tau_quantile(REF["probabilities"]), REF["cases"][prior], rtol=2e-6)


def test_diffuse_priors_agree_with_each_other_and_with_the_uniform_prior():
    """Beyond a scale of ~100 the half-normal prior is flat where the likelihood lives: every
    summary is the uniform prior's (the issue saw 0.608, 0.489, 8.55 and a limit below the median)."""
    flat = bayes_rma(REF["yi"], REF["vi"], tau_prior="uniform").to_dict(shrinkage=False)
    for prior in ("half-normal:1e4", "half-normal:1e12", "half-normal:1e100", "half-cauchy:1e100"):
        d = bayes_rma(REF["yi"], REF["vi"], tau_prior=prior).to_dict(shrinkage=False)
        for key in ("tau_ci_lower", "tau_median", "tau_ci_upper", "mu_median", "mu_ci_upper", "pred_ci_upper"):
            assert d[key] == pytest.approx(flat[key], rel=1e-6), (prior, key)
        assert d["tau_ci_lower"] < d["tau_median"] < d["tau_ci_upper"]


def test_a_very_narrow_prior_gives_the_prior_back():
    """With a half-normal scale far below the trials' standard errors, the likelihood is flat over
    the prior's mass, so the posterior of tau is the prior (quantiles sigma * sqrt(2) erfinv(p))."""
    from scipy.special import erfinv
    for scale in (1e-6, 1e-100):
        fit = bayes_rma(REF["yi"], REF["vi"], tau_prior=f"half-normal:{scale:g}")
        expected = [scale * math.sqrt(2) * erfinv(p) for p in (0.025, 0.5, 0.975)]
        np.testing.assert_allclose(fit.tau_quantile([0.025, 0.5, 0.975]), expected, rtol=1e-6)


@pytest.mark.parametrize("spec", ["half-normal:1e-300", "half-normal:1e300", "half-cauchy:1e-300", "half-cauchy:1e300",
                                  "half-normal:1e-101", "log-normal:1e5,1", "log-t5:-3,1e4"])
def test_priors_double_precision_cannot_integrate_are_refused(spec):
    with pytest.raises(PriorSpecError, match="range"):
        parse_tau_prior(spec)


@pytest.mark.parametrize("spec", ["normal:0,1e300", "normal:0,1e-300", "normal:1e300,1"])
def test_mu_priors_double_precision_cannot_integrate_are_refused(spec):
    with pytest.raises(PriorSpecError, match=r"within|range"):
        parse_mu_prior(spec)


@pytest.fixture
def effects_csv(tmp_path):
    path = tmp_path / "effects.csv"
    pd.DataFrame({"yi": REF["yi"], "vi": REF["vi"]}).to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("args", [["--threshold", "inf"], ["--threshold=-inf"], ["--threshold", "nan"],
                                  ["--threshold", "1e400"], ["--tau-prior", "half-normal:1e300"],
                                  ["--tau-prior", "half-cauchy:1e-300"], ["--mu-prior", "normal:0,1e300"]])
def test_cli_refuses_what_cannot_be_computed_in_one_line(effects_csv, args):
    res = subprocess.run([*CLI, "analyze", effects_csv, "--bayes", "--json", *args], capture_output=True, text=True)
    assert res.returncode == 2 and res.stdout == ""
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert args[0].split("=")[0] in res.stderr or "prior" in res.stderr


@pytest.mark.parametrize("bayes", [{"tau_prior": "half-normal:1e300"}, {"sensitivity_tau_priors": ["half-cauchy:1e-300"]},
                                   {"mu_prior": "normal:0,1e300"}])
def test_config_check_refuses_the_priors_the_engine_refuses(bayes):
    with pytest.raises(ConfigError, match="bayes"):
        check_config({"reviews": ["x"], "bayes": bayes}, "config.yaml")


def test_memory_stays_linear_in_the_number_of_trials():
    """30,000 trials: the old (nodes x trials) arrays needed about 0.5 GB; blocks keep the peak at a
    fixed 16 MB block size plus a few arrays of length k."""
    rng = np.random.default_rng(1)
    k = 30_000
    v = rng.uniform(0.02, 0.3, k)
    y = rng.normal(0.2, np.sqrt(v + 0.04))
    tracemalloc.start()
    try:
        bayes_rma(y, v).to_dict(threshold=0.1, shrinkage=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100e6 + 1000 * k
