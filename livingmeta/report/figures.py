"""Figures: forest plot (RevMan layout), contour-enhanced funnel plot, subgroup forest plot and
meta-regression bubble plot. Each function takes tidy data and returns a matplotlib Figure;
``save_figure`` writes SVG (vector: the PDF and the web edition use it) deterministically.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib
import matplotlib.font_manager
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from livingmeta.pipeline.analysis import text_column  # noqa: E402
from livingmeta.pipeline.appraisal import NOT_ASSESSED  # noqa: E402
from livingmeta.pipeline.labels import check_svg  # noqa: E402
from livingmeta import formatting as fmt  # noqa: E402
from livingmeta.formatting import figure_text  # noqa: E402
from livingmeta.report.wording import contrast_words, effect_numbers, is_ratio, on_display_scale  # noqa: E402

from livingmeta.paths import FONT_DIR
for _font in sorted(FONT_DIR.glob("NotoSans-*.ttf")):
    matplotlib.font_manager.fontManager.addfont(str(_font))
plt.rcParams.update({
    "font.family": ["Noto Sans", "DejaVu Sans"], "font.size": 8, "svg.hashsalt": "livingmeta",
    # SVG text stays text: small files, fast to render, selectable and readable by screen readers;
    # the PDF embeds the same shipped font for it.
    "svg.fonttype": "none", "axes.unicode_minus": False,  # Noto Sans 2020 has no U+2212
    "axes.spines.top": False,
    "axes.spines.right": False, "path.simplify": False,
    # Labels come from trial records: plain text, never math text ("$5 vs $10", "$\\foo$").
    "text.parse_math": False,
})
ROW_INCH = 0.165
FOREST_FONT_PT = 7  # printed at about 90% on A4, so about 6.3 pt: the size of RevMan's tables
INK, MUTED, ACCENT, DIAMOND = "#1a1a1a", "#6b6b6b", "#1f5f8b", "#111111"
# risk-of-bias judgements in robvis's colours (green, yellow, red); not assessed: an empty circle
COLOURS = {"low": "#02C100", "unclear": "#E2DF07", "some_concerns": "#E2DF07", "high": "#BF0000",
           NOT_ASSESSED: "#ffffff"}
GLYPHS = {"low": "+", "unclear": "?", "some_concerns": "!", "high": "\u2013", NOT_ASSESSED: ""}


def save_figure(fig, stem: Path | str) -> list[str]:
    """Write stem.svg with fixed metadata, so the same inputs give the same bytes. SVG only: the
    PDF, the web edition and any slide take it (PNG previews cost a third of the figure rules'
    time and nothing used them)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(stem.with_suffix(".svg"), format="svg", metadata={"Date": None}, bbox_inches="tight")
    check_svg(stem.with_suffix(".svg"))  # an invalid SVG would be dropped from the PDF without a word
    plt.close(fig)
    return [str(stem.with_suffix(".svg"))]


def _fmt(x, nd=2):
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{nd}f}"


def _count(x):
    """A group size or event count; blank when not reported (e.g. beside a precomputed effect)."""
    return "" if x is None or pd.isna(x) else f"{int(x)}"


def _effect_label(est, lo, hi, tr=lambda v: v) -> str:
    """An effect and its interval as the report's text prints them ('-0.45 (-0.68 to -0.22)'),
    on the display scale (``tr``: exp for a ratio measure)."""
    return figure_text(f"{fmt.number(tr(est))} ({fmt.ci(tr(lo), tr(hi))})")


FOREST_ROWS_PER_PAGE = 50  # about 60% of an A4 page at the report's scale; more splits


def _forest_xlim(rows, model) -> float:
    xs = np.concatenate([rows.ci_lower, rows.ci_upper, [model.get("pi_lower") or model["ci_lower"],
                                                        model.get("pi_upper") or model["ci_upper"]]])
    return float(np.ceil(np.nanmax(np.abs(xs)) * 2) / 2)


def forest_plot(rows, model: dict, **kwargs):
    """Forest plot in the layout of RevMan / Cochrane reviews: study, per-arm mean (SD) and n (or
    events/total), weight, effect [CI], squares sized by weight, the pooled diamond, the
    prediction interval, and the heterogeneity and overall-effect lines.

    rows: DataFrame with label, yi, ci_lower, ci_upper, weight_pct and per-arm mean_int, sd_int,
    n_int, mean_ctl, sd_ctl, n_ctl (continuous) or events_int, total_int, events_ctl, total_ctl.
    model: the pooled result dict (pooled.json 'model'). ``show_total=False`` and ``continued``
    draw one page of a split plot (see :func:`forest_plot_pages`).
    """
    with plt.rc_context({"font.size": FOREST_FONT_PT}):
        return _forest_plot(rows, model, **kwargs)


