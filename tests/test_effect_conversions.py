"""Conversions that metafor does not provide in the installed version, checked against raw data
generated here (SYNTHETIC samples, seeded) or against a validated route."""

import numpy as np
import pytest
from scipy import stats

from livingmeta.stats import effects


def test_combining_two_arms_gives_the_mean_and_sd_of_the_pooled_raw_data():
    rng = np.random.default_rng(7)
    a, b = rng.normal(10, 3, 23), rng.normal(14, 5, 31)
    n, mean, sd = effects.combine_arms(len(a), a.mean(), a.std(ddof=1), len(b), b.mean(), b.std(ddof=1))
    both = np.concatenate([a, b])
    assert n == 54
    assert mean == pytest.approx(both.mean(), rel=1e-12)
    assert sd == pytest.approx(both.std(ddof=1), rel=1e-12)


def test_splitting_a_shared_control_divides_its_size():
    assert effects.split_shared_control(40, 2) == 20
    with pytest.raises(ValueError):
        effects.split_shared_control(40, 0)


@pytest.mark.parametrize("kind", ["iqr", "range", "both"])
def test_median_quantile_conversions_recover_normal_mean_and_sd_in_large_samples(kind):
    rng = np.random.default_rng(11)
    x = rng.normal(20, 4, 20_000)
    q = dict(median=np.median(x))
    if kind in ("iqr", "both"):
        q.update(q1=np.quantile(x, 0.25), q3=np.quantile(x, 0.75))
    if kind in ("range", "both"):
        q.update(minimum=x.min(), maximum=x.max())
    mean, sd = effects.mean_sd_from_quantiles(len(x), **q)
    assert mean == pytest.approx(20, abs=0.1)
    # range-based SDs use extreme order statistics, which vary more from sample to sample
    assert sd == pytest.approx(4, rel=0.02 if kind == "iqr" else 0.08)


def test_p_value_and_f_routes_agree_with_the_t_route():
    n1, n2, t = np.array([20, 35]), np.array([22, 30]), np.array([2.1, -1.4])
    via_t = effects.smd_from_t(t, n1, n2)
    p = 2 * stats.t.sf(np.abs(t), n1 + n2 - 2)
    via_p = effects.smd_from_p(p, n1, n2, np.sign(t))
    via_f = effects.smd_from_f(t**2, n1, n2, np.sign(t))
    np.testing.assert_allclose(via_p.yi, via_t.yi, rtol=1e-10)
    np.testing.assert_allclose(via_f.yi, via_t.yi, rtol=1e-10)


def test_mean_difference_with_its_ci_gives_the_same_smd_as_the_raw_means():
    # Group summaries -> MD and its t-based CI -> SMD must equal Hedges' g from the summaries.
    m1, sd1, n1, m2, sd2, n2 = 12.0, 4.0, 25, 9.0, 5.0, 30
    sp = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))
    se = sp * np.sqrt(1 / n1 + 1 / n2)
    crit = stats.t.isf(0.025, n1 + n2 - 2)
    via_ci = effects.smd_from_mean_difference(m1 - m2, n1, n2, ci_lower=3 - crit * se, ci_upper=3 + crit * se)
    direct = effects.hedges_g(m1, sd1, n1, m2, sd2, n2)
    assert float(via_ci.yi) == pytest.approx(float(direct.yi), rel=1e-10)


def test_pre_post_correlation_sweep_runs_over_the_assumed_correlations():
    arm = dict(m_post=10, m_pre=14, sd_post=4, sd_pre=4.5, n=20)
    ctl = dict(m_post=13, m_pre=14, sd_post=4.2, sd_pre=4.4, n=20)
    sweep = effects.pre_post_correlation_sweep(arm, ctl, rs=(0.2, 0.5, 0.8))
    assert list(sweep) == [0.2, 0.5, 0.8]
    # with standardisation by the pre-test SD, a higher correlation means a smaller variance
    vs = [float(sweep[r].vi) for r in sweep]
    assert vs[0] > vs[1] > vs[2]


def test_common_sd_pools_every_group_with_its_degrees_of_freedom():
    from livingmeta.stats.effects import common_sd, pooled_sd
    # one trial: the Handbook's pooled SD
    assert common_sd([4.0, 6.0], [20, 30]) == pytest.approx(float(pooled_sd(4.0, 20, 6.0, 30)))
    # by hand: (19*16 + 29*36 + 9*25) / (19 + 29 + 9) = 1573 / 57
    assert common_sd([4.0, 6.0, 5.0, float("nan")], [20, 30, 10, 40]) == pytest.approx((1573 / 57) ** 0.5)
    assert np.isnan(common_sd([float("nan")], [10]))
