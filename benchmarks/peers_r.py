"""metafor timings, when Rscript with metafor is installed (run only up to k = 1,000: metafor
builds k x k matrices)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd

from synthetic import effects

METAFOR_MAX_K = 1_000
HERE = Path(__file__).parent


def available() -> str | None:
    if not shutil.which("Rscript"):
        return "Rscript not installed (Debian: apt-get install r-base-core r-cran-metafor)"
    ok = subprocess.run(["Rscript", "-e", "library(metafor); library(jsonlite)"], capture_output=True)
    return None if ok.returncode == 0 else "R package metafor or jsonlite not installed (Debian: r-cran-metafor)"


def run(repeat: int = 5) -> dict:
    """{(case, k): timing} for metafor; the same seeded data as the Python cases."""
    why = available()
    if why:
        return {"skipped": why}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        args = []
        for k in (35, 1_000):
            y, v, _ = effects(k)
            path = Path(tmp) / f"k{k}.csv"
            pd.DataFrame({"yi": y, "vi": v}).to_csv(path, index=False)
            for case in ("reml", "dl", "pm"):
                args.append((case, k, path))
        y, v, X = effects(100, mods=2)
        path = Path(tmp) / "perm.csv"
        pd.DataFrame({"yi": y, "vi": v, "a": X[:, 0], "b": X[:, 1]}).to_csv(path, index=False)
        args.append(("perm", 100, path))
        y, v, _ = effects(1_000)
        # leave-one-out at k = 1,000 (the 10,000 case would need 10,000 refits of 10,000 x 10,000 matrices)
        results = {}
        for case, k, p in args:
            r = subprocess.run(["Rscript", str(HERE / "metafor_bench.R"), str(repeat), f"{case}={p}"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                results[(case, k)] = {"skipped": r.stderr.strip()[-200:]}
                continue
            data = json.loads(r.stdout)
            out["versions"] = data["versions"]
            results[(case, k)] = data[case]
        out["cases"] = results
    return out