GENERIC_ARMS = ("Intervention", "Comparator")           # review.yaml labels replace these
GENERIC_FAVOURS = ("Favours intervention", "Favours comparator")
GENERIC_CONTRAST = "intervention minus comparator"


def _pct(level) -> str:
    return f"{100 * float(level):.10g}%"


RATIO_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 5, 10, 20, 50, 100)
# Tick sets of a forest plot's ratio axis, widest first: the widest that fits the axis is drawn.
FOREST_RATIO_TICKS = ((0.01, 0.1, 1, 10, 100), (0.05, 0.2, 1, 5, 20), (0.1, 0.5, 1, 2, 10), (0.2, 0.5, 1, 2, 5),
                      (0.5, 0.7, 1, 1.5, 2), (0.8, 0.9, 1, 1.1, 1.25))
RATIO_AXIS_LIMIT = math.log(100)  # RevMan's widest ratio axis: 0.01 to 100; longer intervals run off it


def _effect_axis(ax, measure: str, which: str = "x") -> None:
    """An axis of effects drawn on the analysis scale: for a ratio measure (log scale) the ticks
    sit at round ratios and are labelled as ratios, so the axis reads as a log-scaled ratio axis
    (as the forest plot's); other measures keep their own values."""
    if not is_ratio(measure):
        return
    axis = ax.xaxis if which == "x" else ax.yaxis
    lo, hi = ax.get_xlim() if which == "x" else ax.get_ylim()
    ticks = [math.log(r) for r in RATIO_TICKS if min(lo, hi) <= math.log(r) <= max(lo, hi)]
    if len(ticks) > 7:  # a wide axis: every other round ratio, keeping 1
        ticks = [t for i, t in enumerate(ticks) if (i - ticks.index(0.0)) % 2 == 0] if 0.0 in ticks else ticks[::2]
    if len(ticks) >= 2:
        axis.set_ticks(ticks)
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{on_display_scale(v, measure):.3g}"))


def effect_axis_label(measure: str, contrast: str) -> str:
    """'SMD (intervention minus comparator)'; a ratio: 'OR (intervention versus comparator; log scale)'."""
    return f"{measure} ({contrast_words(contrast, measure)}{'; log scale' if is_ratio(measure) else ''})"


def _columns(kind: str, arm_labels, measure: str = "") -> tuple[list, tuple]:
    """The table columns of a forest plot (name, x, alignment) and the indices of the two
    groups' total columns: RevMan's layout for means and SDs, events, or a computed effect."""
    if kind == "continuous":
        return ([("Study", 0.0, "left"), (f"{arm_labels[0]}\nMean", 0.42, "right"), ("SD", 0.50, "right"),
                 ("Total", 0.58, "right"), (f"{arm_labels[1]}\nMean", 0.71, "right"), ("SD", 0.79, "right"),
                 ("Total", 0.87, "right"), ("Weight", 0.99, "right")], (3, 6))
    if kind == "binary":
        return ([("Study", 0.0, "left"), (f"{arm_labels[0]}\nEvents", 0.48, "right"), ("Total", 0.59, "right"),
                 (f"{arm_labels[1]}\nEvents", 0.76, "right"), ("Total", 0.87, "right"), ("Weight", 1.0, "right")], (2, 4))
    entered = f"log[{measure}]" if is_ratio(measure) else "Estimate"  # as entered (RevMan's generic inverse variance)
    return ([("Study", 0.0, "left"), (entered, 0.66, "right"), ("SE", 0.84, "right"),
             ("Weight", 1.0, "right")], (1, 2))


def _kind(rows) -> str:
    if "mean_int" in rows and rows["mean_int"].notna().any():
        return "continuous"
    if "events_int" in rows and rows["events_int"].notna().any():
        return "binary"
    return "generic"


def _cells(r, kind: str) -> list[str]:
    """One study's data cells (without the label and the weight)."""
    if kind == "continuous":
        return [_fmt(r.mean_int, 1), _fmt(r.sd_int, 1), _count(r.n_int), _fmt(r.mean_ctl, 1), _fmt(r.sd_ctl, 1),
                _count(r.n_ctl)]
    if kind == "binary":
        return [_count(r.events_int), _count(r.total_int), _count(r.events_ctl), _count(r.total_ctl)]
    return [_fmt(r.get("yi"), 4), _fmt(r.get("sei"), 4)]  # a computed effect as entered (log scale for ratios)


def _total_cells(kind: str, n1, n2) -> list[str]:
    if kind == "continuous":
        return ["", "", f"{int(n1)}", "", "", f"{int(n2)}"]
    if kind == "binary":
        return ["", f"{int(n1)}", "", f"{int(n2)}"]
    return ["", ""]


