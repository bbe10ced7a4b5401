"""The surveillance ledger: plain text in the review folder, carried by the editions.

    surveillance/searches.yaml     the strategy per source and the schedule (written by a person)
    surveillance/runs/<until>-<source>.yaml   one search: window, query, URL (no secrets), count,
                                   the API's data timestamp, the ids of the records it returned
    surveillance/runs/<date>-registry.yaml    one registry watch: what changed per registration
    surveillance/candidates.csv    every record returned (ids, title, abstract, dates, sources,
                                   duplicate_of, linked_trial)
    surveillance/decisions.csv     screening decisions (order, candidate, stage, decision, reason,
                                   reviewer, date, trial_id)
    surveillance/registry.csv      the state of every registration watched, one row per change
    surveillance/drafts/           draft trial records from posted registry results

Every file is written in a fixed order with fixed formatting, atomically, and only when its
bytes change: rerunning the same window is a no-op, byte for byte. No secret is ever written
(searches.yaml refuses one; URLs are stored without ``api_key`` and ``email``).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

from livingmeta.errors import LivingmetaError
from livingmeta.formatting import plural
from livingmeta.files import atomic_write_bytes, is_formula_like
from livingmeta.surveillance.candidates import COLUMNS as CANDIDATE_COLUMNS

DECISION_COLUMNS = ["order", "candidate_id", "stage", "decision", "reason", "reviewer", "date", "trial_id"]
REGISTRY_COLUMNS = ["registration", "status", "completion_date", "results_posted", "enrollment", "enrollment_type",
                    "last_update", "linked_pmids", "checked"]
STAGES = {"title_abstract": ("include", "exclude"), "full_text": ("include", "exclude", "not_retrieved")}
SOURCE_KEYS = {"pubmed": {"query", "max_records"}, "europepmc": {"query", "max_records"},
               "clinicaltrials_gov": {"cond", "intr", "term", "max_records"}}
SCHEDULES = ("weekly", "monthly", "quarterly", "yearly")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


class LedgerError(LivingmetaError):
    """A ledger file that cannot be used: the message names the file, the field and the fix."""


def folder(review_dir) -> Path:
    return Path(review_dir) / "surveillance"


def exists(review_dir) -> bool:
    return (folder(review_dir) / "searches.yaml").is_file()


def _yaml(path: Path):
    from livingmeta.pipeline.records import load_yaml
    data, prob = load_yaml(path)
    if prob:
        raise LedgerError(f"{prob.file}: {prob.field}: {prob.message}")
    return data


def read_searches(review_dir) -> dict:
    """searches.yaml, checked: known sources and keys, a schedule, a start date, no secrets."""
    path = folder(review_dir) / "searches.yaml"
    if not path.is_file():
        raise LedgerError(f"{path}: not found; write the search strategy first (README, 'Surveillance')")
    data = _yaml(path)
    if not isinstance(data, dict):
        raise LedgerError(f"{path}: (top level): must be a mapping with schedule, start and sources")
    unknown = set(data) - {"schedule", "start", "sources", "max_records"}
    if unknown:
        raise LedgerError(f"{path}: {sorted(unknown)[0]}: unknown key; valid keys: schedule, start, sources")
    if data.get("schedule") not in SCHEDULES:
        raise LedgerError(f"{path}: schedule: must be one of {', '.join(SCHEDULES)} (found: {data.get('schedule')!r})")
    start = data.get("start")
    if isinstance(start, str):
        try:
            start = data["start"] = date.fromisoformat(start)
        except ValueError:
            pass
    if not isinstance(start, date):
        raise LedgerError(f"{path}: start: the first day searched, as YYYY-MM-DD (found: {start!r})")
    sources = data.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise LedgerError(f"{path}: sources: list at least one of {', '.join(SOURCE_KEYS)}")
    for name, strategy in sources.items():
        where = f"{path}: sources.{name}"
        if name not in SOURCE_KEYS:
            raise LedgerError(f"{where}: unknown source; valid sources: {', '.join(SOURCE_KEYS)}")
        if not isinstance(strategy, dict):
            raise LedgerError(f"{where}: must be a mapping (query, max_records)")
        for key, value in strategy.items():
            if key in ("api_key", "email", "password", "token"):
                raise LedgerError(f"{where}.{key}: secrets never go in the ledger (it is published with every "
                                  "edition); set NCBI_API_KEY / LIVINGMETA_CONTACT_EMAIL in the environment instead")
            if key not in SOURCE_KEYS[name]:
                raise LedgerError(f"{where}.{key}: unknown key; valid keys: {', '.join(sorted(SOURCE_KEYS[name]))}")
            if key == "max_records" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise LedgerError(f"{where}.max_records: a whole number of at least 1 (found: {value!r})")
            if key == "max_records" and name == "pubmed" and value > 9999:
                raise LedgerError(f"{where}.max_records: {value:,}; E-utilities page through at most 9,999 records of "
                                  "one search: search shorter windows (a smaller schedule) instead")
            if key != "max_records" and (not isinstance(value, str) or not value.strip()):
                raise LedgerError(f"{where}.{key}: the query text (found: {value!r})")
            if isinstance(value, str) and EMAIL.search(value):
                raise LedgerError(f"{where}.{key}: contains an e-mail address; the contact address is read from "
                                  "LIVINGMETA_CONTACT_EMAIL, never stored")
        if name != "clinicaltrials_gov" and "query" not in strategy:
            raise LedgerError(f"{where}.query: missing; the source's search query")
        if name == "clinicaltrials_gov" and not ({"cond", "intr", "term"} & set(strategy)):
            raise LedgerError(f"{where}: give cond (condition), intr (intervention) or term")
    return data


# --- writing ---------------------------------------------------------------------------------

def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` atomically unless the file already holds exactly these bytes."""
    data = text.encode("utf-8")
    if path.is_file() and path.read_bytes() == data:
        return False
    atomic_write_bytes(path, data)
    return True


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if is_formula_like(text) else text


