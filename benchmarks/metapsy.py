"""The Metapsy review (480 studies, 900 effects): importing the database, a clean build of
data/reviews/psychotherapy-depression alone, and a rebuild after one study's record was edited.
Wall time and the CPU time (user + system) of the whole process tree, since a shared machine
stretches wall time. Run: python benchmarks/metapsy.py [--repeat 3]."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from pipeline import copy_project

ROOT = Path(__file__).resolve().parents[1]
REVIEW = "psychotherapy-depression"
SOURCE = ROOT / "tests" / "fixtures" / "metapsy" / "24.0.2"


def timed(cmd, cwd) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    rc = subprocess.call(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed in {cwd}")
    return {"wall_s": wall, "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)}


def _median(samples, key):
    vals = sorted(s[key] for s in samples)
    return vals[len(vals) // 2]


def run(repeat: int = 3) -> dict:
    snake = [sys.executable, "-m", "snakemake", "--profile", "workflow/profiles/default", "--cores", "2",
             "--config", f"reviews=[{REVIEW}]"]
    imports, clean, edited = [], [], []
    for i in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            work = copy_project(Path(tmp))
            imports.append(timed([sys.executable, "-m", "livingmeta.cli", "import", str(Path(tmp) / "imported"),
                                  str(SOURCE)], work))
            clean.append(timed(snake, work))
            path = work / "data" / "reviews" / REVIEW / "trials" / "aagaard-2017.yaml"
            rec = yaml.safe_load(path.read_text())
            rec["outcomes"]["depression"][0]["arms"]["psychotherapy"]["mean"] += 0.1 * (i + 1)  # SYNTHETIC edit
            path.write_text(yaml.safe_dump(rec, sort_keys=False, allow_unicode=True))
            edited.append(timed(snake, work))
    return {name: {"median_wall_s": _median(s, "wall_s"), "median_cpu_s": _median(s, "cpu_s"), "runs": len(s)}
            for name, s in (("import 480 studies", imports), ("clean build", clean),
                            ("one study edited, rebuild", edited))}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeat", type=int, default=3)
    result = run(p.parse_args().repeat)
    for name, r in result.items():
        print(f"{name:28s} wall {r['median_wall_s']:6.1f} s   cpu {r['median_cpu_s']:6.1f} s   ({r['runs']} runs)")
    print(json.dumps(result))
