"""Figures print labels as plain text and a figure that fails to render fails the build
(issue 14, items 6 and 7)."""

import matplotlib.pyplot as plt
import pytest

from livingmeta.errors import FigureError
from livingmeta.report.figures import save_figure


def svg_of(tmp_path, text):
    fig, ax = plt.subplots()
    ax.set_title(text)
    written = save_figure(fig, tmp_path / "fig")
    return (tmp_path / "fig.svg").read_text(), written


@pytest.mark.parametrize("label", ["$5 vs $10", r"Zz $\foo$ 2020", "Smith $x^2$ 2021"])
def test_dollar_signs_are_printed_as_typed_never_as_math(tmp_path, label):
    svg, _ = svg_of(tmp_path, label)
    assert label.replace("&", "&amp;").replace("<", "&lt;") in svg


def test_a_figure_that_is_not_well_formed_svg_fails_instead_of_vanishing(tmp_path):
    with pytest.raises(FigureError) as err:
        svg_of(tmp_path, "Smith\x072020")
    assert "fig.svg" in str(err.value) and "not well-formed" in str(err.value)


def test_the_forest_plot_draws_a_label_with_dollars(tmp_path):
    import pandas as pd
    from livingmeta.report.figures import forest_plot
    rows = pd.DataFrame({"label": ["$5 vs $10", r"Zz $\foo$ 2020"], "yi": [-0.3, -0.5], "ci_lower": [-0.8, -1.0],
                         "ci_upper": [0.2, 0.0], "weight_pct": [50.0, 50.0], "mean_int": [9.0, 8.0],
                         "sd_int": [4.0, 4.0], "n_int": [30, 30], "mean_ctl": [10.0, 10.0], "sd_ctl": [4.0, 4.0],
                         "n_ctl": [30, 30]})
    model = {"estimate": -0.4, "ci_lower": -0.7, "ci_upper": -0.1, "pi_lower": -0.9, "pi_upper": 0.1, "tau2": 0.0,
             "I2": 0.0, "QE": 0.1, "QEdf": 1, "QEp": 0.7, "z_or_t": -2.5, "pval": 0.01, "k": 2, "method": "REML",
             "test": "z"}
    save_figure(forest_plot(rows, model), tmp_path / "forest")
    assert r"Zz $\foo$ 2020" in (tmp_path / "forest.svg").read_text()
