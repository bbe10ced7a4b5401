"""The edition archive read without trusting it, and what an edition is (issue 21 items 5 and 9,
issue 23 F12, F14, F21), on private copies of the project whose archives are SYNTHETIC: manifests
written by the test (no build runs here unless a fix is missing).

- the fingerprint covers the analysis, never delivery, and `livingmeta fingerprint --explain` says so;
- no rule script and no rule file reads the archive through livingmeta.living (the history rule does);
- a corrupt latest manifest is one line and the newest intact edition is used;
- a latest folder deleted by hand gives way to the newest remaining edition, said so;
- a clock set back is refused, and history is in publication order, not date order."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, copy_project

from livingmeta.living.fingerprint import fingerprint

REVIEW = "exercise-depression"
EPOCH = 1764028800  # 2025-11-25


@pytest.fixture
def work(tmp_path):
    return copy_project(tmp_path / "project")


def results(work) -> Path:
    return work / "results" / REVIEW


def review_dir(work) -> Path:
    return work / "data" / "reviews" / REVIEW


def config(work) -> Path:
    return work / "config" / "config.yaml"


def edit_config(work, change) -> None:
    cfg = yaml.safe_load(config(work).read_text())
    change(cfg)
    config(work).write_text(yaml.safe_dump(cfg, sort_keys=False))


def synthetic_edition(work, name, fp, *, date, sequence, published_at=None, previous=None) -> Path:
    """An archived edition made by the test: a manifest (SYNTHETIC) and nothing else."""
    ed = results(work) / "editions" / name
    ed.mkdir(parents=True)
    manifest = {"review": REVIEW, "edition": name, "date": date, "source_date_epoch": EPOCH, "fingerprint": fp,
                "published_at": published_at or f"{date}T12:00:00.000000Z", "previous_edition": previous,
                "trials": 35, "analyses": [], "note": "SYNTHETIC manifest written by the test suite"}
    if sequence is not None:
        manifest["sequence"] = sequence
    (ed / "manifest.json").write_text(json.dumps(manifest))
    return ed


def point_latest(work, name) -> None:
    link = results(work) / "latest"
    if link.is_symlink():
        link.unlink()
    link.symlink_to(Path("editions") / name)


def other_fp(fp: dict, letter: str) -> dict:
    return {**fp, "data": letter * 64, "all": letter * 64}


def run_update(work, *extra, epoch=EPOCH):
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    return subprocess.run([sys.executable, "-m", "livingmeta.cli", "update", REVIEW, "--root", str(work), *extra],
                          capture_output=True, text=True, env=env, cwd=work, timeout=900)


# -- 21.9: history is a declared stage ------------------------------------------------------------
def test_no_rule_script_and_no_rule_file_imports_livingmeta_living():
    """The build reads the edition archive only through the history rule's declared inputs."""
    sources = [ROOT / "Snakefile", *(ROOT / "workflow").rglob("*.smk"), *(ROOT / "scripts").glob("*.py")]
    offenders = [str(p.relative_to(ROOT)) for p in sources if re.search(r"livingmeta\.living\b", p.read_text())]
    assert not offenders, offenders
    rules = "".join(p.read_text() for p in (ROOT / "workflow").rglob("*.smk"))
    assert "editions_dir" not in rules and "}/editions" not in rules  # no parameter pointing at the archive


def test_changes_sequential_and_the_report_take_history_as_an_input():
    rules = {m.group(1): m.group(2) for m in re.finditer(r"^rule (\w+):\n(.*?)(?=^rule |\Z)",
                                                         "".join(p.read_text() for p in (ROOT / "workflow").rglob("*.smk")),
                                                         flags=re.M | re.S)}
    for rule in ("changes", "sequential", "report_html"):
        inputs = rules[rule].split("output:")[0]
        assert "history.json" in inputs, rule
    assert "history_inputs" in rules["history"]


