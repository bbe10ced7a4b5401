"""`livingmeta update` and `build` on a private copy of the project with two reviews, in order (each
test builds on the editions the previous ones published): issue 21 items 4, 5, 6, 8 and 9, issue 23
F2, issue 20 item 8 (delivery) and issue 22 item 7 (the console).

The second review, `other-review`, is a copy of the default review with one bad record (SYNTHETIC
edit) and a SYNTHETIC results folder: updating or building the default review must neither build
it nor touch its files."""

import email
import email.policy
import json
import math
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from conftest import copy_project
from smtp_fixture import smtp_server

REVIEW, OTHER = "exercise-depression", "other-review"
EPOCH = "1764028800"  # 2025-11-25
CHATTER = ("localrule", "input:", "Select jobs", "Execute ", "Finished jobid", "steps (", "Building DAG",
           "Complete log", "Using profile")


def run(work, *args, env_extra=None):
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "livingmeta.cli", *args], capture_output=True, text=True, env=env,
                          cwd=work, timeout=1800)


def update(work, *extra):
    return run(work, "update", REVIEW, "--root", str(work), *extra)


def results(work, review=REVIEW) -> Path:
    return work / "results" / review


def latest(work) -> Path:
    return (results(work) / "latest").resolve()


def edit_config(work, change) -> None:
    path = work / "config" / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    change(cfg)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def pdf_text(path: Path) -> str:
    pypdf = pytest.importorskip("pypdf")
    return " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(path).pages).split())


def mail_text(message: dict) -> str:
    return email.message_from_string(message["data"], policy=email.policy.default).get_body().get_content()


@pytest.fixture(scope="module")
def server():
    with smtp_server() as s:
        yield s


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    work = copy_project(tmp_path_factory.mktemp("editions-update"), reviews=(REVIEW, OTHER))
    other = work / "data" / "reviews" / OTHER
    shutil.copytree(work / "data" / "reviews" / REVIEW, other)
    bad = other / "trials" / "sims-2009.yaml"
    bad.write_text(bad.read_text().replace("n: ", "n: 1  # SYNTHETIC bad edit; was: ", 1))
    old = results(work, OTHER) / "editions" / "2025-01-01-00000000"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text('{"note": "SYNTHETIC edition of the other review"}')
    (results(work, OTHER) / "report.pdf").write_bytes(b"%PDF-1.7 SYNTHETIC placeholder of the other review")
    return work


@pytest.fixture(scope="module")
def first(work):
    other_before = snapshot(results(work, OTHER))
    res = update(work)
    return res, other_before


def test_update_review_builds_only_that_review(work, first):
    res, other_before = first
    assert res.returncode == 0, res.stderr[-3000:]
    assert latest(work).parent.name == "editions"
    assert snapshot(results(work, OTHER)) == other_before  # not built, not touched: byte-identical
    manifest = json.loads((latest(work) / "manifest.json").read_text())
    rr = next(a for a in manifest["analyses"] if a["measure"] == "RR")  # completion: a ratio, natural scale
    assert rr["estimate"] == pytest.approx(math.exp(rr["log_estimate"])) and rr["estimate"] > 0


def test_the_console_is_one_line_per_stage(first):
    res, _ = first
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert not [line for line in lines if any(c in line for c in CHATTER)], res.stderr[-3000:]
    stages = [line.split("]")[0] for line in lines if line.startswith("[livingmeta:")]
    assert len(stages) == len(set(stages)) >= 15  # each stage once
    assert all(line.startswith(("[livingmeta:", "livingmeta update:")) for line in lines), lines


def test_build_builds_the_named_review_and_names_its_report(work, first):
    other_before = snapshot(results(work, OTHER))
    res = run(work, "build", REVIEW, "--cores", "2")
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith(f"Report: results/{REVIEW}/report.pdf")
    assert not [line for line in lines if line.startswith("[livingmeta:")]  # the update built it: nothing to do
    assert snapshot(results(work, OTHER)) == other_before
    res = run(work, "build", "my-review")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "no review 'my-review'" in res.stderr


