"""Risk-of-bias figures in the style of robvis (McGuinness & Higgins 2021, Res Synth Methods
12:55-61): the traffic-light grid (trial x domain) and the weighted summary bar chart.

``not_assessed`` is drawn as an empty grey circle (no colour of a risk level). The grid is paged
(``rows_per_page`` trials a page) and, above ``compress_above`` trials (large databases), drawn
as one compressed grid of cells without trial names.
"""

from __future__ import annotations

import numpy as np

from livingmeta.pipeline.appraisal import DOMAINS, JUDGEMENT_WORDS, JUDGEMENTS, NOT_ASSESSED
from livingmeta.report.figures import COLOURS, GLYPHS, INK, MUTED, plt  # noqa: F401 (COLOURS, GLYPHS re-exported)



def _domains_drawn(trials: list[dict], tool: str) -> list[str]:
    """The tool's domains that at least one trial was judged on."""
    return [d for d in DOMAINS[tool] if any(t["tool"] == tool and t["judgements"][d]["judgement"] != NOT_ASSESSED
                                            for t in trials)]


def traffic_light(trials: list[dict], tool: str, *, page: str | None = None):
    """One page of the traffic-light grid: a row per trial, a column per domain."""
    sel = [t for t in trials if t["tool"] == tool]
    domains = _domains_drawn(trials, tool)
    n, m = len(sel), len(domains)
    fig = plt.figure(figsize=(2.4 + 0.42 * m, 1.3 + 0.15 * n))
    ax = fig.add_axes([0.36, 0.16, 0.6, 0.74])
    ax.set_xlim(-0.5, m - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_axis_off()
    for i, t in enumerate(sel):
        ax.text(-0.7, i, t["label"], ha="right", va="center", fontsize=7, color=INK)
        for j, d in enumerate(domains):
            jd = t["judgements"][d]["judgement"]
            ax.scatter(j, i, s=55, c=COLOURS[jd], edgecolors=MUTED if jd == NOT_ASSESSED else "none", linewidths=0.6)
            ax.text(j, i, GLYPHS[jd], ha="center", va="center", fontsize=7, color="white" if jd != "unclear" else INK,
                    fontweight="bold")
    for j in range(m):
        ax.text(j, -0.9, f"D{j + 1}", ha="center", va="bottom", fontsize=7, fontweight="bold", color=INK)
    if page:  # the domain names and judgement key are in the report's caption (readable text)
        fig.text(0.02, 0.02, page, fontsize=7, color=MUTED, va="bottom")
    return fig


def traffic_light_compressed(trials: list[dict], tool: str):
    """All trials in one grid of coloured cells (no names): for large databases. Drawn as vector
    rectangles, one per run of equal judgements down a column (the rows are sorted, so a domain
    is a few runs): a raster image would reach the PDF as a data: URL, which its renderer refuses
    (the grid printed blank)."""
    sel = [t for t in trials if t["tool"] == tool]
    domains = _domains_drawn(trials, tool)
    order = {"low": 0, "unclear": 1, "some_concerns": 1, "high": 2, NOT_ASSESSED: 3}
    sel = sorted(sel, key=lambda t: [order[t["judgements"][d]["judgement"]] for d in domains])
    fills = [COLOURS["low"], COLOURS["unclear"], COLOURS["high"], "#e6e6e6"]
    fig, ax = plt.subplots(figsize=(1.6 + 0.5 * len(domains), 5.5))
    for j, d in enumerate(domains):
        column = [order[t["judgements"][d]["judgement"]] for t in sel]
        start = 0
        for i in range(1, len(column) + 1):
            if i == len(column) or column[i] != column[start]:
                ax.add_patch(plt.Rectangle((j - 0.5, start - 0.5), 1, i - start, facecolor=fills[column[start]],
                                           edgecolor="none", linewidth=0, antialiased=False))
                start = i
    ax.set_xlim(-0.5, len(domains) - 0.5)
    ax.set_ylim(len(sel) - 0.5, -0.5)
    ax.set_xticks(range(len(domains)))
    ax.set_xticklabels([f"D{j + 1}" for j in range(len(domains))])
    ax.set_yticks([])
    ax.set_ylabel(f"{len(sel)} trials (sorted by judgement)")
    ax.set_title("Grey: not assessed", fontsize=7, loc="left", color=MUTED)
    return fig


def traffic_light_pages(trials: list[dict], tool: str, *, rows_per_page: int = 50, compress_above: int = 150) -> list:
    sel = [t for t in trials if t["tool"] == tool]
    if len(sel) > compress_above:
        return [traffic_light_compressed(sel, tool)]
    pages = max(1, int(np.ceil(len(sel) / rows_per_page)))
    return [traffic_light(sel[p * rows_per_page:(p + 1) * rows_per_page], tool,
                          page=f"(page {p + 1} of {pages})" if pages > 1 else None) for p in range(pages)]


def summary_plot(summary: list[dict], tool: str):
    """robvis's weighted summary: per domain, the share of the meta-analysis weight at each
    judgement, as a stacked horizontal bar."""
    n = len(summary)
    fig, ax = plt.subplots(figsize=(5.2, 1.0 + 0.3 * n))
    order = (*JUDGEMENTS[tool], NOT_ASSESSED)
    for i, row in enumerate(summary):
        left = 0.0
        for j in order:
            share = 100 * row["shares"][j]
            ax.barh(i, share, left=left, color=COLOURS[j] if j != NOT_ASSESSED else "#e6e6e6", edgecolor=INK, lw=0.4,
                    height=0.7)
            left += share
    ax.set_yticks(range(n))
    ax.set_yticklabels([r["label"] for r in summary], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("Share of the meta-analysis weight (%)")
    handles = [plt.Rectangle((0, 0), 1, 1, fc=COLOURS[j] if j != NOT_ASSESSED else "#e6e6e6", ec=INK, lw=0.4)
               for j in order]
    ax.legend(handles, [JUDGEMENT_WORDS[j].capitalize() for j in order], ncol=len(order), fontsize=7, frameon=False,
              loc="upper center", bbox_to_anchor=(0.5, -0.5 if n < 5 else -0.3))
    return fig


def forest_rob_columns(trials: list[dict], criterion: dict) -> tuple[dict, list]:
    """Per trial id, the judgements on the low-risk criterion domains, and the column headings,
    for the forest plot's risk-of-bias columns."""
    tools = sorted({t["tool"] for t in trials if t["tool"]})
    domains = [(tool, d) for tool in tools for d in criterion.get(tool, [])]
    per_trial = {t["trial_id"]: [t["judgements"][d]["judgement"] if t["tool"] == tool else NOT_ASSESSED
                                 for tool, d in domains] for t in trials}
    return per_trial, [DOMAINS[tool][d] for tool, d in domains]
