"""The Metapsy review (480 studies, 900 effects): importing the database (release 24.0.2, read in
place from ../shared/data, never copied into the repository) into data/reviews/psychotherapy-depression,
a clean build of that review alone, and a rebuild after one study's record was edited (a SYNTHETIC
change to one arm's mean). Wall time and the CPU time (user + system) of the whole process tree,
since a shared machine stretches wall time. Run: python benchmarks/metapsy.py [--repeat 3]; the
builds run as benchmarks/pipeline.py explains (SLURM's client stall aside). Without ../shared the
benchmark is skipped with one line."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from pipeline import (copy_project, edited_rebuilds, print_rows, slurm_client_stall, snakemake_cmd, snakemake_env,
                      summary, timed)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from shared_data import needs, shared_file  # noqa: E402  (the tests' one helper for ../shared/data)

REVIEW = "psychotherapy-depression"
RELEASE = "metapsy-depression-psyctr/24.0.2"


def run(repeat: int = 3) -> dict:
    source = shared_file(RELEASE)
    if source is None:
        return {"skipped": needs(RELEASE)}
    imports, clean, edited, edited_cold = [], [], [], []
    record = Path("data") / "reviews" / REVIEW / "trials" / "aagaard-2017.yaml"
    for i in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            work = copy_project(Path(tmp))
            for imported in ("trials", "provenance"):  # a local import of the database is not part of the project
                shutil.rmtree(work / "data" / "reviews" / REVIEW / imported, ignore_errors=True)
            # the review ships its settings without records: the import fills the folder (README)
            imports.append(timed([sys.executable, "-m", "livingmeta.cli", "import", REVIEW, str(source)], work,
                                 snakemake_env()))
            clean.append(timed(snakemake_cmd(REVIEW), work, snakemake_env()))
            warm, cold = edited_rebuilds(work, REVIEW, record, i)
            edited.append(warm)
            edited_cold.append(cold)
    return {"import 480 studies": summary(imports), "clean build": summary(clean),
            "one study edited, rebuild": summary(edited), "same, no warm process": summary(edited_cold),
            "slurm_client_stall_s": slurm_client_stall()}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeat", type=int, default=3)
    result = run(p.parse_args().repeat)
    print_rows(f"pipeline, {REVIEW}", result)
    print(json.dumps(result))
