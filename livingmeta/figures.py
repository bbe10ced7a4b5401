"""Figures: forest plot (RevMan layout), contour-enhanced funnel plot, subgroup forest plot and
meta-regression bubble plot. Each function takes tidy data and returns a matplotlib Figure;
``save_figure`` writes SVG (vector, for the PDF) and PNG (previews) deterministically.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

plt.rcParams.update({
    "font.family": "DejaVu Sans", "font.size": 8, "svg.hashsalt": "livingmeta", "axes.spines.top": False,
    "axes.spines.right": False, "path.simplify": False,
})
ROW_INCH = 0.19
INK, MUTED, ACCENT, DIAMOND = "#1a1a1a", "#6b6b6b", "#1f5f8b", "#111111"


def save_figure(fig, stem: Path | str) -> list[str]:
    """Write stem.svg and stem.png with fixed metadata (same inputs, same bytes)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(stem.with_suffix(".svg"), format="svg", metadata={"Date": None}, bbox_inches="tight")
    fig.savefig(stem.with_suffix(".png"), format="png", dpi=150, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    return [str(stem.with_suffix(".svg")), str(stem.with_suffix(".png"))]


def _fmt(x, nd=2):
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{nd}f}"


def _p(p):
    return "P < 0.001" if p < 0.001 else f"P = {p:.3f}" if p < 0.01 else f"P = {p:.2f}"


