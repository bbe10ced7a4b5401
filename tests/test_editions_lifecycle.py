"""Issue 21 item 7 (draft and sign-off) and issue 23 F4 (an edit during `update`), on a private copy
of the project, in order. Each test builds the default review at least twice, so they are slow
(make test-slow)."""

import email
import email.policy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import add_synthetic_trial, copy_project
from smtp_fixture import smtp_server

REVIEW = "exercise-depression"
EPOCH = "1764028800"  # 2025-11-25


def run(work, *args, background=False):
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    cmd = [sys.executable, "-m", "livingmeta.cli", *args, "--root", str(work)]
    if background:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=work)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work, timeout=1800)


def results(work) -> Path:
    return work / "results" / REVIEW


def latest(work) -> Path:
    return (results(work) / "latest").resolve()


def trials(work) -> Path:
    return work / "data" / "reviews" / REVIEW / "trials"


def pdf_text(path: Path) -> str:
    pypdf = pytest.importorskip("pypdf")
    return " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(path).pages).split())


@pytest.fixture(scope="module")
def server():
    with smtp_server() as s:
        yield s


@pytest.fixture(scope="module")
def work(tmp_path_factory, server):
    work = copy_project(tmp_path_factory.mktemp("editions-lifecycle"))
    public = tmp_path_factory.mktemp("public")
    path = work / "config" / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["publish"] = {"dir": str(public), "base_url": "", "require_sign_off": [REVIEW],
                      "email": {"smtp_host": "127.0.0.1", "smtp_port": server.server_address[1],
                                "sender": "review@example.org", "recipients": ["reader@example.org"]}}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return work


@pytest.mark.slow
def test_a_review_that_requires_sign_off_gets_a_draft_and_publish_signs_it_off(work, server):
    res = run(work, "update", REVIEW)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "sign-off is required" in res.stderr and "publish it with `livingmeta publish" in res.stderr
    drafts = list((results(work) / "drafts").iterdir())
    assert len(drafts) == 1 and not (results(work) / "latest").exists()
    draft = drafts[0]
    assert not server.messages and not list(Path(yaml.safe_load((work / "config" / "config.yaml").read_text())
                                                  ["publish"]["dir"]).iterdir())  # nothing published or mailed
    assert "Draft for sign-off: not yet published" in pdf_text(draft / "report.pdf")
    res = run(work, "update", REVIEW, "--draft")
    assert res.returncode == 0 and "is waiting for sign-off" in res.stderr, res.stderr[-3000:]

    (trials(work) / "singh-2005.yaml").write_text((trials(work) / "singh-2005.yaml").read_text() + "# edited\n")
    res = run(work, "publish", REVIEW, draft.name, "--by", "Ada Author")
    assert res.returncode == 2 and "changed since draft" in res.stderr and "Traceback" not in res.stderr
    (trials(work) / "singh-2005.yaml").write_text((trials(work) / "singh-2005.yaml").read_text()[:-len("# edited\n")])

    res = run(work, "publish", REVIEW, draft.name, "--by", "Ada Author")
    assert res.returncode == 0, res.stderr[-3000:]
    ed = latest(work)
    assert ed.name == draft.name and ed.parent.name == "editions" and not draft.exists()
    manifest = json.loads((ed / "manifest.json").read_text())
    assert manifest["signed_off"]["by"] == "Ada Author" and manifest["signed_off"]["at"].endswith("Z")
    assert manifest["sequence"] == 1
    assert f"Signed off by Ada Author on {manifest['signed_off']['at'][:10]}" in pdf_text(ed / "report.pdf")
    assert len(server.messages) == 1
    body = email.message_from_string(server.messages[0]["data"], policy=email.policy.default).get_body().get_content()
    assert "Signed off by Ada Author" in body
    res = run(work, "update", REVIEW)
    assert res.returncode == 0 and "up to date" in res.stderr, res.stderr[-3000:]


@pytest.mark.slow
def test_an_edit_during_update_never_lands_in_inputs_without_being_in_the_report(work):
    """The edition's inputs/ and its report are the same bytes: an edit made while the build runs
    makes `update` build again (the next edition would otherwise report "0 corrected" for it)."""
    path = work / "config" / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["publish"] = {"dir": None, "base_url": ""}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    add_synthetic_trial(work, "synthetic-during-2026")  # extract runs again
    arms = results(work) / "extracted" / "arms.csv"

    def written():  # the build's extract has written it (Snakemake removes it first)
        return arms.stat().st_mtime if arms.is_file() else None
    started = written()
    proc = run(work, "update", REVIEW, background=True)
    deadline = time.monotonic() + 600
    while written() in (started, None) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    record = trials(work) / "singh-2005.yaml"
    rec = yaml.safe_load(record.read_text())
    rec["outcomes"]["depression"][0]["arms"]["exercise"]["mean"] = 7.25  # SYNTHETIC edit while the report is built
    record.write_text(yaml.safe_dump(rec, sort_keys=False))
    out, err = proc.communicate(timeout=1800)
    assert proc.returncode == 0, err[-3000:]
    assert "singh-2005.yaml changed while the edition was being built" in err
    ed = latest(work)
    snapshot = yaml.safe_load((ed / "inputs" / "trials" / "singh-2005.yaml").read_text())
    assert snapshot["outcomes"]["depression"][0]["arms"]["exercise"]["mean"] == 7.25
    import pandas as pd
    used = pd.read_csv(ed / "arms.csv")
    row = used[(used.trial_id == "singh-2005") & (used.timepoint == "post_treatment") & (used.arm == "exercise")]
    assert list(row["mean"]) == [7.25]