def heterogeneity_text(model: dict) -> str:
    """RevMan's heterogeneity line in the report's formats: tau² for a random-effects model, then
    Q with its df and p, and I²."""
    if model["k"] < 2 or model.get("QEp") is None:
        return "Heterogeneity: not applicable"
    tau = f"{fmt.tau2(model['tau2'])}; " if model["method"] not in ("FE", "MH", "Peto") else ""
    return figure_text(f"Heterogeneity: {tau}{fmt.q_test(model['QE'], model['QEdf'], model['QEp'])}; {fmt.i2(model['I2'])}")


def overall_effect_text(model: dict) -> str:
    return figure_text("Test for overall effect: " + fmt.overall_test(
        abs(model["z_or_t"]), model["pval"], df=model.get("df") if model.get("test") == "knha" else None))


def _effect_text(tr, y, lo, hi) -> str:
    return _effect_label(y, lo, hi, tr)


def forest_lines(rows, model: dict | None, *, kind: str, ratio: bool, level: float, label: str = "Total",
                 show_total: bool = True, totals: tuple | None = None, weight: float = 100.0,
                 not_estimable_reason: str | None = None) -> list[dict]:
    """The lines of one block of a forest plot (an analysis, or one subgroup of it): a line per
    study ("Not estimable" where it has no estimate), then its total with the diamond, total events,
    the prediction interval, heterogeneity and the test for the overall effect. ``totals``:
    (n1, n2, e1, e2) of the block, its trials without an estimate included, as RevMan counts them."""
    tr = np.exp if ratio else (lambda v: v)
    lines = []
    for _, r in rows.iterrows():
        estimable = pd.notna(r.get("yi")) and not (isinstance(r.get("not_estimable"), str) and r.not_estimable)
        line = {"kind": "study", "label": r.label, "cells": _cells(r, kind)}
        if estimable:
            line.update(yi=r.yi, lo=r.ci_lower, hi=r.ci_upper, weight=r.weight_pct,
                        effect=_effect_text(tr, r.yi, r.ci_lower, r.ci_upper))
        else:
            line.update(weight=None, effect="Not estimable")
        lines.append(line)
    if not show_total:
        return lines
    n1, n2, e1, e2 = totals if totals is not None else (None, None, None, None)
    total = {"kind": "total", "label": f"{label} ({_pct(level)} CI)",
             "cells": _total_cells(kind, n1, n2) if n1 is not None else [], "weight": weight}
    if model is None:
        total.update(effect="Not estimable", weight=None)
        lines.append(total)
        if not_estimable_reason:
            lines.append({"kind": "text", "text": not_estimable_reason[0].upper() + not_estimable_reason[1:]})
        return lines
    total.update(yi=model["estimate"], lo=model["ci_lower"], hi=model["ci_upper"],
                 effect=_effect_text(tr, model["estimate"], model["ci_lower"], model["ci_upper"]))
    lines.append(total)
    if kind == "binary" and e1 is not None:
        lines.append({"kind": "events", "label": "Total events", "cells": [f"{int(e1)}", "", f"{int(e2)}", ""]})
    if model.get("pi_lower") is not None:
        lines.append({"kind": "pi", "label": "Prediction interval", "lo": model["pi_lower"], "hi": model["pi_upper"],
                      "effect": figure_text(fmt.ci(tr(model["pi_lower"]), tr(model["pi_upper"])))})
    lines.append({"kind": "text", "text": heterogeneity_text(model)})
    lines.append({"kind": "text", "text": overall_effect_text(model)})
    return lines


