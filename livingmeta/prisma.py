"""PRISMA 2020 flow diagrams (Page et al. 2021, BMJ 372:n71) from the search and screening
counts in review.yaml (``search_flow``, one entry per edition, oldest first).

Counts are checked before anything is drawn: where every part of a box is reported, the parts
must add up, and a mismatch is an error naming review.yaml, the entry, the field and both
numbers. A null count is "not reported" and is printed so; the only count derived here is a
box whose parts are all reported, and it is labelled "derived".

The first edition is drawn in the PRISMA 2020 form for new reviews (databases and registers,
with other sources in the identification box); later editions in the form for updated reviews,
with the studies of the previous edition beside the new records, unless the entry says
``scope: cumulative`` (its counts cover every search to date, as in a database release), which is
drawn in the new-review form and not added to the previous edition.
"""

from __future__ import annotations

from .errors import LivingmetaError


class FlowError(LivingmetaError):
    """The PRISMA counts in review.yaml do not add up."""


def _sum(values):
    vals = [v for v in values if v is not None]
    return sum(vals) if vals else None


def identified_total(entry: dict) -> int | None:
    """Records identified: the sum of the sources that are reported (a null source is one the
    search did not report, printed as 'not reported'); None if no source is reported."""
    return _sum((entry.get("identified") or {}).values())


def excluded_total(entry: dict) -> int | None:
    """Reports excluded: the sum of the reasons, or None if any reason's count is not reported."""
    reasons = entry.get("reports_excluded")
    if not reasons or any(v is None for v in reasons.values()):
        return None
    return sum(reasons.values())


def flow_problems(entries: list[dict], where: str | None = "review.yaml") -> list[str]:
    """Every box that does not add up, as messages naming the file (unless ``where`` is None),
    entry, field and numbers."""
    out = []
    where = f"{where}: " if where else ""

    def check(label, field, expected, found, how):
        if expected is not None and found is not None and expected != found:
            out.append(f"{where}search_flow entry {label!r}: {field} is {found:,}, but {how} gives {expected:,}; "
                       "correct the count (or set the one not reported to null)")

    def not_more(label, part_field, part, whole_field, whole):
        if part is not None and whole is not None and part > whole:
            out.append(f"{where}search_flow entry {label!r}: {part_field} ({part:,}) is larger than "
                       f"{whole_field} ({whole:,})")

    previous_total = None
    for i, e in enumerate(entries):
        label = e.get("label", "?")
        ident, dup, screened = identified_total(e), e.get("duplicates_removed"), e.get("records_screened")
        not_more(label, "duplicates_removed", dup, "records identified", ident)
        if ident is not None and dup is not None:
            check(label, "records_screened", ident - dup, screened, "records identified minus duplicates_removed")
        rec_excl, sought = e.get("records_excluded"), e.get("reports_sought")
        not_more(label, "records_excluded", rec_excl, "records_screened", screened)
        if screened is not None and rec_excl is not None:
            check(label, "reports_sought", screened - rec_excl, sought, "records_screened minus records_excluded")
        not_retrieved, assessed = e.get("reports_not_retrieved"), e.get("reports_assessed")
        not_more(label, "reports_not_retrieved", not_retrieved, "reports_sought", sought)
        if sought is not None and not_retrieved is not None:
            check(label, "reports_assessed", sought - not_retrieved, assessed, "reports_sought minus reports_not_retrieved")
        not_more(label, "reports_assessed", assessed, "records_screened", screened)
        not_more(label, "the reports excluded (sum of the reasons)", excluded_total(e), "reports_assessed", assessed)
        new, total = e.get("studies_included_new"), e.get("studies_included_total")
        if previous_total is not None and new is not None and not is_cumulative(e, i):
            check(label, "studies_included_total", previous_total + new, total,
                  "the previous edition's studies_included_total plus studies_included_new")
        if previous_total is None and new is not None:
            check(label, "studies_included_total", new, total, "studies_included_new (first edition)")
        previous_total = total
    return out


