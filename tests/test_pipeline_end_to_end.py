"""End to end: `snakemake` builds the default review's PDF from the trial records; adding a
trial rebuilds and counts it; a bad record stops the run, names file and field, and leaves the
previous report untouched. Runs the real DAG on a private copy of the project (about a minute)."""

import hashlib
import json
import re
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
                 "figures/forest_plot.svg", "figures/funnel_plot.svg", "report.html"):
        assert (out / name).exists(), name


def test_every_json_artefact_of_the_build_keeps_its_contract(project):
    from livingmeta.pipeline.contracts import STAGE_SCHEMAS, contract_problems
    work, _ = project
    for schema, name in STAGE_SCHEMAS.items():
        assert contract_problems(json.loads((results(work) / name).read_text()), schema) == [], name


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
    html = (results(work) / "report_print.html").read_text()
    assert html.count("<img ") >= 3 and "figures/forest_plot_pages/page_1.svg" in html


def test_the_pdf_text_names_no_file_key_plural_literal_or_placeholder(project):
    """The PDF, as a reader extracts its text (running headers included): the word rules of
    tests/report_text.py. Snake_case is left to the HTML test, which can leave out the sources'
    own words (citation notes, support text) that the PDF's text cannot tell apart."""
    pypdf = pytest.importorskip("pypdf")
    from report_text import OWN_FILES, RULES
    work, _ = project
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(results(work) / "report.pdf").pages).split())
    for name in OWN_FILES:
        text = text.replace(name, "")
    hits = [f"{rule}: {m.group(0)!r} in ...{text[max(0, m.start() - 60):m.end() + 60]}..."
            for rule, pattern in RULES if rule != "snake_case identifier" for m in pattern.finditer(text)]
    assert not hits, "\n".join(hits)


def test_the_edition_id_reads_the_same_on_page_one_and_in_the_header(project):
    """Issue 22: the id was upper-case on page 1 (the kicker's text-transform) and lower-case in the header."""
    pypdf = pytest.importorskip("pypdf")
    work, _ = project
    eid = json.loads((results(work) / "report_context.json").read_text())["edition"]["id"]
    pages = [" ".join(p.extract_text().split()) for p in pypdf.PdfReader(results(work) / "report.pdf").pages]
    assert eid in pages[0] and eid in pages[1]  # page 1's kicker; the running header from page 2
    assert not any(eid.upper() in page for page in pages) or eid.upper() == eid


def test_console_lines_print_statistics_in_the_reports_formats(project):
    """Issue 22: 'Egger p = 0.000' on the console; pool printed '[lo, hi]' (ratio measures on the log scale)."""
    from livingmeta import formatting
    work, res = project
    pooled = json.loads((results(work) / "pooled.json").read_text())
    m = next(a for a in pooled["analyses"] if a["timepoint"] == "post_treatment")["model"]
    sse = json.loads((results(work) / "small_study_effects.json").read_text())
    lines = {line.split("]")[0][len("[livingmeta:"):]: line for line in res.stderr.splitlines()
             if line.startswith("[livingmeta:")}
    assert f"SMD {formatting.number(m['estimate'])} (95% CI {formatting.ci(m['ci_lower'], m['ci_upper'])})" in lines["pool"]
    assert f"Egger's test {formatting.p_value(sse['egger']['pval'])}" in lines["small_study_effects"]
    stage_lines = "\n".join(lines.values())
    assert "0.000" not in stage_lines and "(s)" not in stage_lines and " [" not in lines["pool"]


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
    assert 8 <= len(reader.pages) <= 28  # 20 before the appraisal sections (about 4 pages) and "how settled" (about 2)
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
    html = (out / "report_print.html").read_text()  # the HTML WeasyPrint printed
    srcs = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', html)
    assert len(srcs) == html.count("<img ") >= 8                     # every image has alt text
    for src, _ in srcs:
        assert (out / src).is_file(), src
    assert "refused to fetch" not in res.stderr