def forest_plot(rows, model: dict, *, measure: str = "SMD", arm_labels=("Exercise", "Control"),
                favours=("Favours exercise", "Favours control"), title: str | None = None, ratio: bool = False):
    """Forest plot in the layout of RevMan / Cochrane reviews.

    rows: DataFrame with label, yi, ci_lower, ci_upper, weight_pct and per-arm mean_int, sd_int,
    n_int, mean_ctl, sd_ctl, n_ctl (continuous) or events_int, total_int, events_ctl, total_ctl.
    model: the pooled result dict (pooled.json 'model'), with the prediction interval.
    """
    rows = rows.reset_index(drop=True)
    k = len(rows)
    n_lines = k + 6
    fig = plt.figure(figsize=(10.5, 0.9 + ROW_INCH * n_lines))
    tab = fig.add_axes([0.0, 0.0, 0.62, 1.0])
    plot = fig.add_axes([0.64, 0.0, 0.21, 1.0])
    right = fig.add_axes([0.86, 0.0, 0.14, 1.0])
    for ax in (tab, right):
        ax.set_axis_off()
    top = n_lines
    for ax in (tab, plot, right):
        ax.set_ylim(0, top + 0.6)
    tab.set_xlim(0, 1)
    right.set_xlim(0, 1)
    continuous = "mean_int" in rows and rows["mean_int"].notna().any()
    # Column positions (fraction of the table axes).
    if continuous:
        cols = [("Study", 0.0, "left"), (f"{arm_labels[0]}\nMean", 0.30, "right"), ("SD", 0.37, "right"),
                ("Total", 0.44, "right"), (f"{arm_labels[1]}\nMean", 0.55, "right"), ("SD", 0.62, "right"),
                ("Total", 0.69, "right"), ("Weight", 0.82, "right")]
    else:
        cols = [("Study", 0.0, "left"), (f"{arm_labels[0]}\nEvents", 0.34, "right"), ("Total", 0.43, "right"),
                (f"{arm_labels[1]}\nEvents", 0.56, "right"), ("Total", 0.65, "right"), ("Weight", 0.82, "right")]
    head_y = top - 0.2
    for name, x, ha in cols:
        tab.text(x, head_y, name, ha=ha, va="center", fontweight="bold", color=INK)
    right.text(0.02, head_y, f"{measure}\n[95% CI]", ha="left", va="center",
               fontweight="bold")
    tr = (lambda v: np.exp(v)) if ratio else (lambda v: v)
    for i, r in rows.iterrows():
        y = top - 1.5 - i
        if continuous:
            vals = [r.label, _fmt(r.mean_int, 1), _fmt(r.sd_int, 1), f"{int(r.n_int)}", _fmt(r.mean_ctl, 1),
                    _fmt(r.sd_ctl, 1), f"{int(r.n_ctl)}", f"{r.weight_pct:.1f}%"]
        else:
            vals = [r.label, f"{int(r.events_int)}", f"{int(r.total_int)}", f"{int(r.events_ctl)}",
                    f"{int(r.total_ctl)}", f"{r.weight_pct:.1f}%"]
        for (name, x, ha), v in zip(cols, vals):
            tab.text(x, y, v, ha=ha, va="center", color=INK)
        right.text(0.02, y, f"{tr(r.yi):.2f} [{tr(r.ci_lower):.2f}, {tr(r.ci_upper):.2f}]", ha="left", va="center")
        size = 3 + 9 * np.sqrt(r.weight_pct / max(rows.weight_pct.max(), 1e-9))
        plot.plot([r.ci_lower, r.ci_upper], [y, y], color=INK, lw=0.8)
        plot.plot(r.yi, y, marker="s", ms=size, color=ACCENT, mec=ACCENT)
    # Totals, diamond, prediction interval.
    y_tot = top - 1.5 - k - 0.6
    n_int = int(rows.n_int.sum()) if continuous else int(rows.total_int.sum())
    n_ctl = int(rows.n_ctl.sum()) if continuous else int(rows.total_ctl.sum())
    tab.text(0, y_tot, "Total (95% CI)", ha="left", va="center", fontweight="bold")
    tab.text(cols[3][1] if continuous else cols[2][1], y_tot, f"{n_int}", ha="right", va="center", fontweight="bold")
    tab.text(cols[6][1] if continuous else cols[4][1], y_tot, f"{n_ctl}", ha="right", va="center", fontweight="bold")
    tab.text(0.82, y_tot, "100.0%", ha="right", va="center", fontweight="bold")
    est, lo, hi = model["estimate"], model["ci_lower"], model["ci_upper"]
    plot.fill([lo, est, hi, est], [y_tot, y_tot + 0.35, y_tot, y_tot - 0.35], color=DIAMOND)
    right.text(0.02, y_tot, f"{tr(est):.2f} [{tr(lo):.2f}, {tr(hi):.2f}]", ha="left", va="center", fontweight="bold")
    y_pi = y_tot - 1
    if model.get("pi_lower") is not None:
        plot.plot([model["pi_lower"], model["pi_upper"]], [y_pi, y_pi], color=MUTED, lw=2.2, solid_capstyle="butt")
        tab.text(0, y_pi, "Prediction interval", ha="left", va="center", color=MUTED)
        right.text(0.02, y_pi, f"[{tr(model['pi_lower']):.2f}, {tr(model['pi_upper']):.2f}]", ha="left", va="center",
                   color=MUTED)
    het = (f"Heterogeneity: Tau\u00b2 = {model['tau2']:.2f}; Chi\u00b2 = {model['Q']:.2f}, df = {model['Q_df']} "
           f"({_p(model['Q_p'])}); I\u00b2 = {model['I2']:.0f}%")
    stat = "t" if model.get("test") == "knha" else "Z"
    overall = f"Test for overall effect: {stat} = {abs(model['z_or_t']):.2f} ({_p(model['pval'])})"
    tab.text(0, y_pi - 1, het, ha="left", va="center", fontsize=7.5)
    tab.text(0, y_pi - 1.9, overall, ha="left", va="center", fontsize=7.5)
    # Plot axes: zero line, limits, favours labels.
    plot.plot([0, 0], [y_pi - 0.6, top - 0.8], color=INK, lw=0.8)  # line of no effect, within the table rows
    xs = np.concatenate([rows.ci_lower, rows.ci_upper, [model.get("pi_lower", lo), model.get("pi_upper", hi)]])
    lim = float(np.ceil(np.nanmax(np.abs(xs)) * 2) / 2)
    plot.set_xlim(-lim, lim)
    plot.spines["left"].set_visible(False)
    plot.set_yticks([])
    plot.spines["bottom"].set_position(("data", y_pi - 0.6))
    ticks = np.linspace(-lim, lim, 5)
    plot.set_xticks(ticks)
    plot.set_xticklabels([f"{tr(t):.2g}" for t in ticks], fontsize=7)
    plot.text(-lim, y_pi - 2.1, favours[0], ha="left", va="center", fontsize=7)
    plot.text(lim, y_pi - 2.1, favours[1], ha="right", va="center", fontsize=7)
    if title:
        fig.suptitle(title, x=0.0, ha="left", fontweight="bold", y=1.0 + 0.25 / (0.9 + ROW_INCH * n_lines))
    return fig


