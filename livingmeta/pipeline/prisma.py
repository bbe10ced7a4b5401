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

from livingmeta.errors import LivingmetaError
from livingmeta.formatting import noun_for, plural


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


MAX_COUNT = 1_000_000_000  # the bound on a trial record's n: no search identifies more records


def _counts(entry: dict):
    """Every count of one entry as (field, value): the sources, the boxes and the reasons."""
    for k, v in (entry.get("identified") or {}).items():
        yield f"identified.{k}", v
    for k in COUNT_FIELDS:
        yield k, entry.get(k)
    for k, v in (entry.get("reports_excluded") or {}).items():
        yield f"reports_excluded.{k}", v


COUNT_FIELDS = ("duplicates_removed", "records_screened", "records_excluded", "reports_sought", "reports_not_retrieved",
                "reports_assessed", "studies_included_new", "studies_included_total", "reports_included_total",
                "awaiting_screening", "awaiting_assessment")


def count_problems(entry: dict) -> list[str]:
    """Counts no search can produce: not a whole number (``25309.0``, ``1e18``, ``true``), negative,
    or above MAX_COUNT. The arithmetic checks only run on entries without these."""
    out = []
    for field, v in _counts(entry):
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int):
            out.append(f"{field} is {v!r}: a count is a whole number written without decimals or exponent")
        elif v < 0 or v > MAX_COUNT:
            out.append(f"{field} is {v:,}: a count is between 0 and at most {MAX_COUNT:,}")
    return out


def flow_problems(entries: list[dict], where: str | None = "review.yaml") -> list[str]:
    """Every box that does not add up, as messages naming the file (unless ``where`` is None),
    entry, field and numbers. A part is never larger than its whole: records screened are at most
    the records identified (the sum of the sources reported), and the studies included at most the
    reports of included studies (reports assessed minus reports excluded)."""
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
        bad_counts = count_problems(e)
        if bad_counts:
            out += [f"{where}search_flow entry {label!r}: {p}" for p in bad_counts]
            previous_total = None
            continue
        ident, dup, screened = identified_total(e), e.get("duplicates_removed"), e.get("records_screened")
        not_more(label, "duplicates_removed", dup, "records identified", ident)
        if ident is not None and dup is not None:
            check(label, "records_screened", ident - dup, screened, "records identified minus duplicates_removed")
        elif dup is None:
            not_more(label, "records_screened", screened, "the records identified (sum of the sources reported)", ident)
        rec_excl, sought = e.get("records_excluded"), e.get("reports_sought")
        not_more(label, "records_excluded", rec_excl, "records_screened", screened)
        not_more(label, "reports_sought", sought, "records_screened", screened)
        waiting, waiting_ft = e.get("awaiting_screening") or 0, e.get("awaiting_assessment") or 0
        if screened is not None and rec_excl is not None:
            check(label, "reports_sought", screened - rec_excl - waiting, sought,
                  "records_screened minus records_excluded" + (" and those awaiting screening" if waiting else ""))
        not_retrieved, assessed = e.get("reports_not_retrieved"), e.get("reports_assessed")
        not_more(label, "reports_not_retrieved", not_retrieved, "reports_sought", sought)
        if sought is not None and not_retrieved is not None:
            check(label, "reports_assessed", sought - not_retrieved - waiting_ft, assessed,
                  "reports_sought minus reports_not_retrieved" + (" and those awaiting assessment" if waiting_ft else ""))
        not_more(label, "reports_assessed", assessed, "records_screened", screened)
        not_more(label, "the reports excluded (sum of the reasons)", excluded_total(e), "reports_assessed", assessed)
        new, total = e.get("studies_included_new"), e.get("studies_included_total")
        included_reports = (assessed - excluded_total(e)) if assessed is not None and excluded_total(e) is not None else None
        if is_cumulative(e, i):
            not_more(label, "studies_included_total", total,
                     "the reports of included studies (reports_assessed minus the reports excluded)", included_reports)
        else:
            not_more(label, "studies_included_new", new,
                     "the reports of included studies (reports_assessed minus the reports excluded)", included_reports)
        not_more(label, "studies_included_new", new, "studies_included_total", total)
        not_more(label, "studies_included_total", total, "reports_included_total", e.get("reports_included_total"))
        if previous_total is not None and new is not None and not is_cumulative(e, i):
            check(label, "studies_included_total", previous_total + new, total,
                  "the previous edition's studies_included_total plus studies_included_new")
        if previous_total is None and new is not None:
            check(label, "studies_included_total", new, total, "studies_included_new (first edition)")
        previous_total = total
    return out


