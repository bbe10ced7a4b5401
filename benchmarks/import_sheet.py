"""`livingmeta import` of a large data-extraction sheet: SYNTHETIC rows (seeded), three per trial
(every outcome x timepoint of the default review), written to a private copy of the review.

    python benchmarks/import_sheet.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def synthetic_sheet(path: Path, rows: int, seed: int = 1) -> None:
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    blocks = [("depression", "post_treatment"), ("depression", "follow_up"), ("completion", "end_of_intervention")]
    n = rng.integers(10, 200, size=rows)
    out = []
    for i in range(rows):
        oid, tp = blocks[i % len(blocks)]
        t = i // len(blocks)
        row = {"trial_id": f"synthetic-{t}", "label": f"Synthetic {t}", "year": 2000 + t % 25, "first_author": "SYNTHETIC",
               "outcome": oid, "timepoint": tp, "source": "SYNTHETIC benchmark row", "exercise_type": "aerobic",
               "weeks": 12}
        if oid == "depression":
            row |= {"n_int": n[i], "mean_int": round(10 + rng.normal(), 2), "sd_int": 4.0, "n_ctl": n[i] + 1,
                    "mean_ctl": round(12 + rng.normal(), 2), "sd_ctl": 4.2}
        else:
            row |= {"events_int": int(n[i] * 0.8), "total_int": int(n[i]), "events_ctl": int(n[i] * 0.7),
                    "total_ctl": int(n[i])}
        out.append(row)
    pd.DataFrame(out).to_csv(path, index=False)


def run(rows: int = 100_000) -> dict:
    from livingmeta.pipeline.intake import import_sheet
    with tempfile.TemporaryDirectory() as tmp:
        review = Path(tmp) / "exercise-depression"
        shutil.copytree(ROOT / "data" / "reviews" / "exercise-depression", review)
        sheet = Path(tmp) / "synthetic-sheet.csv"
        synthetic_sheet(sheet, rows)
        t = time.perf_counter()
        written = import_sheet(review, sheet)
        return {"rows": rows, "records": len(written.added), "import_s": time.perf_counter() - t}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=100_000)
    r = run(ap.parse_args().rows)
    print(f"import of {r['rows']:,} SYNTHETIC sheet rows -> {r['records']:,} records: {r['import_s']:.1f} s")
    sys.exit(0)