def validate_flow(entries: list[dict], where: str = "review.yaml") -> None:
    problems = flow_problems(entries, where)
    if problems:
        raise FlowError(f"{len(problems)} PRISMA count(s) do not add up:\n" + "\n".join(f"  - {p}" for p in problems))


def is_cumulative(entry: dict, index: int) -> bool:
    """An entry whose counts cover every search to date (e.g. a database release) rather than
    the new search of an update: drawn in the new-review form. The first entry is always one."""
    return index == 0 or entry.get("scope") == "cumulative"


def _n(value) -> str:
    return "not reported" if value is None else f"{value:,}"


def flow_boxes(entries: list[dict], index: int) -> dict:
    """The text of every box of one edition's diagram (updated-review form after the first)."""
    e = entries[index]
    ident = e.get("identified") or {}
    names = {"databases": "Databases", "registers": "Registers", "other": "Other sources"}
    id_lines = [f"{names.get(k, k)} (n = {_n(v)})" for k, v in ident.items()] or ["not reported"]
    reasons = e.get("reports_excluded") or {}
    boxes = {
        "identified": "Records identified from:\n" + "\n".join(id_lines),
        "removed": f"Records removed before screening:\nDuplicate records removed (n = {_n(e.get('duplicates_removed'))})",
        "screened": f"Records screened\n(n = {_n(e.get('records_screened'))})",
        "excluded": f"Records excluded\n(n = {_n(e.get('records_excluded'))})",
        "sought": f"Reports sought for retrieval\n(n = {_n(e.get('reports_sought'))})",
        "not_retrieved": f"Reports not retrieved\n(n = {_n(e.get('reports_not_retrieved'))})",
        "assessed": f"Reports assessed for eligibility\n(n = {_n(e.get('reports_assessed'))})",
        "reports_excluded": ("Reports excluded:\n" + "\n".join(f"{k} (n = {_n(v)})" for k, v in reasons.items())
                             if reasons else "Reports excluded:\nnot reported"),
    }
    if is_cumulative(e, index):
        boxes["included"] = (f"Studies included in review\n(n = {_n(e.get('studies_included_total'))})\n"
                             f"Reports of included studies\n(n = {_n(e.get('reports_included_total'))})")
    else:
        prev = entries[index - 1]
        boxes["previous"] = (f"Studies included in previous version\nof review ({prev.get('label')})\n"
                             f"(n = {_n(prev.get('studies_included_total'))})")
        boxes["new"] = f"New studies included in review\n(n = {_n(e.get('studies_included_new'))})"
        boxes["included"] = (f"Total studies included in review\n(n = {_n(e.get('studies_included_total'))})\n"
                             f"Reports of total included studies\n(n = {_n(e.get('reports_included_total'))})")
    excl = excluded_total(e)
    if excl is not None and reasons:
        boxes["reports_excluded"] += f"\nTotal (derived: sum of the reasons) n = {excl:,}"
    return boxes


def flow_diagram(entries: list[dict], index: int):
    """One edition's PRISMA 2020 diagram as a matplotlib Figure (vector, shipped font)."""
    from .figures import INK, MUTED, plt  # the figure module sets the shipped font
    from matplotlib.patches import FancyBboxPatch

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


def prisma_summary(review_def: dict, where: str) -> dict:
    """The prisma.json artefact: the validated entries, or why no diagram is drawn."""
    entries = review_def.get("search_flow") or []
    if not entries:
        return {"review": review_def["id"], "editions": [],
                "not_drawn_reason": ("the review's sources give no search and screening counts (no search_flow in "
                                     "review.yaml), so no PRISMA 2020 flow diagram is drawn")}
    validate_flow(entries, where)
    return {"review": review_def["id"], "editions": [
        {"index": i, "label": e["label"], "date": e.get("date"), "source": e.get("source"),
         "form": "new review" if is_cumulative(e, i) else "updated review", "boxes": flow_boxes(entries, i)}
        for i, e in enumerate(entries)]}
