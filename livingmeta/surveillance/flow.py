"""What the ledger tells the editions: PRISMA 2020 / PRISMA-LSR counts per search and per
source, the update trigger, and retraction or erratum notices on included trials.

**Counts.** Each search date (the ``until`` of the runs) is one entry of the flow, in the shape
of review.yaml's ``search_flow`` (workflow/schemas/review.schema.yaml), counted from the files, never typed:

- identified: the records each source returned (databases: PubMed, Europe PMC; registers:
  ClinicalTrials.gov), also per source (``by_source``, PRISMA-LSR);
- duplicates removed: records that are another record of this or an earlier search, or one of the
  review's trial records (candidates.py);
- records screened: the rest; ``awaiting_screening`` of them have no title/abstract decision yet;
- records excluded, reports sought (title/abstract includes), not retrieved, assessed and
  excluded with their reasons (full text), ``awaiting_assessment``;
- new studies: distinct studies (``trial_id`` of the decision, else the record) included at full
  text that no earlier search included and that are not a new report of an included trial.

A decision of record is the last one (highest ``order``) for a candidate and stage. The flow is
review.yaml's entries dated before the first search of the ledger, then the ledger's: an entry
dated on or after it is replaced by the ledger's counts (and ``superseded`` names it).
"""

from __future__ import annotations

from collections import Counter

from livingmeta.surveillance import candidates as cand
from livingmeta.surveillance import ledger
from livingmeta.surveillance.registry import ONGOING, latest_states
from livingmeta.surveillance.sources import NAMES

REGISTERS = {"clinicaltrials_gov"}


def decisions_of_record(decisions: list[dict]) -> dict[tuple[str, str], dict]:
    out = {}
    for d in sorted(decisions, key=lambda d: int(d["order"])):
        out[(d["candidate_id"], d["stage"])] = d
    return out


def search_rounds(runs: list[dict]) -> list[str]:
    return sorted({str(r["window"]["until"]) for r in runs if "window" in r})


def ledger_entries(review_dir) -> list[dict]:
    """One search_flow entry per search date of the ledger (none without a ledger)."""
    if not ledger.exists(review_dir):
        return []
    runs = [r for r in ledger.read_runs(review_dir) if "window" in r]
    rows = {c["id"]: c for c in ledger.read_candidates(review_dir)}
    decided = decisions_of_record(ledger.read_decisions(review_dir))
    included_before: set[str] = set()
    entries = []
    for day in search_rounds(runs):
        these = [r for r in runs if str(r["window"]["until"]) == day]
        by_source = {NAMES[r["source"]]: len(r.get("records") or []) for r in sorted(these, key=lambda r: r["source"])}
        ids = [i for r in these for i in (r.get("records") or [])]
        new = sorted({i for i in ids if i in rows and not rows[i]["duplicate_of"] and rows[i]["first_seen"] == day})
        ta = {i: decided.get((i, "title_abstract")) for i in new}
        excluded = sum(1 for d in ta.values() if d and d["decision"] == "exclude")
        sought_ids = [i for i, d in ta.items() if d and d["decision"] == "include"]
        ft = {i: decided.get((i, "full_text")) for i in sought_ids}
        not_retrieved = sum(1 for d in ft.values() if d and d["decision"] == "not_retrieved")
        assessed = [d for d in ft.values() if d and d["decision"] in ("include", "exclude")]
        reasons = Counter((d["reason"] or "reason not recorded") for d in assessed if d["decision"] == "exclude")
        studies = set()
        for i, d in ft.items():
            if d and d["decision"] == "include" and not rows[i]["linked_trial"]:
                studies.add(d["trial_id"] or i)
        new_studies = studies - included_before
        included_before |= studies
        dbs = sum(n for r in these if r["source"] not in REGISTERS for n in [len(r.get("records") or [])])
        regs = sum(len(r.get("records") or []) for r in these if r["source"] in REGISTERS)
        identified = {}
        if any(r["source"] not in REGISTERS for r in these):
            identified["databases"] = dbs
        if any(r["source"] in REGISTERS for r in these):
            identified["registers"] = regs
        entries.append({
            "label": f"Search to {day}", "scope": "update", "date": day,
            "source": "surveillance ledger: " + ", ".join(f"runs/{r['_file']}" for r in these),
            "identified": identified, "duplicates_removed": len(ids) - len(new), "records_screened": len(new),
            "records_excluded": excluded, "reports_sought": len(sought_ids), "reports_not_retrieved": not_retrieved,
            "reports_assessed": len(assessed), "reports_excluded": dict(sorted(reasons.items())),
            "studies_included_new": len(new_studies), "studies_included_total": None, "reports_included_total": None,
            "by_source": by_source, "awaiting_screening": sum(1 for d in ta.values() if d is None),
            "awaiting_assessment": sum(1 for d in ft.values() if d is None)})
    return entries


