"""End to end: `snakemake` builds the default review's PDF from the trial records; adding a
trial rebuilds and counts it; a bad record stops the run, names file and field, and leaves the
previous report untouched. Runs the real DAG on a private copy of the project (about a minute)."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import copy_project

ROOT = Path(__file__).resolve().parents[1]


def snakemake(workdir, *extra):
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--directory", str(workdir),
           "--snakefile", str(workdir / "Snakefile"), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    work = copy_project(tmp_path_factory.mktemp("project"))
    res = snakemake(work)
    assert res.returncode == 0, res.stderr[-4000:]
    return work, res


def results(work):
    return work / "results" / "exercise-depression"


def test_one_command_builds_the_pdf_with_every_stage_reporting(project):
    work, res = project
    out = results(work)
    pdf = out / "report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    for stage in ("extract", "effect_sizes", "pool", "moderators", "small_study_effects", "forest_plot",
                  "funnel_plot", "moderator_plots", "report_html", "report_pdf"):
        assert f"[livingmeta:{stage}]" in res.stderr
    for name in ("extracted/arms.csv", "effects.csv", "pooled.json", "moderators.json", "small_study_effects.json",
                 "figures/forest_plot.svg", "figures/forest_plot.png", "figures/funnel_plot.svg", "report.html"):
        assert (out / name).exists(), name


def test_the_report_prints_the_pooled_result_exactly_as_the_results_file_rounds_it(project):
    pypdf = pytest.importorskip("pypdf")
    work, _ = project
    pooled = json.loads((results(work) / "pooled.json").read_text())
    m = next(a for a in pooled["analyses"] if a["timepoint"] == "post_treatment")["model"]
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(results(work) / "report.pdf").pages)
    text = " ".join(text.split())
    def f(x):
        return f"{x:.2f}".replace("-", "\u2212")
    assert f"SMD {f(m['estimate'])} (95% CI {f(m['ci_lower'])} to {f(m['ci_upper'])})" in text
    for heading in ("Key findings", "Why it matters", "What the researchers did", "What they found",
                    "Who benefits most", "How sure can we be?", "Take-home message", "References of included trials",
                    "Technical appendix"):
        assert heading in text
    html = (results(work) / "report.html").read_text()
    assert html.count("<img ") >= 3 and "figures/forest_plot_pages/page_1.svg" in html


def test_a_rerun_with_nothing_changed_does_nothing(project):
    work, _ = project
    res = snakemake(work, "--dry-run")
    assert res.returncode == 0
    assert "Nothing to be done" in res.stdout + res.stderr


def test_adding_a_trial_rebuilds_and_counts_it(project):
    work, _ = project
    trials = work / "data" / "reviews" / "exercise-depression" / "trials"
    rec = yaml.safe_load((trials / "singh-2005.yaml").read_text())
    rec.update(id="synthetic-2026", label="Synthetic 2026", year=2026)
    rec["citation"] = {"first_author": "Synthetic (test record, not a real trial)"}
    rec["outcomes"] = {"depression": [{**rec["outcomes"]["depression"][0],
                                       "source": "SYNTHETIC test record made by the test suite"}]}
    rec["outcomes"]["depression"][0].pop("published", None)
    (trials / "synthetic-2026.yaml").write_text(yaml.safe_dump(rec, sort_keys=False))
    res = snakemake(work)
    assert res.returncode == 0, res.stderr[-3000:]
    pooled = json.loads((results(work) / "pooled.json").read_text())
    assert next(a for a in pooled["analyses"] if a["timepoint"] == "post_treatment")["k"] == 36
    ctx = json.loads((results(work) / "report_context.json").read_text())
    assert ctx["key"]["k"] == 36


def test_a_bad_record_stops_the_run_and_keeps_the_last_good_report(project):
    work, _ = project
    pdf = results(work) / "report.pdf"
    before = sha(pdf)
    path = work / "data" / "reviews" / "exercise-depression" / "trials" / "sims-2009.yaml"
    good = path.read_text()
    rec = yaml.safe_load(good)
    rec["outcomes"]["depression"][0]["arms"]["exercise"]["sd"] = -8.5
    path.write_text(yaml.safe_dump(rec, sort_keys=False))
    try:
        res = snakemake(work)
        assert res.returncode != 0
        assert "sims-2009.yaml" in res.stderr and "arms.exercise.sd" in res.stderr and "greater than 0" in res.stderr
        assert "Traceback" not in res.stderr
        assert sha(pdf) == before
    finally:
        path.write_text(good)


def test_the_workflow_is_snakemake_lint_clean():
    res = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], capture_output=True, text=True, cwd=ROOT)
    assert "Congratulations, your workflow is in a good condition" in res.stdout + res.stderr, res.stdout[-2000:]


def test_the_pdf_has_sane_length_embedded_shipped_fonts_and_every_figure(project):
    pypdf = pytest.importorskip("pypdf")
    work, res = project
    out = results(work)
    reader = pypdf.PdfReader(out / "report.pdf")
    assert 8 <= len(reader.pages) <= 24  # 20 before the appraisal sections (risk of bias, GRADE, PRISMA; about 4 pages)
    fonts = {}
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            desc = font.get("/DescendantFonts")
            d = (desc[0].get_object() if desc else font).get("/FontDescriptor")
            fonts[str(font["/BaseFont"])] = d is not None and any(k in d.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    assert fonts and all(fonts.values()), fonts                      # every font embedded
    shipped = ("LM-Sans", "LM-Serif", "LM-Symbols", "Noto-Sans")      # CSS families and the figures' font
    assert all(any(s in name for s in shipped) for name in fonts), fonts  # and only the shipped ones
    import re
    html = (out / "report.html").read_text()
    srcs = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', html)
    assert len(srcs) == html.count("<img ") >= 8                     # every image has alt text
    for src, _ in srcs:
        assert (out / src).is_file(), src
    assert "refused to fetch" not in res.stderr


def test_same_inputs_give_a_byte_identical_archival_pdf_with_data_attached(project):
    pypdf = pytest.importorskip("pypdf")
    work, _ = project
    env = {"SOURCE_DATE_EPOCH": "1764028800"}
    first = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--forceall", "-q"], cwd=work,
                           capture_output=True, text=True, env={**__import__("os").environ, **env})
    assert first.returncode == 0, first.stderr[-2000:]
    a = sha(results(work) / "report.pdf")
    second = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--forceall", "-q"], cwd=work,
                            capture_output=True, text=True, env={**__import__("os").environ, **env})
    assert second.returncode == 0
    assert sha(results(work) / "report.pdf") == a
    reader = pypdf.PdfReader(results(work) / "report.pdf")
    assert set(reader.attachments) == {"trial_data.csv", "pooled_results.json"}
    pooled = json.loads(reader.attachments["pooled_results.json"][0])
    assert pooled == json.loads((results(work) / "pooled.json").read_text())
    meta = reader.metadata
    assert "Exercise for depression" in meta.title and "Edition 2025-11-25-" in meta.subject
    assert "meta-analysis" in meta["/Keywords"] and meta.author
    xmp = reader.xmp_metadata
    assert xmp is not None and b"pdfaid" in reader.trailer["/Root"]["/Metadata"].get_object().get_data()


def test_markup_in_a_trial_record_is_printed_as_text_with_a_warning(project):
    pypdf = pytest.importorskip("pypdf")
    work, _ = project
    path = work / "data" / "reviews" / "exercise-depression" / "trials" / "veale-1992.yaml"
    good = path.read_text()
    rec = yaml.safe_load(good)
    rec["citation"]["title"] = 'Evil <img src="file:///etc/passwd"> <img src="http://example.com/t.png"> title'
    path.write_text(yaml.safe_dump(rec, sort_keys=False))
    try:
        res = snakemake(work)
        assert res.returncode == 0, res.stderr[-2000:]
        assert "WARNING" in res.stderr and "veale-1992.yaml: citation.title: contains markup-like text" in res.stderr
        html = (results(work) / "report.html").read_text()
        assert '<img src="file:///etc/passwd">' not in html and "&lt;img src=" in html
        text = " ".join(p.extract_text() for p in pypdf.PdfReader(results(work) / "report.pdf").pages)
        assert "root:x:0:0" not in text
        assert "refused to fetch" not in res.stderr  # nothing was even attempted
    finally:
        path.write_text(good)
