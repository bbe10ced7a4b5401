"""Candidate records (one row of candidates.csv per record a source returned) and their
deduplication.

A candidate is a plain dict of text fields, the columns of :data:`COLUMNS`; lists (publication
types, registry ids, corrections) are joined with "; ". Its ``id`` says where it came from:
``pmid:<PMID>`` (PubMed), ``epmc:<SRC>:<ID>`` (Europe PMC, e.g. ``epmc:PPR:PPR123`` for a preprint),
``ctgov:<NCT>`` (ClinicalTrials.gov).

Deduplication (:func:`deduplicate`) links records that are the same record: a shared PMID, a
shared DOI, a shared registry id between two registry records, then equal normalised titles
(letters and digits only, case and accents folded; at least 30 characters, so "Editorial" never
matches) between two records of the same kind. Across sources and runs the earliest record is
kept (first seen, then PubMed, Europe PMC, ClinicalTrials.gov, then id) and the others point to it
in ``duplicate_of``. A record that is one of the review's trial records (same PMID, DOI or title as
its citation, or the registry record of its ``registration``) points to ``trial:<id>``. A
publication that names the registration of an included trial is a new report of that trial: it
stays a record to screen, with ``linked_trial`` set.
"""

from __future__ import annotations

import re
import unicodedata

COLUMNS = ["id", "kind", "pmid", "doi", "registry_ids", "title", "abstract", "year", "first_author", "journal",
           "publication_types", "corrections", "rct", "entry_date", "first_seen", "sources", "duplicate_of",
           "linked_trial", "status"]
SOURCE_ORDER = {"pubmed": 0, "europepmc": 1, "clinicaltrials_gov": 2}
SEP = "; "
MIN_TITLE = 30
REGISTRY_ID = re.compile(r"\b(NCT\d{8}|ISRCTN\d{8}|ACTRN\d{14}|DRKS\d{8}|ChiCTR[-A-Za-z0-9]+|EUCTR\d{4}-\d{6}-\d{2}|"
                         r"CTRI/\d{4}/\d+/\d+|IRCT\d+N\d+|NTR\d+|JPRN-[A-Za-z0-9]+|KCT\d{7}|PACTR\d+|RBR-[a-z0-9]+)\b")
RCT_TYPES = {"randomized controlled trial", "randomised controlled trial", "controlled clinical trial"}
WARNING_CORRECTIONS = ("RetractionIn", "ExpressionOfConcernIn", "ErratumIn", "Retraction in", "Expression of concern in",
                       "Erratum in", "Retracted Publication")


def blank() -> dict:
    return {c: "" for c in COLUMNS}


def join(values) -> str:
    seen = []
    for v in values:
        v = " ".join(str(v).split())
        if v and v not in seen:
            seen.append(v)
    return SEP.join(seen)


def split(value: str) -> list[str]:
    return [v for v in (value or "").split(SEP) if v]


def normal_doi(doi) -> str:
    """``10.1000/xyz`` in lower case, from a bare DOI, ``doi:...`` or a doi.org URL; "" if not a DOI."""
    d = (doi or "").strip().lower()
    d = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", d)
    return d if d.startswith("10.") else ""


def normal_title(title) -> str:
    text = unicodedata.normalize("NFKD", title or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def registry_ids(text) -> list[str]:
    return sorted(set(REGISTRY_ID.findall(text or "")))


def rct_flag(publication_types: list[str], allocation: str | None = None) -> str:
    """yes / no / unknown: a publication type of randomised trial (PubMed, Europe PMC) or a
    randomised allocation (a registry record)."""
    if allocation:
        return "yes" if allocation.upper() == "RANDOMIZED" else "no"
    if not publication_types:
        return "unknown"
    return "yes" if any(t.strip().lower() in RCT_TYPES for t in publication_types) else "no"


def warnings_of(candidate: dict) -> list[str]:
    """Retraction, expression of concern or erratum notices carried by a record."""
    found = [c for c in split(candidate.get("corrections")) if c.startswith(WARNING_CORRECTIONS)]
    found += [t for t in split(candidate.get("publication_types")) if t in ("Retracted Publication", "Retraction of Publication")]
    return found


def _order(c: dict):
    own = (split(c.get("sources")) or [""])[0]
    return (c.get("first_seen") or "9999", SOURCE_ORDER.get(own, 9), c["id"])


def trial_keys(trial: dict) -> dict:
    """What identifies a trial record's own publication and registration."""
    cit = trial.get("citation") or {}
    return {"pmid": str(cit.get("pmid") or ""), "doi": normal_doi(cit.get("doi") or cit.get("identifier") or ""),
            "title": normal_title(cit.get("title")), "registration": trial.get("registration") or ""}


def deduplicate(candidates: list[dict], trials: list[dict]) -> list[dict]:
    """``candidates`` with ``duplicate_of``, ``linked_trial`` and ``sources`` set (a new list, sorted
    by id); computed from scratch every time, so the result depends only on the records."""
    rows = sorted((dict(c) for c in candidates), key=_order)
    parent = {c["id"]: c["id"] for c in rows}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):  # the earlier record (in _order) stays the representative
        ra, rb = find(a), find(b)
        if ra != rb:
            keep, drop = (ra, rb) if rank[ra] < rank[rb] else (rb, ra)
            parent[drop] = keep

    rank = {c["id"]: i for i, c in enumerate(rows)}
    first_by: dict[tuple, str] = {}
    for c in rows:
        keys = []
        if c["pmid"]:
            keys.append(("pmid", c["pmid"]))
        if normal_doi(c["doi"]):
            keys.append(("doi", normal_doi(c["doi"])))
        if c["kind"] == "registration":
            keys += [("registry", r) for r in split(c["registry_ids"])]
        title = normal_title(c["title"])
        if len(title) >= MIN_TITLE:
            keys.append(("title", c["kind"], title))
        for k in keys:
            if k in first_by:
                union(first_by[k], c["id"])
            else:
                first_by[k] = c["id"]
    trial_of: dict[tuple, str] = {}
    registered: dict[str, str] = {}
    for t in sorted(trials, key=lambda t: t.get("id", "")):
        k = trial_keys(t)
        for key in (("pmid", k["pmid"]), ("doi", k["doi"])):
            if key[1]:
                trial_of.setdefault(key, t["id"])
        if len(k["title"]) >= MIN_TITLE:
            trial_of.setdefault(("title", "publication", k["title"]), t["id"])
        if k["registration"]:
            registered.setdefault(k["registration"], t["id"])
            trial_of.setdefault(("registry", k["registration"]), t["id"])
    by_id = {c["id"]: c for c in rows}
    group_trial: dict[str, str] = {}
    for k, first in first_by.items():
        if k in trial_of:
            group_trial.setdefault(find(first), trial_of[k])
    groups: dict[str, list[str]] = {}
    for c in rows:
        groups.setdefault(find(c["id"]), []).append(c["id"])
    for root, members in groups.items():
        trial = group_trial.get(root)
        for m in members:
            c = by_id[m]
            c["duplicate_of"] = f"trial:{trial}" if trial else ("" if m == root else root)
            own = [s for s in split(c["sources"])[:1]]
            c["sources"] = join(own + ([by_id[x]["sources"].split(SEP)[0] for x in members] if m == root else []))
            links = [registered[r] for r in split(c["registry_ids"]) if r in registered]
            c["linked_trial"] = links[0] if links and not trial else ""
    return sorted(rows, key=lambda c: c["id"])
