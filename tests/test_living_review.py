"""Living-review operations on a private copy of the project: `livingmeta update` publishes an
edition only when an input changed, says what changed, survives a lock, a crash (kill -9), a bad
record and a full disk without losing the last good edition; publishing writes a checksum, an
index page, an Atom feed and an e-mail."""

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest
import yaml
from conftest import add_synthetic_trial, copy_project
from smtp_fixture import smtp_server

from livingmeta.living import delivery, editions, fingerprint, runlock

REVIEW = "exercise-depression"
EPOCH = "1764028800"  # 2025-11-25, fixed so editions are reproducible


def update(work, *extra, env_extra=None):
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "livingmeta.cli", "update", REVIEW, "--root", str(work), *extra],
                          capture_output=True, text=True, env=env, cwd=work)


def results(work):
    return work / "results" / REVIEW


def trial_dir(work):
    return work / "data" / "reviews" / REVIEW / "trials"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    work = copy_project(tmp_path_factory.mktemp("living"))
    res = update(work)
    assert res.returncode == 0, res.stderr[-3000:]
    return work


def test_first_update_publishes_an_edition_with_pdf_results_and_input_snapshot(project):
    latest = results(project) / "latest"
    assert latest.is_symlink()
    ed = latest.resolve()
    assert ed.parent.name == "editions" and ed.name.startswith("2025-11-25-")
    for name in ("report.pdf", "pooled.json", "manifest.json", "changes.json", "inputs/review.yaml", "inputs/config.yaml"):
        assert (ed / name).is_file(), name
    assert len(list((ed / "inputs" / "trials").glob("*.yaml"))) == 35
    manifest = json.loads((ed / "manifest.json").read_text())
    assert manifest["files"]["report.pdf"] == fingerprint.sha256_file(ed / "report.pdf")
    assert json.loads((ed / "changes.json").read_text())["first_edition"] is True


def test_an_update_with_nothing_changed_touches_nothing(project):
    before = {p: p.stat().st_mtime_ns for p in results(project).rglob("*") if p.is_file()}
    res = update(project)
    assert res.returncode == 0
    assert "up to date" in res.stderr
    after = {p: p.stat().st_mtime_ns for p in results(project).rglob("*") if p.is_file()}
    assert before == after


def test_a_held_lock_makes_a_second_run_exit_quietly(project):
    with runlock.project_lock(project, wait=False) as got:
        assert got
        res = update(project)
    assert res.returncode == 0 and "another livingmeta run" in res.stderr


def test_a_bad_record_fails_the_update_and_keeps_the_edition(project):
    latest_before = (results(project) / "latest").resolve()
    path = trial_dir(project) / "sims-2009.yaml"
    good = path.read_text()
    rec = yaml.safe_load(good)
    rec["outcomes"]["depression"][0]["arms"]["control"]["n"] = 1
    path.write_text(yaml.safe_dump(rec, sort_keys=False))
    try:
        res = update(project)
        assert res.returncode != 0
        assert "sims-2009.yaml" in res.stderr and "at least 2" in res.stderr
        assert "previous edition is unchanged" in res.stderr
        assert (results(project) / "latest").resolve() == latest_before
        assert (latest_before / "report.pdf").is_file()
    finally:
        path.write_text(good)


