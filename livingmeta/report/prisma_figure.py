"""The PRISMA 2020 flow diagram (Page et al. 2021, BMJ 372:n71) of one edition, drawn from the
validated boxes of livingmeta.pipeline.prisma (which checks the counts and words the boxes)."""

from __future__ import annotations

from matplotlib.patches import FancyBboxPatch

from livingmeta.pipeline.prisma import flow_boxes, is_cumulative
from livingmeta.report.figures import INK, MUTED, plt  # the figure module sets the shipped font


def flow_diagram(entries: list[dict], index: int):
    """One edition's PRISMA 2020 diagram as a matplotlib Figure (vector, shipped font)."""

    boxes = flow_boxes(entries, index)
    updated = not is_cumulative(entries[index], index)
    fig = plt.figure(figsize=(7.4, 7.4))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 100)
    top = 100 if not updated else 112
    ax.set_ylim(0, top)
    ax.set_axis_off()
    x_main = 30 if updated else 8
    width = 34 if updated else 40
    x_side = x_main + width + 6
    side_w = 96 - x_side

    def box(x, y, w, h, text, fill="#ffffff", weight="normal"):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.8", fc=fill, ec=INK, lw=0.8))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=7, color=INK, fontweight=weight,
                linespacing=1.35)

    def arrow(x0, y0, x1, y1):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="-|>", color=INK, lw=0.8))

    n_id = boxes["identified"].count("\n") + 1
    n_re = boxes["reports_excluded"].count("\n") + 1
    h_id = max(10, 2.6 * n_id + 3)
    h_re = max(10, 2.6 * n_re + 3)
    y_id = top - 8 - h_id
    rows = [("identified", y_id, h_id, "removed"), ("screened", y_id - 16, 9, "excluded"),
            ("sought", y_id - 32, 9, "not_retrieved"), ("assessed", y_id - 48, 9, "reports_excluded")]
    phase_y = {}
    for name, y, h, side in rows:
        box(x_main, y, width, h, boxes[name])
        if side == "reports_excluded":  # a long list of reasons hangs down from the assessed row
            box(x_side, y + h - h_re if h_re > h else y, side_w, max(h_re, h), boxes[side])
        else:
            box(x_side, y, side_w, h, boxes[side])
        arrow(x_main + width, y + h / 2, x_side, y + h / 2)
        phase_y[name] = (y, h)
    for (a, _, _, _), (b, _, _, _) in zip(rows, rows[1:]):
        ya, _ = phase_y[a]
        yb, hb = phase_y[b]
        arrow(x_main + width / 2, ya, x_main + width / 2, yb + hb)
    ya, _ = phase_y["assessed"]
    ya = min(ya, ya + 9 - h_re)  # below the reasons box
    if updated:
        y_new = ya - 16
        box(x_main, y_new, width, 9, boxes["new"])
        arrow(x_main + width / 2, phase_y["assessed"][0], x_main + width / 2, y_new + 9)
        y_inc = y_new - 18
        box(x_main, y_inc, width, 12, boxes["included"], fill="#eef3f7")
        arrow(x_main + width / 2, y_new, x_main + width / 2, y_inc + 12)
        box(2, y_id, 24, h_id, boxes["previous"])
        ax.plot([14, 14], [y_id, y_inc + 6], color=INK, lw=0.8)
        arrow(14, y_inc + 6, x_main, y_inc + 6)
        ax.text(2, top - 3, "Previous studies", fontsize=7.5, fontweight="bold", color=INK, va="center")
    else:
        y_inc = ya - 19
        box(x_main, y_inc, width, 12, boxes["included"], fill="#eef3f7")
        arrow(x_main + width / 2, phase_y["assessed"][0], x_main + width / 2, y_inc + 12)
    ax.text(x_main, top - 3, "Identification of new studies via databases, registers and other sources"
            if updated else "Identification of studies via databases, registers and other sources",
            fontsize=7.5, fontweight="bold", color=INK, va="center")
    for text, y in (("Identification", y_id + h_id / 2), ("Screening", phase_y["sought"][0] + 4),
                    ("Included", y_inc + 6)):
        ax.text(0.6 if not updated else 27.5, y, text, rotation=90, ha="center", va="center", fontsize=7, color=MUTED)
    bottom = min(0, y_inc - 2)
    ax.set_ylim(bottom, top)
    fig.set_size_inches(7.4, 0.074 * (top - bottom))  # one unit = 0.074 in on both axes: text fits its box
    return fig
