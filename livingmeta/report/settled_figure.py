"""The trial sequential analysis figure: cumulative z-curve by publication year, one point per
published edition, the O'Brien-Fleming boundaries for benefit and harm, the conventional 5% lines
and the required information size."""

from __future__ import annotations

import numpy as np

from livingmeta.report.figures import ACCENT, INK, MUTED, plt
from livingmeta.report.wording import in_sentence


def sequential_plot(seq: dict, *, favours=("Favours intervention", "Favours comparator")):
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    if "looks" not in seq:
        ax.text(0.5, 0.5, "Not analysed: " + seq.get("not_analysed_reason", ""), ha="center", va="center",
                transform=ax.transAxes, wrap=True)
        ax.set_axis_off()
        return fig
    curve = seq["boundary_curve"]
    x, b = np.array(curve["participants"]), np.clip(np.array(curve["boundary"]), None, 8.0)
    ax.plot(x, b, color="#b03a2e", lw=1.2, label="Boundary for benefit / harm (O'Brien-Fleming)")
    ax.plot(x, -b, color="#b03a2e", lw=1.2)
    if curve.get("futility"):
        f = np.array(curve["futility"])
        ax.fill_between(x, -f, f, where=f > 0, color=MUTED, alpha=0.18, lw=0, label="Futility area (non-binding)")
    z = seq["conventional_z"]
    for s in (z, -z):
        ax.axhline(s, color=MUTED, lw=0.7, ls="--")
    ax.axhline(0, color=INK, lw=0.6)
    ris = seq["ris"]["adjusted"]
    ax.axvline(ris, color=MUTED, lw=0.8, ls=":")
    ax.text(ris, 7.6, f" required information\n {ris:,} participants", fontsize=6.5, color=MUTED, va="top")
    px = [lk["participants"] for lk in seq["looks"]]
    pz = [max(min(lk["z"], 7.9), -7.9) for lk in seq["looks"]]
    ax.plot(px, pz, color=ACCENT, lw=1.4, marker="o", ms=3, label="Cumulative z (by publication year)")
    for lk, xx, zz in zip(seq["looks"], px, pz):
        if lk is seq["looks"][0] or lk is seq["looks"][-1]:
            ax.annotate(lk["label"], (xx, zz), textcoords="offset points", xytext=(3, -9), fontsize=6.5, color=ACCENT)
    if seq.get("editions"):
        ex = [e["participants"] for e in seq["editions"]]
        ez = [max(min(e["z"], 7.9), -7.9) for e in seq["editions"]]
        ax.plot(ex, ez, ls="none", marker="D", ms=5, mfc="white", mec=INK, label="Published editions")
    ax.set_ylim(-8, 8)
    ax.set_xlim(0, max(max(px), ris) * 1.08)
    ax.set_xlabel("Cumulative number of participants")
    ax.set_ylabel(f"Cumulative z   (below 0: {in_sentence(favours[1])};  above 0: {in_sentence(favours[0])})", fontsize=6.5)
    ax.legend(loc="lower right", fontsize=6.5, frameon=False)
    return fig
