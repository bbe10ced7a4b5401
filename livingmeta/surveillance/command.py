"""``livingmeta surveil``: the command line of the surveillance layer (cli.py registers it).

    livingmeta surveil search REVIEW [--until DATE] [--since DATE] [--again]
    livingmeta surveil watch REVIEW [--date DATE]
    livingmeta surveil screen REVIEW [--target 0.95] [--confidence 0.95]
    livingmeta surveil decisions REVIEW FILE.csv --stage title_abstract|full_text --reviewer NAME [--date DATE]
    livingmeta surveil confirm REVIEW DRAFT-ID
    livingmeta surveil counts REVIEW
    livingmeta surveil benchmark DIR [--json] [--seed N]
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np

from livingmeta.errors import LivingmetaError
from livingmeta.formatting import p_value, plural
from livingmeta.surveillance import flow, ledger, screening
from livingmeta.surveillance.ledger import LedgerError


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="surveil_command", required=True)
    s = sub.add_parser("search", help="search every source of surveillance/searches.yaml up to a date")
    s.add_argument("review")
    s.add_argument("--until", type=_date, default=None, help="last day searched (default: today)")
    s.add_argument("--since", type=_date, default=None, help="first day (default: the day after the last search)")
    s.add_argument("--again", action="store_true", help="search a window already in runs/ again")
    w = sub.add_parser("watch", help="check every registration the review follows on ClinicalTrials.gov")
    w.add_argument("review")
    w.add_argument("--date", type=_date, default=None, help="the date of the watch (default: today)")
    q = sub.add_parser("screen", help="rank the records awaiting screening (queue.csv, queue.ris, screening.json)")
    q.add_argument("review")
    q.add_argument("--target", type=float, default=0.95, help="recall target of the stopping statistic")
    q.add_argument("--confidence", type=float, default=0.95, help="confidence of the stopping statistic")
    d = sub.add_parser("decisions", help="add screening decisions from a CSV (columns id and included or decision)")
    d.add_argument("review")
    d.add_argument("file")
    d.add_argument("--stage", required=True, choices=sorted(ledger.STAGES))
    d.add_argument("--reviewer", required=True)
    d.add_argument("--date", type=_date, default=None)
    c = sub.add_parser("confirm", help="check a draft record from registry results and move it into trials/")
    c.add_argument("review")
    c.add_argument("draft", help="the draft's id (file name in surveillance/drafts/ without .yaml)")
    c.add_argument("--reviewer", required=True, help="who checked the draft (recorded as the inclusion decision)")
    c.add_argument("--date", type=_date, default=None)
    n = sub.add_parser("counts", help="PRISMA counts per search and source, the update trigger, retraction notices")
    n.add_argument("review")
    b = sub.add_parser("benchmark", help="simulate ranked screening on a labelled SYNERGY-layout dataset")
    b.add_argument("folder")
    b.add_argument("--json", action="store_true")
    b.add_argument("--seed", type=int, default=0)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        import argparse
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def main(args, review_dir) -> int:
    """Run one ``surveil`` subcommand; ``review_dir`` resolves a review id to its folder."""
    cmd = args.surveil_command
    if cmd == "benchmark":
        return benchmark(args)
    folder = review_dir(args.review)
    return {"search": search, "watch": watch, "screen": screen, "decisions": decisions, "confirm": confirm,
            "counts": counts}[cmd](args, folder)


def _report(out) -> int:
    for line in out.searched + out.skipped:
        print(line)
    for e in out.events:
        print(f"{e['registration']}: " + "; ".join(e["changes"]))
    print("written: " + ", ".join(out.written) if out.written else "no ledger file changed")
    return 0


def search(args, folder: Path) -> int:
    from livingmeta.surveillance.search import run_search
    return _report(run_search(folder, args.until or date.today(), since=args.since, again=args.again))


def watch(args, folder: Path) -> int:
    from livingmeta.surveillance.search import run_watch
    return _report(run_watch(folder, args.date or date.today()))


# --- screening --------------------------------------------------------------------------------

def screening_state(folder: Path):
    """The records to screen (not duplicates), their text, and the title/abstract labels."""
    rows = [c for c in ledger.read_candidates(folder) if not c["duplicate_of"]]
    decided = flow.decisions_of_record(ledger.read_decisions(folder))
    labels = {}
    for c in rows:
        d = decided.get((c["id"], "title_abstract"))
        if d:
            labels[c["id"]] = 1 if d["decision"] == "include" else 0
    order = [d["candidate_id"] for d in sorted(ledger.read_decisions(folder), key=lambda d: int(d["order"]))
             if d["stage"] == "title_abstract"]
    return rows, labels, list(dict.fromkeys(order))


def rank_queue(folder: Path, target: float = 0.95, confidence: float = 0.95) -> dict:
    rows, labels, screened_order = screening_state(folder)
    ids = [c["id"] for c in rows]
    X = screening.features([f"{c['title']} {c['abstract']}" for c in rows])
    decided = [i for i, c in enumerate(rows) if c["id"] in labels]
    y = np.array([labels[rows[i]["id"]] for i in decided], dtype=int)
    n_incl = int(y.sum()) if len(y) else 0
    undecided = [i for i in range(len(rows)) if rows[i]["id"] not in labels]
    if n_incl >= 1 and n_incl < len(y):
        score = screening.scores(X, np.array(decided), y)
        how = f"ranked by a model trained on {len(y):,} decisions ({n_incl:,} included)"
    else:
        score = np.zeros(len(rows))
        how = "not ranked by a model (no inclusion or no exclusion yet): in the order of the records' ids"
    queue = [undecided[i] for i in screening.ranked_order(score[undecided], [ids[j] for j in undecided])]
    out = {"records": len(rows), "decided": len(y), "included": n_incl, "awaiting": len(undecided), "order": how,
           "rct_flagged_awaiting": sum(1 for i in undecided if rows[i]["rct"] == "yes")}
    if n_incl < screening.MIN_INCLUSIONS:
        out["statement"] = (f"Only {n_incl} of the decisions so far are inclusions (fewer than "
                            f"{screening.MIN_INCLUSIONS}): the ranking learns from too few examples to be relied on, "
                            "so no screening depth or stopping statistic is given. Screen every record in the queue.")
        out["depth"], out["stopping"] = [], None
    else:
        out["statement"] = ("Every record stays in the queue: the ranking orders the screening, it never excludes. "
                            "The depth table and the stopping statistic are reported, not acted on.")
        out["depth"] = screening.depth_table(X[decided], y)
        seen = [labels[i] for i in screened_order if i in labels]
        p = screening.stopping_p(seen, len(rows), target)
        out["stopping"] = {"method": "buscar (Callaghan & Mueller-Hansen 2020), hypergeometric",
                           "recall_target": target, "confidence": confidence, "p_value": round(p, 6),
                           "screened": len(seen), "reached": bool(p < 1 - confidence),
                           "statement": (f"{p_value(p)} for the hypothesis that recall is below {target:.0%} "
                                         f"after {len(seen):,} records screened in ranked order; "
                                         + (f"below {1 - confidence:.2g}: with {confidence:.0%} confidence the "
                                            f"target was reached, if screening followed the ranking"
                                            if p < 1 - confidence else f"not below {1 - confidence:.2g}: keep screening"))}
    queue_rows = []
    for rank, i in enumerate(queue, start=1):
        c = rows[i]
        queue_rows.append({"rank": rank, "score": f"{score[i]:.6f}", "included": "", **c})
    columns = ["rank", "id", "score", "rct", "title", "abstract", "year", "first_author", "journal", "doi", "pmid",
               "registry_ids", "publication_types", "sources", "linked_trial", "included"]
    root = ledger.folder(folder)
    ledger.write_if_changed(root / "queue.csv", ledger.csv_text(queue_rows, columns))
    ledger.write_if_changed(root / "queue.ris", ris_text(queue_rows))
    ledger.write_if_changed(root / "screening.json", json.dumps(out, indent=2, sort_keys=True) + "\n")
    return out


def ris_text(rows: list[dict]) -> str:
    """The queue as RIS (ASReview, Rayyan and reference managers read it); the record's ledger id
    is in ID, so decisions exported from either tool come back keyed by it."""
    types = {"registration": "DBASE", "preprint": "UNPB"}
    out = []
    for r in rows:
        def tag(t, v):
            v = " ".join(str(v or "").split())
            if v:
                out.append(f"{t}  - {v}")
        tag("TY", types.get(r["kind"], "JOUR"))
        tag("ID", r["id"])
        tag("TI", r["title"])
        tag("AU", r["first_author"])
        tag("PY", r["year"])
        tag("T2", r["journal"])
        tag("AB", r["abstract"])
        tag("DO", r["doi"])
        tag("AN", r["pmid"])
        tag("N1", f"livingmeta queue rank {r['rank']}; score {r['score']}; randomised trial (publication type): {r['rct']}"
                  + (f"; registry: {r['registry_ids']}" if r["registry_ids"] else ""))
        out.append("ER  - ")
        out.append("")
    return "\n".join(out)


def screen(args, folder: Path) -> int:
    out = rank_queue(folder, args.target, args.confidence)
    print(f"{out['awaiting']:,} records awaiting screening of {out['records']:,}; {out['order']}")
    print(out["statement"])
    for row in out["depth"]:
        print(f"  {row['recall']:.0%} recall: {row['share_screened_mean']:.0%} of records screened "
              f"(folds: {row['share_screened_min']:.0%} to {row['share_screened_max']:.0%})")
    if out["stopping"]:
        print("stopping statistic (reported, not acted on): " + out["stopping"]["statement"])
    print("written: surveillance/queue.csv, queue.ris, screening.json")
    return 0


def decisions(args, folder: Path) -> int:
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise LedgerError(f"{path}: cannot be read as UTF-8 CSV ({e})") from None
    reader = csv.DictReader(io.StringIO(text))
    cols = {c.strip().lower(): c for c in reader.fieldnames or []}
    if "id" not in cols or not ({"included", "decision"} & set(cols)):
        raise LedgerError(f"{path}: needs a column id (the ledger's record id) and a column included (1/0) or decision "
                          f"(include/exclude); found: {', '.join(reader.fieldnames or [])}")
    known = {c["id"] for c in ledger.read_candidates(folder)}
    existing = ledger.read_decisions(folder)
    have = {(d["candidate_id"], d["stage"], d["reviewer"]): d for d in existing}
    order = max((int(d["order"]) for d in existing), default=0)
    day = (args.date or date.today()).isoformat()
    added = 0
    for line, row in enumerate(reader, start=2):
        cid = (row.get(cols["id"]) or "").strip().lstrip("'")
        if not cid:
            continue
        if cid not in known:
            raise LedgerError(f"{path}: line {line}: id {cid!r} is not a record of surveillance/candidates.csv")
        if "decision" in cols and (row.get(cols["decision"]) or "").strip():
            decision = row[cols["decision"]].strip().lower()
        else:
            flag = (row.get(cols["included"]) or "").strip()
            if flag == "":
                continue  # not screened yet
            decision = {"1": "include", "0": "exclude"}.get(flag)
            if decision is None:
                raise LedgerError(f"{path}: line {line}: included: {flag!r}; write 1 (include) or 0 (exclude)")
        if decision not in ledger.STAGES[args.stage]:
            raise LedgerError(f"{path}: line {line}: decision: {decision!r}; valid at {args.stage}: "
                              f"{', '.join(ledger.STAGES[args.stage])}")
        reason = (row.get(cols.get("reason", ""), "") or "").strip() if "reason" in cols else ""
        trial = (row.get(cols.get("trial_id", ""), "") or "").strip() if "trial_id" in cols else ""
        key = (cid, args.stage, args.reviewer)
        if key in have and (have[key]["decision"], have[key]["reason"], have[key]["trial_id"]) == (decision, reason, trial):
            continue  # the same decision again: nothing to record
        order += 1
        entry = {"order": str(order), "candidate_id": cid, "stage": args.stage, "decision": decision, "reason": reason,
                 "reviewer": args.reviewer, "date": day, "trial_id": trial}
        existing.append(entry)
        have[key] = entry
        added += 1
    ledger.write_decisions(folder, existing)
    print(f"{added:,} decisions added to surveillance/decisions.csv ({args.stage}, {args.reviewer})")
    return 0


def confirm(args, folder: Path) -> int:
    from livingmeta.pipeline.records import RecordError, RecordWriteError, load_review, load_yaml, record_problems
    draft = ledger.folder(folder) / "drafts" / f"{args.draft}.yaml"
    if not draft.is_file():
        raise LedgerError(f"{draft}: no such draft; the drafts are listed by: livingmeta surveil counts {folder.name}")
    rec, prob = load_yaml(draft)
    if prob:
        raise LedgerError(f"{prob.file}: {prob.field}: {prob.message}")
    review = load_review(folder)
    problems = record_problems(rec, draft, review.definition)
    if problems:
        raise RecordWriteError(problems)
    target = folder / "trials" / f"{rec['id']}.yaml"
    if target.exists():
        raise LedgerError(f"{target}: a trial record with this id exists; merge the draft's numbers into it by hand")
    shutil.copy2(draft, target)
    try:
        load_review(folder)
    except RecordError:
        target.unlink()
        raise
    draft.unlink()
    _include(folder, f"ctgov:{rec.get('registration')}", rec["id"], args.reviewer, args.date or date.today())
    print(f"confirmed: {target} (now part of the analysis; its registration recorded as included by {args.reviewer})")
    return 0


def _include(folder: Path, candidate_id: str, trial_id: str, reviewer: str, day: date) -> None:
    """Record a confirmed draft's registration as included at both stages (the PRISMA counts
    then count the new study), unless those are already its decisions of record."""
    if candidate_id not in {c["id"] for c in ledger.read_candidates(folder)}:
        return
    rows = ledger.read_decisions(folder)
    decided = flow.decisions_of_record(rows)
    order = max((int(d["order"]) for d in rows), default=0)
    for stage in ("title_abstract", "full_text"):
        d = decided.get((candidate_id, stage))
        if d and d["decision"] == "include" and (stage == "title_abstract" or d["trial_id"] == trial_id):
            continue
        order += 1
        rows.append({"order": str(order), "candidate_id": candidate_id, "stage": stage, "decision": "include",
                     "reason": "registry results confirmed as a trial record", "reviewer": reviewer,
                     "date": day.isoformat(), "trial_id": trial_id if stage == "full_text" else ""})
    ledger.write_decisions(folder, rows)


# --- counts and the check gate ------------------------------------------------------------------

def ledger_problems(folder: Path, definition: dict, records_held: int) -> list[str]:
    """What `livingmeta check` adds for a review with a ledger: unreadable ledger files, PRISMA
    counts that do not add up, and draft records that would not pass."""
    from livingmeta.pipeline.prisma import flow_problems, held_problems
    from livingmeta.pipeline.records import load_yaml, record_problems
    if not ledger.folder(folder).is_dir():
        return []
    try:
        ledger.read_searches(folder)
        entries, _ = flow.combined_flow(folder, definition)
    except LivingmetaError as e:
        return [str(e)]
    where = str(ledger.folder(folder))
    out = flow_problems(entries, where) + held_problems(entries, records_held, where)
    for path in sorted((ledger.folder(folder) / "drafts").glob("*.yaml")):
        rec, prob = load_yaml(path)
        out += [f"{prob.file}: {prob.field}: {prob.message}"] if prob else \
            [f"{p.file}: {p.field}: {p.message}" for p in record_problems(rec, path, definition)]
    return out


def counts(args, folder: Path) -> int:
    from livingmeta.pipeline.records import load_review
    review = load_review(folder)
    entries, superseded = flow.combined_flow(folder, review.definition)
    for e in entries:
        if "by_source" not in e:
            continue
        print(f"{e['label']}: identified {sum(e['by_source'].values()):,} ("
              + ", ".join(f"{k} {v:,}" for k, v in e["by_source"].items())
              + f"), duplicates removed {e['duplicates_removed']:,}, screened {e['records_screened']:,}"
              + f" ({e['awaiting_screening']:,} awaiting), excluded {e['records_excluded']:,}, full texts assessed "
              f"{e['reports_assessed']:,}, new studies {e['studies_included_new']:,} (total "
              + (f"{e['studies_included_total']:,})" if e["studies_included_total"] is not None else "not known)"))
    for label in superseded:
        print(f"review.yaml search_flow entry {label!r} is replaced by the ledger's counts")
    trigger = flow.update_trigger(folder, review.trials)
    if trigger:
        print(trigger["sentence"])
    for w in flow.retraction_warnings(folder, review.trials):
        print(f"warning: included trial {w['label']}: " + "; ".join(w["notices"]) + f" (record {w['record']})")
    drafts = sorted((ledger.folder(folder) / "drafts").glob("*.yaml"))
    if drafts:
        print(f"{plural(len(drafts), 'draft record')} awaiting confirmation: " + ", ".join(p.stem for p in drafts))
    return 0


def benchmark(args) -> int:
    from livingmeta.surveillance.benchmark import load_synergy, simulate
    result = simulate(load_synergy(args.folder), seed=args.seed)
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        stop = ("never fired" if result["stopped_at"] is None else
                f"fired at {result['stopped_at']:.1%} screened (true recall {result['recall_at_stop']:.1%})")
        print(f"{result['records']:,} records, {result['included']:,} included: 95% recall after "
              f"{result['screened_for_95']:.1%} screened (WSS@95 {result['wss_95']:.1%}); stopping statistic {stop}")
    return 0


__all__ = ["add_arguments", "main", "ledger_problems"]
