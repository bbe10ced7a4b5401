"""The vectorised leave-one-out fits (no loop over studies) equal k separate refits, for every
estimator and both CI methods. The refits are the metafor-validated `rma`."""

import numpy as np
import pytest

from livingmeta.stats import diagnostics, leaveout, pooling
from test_reference_metafor import DATASETS


@pytest.mark.parametrize("dname", sorted(DATASETS))
@pytest.mark.parametrize("method", pooling.TAU2_METHODS)
@pytest.mark.parametrize("test", pooling.TESTS)
def test_vectorised_leave_one_out_equals_refitting(dname, method, test):
    yi, vi = DATASETS[dname]()
    yi, vi = np.asarray(yi), np.asarray(vi)
    fast = leaveout.leave_one_out_fits(yi, vi, method=method, test=test)
    for i in range(len(yi)):
        keep = np.arange(len(yi)) != i
        r = pooling.rma(yi[keep], vi[keep], method=method, test=test)
        pr = r.predict()
        expected = [r.tau2, r.estimate, r.se[0], r.ci_lower[0], r.pval[0], r.QE, r.I2, pr["pi_upper"]]
        got = [fast[k][i] for k in ("tau2", "estimate", "se", "ci_lower", "pval", "QE", "I2", "pi_upper")]
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("method", pooling.TAU2_METHODS)
@pytest.mark.parametrize("test", pooling.TESTS)
def test_vectorised_influence_equals_refitting(method, test):
    yi, vi = DATASETS["bcg"]()
    fit = pooling.rma(yi, vi, method=method, test=test)
    fast = diagnostics.influence(fit)
    slow = diagnostics._influence_refit(fit)
    for col in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "QE_del", "hat", "weight", "dfbs_intrcpt"):
        np.testing.assert_allclose(fast[col], slow[col], rtol=1e-6, atol=1e-9, err_msg=col)
    assert (fast["influential"] == slow["influential"]).all()


@pytest.mark.parametrize("method", pooling.TAU2_METHODS)
@pytest.mark.parametrize("test", pooling.TESTS)
def test_batched_permutation_fits_equal_refitting(method, test):
    import itertools

    from livingmeta.stats import moderators
    from test_reference_metafor import bcg_rr
    d, yi, vi = bcg_rr()
    fit = pooling.rma(yi, vi, mods=d[["ablat", "year"]], method=method, test=test)
    rng = np.random.default_rng(5)
    perms = [rng.permutation(len(yi)) for _ in range(40)]
    fast = moderators._permuted_qm(fit, iter(perms), len(perms), chunk=16)
    slow = [pooling.rma(yi, vi, mods=fit.X[p], intercept=False, method=method, test=test).QM for p in perms]
    assert moderators._batched(fit)  # every registered method runs batched
    np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=1e-9)
    del itertools


@pytest.mark.parametrize("n", [3, 8, 20, 35, 80, 171, 200])  # 171! overflows a float
def test_exact_kendall_equals_scipy(n):
    from scipy.stats import kendalltau

    from livingmeta.stats.bias import kendall_exact
    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    y = rng.normal(size=n) + 0.4 * x
    ref = kendalltau(x, y, method="exact")
    tau, p = kendall_exact(x, y)
    assert tau == pytest.approx(ref.statistic, abs=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)