def test_after_a_config_only_change_the_sequential_analysis_includes_the_previous_edition(work, first):
    """The bug the history stage fixes: `sequential` read editions/ through a parameter, did not
    rerun after a change of an unrelated setting, and the new edition left out the previous one."""
    previous = latest(work)
    edit_config(work, lambda c: c["report"].update(nnt_control_response_rate=0.25))
    res = update(work)
    assert res.returncode == 0, res.stderr[-3000:]
    ed = latest(work)
    assert ed != previous
    seq = json.loads((ed / "sequential.json").read_text())
    assert [e["edition"] for e in seq["editions"]] == [previous.name]
    changes = json.loads((ed / "changes.json").read_text())
    assert changes["previous_edition"] == previous.name and changes["inputs_changed"] == ["config"]
    assert "the analysis settings changed" in pdf_text(ed / "report.pdf")


def test_a_delivery_setting_publishes_nothing_and_delivery_informs(work, first, server, tmp_path_factory):
    before = latest(work)
    editions_before = sorted(p.name for p in (results(work) / "editions").iterdir())
    public = tmp_path_factory.mktemp("public")
    edit_config(work, lambda c: c.update(publish={
        "dir": str(public), "base_url": "https://example.org/reviews", "require_sign_off": False,
        "email": {"smtp_host": "127.0.0.1", "smtp_port": server.server_address[1], "sender": "review@example.org",
                  "recipients": ["reader@example.org"]}}))
    res = update(work)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "up to date" in res.stderr and "building" not in res.stderr
    assert latest(work) == before and sorted(p.name for p in (results(work) / "editions").iterdir()) == editions_before
    stem = f"{REVIEW}-{before.name}"
    assert (public / f"{stem}.html").read_bytes() == (before / "report.html").read_bytes()  # the web edition, beside the PDF
    text = mail_text(server.messages[-1])
    assert "Result: SMD \u22120.62 (95% CI \u22120.84 to \u22120.41); 35 trials, 1,353 participants; certainty of the " \
           "evidence: very low" in text
    assert "What changed: Since edition" in text and "the analysis settings changed" in text
    assert f"Read it online: https://example.org/reviews/{stem}.html" in text
    index = (public / f"{REVIEW}.html").read_text()
    assert "SMD \u22120.62 (95% CI \u22120.84 to \u22120.41)" in index and f'href="{stem}.html"' in index
    entry = ET.parse(public / f"{REVIEW}.atom").getroot().find("{http://www.w3.org/2005/Atom}entry")
    summary = entry.find("{http://www.w3.org/2005/Atom}summary").text
    assert "SMD \u22120.62" in summary and "very low" in summary and "analysis settings changed" in summary


def test_a_corrected_record_is_reported_field_by_field(work, first, server):
    sent = len(server.messages)
    path = work / "data" / "reviews" / REVIEW / "trials" / "singh-2005.yaml"
    rec = yaml.safe_load(path.read_text())
    block = rec["outcomes"]["depression"][0]
    block["arms"]["exercise"]["mean"] = 9.5  # was 8.5 (SYNTHETIC correction)
    block["source"] = "Table 2 (SYNTHETIC correction by the test suite)"
    path.write_text(yaml.safe_dump(rec, sort_keys=False))
    res = update(work)
    assert res.returncode == 0, res.stderr[-3000:]
    ed = latest(work)
    changes = json.loads((ed / "changes.json").read_text())
    assert changes["corrected"] == ["Singh 2005"]
    fields = {f["field"]: f for f in changes["corrections"][0]["fields"]}
    assert fields["mean (exercise)"] | {"where": None} == {
        "field": "mean (exercise)", "where": None, "old": 8.5, "new": 9.5,
        "source": "Table 2 (SYNTHETIC correction by the test suite)"}
    line = ("Singh 2005: Depressive symptoms, end of treatment: mean (exercise) 8.5 \u2192 9.5 (source: Table 2 "
            "(SYNTHETIC correction by the test suite))")
    assert line in changes["corrections"][0]["text"]
    assert line in pdf_text(ed / "report.pdf")
    assert len(server.messages) == sent + 1 and line in mail_text(server.messages[-1])