def test_kill_9_mid_run_leaves_the_last_edition_and_the_next_run_recovers(project):
    latest_before = (results(project) / "latest").resolve()
    add_synthetic_trial(project, "synthetic-crash-2026")
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    proc = subprocess.Popen([sys.executable, "-m", "livingmeta.cli", "update", REVIEW, "--root", str(project)],
                            cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    time.sleep(4)  # the build is under way
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # plant what a crash during publishing would leave, too
    (results(project) / "editions" / f"{editions.TMP_PREFIX}half-written").mkdir()
    assert (results(project) / "latest").resolve() == latest_before
    assert editions.read_manifest(latest_before)["trials"] == 35
    res = update(project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "interrupted run" in res.stderr
    assert not list((results(project) / "editions").glob(editions.TMP_PREFIX + "*"))
    ed = (results(project) / "latest").resolve()
    assert ed != latest_before
    changes = json.loads((ed / "changes.json").read_text())
    assert changes["previous_edition"] == latest_before.name
    assert changes["added"] == ["Synthetic Crash 2026"]
    assert "estimate_change" in changes and "conclusion_changed" in changes


def test_the_new_edition_report_says_what_changed(project):
    pypdf = pytest.importorskip("pypdf")
    ed = (results(project) / "latest").resolve()
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(ed / "report.pdf").pages).split())
    assert "What changed in this edition" in text
    assert "1 trial added (Synthetic Crash 2026)" in text
    assert "The pooled result moved from SMD" in text


def test_the_new_edition_says_how_settled_the_evidence_is_and_how_that_changed(project):
    pypdf = pytest.importorskip("pypdf")
    ed = (results(project) / "latest").resolve()
    for name in ("bayes.json", "sequential.json"):
        assert (ed / name).is_file(), name
    seq = json.loads((ed / "sequential.json").read_text())
    assert [e["label"] for e in seq["editions"]] == ["2025-11-25"]  # the first edition is a point on the curve
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(ed / "report.pdf").pages).split())
    assert "How settled is the evidence?" in text
    assert "in the previous edition (2025-11-25)" in text and "% of the required information size in the previous edition" in text


def test_a_full_disk_while_publishing_keeps_the_previous_edition(project, monkeypatch):
    latest_before = (results(project) / "latest").resolve()
    calls = {"n": 0}
    real_copy = editions.shutil.copy2

    def failing_copy(src, dst, *a, **k):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(28, "No space left on device")
        return real_copy(src, dst, *a, **k)

    review_dir = project / "data" / "reviews" / REVIEW
    snapshot, fp = editions.snapshot_inputs(results(project), review_dir, project / "config" / "config.yaml", project)
    monkeypatch.setattr(editions.shutil, "copy2", failing_copy)
    with pytest.raises(OSError):
        editions.publish_edition(results(project), snapshot, {**fp, "all": "f" * 64}, int(EPOCH), sequence=99)
    assert (results(project) / "latest").resolve() == latest_before
    assert not list((results(project) / "editions").glob(editions.TMP_PREFIX + "*"))
    assert not (results(project) / "editions" / f"2025-11-25-{'f' * 8}").exists()


def test_publishing_writes_checksum_index_feed_and_emails_subscribers(project, tmp_path):
    with smtp_server() as server:
        out = tmp_path / "public"
        ed = (results(project) / "latest").resolve()
        cfg = {"dir": str(out), "base_url": "https://example.org/reviews",
               "email": {"smtp_host": "127.0.0.1", "smtp_port": server.server_address[1], "sender": "review@example.org",
                         "recipients": ["reader@example.org"]}}
        assert delivery.deliver(ed, REVIEW, cfg, review_title="Exercise for depression", log=lambda m: None)
    pdf = out / f"{REVIEW}-{ed.name}.pdf"
    import hashlib
    digest = hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert (out / f"{pdf.name}.sha256").read_text() == f"{digest}  {pdf.name}\n"
    assert pdf.name in (out / f"{REVIEW}.html").read_text()
    feed = ET.parse(out / f"{REVIEW}.atom").getroot()
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = feed.findall("a:entry", ns)
    assert len(entries) == 1
    links = {lk.get("type"): lk.get("href") for lk in entries[0].findall("a:link", ns)}
    assert links["application/pdf"] == f"https://example.org/reviews/{pdf.name}"
    assert links["text/html"] == f"https://example.org/reviews/{REVIEW}-{ed.name}.html"  # the web edition, beside it
    import email
    import email.policy
    body = email.message_from_string(server.messages[0]["data"], policy=email.policy.default).get_body().get_content()
    assert len(server.messages) == 1 and digest in body
    assert server.messages[0]["rcpt"] == ["reader@example.org"]