def _forest_plot(rows, model: dict, *, measure: str = "SMD", arm_labels=GENERIC_ARMS,
                 favours=GENERIC_FAVOURS, ratio: bool = False, level: float = 0.95,
                 xlim: float | None = None, show_total: bool = True, continued: str | None = None,
                 rob_headings: list | None = None, lines: list | None = None, kind: str | None = None):
    """Draw a forest plot page from its lines (:func:`forest_lines`; by default the lines of
    ``rows`` pooled as ``model``)."""
    rows = rows.reset_index(drop=True)
    kind = kind or _kind(rows)
    if lines is None:
        n1 = model.get("n_intervention", rows.n_int.sum() if kind == "continuous" else rows.get("total_int", rows.get("n_int")).sum())
        n2 = model.get("n_control", rows.n_ctl.sum() if kind == "continuous" else rows.get("total_ctl", rows.get("n_ctl")).sum())
        events = model.get("events", (rows.events_int.sum(), rows.events_ctl.sum()) if kind == "binary" else (None, None))
        lines = forest_lines(rows, model, kind=kind, ratio=ratio, level=level, show_total=show_total,
                             totals=(n1, n2, *events))
    n_lines = len(lines) + 2 + (1 if not show_total else 0)
    fig = plt.figure(figsize=(7.6, 0.7 + ROW_INCH * n_lines))
    tab = fig.add_axes([0.0, 0.0, 0.55, 1.0])
    plot = fig.add_axes([0.565, 0.0, 0.245, 1.0])
    right = fig.add_axes([0.815, 0.0, 0.185, 1.0])
    for ax in (tab, right):
        ax.set_axis_off()
    plot.patch.set_visible(False)  # never paint over the table's last column
    top = n_lines
    tab.set_xlim(0, 1)
    right.set_xlim(0, 1)
    cols, _ = _columns(kind, arm_labels, measure)
    head_y = top - 0.2
    for name, x, ha in cols:
        tab.text(x, head_y, name, ha=ha, va="center", fontweight="bold", color=INK)
    right.text(0.04, head_y, f"{measure}\n({_pct(level)} CI)", ha="left", va="center", fontweight="bold")
    if continued:
        tab.text(0, top - 0.95, continued, ha="left", va="center", color=MUTED, fontsize=FOREST_FONT_PT - 0.5)
    weights = [ln["weight"] for ln in lines if ln["kind"] == "study" and ln.get("weight") is not None]
    w_max = max(float(model.get("max_weight", max(weights, default=1.0))) if model else 1.0, 1e-9)
    offset = 0.4 if continued else 0
    y = top - 1.5 - offset
    axis_top = top - 0.8
    for ln in lines:
        _forest_line(tab, plot, right, ln, y, cols, w_max)
        y -= 1
    lim = xlim or _forest_xlim(rows, model or {"ci_lower": 0.0, "ci_upper": 0.0})
    if show_total:
        axis_y = y + 0.4
    else:
        tab.text(0, y + 0.8, "continued on the next page", ha="left", va="center", color=MUTED,
                 fontsize=FOREST_FONT_PT - 0.5)
        axis_y = y + 0.6
    plot.plot([0, 0], [axis_y, axis_top], color=INK, lw=0.8)  # line of no effect, within the table rows
    plot.set_xlim(-lim, lim)
    plot.spines["left"].set_visible(False)
    plot.set_yticks([])
    plot.spines["bottom"].set_position(("data", axis_y))
    if ratio:  # round ratios on the log axis, as RevMan's 0.01 0.1 1 10 100
        ticks = next((t for t in FOREST_RATIO_TICKS if math.log(t[-1]) <= lim), FOREST_RATIO_TICKS[-1])
        plot.set_xticks([math.log(t) for t in ticks])
        plot.set_xticklabels([f"{t:g}" for t in ticks], fontsize=FOREST_FONT_PT - 0.5)
    else:
        ticks = np.linspace(-lim, lim, 5)
        plot.set_xticks(ticks)
        plot.set_xticklabels([f"{t:.2g}" for t in ticks], fontsize=FOREST_FONT_PT - 0.5)
    plot.text(-lim, axis_y - 1.5, favours[0], ha="left", va="center", fontsize=FOREST_FONT_PT - 0.5)
    plot.text(lim, axis_y - 1.5, favours[1], ha="right", va="center", fontsize=FOREST_FONT_PT - 0.5)
    for ax in (tab, plot, right):
        ax.set_ylim(min(0, axis_y - 2.2), top + 0.6)
    if rob_headings:
        _forest_rob_columns(fig, rows, rob_headings, top, continued, tab.get_ylim())
    return fig


def _forest_line(tab, plot, right, ln: dict, y: float, cols: list, w_max: float) -> None:
    """Draw one line of a forest plot at height ``y``."""
    kind = ln["kind"]
    small = FOREST_FONT_PT - 0.5
    if kind == "blank":
        return
    if kind == "heading":
        tab.text(0, y, ln["text"], ha="left", va="center", fontweight="bold", color=INK)
        return
    if kind == "text":
        tab.text(0, y, ln["text"], ha="left", va="center", fontsize=small, color=INK)
        return
    bold = "bold" if kind == "total" else "normal"
    colour = MUTED if kind == "pi" else INK
    tab.text(0, y, ln["label"], ha="left", va="center", fontweight=bold, color=colour)
    for (_, x, ha), v in zip(cols[1:-1], ln.get("cells", [])):
        if v:
            tab.text(x, y, v, ha=ha, va="center", fontweight=bold, color=colour)
    if ln.get("weight") is not None:
        tab.text(cols[-1][1], y, f"{ln['weight']:.1f}%", ha="right", va="center", fontweight=bold, color=colour)
    if ln.get("effect"):
        right.text(0.04, y, ln["effect"], ha="left", va="center", fontweight=bold,
                   color=MUTED if ln["effect"] == "Not estimable" or kind == "pi" else INK)
    if kind == "study" and ln.get("yi") is not None:
        plot.plot([ln["lo"], ln["hi"]], [y, y], color=INK, lw=0.8)
        plot.plot(ln["yi"], y, marker="s", ms=2.5 + 5.5 * np.sqrt(ln["weight"] / w_max), color=ACCENT, mec=ACCENT)
    elif kind == "total" and ln.get("yi") is not None:
        est, lo, hi = ln["yi"], ln["lo"], ln["hi"]
        plot.fill([lo, est, hi, est], [y, y + 0.35, y, y - 0.35], color=DIAMOND)
    elif kind == "pi":
        plot.plot([ln["lo"], ln["hi"]], [y, y], color=MUTED, lw=2.2, solid_capstyle="butt")


