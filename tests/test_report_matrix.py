"""Every report builds without optional data (issue 20 item 6): no risk of bias, no moderators, no
search counts, one outcome, two trials, binary only, one arm label missing, nothing optional at
all, 200 trials. A section without data is left out or says in one sentence what is missing:
never an empty heading, a placeholder, or a key of review.yaml in the reader's part.

The reviews are SYNTHETIC (tests/fixtures/any-review, written by make_fixtures.py there). The
quick tests compute every stage in process with the functions the rules call and render both
HTML editions; the slow test builds all of them with Snakemake into PDFs."""

import html
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / "tests" / "fixtures" / "any-review"
REVIEWS = sorted(p.name for p in MATRIX.iterdir() if (p / "review.yaml").is_file())
LARGE = "many-trials-rob2"  # 200 trials: written by make_fixtures.py where a test needs it


def make_fixtures():
    spec = importlib.util.spec_from_file_location("make_fixtures", MATRIX / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def roundtrip(df: pd.DataFrame, tmp_path: Path, name: str) -> pd.DataFrame:
    """A table as the next rule reads it: through its CSV file."""
    path = tmp_path / f"{name}.csv"
    df.to_csv(path, index=False)
    return pd.read_csv(path)


def report_context(review_dir: Path, tmp_path: Path) -> dict:
    """The report context of a review, each stage computed by the function its rule calls."""
    from livingmeta.report.changes import compare_editions, read_records
    from livingmeta.pipeline import analysis, tables
    from livingmeta.pipeline.appraisal import risk_of_bias_review
    from livingmeta.pipeline.prisma import prisma_summary
    from livingmeta.pipeline.records import load_review, record_paths
    from livingmeta.pipeline.settled import bayes_analysis, sequential_analysis
    from livingmeta.report.context import build_context
    from livingmeta.report.grade import summary_of_findings
    from livingmeta.stats.dependent import dependent_rho, one_effect_per_trial
    review = load_review(review_dir)
    d = review.definition
    arms = roundtrip(tables.arm_table(review), tmp_path, "arms")
    trials = roundtrip(tables.trial_table(review), tmp_path, "trials")
    every = roundtrip(analysis.effect_size_table(arms, d, CONFIG["effect_size"]), tmp_path, "effects_all")
    effects = roundtrip(one_effect_per_trial(every, rho=dependent_rho(d)), tmp_path, "effects")
    pooled = analysis.pool_review(effects, d, CONFIG["pooling"], all_effects=every)
    rob = risk_of_bias_review(d, review.trials, effects, pooled, CONFIG["pooling"], CONFIG["appraisal"],
                              CONFIG["moderators"])
    small_study = analysis.small_study_analysis(effects, d, CONFIG["pooling"], CONFIG["small_study_effects"])
    figures = {"forest_pages": ["figures/forest_plot_pages/page_1.svg"], "funnel": "figures/funnel_plot.svg",
               "cumulative": "figures/cumulative_plot.svg"}
    for tool in {r["risk_of_bias"]["tool"] for r in review.trials if r.get("risk_of_bias")}:
        figures |= {f"rob:{n}": f"figures/risk_of_bias/{n}.svg" for n in (f"summary_{tool}", f"traffic_light_{tool}_1")}
    prisma = prisma_summary(d, review_dir / "review.yaml")
    figures |= {f"prisma:{e['index'] + 1}": f"figures/prisma/edition_{e['index'] + 1}.svg" for e in prisma["editions"]}
    settled = {"bayes": bayes_analysis(effects, d, CONFIG["bayes"]),
               "sequential": sequential_analysis(effects, d, CONFIG["sequential"], CONFIG["pooling"]),
               "figure": "figures/sequential_plot.svg", "previous_bayes": None, "previous_sequential": None,
               "previous_label": None}
    return build_context(
        review_def=d, trials=trials, effects=effects, pooled=pooled,
        moderators=analysis.moderator_analyses(effects, trials, d, CONFIG["pooling"], CONFIG["moderators"]),
        small_study=small_study, config=CONFIG, external=None,
        edition={"id": "2025-01-01-test", "date": "2025-01-01", "fingerprint": {"data": "d", "config": "c", "code": "x"}},
        changes=compare_editions(None, read_records(record_paths(review_dir / "trials")), pooled, d), figures=figures,
        settled=settled, appraisal={"rob": rob, "sof": summary_of_findings(d, pooled, effects, rob, CONFIG),
                                    "prisma": prisma})


def empty_headings(page: str) -> list[str]:
    """Headings followed by nothing but a heading of the same or a higher level (or the end)."""
    body = re.sub(r"<(style|nav)\b.*?</\1>", "", page[page.index("<body"):], flags=re.S)
    parts = re.findall(r"<(h[1-4])[^>]*>(.*?)</\1>|<(p|li|td|th|figure|table|img|dd|dl|aside)\b", body, flags=re.S)
    return [re.sub(r"<[^>]+>", "", text) for i, (tag, text, _) in enumerate(parts)
            if tag and (i + 1 == len(parts) or (parts[i + 1][0] and parts[i + 1][0][1] <= tag[1]))]


def reader_text(page: str) -> str:
    """The visible text before the technical appendix (whose methods and checksums may name files)."""
    body = re.sub(r"<style\b.*?</style>", "", page[page.index("<body"):], flags=re.S)
    body = body.split('<section class="appendix"')[0]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def headings(page: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h[1-4][^>]*>(.*?)</h[1-4]>", page, flags=re.S)]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """name -> (context, print HTML, web HTML), each review computed once, when a test asks."""
    from livingmeta.report.context import render_html
    cache = {}

    def get(name):
        if name not in cache:
            folder = MATRIX / name if name != LARGE else make_fixtures().write(name, tmp_path_factory.mktemp("large"))
            ctx = report_context(folder, tmp_path_factory.mktemp(name))
            svgs = {path: "<svg xmlns='http://www.w3.org/2000/svg'/>" for path in _figure_paths(ctx["figures"])}
            cache[name] = (ctx, render_html(ctx), render_html(ctx, web=True, inline_svgs=svgs))
        return cache[name]
    return get


def _figure_paths(figures: dict) -> list[str]:
    return [p for v in figures.values() for p in (v if isinstance(v, list) else [v]) if isinstance(p, str)]


@pytest.mark.parametrize("name", [*REVIEWS, LARGE])
def test_every_review_renders_with_no_empty_heading_and_no_placeholder(rendered, name):
    ctx, page, web = rendered(name)
    for edition in (page, web):
        assert empty_headings(edition) == [], name
        text = reader_text(edition)
        for placeholder in (r"review\.yaml", r"search_flow", r"\bNone\b", r"\bnan\b", r"\{\{", r"\[\]", r"trial\(s\)"):
            assert not re.search(placeholder, text), (name, placeholder)


def test_no_risk_of_bias_gives_one_sentence_and_no_rob_figures(rendered):
    """report_html failed here with UndefinedError 'weight_text' (every review made from a sheet)."""
    for name in ("no-risk-of-bias", "minimal"):
        ctx, page, _ = rendered(name)
        assert not ctx["risk_of_bias"]["available"]
        assert "No risk-of-bias judgements were recorded for the trials of this review" in reader_text(page)
        assert "Analysis restricted to trials at low risk of bias" not in headings(page)
        assert "Risk of bias as a moderator" not in headings(page)


def test_no_moderators_leaves_out_who_benefits_most(rendered):
    for name in ("no-moderators", "minimal"):
        _, page, web = rendered(name)
        assert "Who benefits most" not in page and "Who benefits most" not in web  # nor the contents link
        assert "Missing data" not in headings(page)
    assert "Who benefits most" in headings(rendered("full")[1])


def test_no_search_counts_says_so_in_the_readers_words(rendered):
    for name in ("no-search-counts", "minimal"):
        ctx, page, _ = rendered(name)
        assert "Inclusion criteria" not in headings(page)
        assert ("The sources of this review give no search and screening counts, so no PRISMA 2020 flow diagram is "
                "drawn.") in reader_text(page)
    assert "Inclusion criteria" in headings(rendered("full")[1])


def test_two_trials_leave_out_the_funnel_plot_and_say_why(rendered):
    ctx, page, _ = rendered("two-trials")
    assert "funnel" not in ctx["figures"] and "funnel_plot.svg" not in page
    assert "Small-study effects Not assessed: fewer than 3 trials." in reader_text(page)
    assert "funnel_plot.svg" in rendered("full")[1]


def test_the_summary_of_findings_names_the_arms_in_the_reviews_words(rendered):
    assert "Treatment A compared with usual care." in reader_text(rendered("full")[1])
    assert "Treatment A compared with the comparator." in reader_text(rendered("one-arm-label")[1])
    assert "The intervention compared with the comparator." in reader_text(rendered("minimal")[1])


def test_binary_only_and_single_outcome_reviews_have_no_other_outcomes_table(rendered):
    for name in ("binary-only", "single-outcome", "minimal"):
        _, page, _ = rendered(name)
        assert not [h for h in headings(page) if "other outcomes" in h.lower()], name
    assert "RR" in rendered("binary-only")[0]["key"]["measure"]


# ------------------------------------------------------------------------------------------------
# The whole matrix through Snakemake to PDFs
# ------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_matrix_builds_into_pdfs(tmp_path):
    """Every review of the matrix in one DAG, each to report.pdf, with the SYNTHETIC RoB 2 Metapsy
    database imported beside them; the 200-trial review's compressed risk-of-bias grid is vector
    (report_pdf fails if the renderer refuses any resource)."""
    from conftest import copy_project
    from livingmeta.living.importers import metapsy
    work = copy_project(tmp_path / "project", reviews=[*REVIEWS, LARGE, "ptsd"])
    shutil.rmtree(work / "data" / "reviews")
    shutil.copytree(MATRIX, work / "data" / "reviews", ignore=shutil.ignore_patterns("*.py"))
    make_fixtures().write(LARGE, work / "data" / "reviews")
    metapsy.import_metapsy(work / "data" / "reviews" / "ptsd", ROOT / "tests" / "fixtures" / "metapsy-rob2" / "1.0.0")
    res = subprocess.run([sys.executable, "-m", "livingmeta.cli", "build", "--cores", "2"], cwd=work,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "refused" not in res.stderr
    # one line per stage that reads as English for any count: "1 trial", never "1 trials" or "()"
    stage_lines = [line for line in res.stderr.splitlines() if line.startswith("[livingmeta:")]
    disagreeing = re.compile(r"(?<![\d,.])1 (?:[a-z]+ )?(?:trials|figures|steps|attachments|analyses|sizes|rows|records|looks|pages)\b"
                             r"|\(\)")
    assert [line for line in stage_lines if disagreeing.search(line)] == []
    for name in [*REVIEWS, LARGE, "ptsd"]:
        results = work / "results" / name
        assert (results / "report.pdf").read_bytes()[:5] == b"%PDF-", name
        page = (results / "report_print.html").read_text()
        assert empty_headings(page) == [], name
        ctx = json.loads((results / "report_context.json").read_text())
        for path in _figure_paths(ctx["figures"]):
            assert "data:" not in (results / path).read_text(), (name, path)
    grid = work / "results" / "many-trials-rob2" / "figures" / "risk_of_bias" / "traffic_light_rob2_1.svg"
    assert "traffic_light_rob2_1.svg" in (work / "results" / "many-trials-rob2" / "report_print.html").read_text()
    assert "<image" not in grid.read_text()
    rob = json.loads((work / "results" / "ptsd" / "report_context.json").read_text())["risk_of_bias"]
    assert rob["text"].startswith("Risk of bias was recorded for 12 of the 12 trials") and "not assessed" not in rob["text"]
    assert rob["weight_text"].endswith("0% not assessed.")


def test_a_rob2_legend_names_each_domain_once(rendered):
    """A new user's RoB 2 report read 'D1: D1 Bias arising from the randomisation process': the
    domain names carried RoB 2's numbers and the legend numbered them again."""
    ctx, page, _ = rendered(LARGE)
    legend = ctx["risk_of_bias"]["grid_legend"]["rob2"]
    assert legend.startswith("D1: Bias arising from the randomisation process"), legend
    assert not re.search(r"\bD\d\b[^;]*\bD\d\b", legend) and not re.search(r"\bD\d D\d\b|D\d: D\d", page)