def combined_flow(review_dir, definition: dict) -> tuple[list[dict], list[str]]:
    """The review's flow: hand-typed entries before the ledger's first search, then the ledger's.
    Returns (entries, labels of hand-typed entries the ledger superseded)."""
    typed = list(definition.get("search_flow") or [])
    from_ledger = ledger_entries(review_dir)
    if not from_ledger:
        return typed, []
    first = from_ledger[0]["date"]
    kept = [e for e in typed if not e.get("date") or str(e["date"]) < first]
    superseded = [e.get("label", "?") for e in typed if e not in kept]
    total = kept[-1].get("studies_included_total") if kept else None
    for i, e in enumerate(from_ledger):
        if not kept and i == 0:
            e["scope"] = "cumulative"   # the first search of a review: the new-review form
            total = 0
        total = None if total is None else total + e["studies_included_new"]
        e["studies_included_total"] = total
    return kept + from_ledger, superseded


def update_trigger(review_dir, trials: list[dict]) -> dict | None:
    """Why a new edition may be due, from the ledger: new records of the latest search, results
    posted, and registered trials still ongoing with their planned enrolment. None without a ledger."""
    if not ledger.exists(review_dir):
        return None
    runs = ledger.read_runs(review_dir)
    days = search_rounds(runs)
    entries = ledger_entries(review_dir)
    latest = entries[-1] if entries else None
    since = days[-2] if len(days) > 1 else ""   # results posted since the search before the latest
    posted = sorted({e["registration"] for r in runs for e in (r.get("registry_changes") or [])
                     if str(r.get("checked") or (r.get("window") or {}).get("until")) > since
                     and any(w.startswith("results posted") for w in e["changes"])})
    states = latest_states(ledger.read_registry(review_dir))
    included = {t.get("registration") for t in trials if t.get("registration")}
    ongoing = [s for s in states.values() if s["status"] in ONGOING]
    planned = sum(int(s["enrollment"]) for s in ongoing if s["enrollment"].isdigit())
    out = {"search_date": days[-1] if days else None, "schedule": ledger.read_searches(review_dir)["schedule"],
           "new_records": latest["records_screened"] if latest else 0,
           "awaiting_screening": sum(e["awaiting_screening"] for e in entries),
           "results_posted": posted, "ongoing_registered": len(ongoing), "planned_enrolment": planned,
           "ongoing_included": sorted(s["registration"] for s in ongoing if s["registration"] in included)}
    out["sentence"] = trigger_sentence(out)
    return out


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def trigger_sentence(t: dict) -> str:
    if not t["search_date"]:
        return f"Update trigger (searches run {t['schedule']}): no surveillance search has been run yet."
    parts = [f"the search to {t['search_date']} found {_plural(t['new_records'], 'new record', 'new records')}"
             + (f" ({t['awaiting_screening']:,} awaiting screening)" if t["awaiting_screening"] else "")]
    if t["results_posted"]:
        parts.append(f"results were posted for {_plural(len(t['results_posted']), 'registered trial', 'registered trials')}"
                     f" ({', '.join(t['results_posted'])})")
    if t["ongoing_registered"]:
        parts.append(f"{_plural(t['ongoing_registered'], 'registered trial is', 'registered trials are')} ongoing"
                     + (f", planning to enrol {t['planned_enrolment']:,} participants" if t["planned_enrolment"] else ""))
    return f"Update trigger (searches run {t['schedule']}): " + "; ".join(parts) + "."


def retraction_warnings(review_dir, trials: list[dict]) -> list[dict]:
    """Included trials whose publication carries a retraction, an expression of concern or an
    erratum in a source's record (the same PMID, DOI or title, or a new report of the trial)."""
    if not ledger.exists(review_dir):
        return []
    labels = {t["id"]: t.get("label", t["id"]) for t in trials}
    out = []
    for c in ledger.read_candidates(review_dir):
        trial = c["duplicate_of"][len("trial:"):] if c["duplicate_of"].startswith("trial:") else c["linked_trial"]
        notices = cand.warnings_of(c)
        if trial in labels and notices:
            out.append({"trial": trial, "label": labels[trial], "record": c["id"], "notices": notices})
    return sorted(out, key=lambda w: (w["trial"], w["record"]))


NOTICE_WORDS = {"RetractionIn": "a retraction notice", "Retraction in": "a retraction notice",
                "ExpressionOfConcernIn": "an expression of concern", "Expression of concern in": "an expression of concern",
                "ErratumIn": "an erratum", "Erratum in": "an erratum"}


def retraction_sentences(warnings: list[dict]) -> list[str]:
    """One sentence per included trial with notices, in words for readers."""
    out = []
    for w in warnings:
        words = []
        for n in w["notices"]:
            kind, _, where = n.partition(": ")
            if n in ("Retracted Publication", "Retraction of Publication"):
                words.append("is indexed as a retracted publication")
            else:
                words.append(f"has {NOTICE_WORDS.get(kind, kind.lower())}" + (f" ({where.replace('MED ', 'PMID ')})"
                                                                            if where else ""))
        out.append(f"Notice on an included trial: the publication of {w['label']} " + " and ".join(dict.fromkeys(words))
                   + "; its data should be checked before the next edition.")
    return out