def test_same_inputs_give_a_byte_identical_archival_pdf_with_data_attached_warm_or_cold(project):
    pypdf = pytest.importorskip("pypdf")
    work, _ = project
    env = {"SOURCE_DATE_EPOCH": "1764028800"}
    first = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--forceall", "-q"], cwd=work,
                           capture_output=True, text=True, env={**__import__("os").environ, **env})
    assert first.returncode == 0, first.stderr[-2000:]
    built = {p.relative_to(results(work)): sha(p) for p in results(work).rglob("*")
             if p.is_file() and "logs" not in p.parts}
    # the second build runs each rule script in its own Python (livingmeta.pipeline.warm): same bytes
    second = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--forceall", "-q"], cwd=work,
                            capture_output=True, text=True, env={**__import__("os").environ, **env, "LIVINGMETA_COLD": "1"})
    assert second.returncode == 0
    assert {p: sha(results(work) / p) for p in built} == built
    assert len(built) >= 30
    reader = pypdf.PdfReader(results(work) / "report.pdf")
    assert set(reader.attachments) == {"trial_data.csv", "pooled_results.json", "per_trial_results.csv"}
    pooled = json.loads(reader.attachments["pooled_results.json"][0])
    assert pooled == json.loads((results(work) / "pooled.json").read_text())
    # the per-trial results: one row for every trial record of the review
    per_trial = reader.attachments["per_trial_results.csv"][0].decode("utf-8").splitlines()
    records = {yaml.safe_load(p.read_text())["id"] for p in (work / "data/reviews/exercise-depression/trials").glob("*.yaml")}
    assert per_trial[0].startswith("trial_id,label,year") and {line.split(",")[0] for line in per_trial[1:]} == records
    assert len(per_trial) - 1 == len(records)
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


# --- What reaches readers: the tagged PDF, its pages, and the web edition (issue 11) -------------

def _struct_elements(pdf):
    """(tag, element) of the PDF's structure tree in document (reading) order."""
    import pikepdf
    out = []

    def walk(node):
        if isinstance(node, pikepdf.Array):
            for kid in node:
                walk(kid)
        elif isinstance(node, pikepdf.Dictionary):
            if "/S" in node:
                out.append((str(node.S), node))
            if "/K" in node:
                walk(node.K)
    walk(pdf.Root.StructTreeRoot.get("/K"))
    return out


def test_the_pdf_is_tagged_pdf_a_3a_with_alt_text_headings_and_table_headers(project):
    pikepdf = pytest.importorskip("pikepdf")
    work, _ = project
    html = (results(work) / "report_print.html").read_text()
    with pikepdf.open(results(work) / "report.pdf") as pdf:
        assert "/StructTreeRoot" in pdf.Root and bool(pdf.Root.MarkInfo.Marked) is True
        assert str(pdf.Root.Lang) == "en" and bool(pdf.Root.ViewerPreferences.DisplayDocTitle)
        meta = pdf.open_metadata()
        assert meta.get("pdfaid:part") == "3" and meta.get("pdfaid:conformance") == "A"
        assert set(pdf.attachments) == {"trial_data.csv", "pooled_results.json", "per_trial_results.csv"}   # the data still attached
        tags = _struct_elements(pdf)
    names = [t for t, _ in tags]
    figures = [e for t, e in tags if t == "/Figure"]
    assert len(figures) == html.count("<img ") >= 8
    assert all(str(e.get("/Alt", "")).strip() for e in figures)                   # every figure has alt text
    assert names.count("/H1") == 1 and names.index("/H1") < names.index("/H2") and names.count("/H2") >= 10
    assert names.count("/Table") >= 6 and names.count("/TH") >= 6 * 3 and "/Caption" in names


def _page_texts_and_fill(pdf_path):
    """Each page's text and how far down its body the lowest line of text reaches (0 to 1)."""
    import pypdf
    out = []
    for page in pypdf.PdfReader(pdf_path).pages:
        height, margin = float(page.mediabox.height), 22 / 25.4 * 72
        ys = []
        page_text = page.extract_text(visitor_text=lambda text, cm, tm, *_: ys.append(tm[5] * cm[3] + cm[5])
                                      if text.strip() else None)
        body = [y for y in ys if margin * 0.9 < y < height - margin * 0.9]
        out.append((page_text, 1 - (min(body) - margin) / (height - 2 * margin) if body else 0.0))
    return out