# -- 21.5: an edition is a change of evidence or analysis ------------------------------------------
def test_delivery_settings_are_not_part_of_the_fingerprint(work):
    before = fingerprint(review_dir(work), config(work), work)
    edit_config(work, lambda c: c.update(publish={
        "dir": str(work / "public"), "base_url": "https://example.org/reviews", "require_sign_off": [REVIEW],
        "email": {"sender": "review@example.org", "recipients": ["a@example.org", "b@example.org"]}},
        reviews=[REVIEW, "another-review"]))
    config(work).write_text("# a comment changes no analysis\n" + config(work).read_text())
    assert fingerprint(review_dir(work), config(work), work) == before
    edit_config(work, lambda c: c["pooling"].update(method="DL"))
    after = fingerprint(review_dir(work), config(work), work)
    assert after["config"] != before["config"] and after["data"] == before["data"] and after["all"] != before["all"]


def test_the_code_part_leaves_out_archiving_and_delivery(tmp_path):
    root = tmp_path / "code"
    for rel in ("livingmeta/stats/pooling.py", "livingmeta/living/publish.py", "livingmeta/cli.py", "scripts/pool.py"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("# SYNTHETIC source file\n")
    review = copy_project(tmp_path / "p")
    base = fingerprint(review_dir(review), config(review), root)["code"]
    (root / "livingmeta/living/publish.py").write_text("# delivery changed\n")
    (root / "livingmeta/cli.py").write_text("# the command line changed\n")
    assert fingerprint(review_dir(review), config(review), root)["code"] == base
    (root / "livingmeta/stats/pooling.py").write_text("# the engine changed\n")
    assert fingerprint(review_dir(review), config(review), root)["code"] != base


def test_fingerprint_explain_says_what_it_covers(work):
    res = subprocess.run([sys.executable, "-m", "livingmeta.cli", "fingerprint", REVIEW, "--explain", "--root",
                          str(work)], capture_output=True, text=True, cwd=work)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    fp = fingerprint(review_dir(work), config(work), work)
    assert fp["all"] in out and fp["config"] in out
    assert "35 trial records" in out
    assert re.search(r"not covered.*publish", out) and "livingmeta/living/" in out
    assert "pooling" in out and "no edition is published yet" in out


# -- 23 F12: a corrupt manifest in the latest edition ----------------------------------------------
def test_a_corrupt_latest_manifest_is_one_line_and_the_newest_intact_edition_is_used(work):
    fp = fingerprint(review_dir(work), config(work), work)
    synthetic_edition(work, "2025-11-20-aaaaaaaa", fp, date="2025-11-20", sequence=1)
    broken = synthetic_edition(work, "2025-11-24-bbbbbbbb", other_fp(fp, "b"), date="2025-11-24", sequence=2,
                               previous="2025-11-20-aaaaaaaa")
    (broken / "manifest.json").write_text('{"edition": "2025-11-24-bbbbbbbb", "fingerprint": {"all": ')  # torn
    point_latest(work, broken.name)
    res = run_update(work)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    notes = [line for line in res.stderr.splitlines() if "manifest.json cannot be read" in line]
    assert len(notes) == 1 and broken.name in notes[0]
    assert "up to date (edition 2025-11-20-aaaaaaaa)" in res.stderr  # the newest intact edition has these inputs
    assert (results(work) / "latest").resolve().name == "2025-11-20-aaaaaaaa"
    assert broken.is_dir()  # kept for whoever wants to look at it


def test_the_plan_compares_with_the_newest_intact_edition(work):
    from livingmeta.report import history
    fp = fingerprint(review_dir(work), config(work), work)
    synthetic_edition(work, "2025-11-20-aaaaaaaa", other_fp(fp, "a"), date="2025-11-20", sequence=1)
    broken = synthetic_edition(work, "2025-11-24-bbbbbbbb", other_fp(fp, "b"), date="2025-11-24", sequence=2)
    (broken / "manifest.json").write_text("not json")
    point_latest(work, broken.name)
    plan = history.edition_plan(review_dir(work), results(work), config(work), config(work), work, environ={})
    assert plan.compare_with.name == "2025-11-20-aaaaaaaa"
    assert [e.name for e in plan.earlier] == ["2025-11-20-aaaaaaaa"]
    assert any("cannot be read" in n for n in plan.notes)


# -- 23 F14: the latest edition's folder deleted by hand --------------------------------------------
def test_a_deleted_latest_folder_gives_way_to_the_newest_remaining_edition(work):
    from livingmeta.report import history
    fp = fingerprint(review_dir(work), config(work), work)
    synthetic_edition(work, "2025-11-20-aaaaaaaa", other_fp(fp, "a"), date="2025-11-20", sequence=1)
    synthetic_edition(work, "2025-11-22-cccccccc", other_fp(fp, "c"), date="2025-11-22", sequence=2)
    gone = synthetic_edition(work, "2025-11-24-dddddddd", other_fp(fp, "d"), date="2025-11-24", sequence=3)
    point_latest(work, gone.name)
    shutil.rmtree(gone)
    plan = history.edition_plan(review_dir(work), results(work), config(work), config(work), work, environ={})
    assert plan.compare_with is not None and plan.compare_with.name == "2025-11-22-cccccccc"  # not "first edition"
    assert any("2025-11-24-dddddddd" in n and "is missing" in n and "2025-11-22-cccccccc" in n for n in plan.notes)


def test_update_says_so_when_the_latest_folder_is_gone(work):
    fp = fingerprint(review_dir(work), config(work), work)
    synthetic_edition(work, "2025-11-20-aaaaaaaa", fp, date="2025-11-20", sequence=1)
    gone = synthetic_edition(work, "2025-11-24-dddddddd", other_fp(fp, "d"), date="2025-11-24", sequence=2)
    point_latest(work, gone.name)
    shutil.rmtree(gone)
    res = run_update(work)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "2025-11-24-dddddddd) is missing" in res.stderr and "building" not in res.stderr
    assert (results(work) / "latest").resolve().name == "2025-11-20-aaaaaaaa"


# -- 23 F21: a clock set back ------------------------------------------------------------------------
def test_an_edition_dated_before_the_latest_is_refused(work):
    fp = fingerprint(review_dir(work), config(work), work)
    synthetic_edition(work, "2025-11-25-aaaaaaaa", other_fp(fp, "a"), date="2025-11-25", sequence=1)
    point_latest(work, "2025-11-25-aaaaaaaa")
    res = run_update(work, epoch=EPOCH - 30 * 86400)  # the clock says 2025-10-26
    assert res.returncode == 2, res.stderr[-3000:]
    lines = [line for line in res.stderr.splitlines() if "2025-10-26" in line]
    assert len(lines) == 1 and "before edition 2025-11-25" in lines[0] and "clock" in lines[0]
    assert "Traceback" not in res.stderr and not (results(work) / "report.pdf").exists()  # nothing built
    assert [p.name for p in (results(work) / "editions").iterdir()] == ["2025-11-25-aaaaaaaa"]


def test_history_is_in_publication_order_not_date_order(work):
    """An edition published third but dated first (a clock set back under an older version) is the
    last point of the sequential analysis; editions from before sequences were recorded come first."""
    from livingmeta.report import history
    fp = fingerprint(review_dir(work), config(work), work)
    legacy = synthetic_edition(work, "2025-11-10-eeeeeeee", other_fp(fp, "e"), date="2025-11-10", sequence=None)
    second = synthetic_edition(work, "2025-11-20-aaaaaaaa", other_fp(fp, "a"), date="2025-11-20", sequence=2)
    third = synthetic_edition(work, "2025-11-01-ffffffff", other_fp(fp, "f"), date="2025-11-01", sequence=3,
                              published_at="2025-11-21T09:00:00.000000Z")
    for i, ed in enumerate((legacy, second, third)):
        (ed / "sequential.json").write_text(json.dumps({"current": {"participants": 100 * (i + 1), "z": 1.0 + i}}))
    point_latest(work, third.name)
    archive = history.read_archive(results(work))
    assert [e.name for e in archive.published] == [legacy.name, second.name, third.name]
    assert archive.next_sequence() == 4
    plan = history.edition_plan(review_dir(work), results(work), config(work), config(work), work, environ={})
    review_def = yaml.safe_load((review_dir(work) / "review.yaml").read_text())
    built = history.build_history(plan.params(), review_def)
    looks = history.sequential_looks(built)
    assert [lk["edition"] for lk in looks] == [legacy.name, second.name, third.name]
    assert [lk["participants"] for lk in looks] == [100, 200, 300]
    assert built["compare_with"] == third.name


def test_a_rebuild_of_an_archived_editions_inputs_is_that_edition(work):
    """Its history is what was published before it, it is compared with what it was compared with,
    and it keeps its date: a plain build after `update` changes nothing Snakemake can see."""
    from livingmeta.report import history
    fp = fingerprint(review_dir(work), config(work), work)
    synthetic_edition(work, "2025-11-20-aaaaaaaa", other_fp(fp, "a"), date="2025-11-20", sequence=1)
    synthetic_edition(work, "2025-11-25-" + fp["all"][:8], fp, date="2025-11-25", sequence=2,
                      previous="2025-11-20-aaaaaaaa")
    synthetic_edition(work, "2025-11-26-cccccccc", other_fp(fp, "c"), date="2025-11-26", sequence=3)
    point_latest(work, "2025-11-26-cccccccc")
    plan = history.edition_plan(review_dir(work), results(work), config(work), config(work), work, environ={})
    assert [e.name for e in plan.earlier] == ["2025-11-20-aaaaaaaa"] and plan.compare_with.name == "2025-11-20-aaaaaaaa"
    assert plan.this_edition["source_date_epoch"] == EPOCH and plan.this_edition["id"] == "2025-11-25-" + fp["all"][:8]
    during = history.edition_plan(review_dir(work), results(work), config(work), config(work), work,
                                  environ={"SOURCE_DATE_EPOCH": str(EPOCH), history.DRAFT_ENV: "0"})
    assert during.this_edition == plan.this_edition


# -- 21.4: one review at a time; 22.7: a quiet console -------------------------------------------------
def two_reviews_and_one_awaiting_import(work) -> None:
    """A second review (a copy of the default one) and the psychotherapy review, which ships
    without its trial records (a third-party database each user imports)."""
    shutil.copytree(review_dir(work), work / "data" / "reviews" / "second-review")
    edit_config(work, lambda c: c.update(reviews=[REVIEW, "second-review", "psychotherapy-depression"]))


def test_build_names_reviews_and_reports(work):
    from livingmeta.living.runlock import build_targets
    reports, targets = build_targets(work, [REVIEW])
    assert reports == targets == [f"results/{REVIEW}/report.pdf"]
    two_reviews_and_one_awaiting_import(work)
    reports, targets = build_targets(work, [])
    assert targets == [] and reports == [f"results/{REVIEW}/report.pdf", "results/second-review/report.pdf"]
    with pytest.raises(Exception, match="no review 'my-review'"):
        build_targets(work, ["my-review"])


def test_make_update_updates_every_review_of_the_configuration(work, monkeypatch):
    from livingmeta.living import update
    two_reviews_and_one_awaiting_import(work)
    called, logged = [], []
    monkeypatch.setattr(update, "run_update", lambda review, **kw: called.append(review) or 0)
    assert update.run_updates([], project_root=work, log=logged.append) == 0
    assert called == [REVIEW, "second-review"]
    assert any("psychotherapy-depression has no trial records" in line for line in logged)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^update:.*\n\t\$\(BIN\)/livingmeta update \$\(REVIEW\)$", makefile, flags=re.M)
    assert re.search(r"^REVIEW \?=\s*$", makefile, flags=re.M)


def test_the_quiet_console_drops_snakemakes_job_listing():
    from livingmeta.living.runlock import console_line
    records = ", ".join(f"data/reviews/big/trials/t{i}.yaml" for i in range(480))
    assert console_line(f"    input: {records}") == "    input: 480 files (livingmeta build --verbose lists them)"
    for chatter in ("Building DAG of jobs...", "Select jobs to execute...", "Execute 1 jobs...", "localrule pool:",
                    "[Fri Dec  4 05:16:25 2026]", "Finished jobid: 36 (Rule: sequential)", "23 of 43 steps (53%) done",
                    "Using profile workflow/profiles/default for setting default command line arguments.",
                    "Complete log(s): /x/.snakemake/log/a.log", "Nothing to be done (all requested files are present)."):
        assert console_line(chatter) is None, chatter
    for kept in ("[livingmeta:pool] 3 analyses -> results/x/pooled.json", "Error in rule pool:",
                 "MissingInputException in rule extract", "Exiting because a job execution failed."):
        assert console_line(kept) == kept
