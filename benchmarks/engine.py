"""Engine benchmarks: livingmeta against the Python peers on the same synthetic data, in-process."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from livingmeta.stats import bayes, diagnostics, moderators, multilevel, pooling
from synthetic import clustered, effects
from timing import measure

REML_KS = (35, 1_000, 10_000, 100_000)


def cases(repeat: int = 5):
    """(case, k, tool, timing dict) rows."""
    rows = []
    for k in REML_KS:
        y, v, _ = effects(k)
        rows.append(("REML fit", k, "livingmeta", measure(lambda: pooling.rma(y, v, method="REML"), repeat)))
        for method, sm in (("DL", "chi2"), ("PM", "iterated")):
            rows.append((f"{method} fit", k, "livingmeta", measure(lambda: pooling.rma(y, v, method=method), repeat)))
            rows.append((f"{method} fit", k, "statsmodels", _statsmodels(y, v, sm, repeat)))
        if k <= 10_000:
            rows.append(("REML fit", k, "PyMARE", _pymare(y, v, "REML", repeat)))
            rows.append(("DL fit", k, "PyMARE", _pymare(y, v, "DL", repeat)))
    y, v, X = effects(10_000, mods=5)
    mods = pd.DataFrame(X, columns=[f"m{i}" for i in range(5)])
    rows.append(("meta-regression, 5 moderators", 10_000, "livingmeta",
                 measure(lambda: pooling.rma(y, v, mods=mods), repeat)))
    rows.append(("meta-regression, 5 moderators", 10_000, "PyMARE", _pymare(y, v, "REML", repeat, X=X)))
    y, v, X = effects(100, mods=2)
    fit = pooling.rma(y, v, mods=pd.DataFrame(X, columns=["a", "b"]))
    rows.append(("permutation test, 1,000 permutations", 100, "livingmeta",
                 measure(lambda: moderators.permutation_test(fit, iterations=1000, exact=False), max(1, repeat // 2))))
    y, v, _ = effects(10_000)
    fit = pooling.rma(y, v)
    rows.append(("leave-one-out", 10_000, "livingmeta", measure(lambda: diagnostics.leave_one_out(fit), 3)))
    rows.append(("influence diagnostics", 10_000, "livingmeta", measure(lambda: diagnostics.influence(fit), 3)))
    y, v, _ = effects(1_000)
    rows.append(("Bayesian fit, whole (posteriors, intervals, probabilities, shrinkage)", 1_000, "livingmeta",
                 measure(lambda: bayes.bayes_rma(y, v).to_dict(threshold=-0.2), repeat)))
    y, v, cl = clustered(1_000, 5)
    rows.append(("three-level model, 1,000 clusters x 5", 5_000, "livingmeta",
                 measure(lambda: multilevel.three_level(y, v, cl), repeat)))
    return rows


def _statsmodels(y, v, method_re, repeat):
    from statsmodels.stats.meta_analysis import combine_effects
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return measure(lambda: combine_effects(y, v, method_re=method_re), repeat)


def _pymare(y, v, method, repeat, X=None):
    try:
        from pymare import estimators
    except ImportError:
        return {"skipped": "PyMARE not installed (pip install pymare)"}
    Xc = np.ones((len(y), 1)) if X is None else np.column_stack([np.ones(len(y)), X])

    def run():
        est = estimators.DerSimonianLaird() if method == "DL" else estimators.VarianceBasedLikelihoodEstimator(method=method)
        est.fit(y=y[:, None], v=v[:, None], X=Xc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return measure(run, repeat)
        except Exception as e:  # report, don't crash the harness
            return {"skipped": f"PyMARE failed: {type(e).__name__}: {e}"[:200]}