def _forest_rob_columns(fig, rows, headings, top, continued, ylim):
    """Risk-of-bias judgements beside each trial (columns rob_0, rob_1, ... of ``rows``), headed
    A, B, C...; the figure widens and the other panels keep their size."""
    w, h = fig.get_size_inches()
    extra = 0.3 + 0.2 * len(headings)
    fig.set_size_inches(w + extra, h)
    s = w / (w + extra)
    for ax in fig.axes:
        p = ax.get_position()
        ax.set_position([p.x0 * s, p.y0, p.width * s, p.height])
    ax = fig.add_axes([s, 0.0, 1 - s, 1.0])
    ax.set_axis_off()
    ax.set_xlim(-0.8, len(headings) - 0.3)
    ax.set_ylim(*ylim)
    for j in range(len(headings)):
        ax.text(j, top - 0.2, chr(65 + j), ha="center", va="center", fontweight="bold", color=INK)
        for i, r in rows.iterrows():
            jd = r[f"rob_{j}"]
            y = top - 1.5 - i - (0.4 if continued else 0)
            ax.scatter(j, y, s=38, c=COLOURS[jd], edgecolors=MUTED if jd == "not_assessed" else "none", linewidths=0.5)
            ax.text(j, y, GLYPHS[jd], ha="center", va="center", fontsize=FOREST_FONT_PT - 1, fontweight="bold",
                    color="white" if jd not in ("unclear", "some_concerns") else INK)


def forest_overview(rows, model: dict, *, measure: str = "SMD", level: float = 0.95, favours=GENERIC_FAVOURS, **_):
    """The forest plot of a review too large to print row by row, on one page: every trial's
    estimate (square sized by weight) and confidence interval, sorted by estimate, with the pooled
    estimate and its interval; no per-trial text (the paged plot, in the web edition, has it)."""
    rows = rows.sort_values(["yi", "label"], kind="stable").reset_index(drop=True)
    k = len(rows)
    lim = _forest_xlim(rows, model)
    fig, ax = plt.subplots(figsize=(6.4, 8.4))
    ys = np.arange(k, 0, -1) + 2.0
    ci_lo, ci_hi = rows.ci_lower.to_numpy(float), rows.ci_upper.to_numpy(float)
    ax.add_collection(LineCollection([[(lo, y), (hi, y)] for lo, hi, y in zip(ci_lo, ci_hi, ys)],
                                     colors=MUTED, linewidths=0.35))
    w = rows.weight_pct.to_numpy(float)
    ax.scatter(rows.yi.to_numpy(float), ys, s=(0.8 + 2.4 * np.sqrt(w / max(np.nanmax(w), 1e-9))) ** 2, marker="s",
               color=ACCENT, linewidths=0, zorder=3)
    est, lo, hi = model["estimate"], model["ci_lower"], model["ci_upper"]
    ax.fill([lo, est, hi, est], [0.9, 1.5, 0.9, 0.3], color=DIAMOND, zorder=4)
    ax.axvline(est, color=DIAMOND, lw=0.6, ls=(0, (3, 2)), zorder=2)
    ax.axvline(0, color=INK, lw=0.8, zorder=2)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(0, k + 3)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ticks = np.linspace(-lim, lim, 5)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:.2g}" for t in ticks])
    _effect_axis(ax, measure)  # a ratio: round ratios on the log axis, labelled as ratios
    pooled, ci = effect_numbers(measure, est, lo, hi)
    ax.text(-lim, k + 2.6, figure_text(f"{k} trials, sorted by {measure}; pooled {pooled} ({ci}) (diamond and dashed line)"),
            ha="left", va="bottom", color=INK)
    ax.set_xlabel(f"{measure} ({_pct(level)} CI):  {favours[0]}  |  {favours[1]}")
    return fig


