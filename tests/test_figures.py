"""Figures: the forest plot keeps its layout at 35 trials and splits into pages at 150."""

import numpy as np
import pandas as pd

from livingmeta.report import figures
from livingmeta.stats import pooling


def synthetic_rows(k, seed=3):
    """SYNTHETIC trials for layout tests only."""
    rng = np.random.default_rng(seed)
    n1, n2 = rng.integers(10, 80, k), rng.integers(10, 80, k)
    yi = rng.normal(-0.5, 0.4, k)
    vi = 1 / n1 + 1 / n2
    fit = pooling.rma(yi, vi)
    rows = pd.DataFrame({"label": [f"Synthetic {i + 1}" for i in range(k)], "yi": yi,
                         "ci_lower": yi - 1.96 * np.sqrt(vi), "ci_upper": yi + 1.96 * np.sqrt(vi),
                         "weight_pct": fit.weights, "mean_int": 10.0, "sd_int": 5.0, "n_int": n1,
                         "mean_ctl": 12.0, "sd_ctl": 5.0, "n_ctl": n2})
    model = {**fit.to_dict(), "z_or_t": float(fit.zval[0])}
    return rows, model


def test_150_trials_split_into_pages_of_at_most_50_with_totals_once():
    rows, model = synthetic_rows(150)
    figs = figures.forest_plot_pages(rows, model)
    assert len(figs) == 3
    texts = [[t.get_text() for ax in f.axes for t in ax.texts] for f in figs]
    assert [sum(s.startswith("Synthetic") for s in page) for page in texts] == [50, 50, 50]
    assert [("Total (95% CI)" in page) for page in texts] == [False, False, True]
    assert all("(page" in " ".join(page) for page in texts)
    # every page uses the same effect axis, so pages can be read together
    assert len({f.axes[1].get_xlim() for f in figs}) == 1
    heights = [f.get_size_inches()[1] for f in figs]
    assert max(heights) < 10.5  # fits an A4 page at the report's scale
    for f in figs:
        figures.plt.close(f)


def test_35_trials_fit_one_page():
    rows, model = synthetic_rows(35)
    figs = figures.forest_plot_pages(rows, model)
    assert len(figs) == 1
    figures.plt.close(figs[0])
