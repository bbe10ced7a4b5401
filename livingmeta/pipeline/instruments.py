"""Outcome instruments: the free-text measure names of the trial records ("HRSD-17 (primary);
GDS") normalised to standard abbreviations (HAM-D 17, GDS) by the review's own table (review.yaml
``instruments``: abbreviation, name, pattern), and counted. The raw strings stay in the records;
this only reads them. A review without a table gets no instrument table.
"""

from __future__ import annotations

import re

UNCONFIRMED = re.compile(r"not confirmed|unconfirmed", re.I)
UNKNOWN = {"", "unknown", "not reported", "nan", "none"}


def instrument_table(entries) -> tuple[tuple[str, str, re.Pattern], ...]:
    """review.yaml's ``instruments`` list as (abbreviation, name, compiled pattern), in its order."""
    return tuple((e["abbreviation"], e["name"], re.compile(e["pattern"], re.I)) for e in entries or [])


def normalise_instruments(raw, table) -> list[str]:
    """The instruments a raw measure string names, as abbreviations, in the table's order (a
    more specific entry, e.g. HAM-D 17, hides its general form in the same part). Parts marked
    'not confirmed' are skipped; an empty or 'unknown' string gives []."""
    if raw is None or str(raw).strip().lower() in UNKNOWN:
        return []
    found = []
    for part in re.split(r";|,| and |\+", str(raw)):
        if UNCONFIRMED.search(part):
            continue
        for abbreviation, _, pattern in table:
            if pattern.search(part):
                if abbreviation not in found and not any(f.startswith(abbreviation + " ") for f in found):
                    found.append(abbreviation)
                break
    return found


def instrument_counts(measures: dict, entries) -> dict:
    """``measures``: trial label -> raw string; ``entries``: review.yaml's instruments. Returns rows (abbreviation, name, trials, labels)
    sorted by number of trials, the trials whose strings name no known instrument (with their
    raw text) and the trials that recorded none."""
    table = instrument_table(entries)
    names = {a: n for a, n, _ in table}
    by_instrument, unmatched, none = {}, [], []
    for label, raw in measures.items():
        found = normalise_instruments(raw, table)
        if not found:
            (none if raw is None or str(raw).strip().lower() in UNKNOWN else unmatched).append(label)
        for a in found:
            by_instrument.setdefault(a, []).append(label)
    order = [a for a, _, _ in table]
    rows = [{"abbreviation": a, "name": names[a], "trials": len(labels), "labels": sorted(labels)}
            for a, labels in sorted(by_instrument.items(), key=lambda kv: (-len(kv[1]), order.index(kv[0])))]
    return {"rows": rows, "unmatched": sorted(unmatched), "not_recorded": sorted(none)}