def forest_plot_pages(rows, model: dict, *, rows_per_page: int = FOREST_ROWS_PER_PAGE, **kwargs) -> list:
    """The forest plot split into pages of at most ``rows_per_page`` trials, with the same
    x-axis on every page, column headings repeated, and the totals on the last page."""
    rows = rows.reset_index(drop=True)
    pages = max(1, int(np.ceil(len(rows) / rows_per_page)))
    lim = _forest_xlim(rows, model)
    full = {**model, "max_weight": float(rows.weight_pct.max()),
            "n_intervention": rows.n_int.sum() if "n_int" in rows and rows.n_int.notna().any() else rows.total_int.sum(),
            "n_control": rows.n_ctl.sum() if "n_ctl" in rows and rows.n_ctl.notna().any() else rows.total_ctl.sum()}
    if "events_int" in rows and rows.events_int.notna().any():
        full["events"] = (rows.events_int.sum(), rows.events_ctl.sum())
    figs = []
    for p in range(pages):
        chunk = rows.iloc[p * rows_per_page:(p + 1) * rows_per_page]
        figs.append(forest_plot(chunk, full, xlim=lim, show_total=(p == pages - 1),
                                continued=f"(page {p + 1} of {pages})" if pages > 1 else None, **kwargs))
    return figs


def _group_totals(rows) -> tuple:
    """(n1, n2, e1, e2) of a block of rows as RevMan counts them: every row, estimable or not."""
    n1 = rows["n_int"].fillna(rows.get("total_int")).sum() if "n_int" in rows else 0
    n2 = rows["n_ctl"].fillna(rows.get("total_ctl")).sum() if "n_ctl" in rows else 0
    binary = "events_int" in rows and rows["events_int"].notna().any()
    return (n1, n2, rows.events_int.sum() if binary else None, rows.events_ctl.sum() if binary else None)


def analysis_forest_lines(rows, entry: dict, *, level: float) -> tuple[str, list]:
    """The lines of an analysis' forest plot, as RevMan draws it: its studies (each with its
    estimate in the analysis' method and its weight, or "Not estimable"), and for an analysis with
    subgroups a heading, the studies, a subtotal and its statistics per subgroup, then the total
    and the test for subgroup differences. ``rows``: the analysis' effect rows, every trial;
    ``entry``: its pooled.json analysis."""
    ratio = entry.get("ratio", False)
    rows = rows.reset_index(drop=True).copy()
    rows["subgroup"] = text_column(rows["subgroup"]) if "subgroup" in rows else ""
    fitted = {(t["trial_id"], t.get("subgroup", "")): t for t in entry.get("trials", [])}
    for sg in entry.get("subgroups", []):
        fitted.update({(t["trial_id"], t.get("subgroup", "")): t for t in sg.get("trials", []) if entry.get("totals") != "overall"})
    for col, key in (("yi", "yi"), ("ci_lower", "ci_lower"), ("ci_upper", "ci_upper"), ("weight_pct", "weight_pct")):
        rows[col] = [fitted.get((t, sg), {}).get(key, np.nan) for t, sg in zip(rows.trial_id, rows.subgroup)]
    kind = _kind(rows)
    totals = entry.get("totals", "overall")
    if not entry.get("subgroups"):
        return kind, forest_lines(rows, entry.get("model"), kind=kind, ratio=ratio, level=level,
                                  show_total=totals != "none", totals=_group_totals(rows),
                                  not_estimable_reason=entry.get("not_pooled_reason"))
    lines = []
    for sg in entry["subgroups"]:
        members = rows[rows.subgroup == sg["name"]]
        lines.append({"kind": "heading", "text": sg["name"]})
        lines += forest_lines(members, sg.get("model"), kind=kind, ratio=ratio, level=level, label="Subtotal",
                              show_total=totals != "none", totals=_group_totals(members),
                              weight=sg.get("weight_pct", 100.0 if totals != "overall" else None),
                              not_estimable_reason=sg.get("not_pooled_reason"))
        lines.append({"kind": "blank"})
    if totals == "overall":
        lines += forest_lines(rows.iloc[0:0], entry.get("model"), kind=kind, ratio=ratio, level=level,
                              totals=_group_totals(rows), not_estimable_reason=entry.get("not_pooled_reason"))
    test = entry.get("subgroup_test")
    lines.append({"kind": "text", "text": figure_text("Test for subgroup differences: "
                                                      + fmt.chi2_test(test["QM"], test["QMdf"], test["QMp"])
                                                      + f"; {fmt.i2(test['I2'])}") if test else
                  "Test for subgroup differences: not applicable"})
    return kind, lines




def _lines_xlim(lines: list, ratio: bool) -> float:
    xs = [v for ln in lines for v in (ln.get("lo"), ln.get("hi")) if v is not None and np.isfinite(v)]
    lim = float(np.ceil(np.nanmax(np.abs(xs)) * 2) / 2) if xs else 1.0
    return min(lim, RATIO_AXIS_LIMIT) if ratio else lim


