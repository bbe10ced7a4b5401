"""The compressed risk-of-bias grid (above appraisal.traffic_light_compress_above trials) is drawn
as vector shapes and reaches the PDF whole (issue 20 item 7, issue 23 F5). Judgements are
SYNTHETIC: 200 trials, RoB 2."""

import random

from livingmeta.report.figures import save_figure
from livingmeta.report.pdf import render_pdf
from livingmeta.report.rob_figures import traffic_light_pages

DOMAINS = ["randomisation", "deviations", "missing_data", "measurement", "selection", "overall"]


def synthetic_trials(k=200, seed=23):
    rng = random.Random(seed)
    words = ["low", "some_concerns", "high", "not_assessed"]
    return [{"trial_id": f"t{i}", "label": f"Trial {i}", "tool": "rob2",
             "judgements": {d: {"judgement": rng.choice(words), "support": None} for d in DOMAINS}} for i in range(k)]


def test_the_compressed_grid_of_200_trials_is_vector_and_prints(tmp_path):
    trials = synthetic_trials()
    (fig,) = traffic_light_pages(trials, "rob2", compress_above=150)
    (svg,) = save_figure(fig, tmp_path / "figures" / "traffic_light_rob2_1")
    text = open(svg).read()
    assert "<image" not in text and "data:" not in text and text.count("<path") > len(DOMAINS)
    html = tmp_path / "report.html"
    html.write_text('<html><body><img src="figures/traffic_light_rob2_1.svg"></body></html>')
    render_pdf(html, tmp_path / "report.pdf")  # raises FigureError if the renderer refused anything
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"


def test_runs_of_equal_judgements_cover_every_trial_once():
    """One rectangle per run down each (sorted) column: the runs of a column tile its 200 rows."""
    import matplotlib.patches
    trials = synthetic_trials()
    (fig,) = traffic_light_pages(trials, "rob2", compress_above=150)
    cells = [p for p in fig.axes[0].patches if isinstance(p, matplotlib.patches.Rectangle)]
    for j in range(len(DOMAINS)):
        column = sorted((p.get_y(), p.get_height()) for p in cells if abs(p.get_x() - (j - 0.5)) < 1e-9)
        assert column[0][0] == -0.5 and sum(h for _, h in column) == 200
        assert all(abs(a[0] + a[1] - b[0]) < 1e-9 for a, b in zip(column, column[1:]))