def test_no_page_is_less_than_half_full_except_before_a_new_section_and_at_the_end(project):
    pytest.importorskip("pypdf")
    work, _ = project
    pages = _page_texts_and_fill(results(work) / "report.pdf")
    # the appendix starts a page (break-before: page); its heading is the page's first line of text,
    # or comes after the running header where the extraction puts the header first
    starts_new_page = {i for i, (text, _) in enumerate(pages)
                       if "Technical appendix" in text[:400] or "Technical appendix" in text.split("\n", 3)[-1][:400]}
    short = [i + 1 for i, (_, fill) in enumerate(pages[:-1]) if fill < 0.5 and i + 1 not in starts_new_page]
    assert not short, f"pages less than half full: {short}"


def test_references_print_citations_only_and_measures_are_a_table(project):
    pytest.importorskip("pypdf")
    work, _ = project
    text = " ".join(" ".join(t.split()) for t, _ in _page_texts_and_fill(results(work) / "report.pdf"))
    refs = text[text.index("References of included trials"):text.index("Technical appendix")]
    for note in ("Title not found", "(weak source)", "per review label", "per label", "inferred from host",
                 "not printed in excerpt", "sources read:"):
        assert note not in refs, note
    assert "Klein, 1985." in refs and "Dunn AL, Trivedi MH" in refs
    assert "Depression measures used by the trials" not in text and "Outcome instruments" in text
    assert "inferred from host psychiatrist.com" in text[text.index("Data provenance of the citations"):]
    assert "per unit" not in text and "per week" in text


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
AXE = ROOT / "tests" / "vendor" / "axe.min.js"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Debian's chromium, headless, driven by Selenium through Debian's chromedriver: no browser
    download, no network, a fresh profile."""
    import shutil
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("the web-edition tests need Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


def test_the_web_edition_is_one_self_contained_file(project):
    work, _ = project
    html = (results(work) / "report.html").read_text()
    assert "<img " not in html and html.count("<svg ") >= 8                   # figures inline as SVG
    assert 'href="data:text/csv;base64,' in html and 'href="data:application/json;base64,' in html
    assert '<nav class="toc" aria-label="Contents">' in html and 'name="viewport"' in html
    assert not re.search(r'(src|href)="(?!data:|#|https://(doi\.org|pubmed\.ncbi|www\.ncbi))', html)  # nothing else fetched
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))                                           # figure ids do not collide


@pytest.mark.parametrize("width", [375, 1280])
def test_the_web_edition_fits_phone_and_desktop_widths(project, browser, width, tmp_path):
    work, _ = project
    browser.set_window_size(width, 900)
    browser.get((results(work) / "report.html").resolve().as_uri())
    inner, scroll = browser.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
    assert inner == width and scroll <= width, f"the page is {scroll}px wide in a {width}px window"
    assert browser.save_screenshot(str(tmp_path / f"web-{width}.png"))
    wide = browser.execute_script(
        "return [...document.querySelectorAll('main *')].filter(e => !e.closest('.table-wrap') && !e.ownerSVGElement)"
        ".filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).length")
    assert wide == 0
    toc = browser.execute_script("return [...document.querySelectorAll('nav.toc a')].map(a => a.getAttribute('href'))")
    assert all(browser.execute_script("return document.getElementById(arguments[0]) !== null", h[1:]) for h in toc)


def test_the_web_edition_has_no_serious_or_critical_accessibility_violation(project, browser):
    work, _ = project
    browser.set_window_size(1280, 900)
    browser.get((results(work) / "report.html").resolve().as_uri())
    browser.execute_script(AXE.read_text())
    violations = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map("
        "v => ({id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help})))).catch(e => done(String(e)));")
    assert isinstance(violations, list), violations
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, bad


# Each outermost SVG of the page, and each of its text elements whose box (in page pixels) runs
# past the SVG's own box by more than half a pixel: the SVG clips it, so the reader loses letters.
SVG_TEXT_OVERFLOW = """
const out = [];
for (const svg of document.querySelectorAll('svg')) {
  if (svg.parentElement.closest('svg')) continue;
  const fig = svg.getBoundingClientRect();
  for (const text of svg.querySelectorAll('text')) {
    const box = text.getBoundingClientRect();
    if (!text.textContent.trim() || box.width === 0) continue;
    const past = Math.max(fig.left - box.left, box.right - fig.right, fig.top - box.top, box.bottom - fig.bottom);
    if (past > 0.5) out.push(`${svg.closest('figure')?.querySelector('figcaption')?.textContent.slice(0, 40)}: `
                             + `"${text.textContent}" ${past.toFixed(1)}px past the figure's edge`);
  }
}
return out;
"""


@pytest.mark.parametrize("width", [390, 1280])
def test_no_figure_text_runs_past_its_figure_in_the_web_edition(project, browser, width):
    """The figures' SVG text is laid out by matplotlib for the shipped Noto Sans; the web edition
    embeds that font, so the browser measures every label as the PDF does, at any width."""
    work, _ = project
    browser.set_window_size(width, 900)
    browser.get((results(work) / "report.html").resolve().as_uri())
    faces = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "document.fonts.ready.then(() => done([...document.fonts].filter(f => f.status === 'loaded')"
        ".map(f => f.family.replace(/[\"']/g, '') + ' ' + f.weight)));")
    overflow = browser.execute_script(SVG_TEXT_OVERFLOW)
    assert browser.execute_script("return document.querySelectorAll('svg text').length") > 500
    assert overflow == [], "\n".join(overflow)
    assert {"Noto Sans 400", "Noto Sans 700"} <= set(faces), faces  # the embedded font, not the machine's


def test_the_web_edition_lists_every_section_and_embeds_the_figure_fonts_once(project):
    from livingmeta.report.web import WEB_FONTS
    work, _ = project
    html = (results(work) / "report.html").read_text()
    main = html[html.index("<main>"):]
    headings = re.findall(r'<h2\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</h2>', main, re.S)
    assert len(headings) == main.count("<h2") and "How settled is the evidence?" in dict(headings).values()
    toc = html[html.index('<nav class="toc"'):html.index("</nav>")]
    assert re.findall(r'<a href="#([^"]+)">(.*?)</a>', toc) == [(i, re.sub("<[^>]*>", "", t)) for i, t in headings]
    assert html.count("data:font/woff2;base64,") == len(WEB_FONTS) and "<script" not in html


def test_the_forest_plot_opens_full_size_on_a_phone_and_back(project, browser):
    """No script: the link's target is the figure's own view, which CSS shows alone at the
    figure's size (its 7-point text at 7 points), scrolling sideways in a 390 px window."""
    from selenium.webdriver.common.by import By
    work, _ = project
    browser.set_window_size(390, 844)
    browser.get((results(work) / "report.html").resolve().as_uri())
    figure = browser.find_element(By.CSS_SELECTOR, "figure.forest")
    svg_width = "return arguments[0].querySelector('svg').getBoundingClientRect().width"
    assert browser.execute_script(svg_width, figure) < 390
    figure.find_element(By.CSS_SELECTOR, ".figure-open").click()
    view = figure.find_element(By.CSS_SELECTOR, ".figure-view")
    assert browser.execute_script("return location.hash") == f"#{view.get_attribute('id')}"
    natural_px = float(figure.find_element(By.TAG_NAME, "svg").get_attribute("width").removesuffix("pt")) * 4 / 3
    assert browser.execute_script(svg_width, figure) == pytest.approx(natural_px, abs=1) and natural_px > 390
    assert browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return [getComputedStyle(arguments[0]).position, r.left,"
        " r.top, r.width - document.documentElement.clientWidth, arguments[0].scrollWidth > arguments[0].clientWidth]",
        view) == ["fixed", 0, 0, 0, True]                      # the whole window, scrolling sideways
    view.find_element(By.CSS_SELECTOR, ".figure-close").click()
    assert browser.execute_script("return location.hash") == f"#{figure.get_attribute('id')}"
    assert browser.execute_script("return getComputedStyle(arguments[0]).position", view) == "relative"
    assert browser.execute_script(svg_width, figure) < 390