def analysis_forest_pages(rows, entry: dict, *, rows_per_page: int = FOREST_ROWS_PER_PAGE, **kwargs) -> list:
    """An analysis' forest plot (:func:`analysis_forest_lines`) on pages of at most
    ``rows_per_page`` lines: the same effect axis and square scale on every page, the column
    headings repeated, "continued" marked."""
    level = kwargs.pop("level", (entry.get("model") or entry.get("analysis") or {}).get("level", 0.95))
    kind, lines = analysis_forest_lines(rows, entry, level=level)
    chunks = [lines[i:i + rows_per_page] for i in range(0, len(lines), rows_per_page)] or [[]]
    lim = _lines_xlim(lines, entry.get("ratio", False))
    weights = [ln["weight"] for ln in lines if ln["kind"] == "study" and ln.get("weight") is not None]
    scale = {"max_weight": max(weights, default=1.0)}
    figs = []
    for i, chunk in enumerate(chunks):
        with plt.rc_context({"font.size": FOREST_FONT_PT}):
            figs.append(_forest_plot(rows.iloc[0:0], scale, lines=chunk, kind=kind, xlim=lim, level=level,
                                     ratio=entry.get("ratio", False), show_total=i == len(chunks) - 1,
                                     continued=f"(page {i + 1} of {len(chunks)})" if len(chunks) > 1 else None,
                                     **kwargs))
    return figs


def funnel_plot(funnel: dict, *, measure: str = "SMD", filled: dict | None = None, contrast: str = GENERIC_CONTRAST):
    """Contour-enhanced funnel plot (Peters et al. 2008): shaded regions where a study would be
    significant at p < 0.10, 0.05, 0.01 around zero; the pseudo-confidence funnel around the pooled estimate."""
    se = np.asarray(funnel["se"])
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    xmax = max(np.max(np.abs(funnel["yi"])) * 1.1, np.max(funnel["contours"]["0.99"]))
    ax.fill_betweenx(se, -xmax * 2, xmax * 2, color="#d0d0d0", label="p < 0.01")
    for lv, col in [("0.99", "#e6e6e6"), ("0.95", "#f2f2f2"), ("0.90", "white")]:
        c = np.asarray(funnel["contours"][lv])
        ax.fill_betweenx(se, -c, c, color=col, label={"0.99": "p 0.01 to 0.05", "0.95": "p 0.05 to 0.10",
                                                      "0.90": "p > 0.10"}[lv])
    ax.plot(funnel["funnel_lower"], se, color=MUTED, lw=0.8, ls="--")
    ax.plot(funnel["funnel_upper"], se, color=MUTED, lw=0.8, ls="--")
    ax.axvline(funnel["estimate"], color=ACCENT, lw=1)
    k = len(funnel["yi"])
    # hundreds of trials: smaller, translucent points so the shape of the funnel stays visible
    size, alpha = (18, 1.0) if k <= 50 else (max(4.0, 18 * np.sqrt(50 / k)), 0.6)
    ax.scatter(funnel["yi"], funnel["sei"], s=size, color=INK, alpha=alpha, lw=0, zorder=3, label="trials")
    if filled and filled.get("filled_yi"):
        ax.scatter(filled["filled_yi"], np.sqrt(filled["filled_vi"]), s=18, facecolors="white", edgecolors=INK,
                   zorder=3, label="imputed by trim-and-fill")
    ax.set_ylim(se.max(), 0)
    ax.set_xlim(-xmax, xmax)
    _effect_axis(ax, measure)
    ax.set_xlabel(effect_axis_label(measure, contrast))
    ax.set_ylabel("Standard error")
    ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def subgroup_forest(analysis: dict, overall: dict | None = None, *, measure: str = "SMD",
                    favours=GENERIC_FAVOURS):
    """Pooled effect per level of a categorical moderator, with the test for subgroup differences."""
    levels = analysis["levels"]
    labels = analysis.get("level_labels", {})
    n = len(levels)
    fig, ax = plt.subplots(figsize=(4.2, 1.1 + 0.42 * (n + 1)))
    ys = np.arange(n, 0, -1)
    for y, lv in zip(ys, levels):
        name = textwrap.fill(str(labels.get(lv["level"], lv["level"])), 34) + f" (k = {lv['k']})"
        ax.text(-0.02, y, name, transform=ax.get_yaxis_transform(), ha="right", va="center")
        if lv["pooled"]:
            ax.plot([lv["ci_lower"], lv["ci_upper"]], [y, y], color=INK, lw=0.9)
            ax.plot(lv["estimate"], y, marker="D", ms=6, color=ACCENT)
            ax.text(1.02, y, _effect_label(*(on_display_scale(lv[key], measure) for key in ("estimate", "ci_lower", "ci_upper"))),
                    transform=ax.get_yaxis_transform(), ha="left", va="center")
        elif lv["k"] == 1:
            ax.plot(lv["estimate"], y, marker="o", ms=4, mfc="white", color=INK)
            ax.text(1.02, y, f"{_fmt(on_display_scale(lv['estimate'], measure))} (single trial, not pooled)", transform=ax.get_yaxis_transform(),
                    ha="left", va="center", color=MUTED)
        else:
            ax.text(1.02, y, "too few trials to pool", transform=ax.get_yaxis_transform(), ha="left", va="center",
                    color=MUTED)
    if overall:
        ax.axvline(overall["estimate"], color=MUTED, lw=0.8, ls=":")
    ax.axvline(0, color=INK, lw=0.8)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_ylim(0.3, n + 0.7)
    _effect_axis(ax, measure)
    ax.set_xlabel(f"{measure}{' (log scale)' if is_ratio(measure) else ''}:  {favours[0]}  |  {favours[1]}")
    ax.set_title(figure_text("Test for subgroup differences: " + fmt.chi2_test(analysis["QM"], analysis["QMdf"], analysis["QMp"])),
                 fontsize=8, loc="left")
    return fig


