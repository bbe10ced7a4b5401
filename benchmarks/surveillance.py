"""Surveillance benchmark: ranked screening on the shared SYNERGY sets (`make bench`, section
`surveillance`; or `python benchmarks/surveillance.py`).

For every SYNERGY-layout folder under ../shared/data/synergy it runs the documented command,
`livingmeta surveil benchmark DIR --json` (one simulated screening in the tool's own order), then
the two-run living simulation in-process (records published before the cutoff screened in the
first run; the newest 20% arrive in the next search). Targets (issue 24): median WSS@95 >= 40%,
no set ranked worse than random (WSS@95 > 0), the stopping statistic never fires below 95% true
recall; in the two-run simulation, median share of new records screened for 95% recall <= 40%.

The data are third-party (SYNERGY, CC0), read in place, never copied.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def run(sets: list[str] | None = None) -> dict:
    from shared_data import needs, shared_file

    from livingmeta.surveillance.benchmark import living_simulation, load_synergy
    root = shared_file("synergy")
    if root is None:
        return {"skipped": needs("synergy")}
    exe = Path(sys.executable).with_name("livingmeta")
    rows = []
    for folder in sorted(p for p in root.iterdir() if (p / "labels.csv").is_file()):
        if sets and folder.name not in sets:
            continue
        t = time.perf_counter()
        res = subprocess.run([str(exe), "surveil", "benchmark", str(folder), "--json"], capture_output=True, text=True)
        if res.returncode != 0:
            rows.append({"set": folder.name, "error": res.stderr.strip()[-300:]})
            continue
        row = {"set": folder.name, **json.loads(res.stdout), "seconds": time.perf_counter() - t}
        t = time.perf_counter()
        living = living_simulation(load_synergy(folder))
        row["living"] = living
        row["living_seconds"] = time.perf_counter() - t
        rows.append(row)
    ok = [r for r in rows if "wss_95" in r]
    living = [r["living"]["share_screened_for_95"] for r in ok if r.get("living")]
    summary = {
        "sets": len(ok),
        "median_wss_95": statistics.median(r["wss_95"] for r in ok) if ok else None,
        "min_wss_95": min((r["wss_95"] for r in ok), default=None),
        "worse_than_random": [r["set"] for r in ok if r["wss_95"] <= 0],
        "stopped_below_95": [r["set"] for r in ok if r["recall_at_stop"] is not None and r["recall_at_stop"] < 0.95],
        "living_sets": len(living),
        "living_median_share_for_95": statistics.median(living) if living else None,
    }
    summary["targets_met"] = bool(ok) and summary["median_wss_95"] >= 0.40 and not summary["worse_than_random"] \
        and not summary["stopped_below_95"] and (summary["living_median_share_for_95"] or 1) <= 0.40
    return {"rows": rows, "summary": summary}


def print_rows(result: dict) -> None:
    if "skipped" in result:
        print(f"\nsurveillance: skipped ({result['skipped']})")
        return
    print("\nsurveillance: ranked screening on the shared SYNERGY sets (livingmeta surveil benchmark DIR --json)")
    print(f"{'set':20} {'records':>8} {'incl.':>6} {'WSS@95':>7} {'for 95%':>8} {'stopped':>8} {'recall':>7} "
          f"{'new: for 95%':>13} {'s':>6}")
    for r in result["rows"]:
        if "error" in r:
            print(f"{r['set']:20} error: {r['error']}")
            continue
        stop = "never" if r["stopped_at"] is None else f"{r['stopped_at']:.1%}"
        rec = "" if r["recall_at_stop"] is None else f"{r['recall_at_stop']:.1%}"
        liv = "no new incl." if not r.get("living") else f"{r['living']['share_screened_for_95']:.1%}"
        print(f"{r['set']:20} {r['records']:>8,} {r['included']:>6} {r['wss_95']:>7.1%} {r['screened_for_95']:>8.1%} "
              f"{stop:>8} {rec:>7} {liv:>13} {r['seconds'] + r['living_seconds']:>6.1f}")
    s = result["summary"]
    print(f"median WSS@95 {s['median_wss_95']:.1%} (target >= 40%), lowest {s['min_wss_95']:.1%}; worse than random: "
          f"{', '.join(s['worse_than_random']) or 'none'}; stopped below 95% recall: {', '.join(s['stopped_below_95']) or 'none'}")
    if s["living_median_share_for_95"] is not None:
        print(f"two-run simulation: median share of new records screened for 95% recall "
              f"{s['living_median_share_for_95']:.1%} over {s['living_sets']} sets (target <= 40%)")
    print("targets " + ("met" if s["targets_met"] else "NOT met"))


if __name__ == "__main__":
    out = run(sys.argv[1:] or None)
    print_rows(out)