def funnel_plot(funnel: dict, *, measure: str = "SMD", filled: dict | None = None):
    """Contour-enhanced funnel plot (Peters et al. 2008): shaded regions where a study would be
    significant at p < 0.10, 0.05, 0.01 around zero; pseudo-95% funnel around the pooled estimate."""
    se = np.asarray(funnel["se"])
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    xmax = max(np.max(np.abs(funnel["yi"])) * 1.1, np.max(funnel["contours"]["0.99"]))
    ax.fill_betweenx(se, -xmax * 2, xmax * 2, color="#d0d0d0", label="p < 0.01")
    for lv, col in [("0.99", "#e6e6e6"), ("0.95", "#f2f2f2"), ("0.90", "white")]:
        c = np.asarray(funnel["contours"][lv])
        ax.fill_betweenx(se, -c, c, color=col, label={"0.99": "0.01 \u2264 p < 0.05", "0.95": "0.05 \u2264 p < 0.10",
                                                      "0.90": "p \u2265 0.10"}[lv])
    ax.plot(funnel["funnel_lower"], se, color=MUTED, lw=0.8, ls="--")
    ax.plot(funnel["funnel_upper"], se, color=MUTED, lw=0.8, ls="--")
    ax.axvline(funnel["estimate"], color=ACCENT, lw=1)
    ax.scatter(funnel["yi"], funnel["sei"], s=18, color=INK, zorder=3, label="trials")
    if filled and filled.get("filled_yi"):
        ax.scatter(filled["filled_yi"], np.sqrt(filled["filled_vi"]), s=18, facecolors="white", edgecolors=INK,
                   zorder=3, label="imputed by trim-and-fill")
    ax.set_ylim(se.max(), 0)
    ax.set_xlim(-xmax, xmax)
    ax.set_xlabel(f"{measure} (exercise minus control)")
    ax.set_ylabel("Standard error")
    ax.legend(fontsize=6.5, loc="lower left", frameon=False)
    return fig


def subgroup_forest(analysis: dict, overall: dict | None = None, *, measure: str = "SMD",
                    favours=("Favours exercise", "Favours control")):
    """Pooled effect per level of a categorical moderator, with the test for subgroup differences."""
    levels = analysis["levels"]
    labels = analysis.get("level_labels", {})
    n = len(levels)
    fig, ax = plt.subplots(figsize=(7.2, 1.2 + 0.36 * (n + 1)))
    ys = np.arange(n, 0, -1)
    for y, lv in zip(ys, levels):
        name = f"{labels.get(lv['level'], lv['level'])} (k = {lv['k']})"
        ax.text(-0.02, y, name, transform=ax.get_yaxis_transform(), ha="right", va="center")
        if lv["pooled"]:
            ax.plot([lv["ci_lower"], lv["ci_upper"]], [y, y], color=INK, lw=0.9)
            ax.plot(lv["estimate"], y, marker="D", ms=6, color=ACCENT)
            ax.text(1.02, y, f"{lv['estimate']:.2f} [{lv['ci_lower']:.2f}, {lv['ci_upper']:.2f}]",
                    transform=ax.get_yaxis_transform(), ha="left", va="center")
        elif lv["k"] == 1:
            ax.plot(lv["estimate"], y, marker="o", ms=4, mfc="white", color=INK)
            ax.text(1.02, y, f"{lv['estimate']:.2f} (single trial, not pooled)", transform=ax.get_yaxis_transform(),
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
    ax.set_xlabel(f"{measure}   \u2190 {favours[0]} | {favours[1]} \u2192")
    ax.set_title(f"Test for subgroup differences: Chi\u00b2 = {analysis['Q_between']:.2f}, "
                 f"df = {analysis['df_between']} ({_p(analysis['p_between'])})", fontsize=8, loc="left")
    return fig


def bubble_plot(analysis: dict, *, measure: str = "SMD"):
    """Meta-regression bubble plot: effect against the moderator, bubble area proportional to the
    inverse-variance weight, with the fitted line."""
    x, y, v = np.asarray(analysis["x"]), np.asarray(analysis["yi"]), np.asarray(analysis["vi"])
    w = 1 / (v + analysis.get("tau2", 0))
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    ax.scatter(x, y, s=250 * w / w.max(), color=ACCENT, alpha=0.45, edgecolors=INK, linewidths=0.5)
    xs = np.linspace(x.min(), x.max(), 50)
    ax.plot(xs, analysis["intercept"] + analysis["slope"] * xs, color=INK, lw=1)
    ax.axhline(0, color=MUTED, lw=0.6, ls=":")
    ax.set_xlabel(analysis["label"])
    ax.set_ylabel(f"{measure} (exercise minus control)")
    ax.set_title(f"slope {analysis['slope']:.3f} [{analysis['slope_ci'][0]:.3f}, {analysis['slope_ci'][1]:.3f}], "
                 f"{_p(analysis['pval'])}; k = {len(x)}", fontsize=8, loc="left")
    return fig