def bubble_plot(analysis: dict, *, measure: str = "SMD", contrast: str = GENERIC_CONTRAST):
    """Meta-regression bubble plot: effect against the moderator, bubble area proportional to the
    inverse-variance weight, with the fitted line."""
    x, y, v = np.asarray(analysis["x"]), np.asarray(analysis["yi"]), np.asarray(analysis["vi"])
    w = 1 / (v + analysis.get("tau2", 0))
    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    # the largest bubble shrinks as trials crowd the plot (250 pt^2 up to 50 trials)
    biggest = 250 * min(1.0, np.sqrt(50 / len(x)))
    ax.scatter(x, y, s=biggest * w / w.max(), color=ACCENT, alpha=0.45, edgecolors=INK, linewidths=0.5)
    xs = np.linspace(x.min(), x.max(), 50)
    ax.plot(xs, analysis["intercept"] + analysis["slope"] * xs, color=INK, lw=1)
    ax.axhline(0, color=MUTED, lw=0.6, ls=":")
    ax.set_xlabel(analysis["label"])
    _effect_axis(ax, measure, "y")
    ax.set_ylabel(effect_axis_label(measure, contrast))
    ax.set_title(figure_text(f"slope {fmt.number(analysis['slope'], 3)} ({fmt.ci(*analysis['slope_ci'], 3)}), "
                             f"{fmt.p_value(analysis['pval'])}; {fmt.plural(len(x), 'trial')}"), fontsize=8, loc="left")
    return fig


def cumulative_plot(rows: list, *, measure: str = "SMD", favours=GENERIC_FAVOURS, level: float = 0.95):
    """Cumulative meta-analysis: the pooled estimate and its CI after each trial, in the order
    the trials were published (one line per step, labelled with the trial added)."""
    n = len(rows)
    fig, ax = plt.subplots(figsize=(6.4, 0.8 + 0.17 * n))
    ys = np.arange(n, 0, -1)
    # One collection of CI lines and one marker series, not two artists per step: hundreds of
    # steps drew slowly and made an SVG the PDF renderer took seconds over. Missing values: not drawn.
    num = lambda key: np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=float)  # noqa: E731
    ax.add_collection(LineCollection([[(lo, y), (hi, y)] for lo, hi, y in zip(num("ci_lower"), num("ci_upper"), ys)],
                                     colors=INK, linewidths=0.8, capstyle="projecting"))
    ax.plot(num("estimate"), ys, linestyle="none", marker="o", ms=3.5, color=ACCENT)
    ax.set_yticks(ys)
    ax.set_yticklabels([f"+ {r['study']}" + ("" if str(r["year"]) in r["study"] else f" ({r['year']})") for r in rows],
                       fontsize=6.5)
    ax.axvline(0, color=INK, lw=0.8)
    finite = [v for r in rows for v in (r["ci_lower"], r["ci_upper"]) if v is not None and np.isfinite(v)]
    lim = min(3.0, float(np.ceil(max(abs(v) for v in finite) * 2) / 2)) if finite else 2.0
    ax.set_xlim(-lim, lim)
    ax.set_ylim(0.3, n + 0.7)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    _effect_axis(ax, measure)
    ax.set_xlabel(f"Cumulative {measure} ({_pct(level)} CI{'; log scale' if is_ratio(measure) else ''}):  "
                  f"{favours[0]}  |  {favours[1]}")
    return fig