def held_problems(entries: list[dict], records_held: int, where: str | None = "review.yaml") -> list[str]:
    """The latest entry's studies included against the trial records the review holds: a review
    cannot hold more studies than its flow diagram says it includes."""
    total = entries[-1].get("studies_included_total") if entries else None
    if isinstance(total, int) and not isinstance(total, bool) and total < records_held:
        where = f"{where}: " if where else ""
        return [f"{where}search_flow entry {entries[-1].get('label', '?')!r}: studies_included_total is {total:,}, but "
                f"the review holds {records_held:,} trial records; add an entry for the searches that found the others "
                "(or correct the count)"]
    return []


def validate_flow(entries: list[dict], where: str = "review.yaml") -> None:
    problems = flow_problems(entries, where)
    if problems:
        raise FlowError(f"{plural(len(problems), 'PRISMA count')} {noun_for(len(problems), 'does', 'do')} not add up:\n"
                        + "\n".join(f"  - {p}" for p in problems))


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
    if e.get("by_source"):  # PRISMA-LSR: the records of each source (a surveillance ledger's counts)
        id_lines += [f"  {name} (n = {_n(v)})" for name, v in e["by_source"].items()]
    reasons = e.get("reports_excluded") or {}
    boxes = {
        "identified": "Records identified from:\n" + "\n".join(id_lines),
        "removed": f"Records removed before screening:\nDuplicate records removed (n = {_n(e.get('duplicates_removed'))})",
        "screened": f"Records screened\n(n = {_n(e.get('records_screened'))})"
                    + (f"\nawaiting screening (n = {e['awaiting_screening']:,})" if e.get("awaiting_screening") else ""),
        "excluded": f"Records excluded\n(n = {_n(e.get('records_excluded'))})",
        "sought": f"Reports sought for retrieval\n(n = {_n(e.get('reports_sought'))})",
        "not_retrieved": f"Reports not retrieved\n(n = {_n(e.get('reports_not_retrieved'))})",
        "assessed": f"Reports assessed for eligibility\n(n = {_n(e.get('reports_assessed'))})"
                    + (f"\nawaiting assessment (n = {e['awaiting_assessment']:,})" if e.get("awaiting_assessment") else ""),
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


def prisma_summary(review_def: dict, where: str, entries: list[dict] | None = None) -> dict:
    """The prisma.json artefact: the validated entries, or why no diagram is drawn. ``entries``
    replaces review.yaml's search_flow (a surveillance ledger's counts, livingmeta.surveillance.flow)."""
    entries = review_def.get("search_flow") or [] if entries is None else entries
    if not entries:
        return {"review": review_def["id"], "editions": [],
                "not_drawn_reason": ("the review's sources give no search and screening counts, so no PRISMA 2020 "
                                     "flow diagram is drawn")}
    validate_flow(entries, where)
    return {"review": review_def["id"], "editions": [
        {"index": i, "label": e["label"], "date": e.get("date"), "source": e.get("source"),
         "form": "new review" if is_cumulative(e, i) else "updated review", "boxes": flow_boxes(entries, i),
         **({"by_source": e["by_source"]} if e.get("by_source") else {})}
        for i, e in enumerate(entries)]}
