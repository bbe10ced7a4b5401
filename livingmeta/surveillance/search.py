"""One surveillance search: every source of searches.yaml over its window, then the ledger.

The window of a source runs from the day after its last run (or ``start`` in searches.yaml) to
``until``. Every request is made before anything is written, so a failed source leaves the
ledger as it was. A window already in runs/ is not searched again (a no-op, byte for byte)
unless ``again`` is given; even then the ledger's files change only if the answers did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from livingmeta.surveillance import candidates as cand
from livingmeta.surveillance import ledger
from livingmeta.surveillance.registry import draft_record, watch
from livingmeta.surveillance.sources import CTGOV, NAMES, SEARCHERS, ctgov_client

DATE_FIELDS = {"pubmed": "Entrez date (edat)", "europepmc": "CREATION_DATE",
               "clinicaltrials_gov": "LastUpdatePostDate"}


@dataclass
class SearchOutcome:
    searched: list[str] = field(default_factory=list)       # lines, one per source searched
    skipped: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)        # ledger files whose bytes changed
    events: list[dict] = field(default_factory=list)        # registry changes
    drafts: list[str] = field(default_factory=list)


def last_until(review_dir, source: str) -> date | None:
    runs = [r for r in ledger.read_runs(review_dir) if r["source"] == source and "window" in r]
    return max((_day(r["window"]["until"]) for r in runs), default=None)


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def review_trials(review_dir) -> tuple[dict, list[dict]]:
    from livingmeta.pipeline.records import load_review
    review = load_review(review_dir)
    return review.definition, review.trials


def run_search(review_dir, until: date, since: date | None = None, again: bool = False, clients: dict | None = None) -> SearchOutcome:
    review_dir = Path(review_dir)
    searches = ledger.read_searches(review_dir)
    definition, trials = review_trials(review_dir)
    out = SearchOutcome()
    results = []
    for source in SEARCHERS:
        strategy = searches["sources"].get(source)
        if strategy is None:
            continue
        start = since or ((last_until(review_dir, source) or searches["start"] - timedelta(days=1)) + timedelta(days=1))
        path = ledger.run_path(review_dir, until, source)
        if start > until:
            out.skipped.append(f"{NAMES[source]}: already searched to {until} (nothing to do)")
            continue
        if path.exists() and not again:
            out.skipped.append(f"{NAMES[source]}: the window to {until} is already in {path.name} (nothing done; "
                               "--again to search it again)")
            continue
        make_client, search = SEARCHERS[source]
        client = (clients or {}).get(source) or make_client()
        results.append((source, start, search(client, strategy, start, until)))
    if not results:
        return out
    existing = {c["id"]: c for c in ledger.read_candidates(review_dir)}
    for source, start, res in results:
        for c in res.candidates:
            old = existing.get(c["id"])
            c["first_seen"] = old["first_seen"] if old else until.isoformat()
            existing[c["id"]] = c
        out.searched.append(f"{NAMES[source]}: {res.count:,} records from {start} to {until}")
    rows = cand.deduplicate(list(existing.values()), trials)
    if ledger.write_candidates(review_dir, rows):
        out.written.append("candidates.csv")
    studies = [s for source, _, res in results for s in res.studies]
    stamp = next((res.data_timestamp for source, _, res in results if source == "clinicaltrials_gov"), None)
    if studies:
        _watch(review_dir, studies, until, definition, stamp, out)
    for source, start, res in results:
        run = {"source": source, "window": {"since": start.isoformat(), "until": until.isoformat(),
                                            "date_field": DATE_FIELDS[source]},
               "query": res.query, "url": res.url, "count": res.count, "retrieved": len(res.candidates),
               "data_timestamp": res.data_timestamp, "records": [c["id"] for c in res.candidates]}
        if source == "clinicaltrials_gov":
            run["registry_changes"] = out.events
        path = ledger.run_path(review_dir, until, source)
        if ledger.write_run(path, run):
            out.written.append(f"runs/{path.name}")
    return out


def _watch(review_dir, studies, checked, definition, stamp, out: SearchOutcome):
    history, events = watch(ledger.read_registry(review_dir), studies, checked)
    by_id = {s.get("protocolSection", {}).get("identificationModule", {}).get("nctId"): s for s in studies}
    for e in events:
        if any(w.startswith("results posted") for w in e["changes"]):
            record, why = draft_record(by_id[e["registration"]], definition, stamp)
            if record is None:
                e["changes"].append(f"no draft record: {why}")
                continue
            path = ledger.folder(review_dir) / "drafts" / f"{record['id']}.yaml"
            from livingmeta.pipeline.records import dump_yaml
            header = ("# DRAFT trial record from results posted on ClinicalTrials.gov (livingmeta surveil). Check the\n"
                      "# outcome, the time point and the direction of the scale, then: livingmeta surveil confirm\n")
            if ledger.write_if_changed(path, header + dump_yaml(record)):
                out.written.append(f"drafts/{path.name}")
            e["changes"].append(f"draft record drafts/{path.name}")
            out.drafts.append(str(path))
    out.events += events
    if ledger.write_registry(review_dir, history):
        out.written.append("registry.csv")


def watched_registrations(review_dir, trials: list[dict]) -> list[str]:
    """Every ClinicalTrials.gov id named by a trial record or a candidate."""
    ids = {t.get("registration") for t in trials if t.get("registration")}
    for c in ledger.read_candidates(review_dir):
        if not c["duplicate_of"].startswith("trial:"):
            ids |= set(cand.split(c["registry_ids"]))
    return sorted(i for i in ids if i and i.startswith("NCT"))


def run_watch(review_dir, checked: date, client=None) -> SearchOutcome:
    """Fetch every watched registration (GET /studies/NCT...) and record what changed."""
    review_dir = Path(review_dir)
    definition, trials = review_trials(review_dir)
    client = client or ctgov_client()
    version = client.get_json(f"{CTGOV}/version", {})
    studies = []
    for nct in watched_registrations(review_dir, trials):
        study = client.get_json(f"{CTGOV}/studies/{nct}", {"format": "json"})
        if "protocolSection" not in study:
            raise client.malformed(f"{CTGOV}/studies/{nct}", {"format": "json"}, "no protocolSection in the answer")
        studies.append(study)
    out = SearchOutcome()
    if not studies:
        out.skipped.append("no ClinicalTrials.gov registration is named by a trial record or a candidate")
        return out
    _watch(review_dir, studies, checked, definition, version.get("dataTimestamp"), out)
    path = ledger.folder(review_dir) / "runs" / f"{checked.isoformat()}-registry.yaml"
    run = {"source": "registry_watch", "checked": checked.isoformat(), "data_timestamp": version.get("dataTimestamp"),
           "registrations": [s["protocolSection"]["identificationModule"]["nctId"] for s in studies],
           "registry_changes": out.events}
    if ledger.write_run(path, run):
        out.written.append(f"runs/{path.name}")
    out.searched.append(f"ClinicalTrials.gov: {len(studies)} registrations watched")
    return out

