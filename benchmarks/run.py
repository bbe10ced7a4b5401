"""livingmeta benchmarks: `make bench` (or `python benchmarks/run.py --help`).

Prints a table (median of several runs, with min and max) and writes it as JSON to
results/bench/. All data are SYNTHETIC (benchmarks/synthetic.py, seeded).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

METAFOR_CASES = {"reml": "REML fit", "dl": "DL fit", "pm": "PM fit", "perm": "permutation test, 1,000 permutations"}


def startup_times() -> dict:
    def wall(cmd):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True)
        return (time.perf_counter() - t) if r.returncode == 0 else None
    return {"python + import livingmeta.stats.pooling": wall([sys.executable, "-c", "import livingmeta.stats.pooling"]),
            "python + import statsmodels meta_analysis": wall([sys.executable, "-c", "import statsmodels.stats.meta_analysis"]),
            "Rscript + library(metafor)": wall(["Rscript", "-e", "suppressMessages(library(metafor))"])
            if subprocess.run(["which", "Rscript"], capture_output=True).returncode == 0 else None}


def machine() -> dict:
    mem = None
    try:
        mem = round(int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1]) / 2**20, 1)
    except (OSError, StopIteration):
        pass
    return {"python": platform.python_version(), "platform": platform.platform(), "cores": os.cpu_count(),
            "memory_gb": mem, "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def fmt_row(cols, widths):
    return "  ".join(str(c).ljust(w) if i < 3 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cols, widths)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sections", default="engine,peers,pipeline,metapsy,many,import,surveillance",
                    help="comma-separated: engine, peers (metafor), pipeline (default review), metapsy (480 studies), "
                         "many, import, surveillance (ranked screening on the shared SYNERGY sets)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--many-reviews", type=int, default=200)
    ap.add_argument("--many-executor", choices=("local", "slurm"), default="local",
                    help="slurm: build the many-reviews DAG on a real single-node SLURM cluster (root)")
    ap.add_argument("--import-rows", type=int, default=100_000)
    ap.add_argument("--out", default=str(HERE.parent / "results" / "bench"))
    args = ap.parse_args(argv)
    sections = set(args.sections.split(","))
    report = {"machine": machine(), "synthetic_data": "all benchmark data are SYNTHETIC (benchmarks/synthetic.py)"}
    rows = []
    if "engine" in sections:
        import engine
        for case, k, tool, t in engine.cases(args.repeat):
            rows.append({"case": case, "k": k, "tool": tool, **t})
        report["startup_s"] = startup_times()
    if "peers" in sections:
        import peers_r
        res = peers_r.run(args.repeat)
        if "skipped" in res:
            report["metafor"] = res
        else:
            report["metafor_versions"] = res["versions"]
            for (case, k), t in res["cases"].items():
                rows.append({"case": METAFOR_CASES[case], "k": k, "tool": "metafor", **t})
            for case in ("meta-regression, 5 moderators", "leave-one-out", "influence diagnostics",
                         "three-level model, 1,000 clusters x 5"):
                rows.append({"case": case, "k": None, "tool": "metafor", "skipped": "not run: k > 1,000 "
                             "(metafor builds k x k matrices; 2.2 s at k = 1,000, 356 s at 5,000)"})
            for k in (10_000, 100_000):
                rows.append({"case": "REML fit", "k": k, "tool": "metafor", "skipped": "not run: k > 1,000"})
    # ratios livingmeta / peer on shared cases
    ours = {(r["case"], r["k"]): r["median_s"] for r in rows if r["tool"] == "livingmeta" and "median_s" in r}
    for r in rows:
        if r["tool"] != "livingmeta" and "median_s" in r and (r["case"], r["k"]) in ours:
            r["ratio_livingmeta_over_peer"] = ours[(r["case"], r["k"])] / r["median_s"]
    report["engine"] = rows
    if "pipeline" in sections:
        import pipeline
        report["pipeline"] = pipeline.run(max(1, args.repeat // 2 + 1))
    if "metapsy" in sections:
        import metapsy
        report["metapsy"] = metapsy.run(max(1, args.repeat // 2 + 1))
    if "many" in sections:
        import many_reviews
        report["many_reviews"] = many_reviews.run(args.many_reviews, executor=args.many_executor)
    if "import" in sections:
        import import_sheet
        report["import_sheet"] = import_sheet.run(args.import_rows)
    if "surveillance" in sections:
        import surveillance
        report["surveillance"] = surveillance.run()
    print_report(report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=2, default=str)
    (out / f"bench-{stamp}.json").write_text(text)
    (out / "latest.json").write_text(text)
    print(f"\nwritten: {out / f'bench-{stamp}.json'}")
    return 0


def print_report(report):
    m = report["machine"]
    print(f"livingmeta benchmarks, {m['date']} ({m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}); "
          "SYNTHETIC data")
    if report.get("engine"):
        widths = (38, 7, 11, 10, 10, 10, 8, 12)
        print("\n" + fmt_row(("case", "k", "tool", "median s", "min s", "max s", "peak MB", "ours/peer"), widths))
        for r in sorted(report["engine"], key=lambda r: (r["case"], r["k"] or 0, r["tool"] != "livingmeta", r["tool"])):
            if "median_s" in r:
                ratio = f"{r['ratio_livingmeta_over_peer']:.2f}" if "ratio_livingmeta_over_peer" in r else ""
                peak = f"{r['peak_mb']:.1f}" if r.get("peak_mb") is not None else ""
                print(fmt_row((r["case"], r["k"], r["tool"], f"{r['median_s']:.5f}", f"{r['min_s']:.5f}",
                               f"{r['max_s']:.5f}", peak, ratio), widths))
            else:
                print(fmt_row((r["case"], r["k"] or "", r["tool"], r.get("skipped", "")[:60], "", "", "", ""), widths))
    if report.get("startup_s"):
        print("\ninterpreter start-up (excluded above): " + "; ".join(
            f"{k} {v:.2f} s" for k, v in report["startup_s"].items() if v is not None))
    if report.get("metafor"):
        print(f"\nmetafor: {report['metafor']['skipped']}")
    if report.get("pipeline"):
        import pipeline
        pipeline.print_rows(f"pipeline, {pipeline.REVIEW}", report["pipeline"])
    if report.get("metapsy"):
        import metapsy
        from pipeline import print_rows
        print_rows(f"pipeline, {metapsy.REVIEW}", report["metapsy"])
    if report.get("many_reviews"):
        r = report["many_reviews"]
        print(f"\nmany reviews: {r['reviews']} synthetic reviews x {r['trials_per_review']} trials, -c {r['cores']}: "
              f"DAG {r['dag_build_s']:.1f} s, total {r['total_s']:.0f} s, {r['per_review_s']:.2f} s per review, "
              f"peak {r['peak_mb']:.0f} MB ({r.get('executor', 'local')})")
        if r.get("executor") == "slurm":
            print(f"  on SLURM: {r['slurm_jobs']} jobs, {r['slurm_completed']} COMPLETED, "
                  f"peak job {r['slurm_peak_job_mb'] or 0:.0f} MB (sacct MaxRSS)")
    if report.get("import_sheet"):
        r = report["import_sheet"]
        print(f"\nlivingmeta import: {r['rows']:,} SYNTHETIC sheet rows -> {r['records']:,} records in {r['import_s']:.1f} s")
    if report.get("surveillance"):
        import surveillance
        surveillance.print_rows(report["surveillance"])


if __name__ == "__main__":
    sys.exit(main())
