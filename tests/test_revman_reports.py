"""Imported RevMan reviews build, end to end, and each report says what the review's own analysis
says (issue 20): the headline is the source's stored result, every estimable analysis has its
forest plot, an analysis that cannot be estimated does not take the report down, and the
reproduction of RevMan's totals is one summary with every comparison in the attached CSV.

Reviews: the Fleiss (1993) RevMan 5 file (../shared/data/revman, skipped when absent) and the
SYNTHETIC review of tests/fixtures/revman-synthetic in both formats, whose stored totals are
metafor's (tests/reference/make_reference_revman_synthetic.R). Slow: one real build of three
reviews (about two minutes on an idle machine)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import copy_project
from shared_data import shared_file

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "revman-synthetic"
REF = json.loads((ROOT / "tests" / "reference" / "revman_synthetic_reference.json").read_text())
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    fleiss = shared_file("revman/Fleiss1993.rm5")
    sources = {"synthetic-rm5": FIXTURES / "synthetic-review.rm5", "synthetic-web": FIXTURES / "synthetic-review.zip"}
    if fleiss:
        sources["fleiss-1993"] = fleiss
    work = copy_project(tmp_path_factory.mktemp("revman"), reviews=list(sources))
    for name, source in sources.items():
        res = subprocess.run([sys.executable, "-m", "livingmeta.cli", "import", name, str(source)], cwd=work,
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        assert "WARNING" not in res.stderr   # every stored total reproduced, not-estimable ones agreeing
    res = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--directory", str(work), "--snakefile",
                          str(work / "Snakefile")], cwd=work, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-4000:]
    return work, sources


def _results(work, review):
    return work / "results" / review


def _pdf_text(path: Path) -> str:
    pypdf = pytest.importorskip("pypdf")
    return " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(path).pages).split())


@pytest.mark.parametrize("review", ["synthetic-rm5", "synthetic-web"])
def test_the_synthetic_report_leads_with_its_declared_analysis_and_draws_every_analysis(built, review):
    work, _ = built
    out = _results(work, review)
    pooled = json.loads((out / "pooled.json").read_text())
    main = pooled["analyses"][0]
    ref = REF["analyses"][0]["overall"]                     # analysis 1.1, Mantel-Haenszel OR: metafor
    assert main["model"]["method"] == "MH"
    assert math.exp(main["model"]["estimate"]) == pytest.approx(ref["effect"], rel=1e-9)
    text = _pdf_text(out / "report.pdf")
    assert "OR 0.44 (95% CI 0.30 to 0.66), p < 0.001" in text
    assert "Mantel-Haenszel, fixed effect, as declared by the review's RevMan" in text
    # every analysis but the lead has its forest plot, the one without an estimate included, in the review's order
    drawn = sorted(int(p.stem.split("_")[1]) for p in (out / "figures" / "forest_analyses").glob("analysis_*_page_1.svg"))
    assert drawn == list(range(2, len(pooled["analyses"]) + 1))
    not_estimable = next(a for a in pooled["analyses"] if a["outcome"] == "analysis-1-6")
    assert not_estimable["not_pooled_reason"].startswith("not estimable")
    svg = (out / "figures" / "forest_analyses" / "analysis_6_page_1.svg").read_text()
    assert "Not estimable" in svg
    reproduction = json.loads((out / "revman_reproduction.json").read_text())["reproduction"]
    assert reproduction["summary"]["differing"] == 0 and reproduction["summary"]["reproduced"] == 8
    csv_lines = (out / "revman_reproduction.csv").read_text().splitlines()
    assert len(csv_lines) > 100 and not any("DIFFERS" in line for line in csv_lines)
    assert "Reproduction of the RevMan analyses" in text and "Data and analyses" in text


def test_the_fleiss_report_headlines_revmans_stored_result(built):
    work, sources = built
    if "fleiss-1993" not in sources:
        pytest.skip("needs ../shared/data/revman/Fleiss1993.rm5, present on development and CI machines")
    root = ET.fromstring(sources["fleiss-1993"].read_bytes())
    stored = next(root.iter("DICH_OUTCOME"))
    effect, lo, hi, p = (float(stored.get(k)) for k in ("EFFECT_SIZE", "CI_START", "CI_END", "P_Z"))
    text = _pdf_text(_results(work, "fleiss-1993") / "report.pdf")
    stored_text = f"OR {effect:.2f} (95% CI {lo:.2f} to {hi:.2f}), p = {p:.3f}"
    assert stored_text == "OR 0.90 (95% CI 0.84 to 0.96), p = 0.001" and stored_text in text
    assert "This report's default model: REML estimator, Hartung-Knapp CI" in text
    # the review's words: RevMan's group labels, no arm keys, no placeholder for a question the file does not state
    assert "Favours Aspirin" in text and "experimental" not in text.lower()
    assert "Not stated in the imported file" not in text