def csv_text(rows: list[dict], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c, "")) for c in columns])
    return buf.getvalue()


def read_csv(path: Path, columns: list[str]) -> list[dict]:
    if not path.is_file():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LedgerError(f"{path}: cannot be read as UTF-8 text ({e})") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise LedgerError(f"{path}: missing {plural(len(missing), 'column')}: {', '.join(missing)}; "
                          f"expected {', '.join(columns)}")
    return [{c: (row.get(c) or "") for c in columns} for row in reader]


def read_candidates(review_dir) -> list[dict]:
    return read_csv(folder(review_dir) / "candidates.csv", CANDIDATE_COLUMNS)


def write_candidates(review_dir, rows: list[dict]) -> bool:
    return write_if_changed(folder(review_dir) / "candidates.csv",
                            csv_text(sorted(rows, key=lambda r: r["id"]), CANDIDATE_COLUMNS))


def read_decisions(review_dir) -> list[dict]:
    path = folder(review_dir) / "decisions.csv"
    rows = read_csv(path, DECISION_COLUMNS)
    for i, r in enumerate(rows, start=2):
        if r["stage"] not in STAGES:
            raise LedgerError(f"{path}: line {i}: stage: {r['stage']!r}; valid stages: {', '.join(STAGES)}")
        if r["decision"] not in STAGES[r["stage"]]:
            raise LedgerError(f"{path}: line {i}: decision: {r['decision']!r}; valid at {r['stage']}: "
                              f"{', '.join(STAGES[r['stage']])}")
        if not r["order"].isdigit():
            raise LedgerError(f"{path}: line {i}: order: {r['order']!r} is not a whole number")
    return rows


def write_decisions(review_dir, rows: list[dict]) -> bool:
    return write_if_changed(folder(review_dir) / "decisions.csv",
                            csv_text(sorted(rows, key=lambda r: int(r["order"])), DECISION_COLUMNS))


def read_registry(review_dir) -> list[dict]:
    """The registry history: one row per registration and date its state changed."""
    return read_csv(folder(review_dir) / "registry.csv", REGISTRY_COLUMNS)


def write_registry(review_dir, rows: list[dict]) -> bool:
    return write_if_changed(folder(review_dir) / "registry.csv",
                            csv_text(sorted(rows, key=lambda r: (r["registration"], r["checked"])), REGISTRY_COLUMNS))


def run_path(review_dir, until: date, source: str) -> Path:
    return folder(review_dir) / "runs" / f"{until.isoformat()}-{source}.yaml"


def write_run(path: Path, run: dict) -> bool:
    from livingmeta.pipeline.records import dump_yaml
    return write_if_changed(path, "# livingmeta surveil: one search of one source (written by the tool; do not edit)\n"
                            + dump_yaml(run))


def read_runs(review_dir) -> list[dict]:
    """Every run file, oldest window first (then by source)."""
    out = []
    for path in sorted((folder(review_dir) / "runs").glob("*.yaml")):
        run = _yaml(path)
        if not isinstance(run, dict) or "source" not in run:
            raise LedgerError(f"{path}: not a run file (no source); runs/ holds only files the tool wrote")
        run["_file"] = path.name
        out.append(run)
    return out


def files(review_dir) -> list[Path]:
    """The ledger's files (what the prisma rule and the edition fingerprint read)."""
    root = folder(review_dir)
    if not root.is_dir():
        return []
    fixed = [root / n for n in ("searches.yaml", "candidates.csv", "decisions.csv", "registry.csv")]
    return [p for p in fixed if p.is_file()] + sorted((root / "runs").glob("*.yaml"))
