"""Issue 14 items 2-4: published files are world-readable and results follow the umask; copying
to the publish folder and e-mailing subscribers are recorded steps that a later run retries,
e-mail has an overall deadline and goes to each subscriber alone; the Atom feed follows RFC 4287.

The editions here are small synthetic folders (a manifest and a placeholder PDF), labelled so."""

import json
import os
import stat
import threading
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

from smtp_fixture import TricklingSMTPHandler, refused_port, smtp_server

from livingmeta.living import delivery, publish
from livingmeta import files

REVIEW = "synthetic-review"
ATOM = "{http://www.w3.org/2005/Atom}"


def fake_edition(root: Path, eid: str, published_at: str) -> Path:
    ed = root / "editions" / eid
    ed.mkdir(parents=True)
    (ed / "report.pdf").write_bytes(b"%PDF-1.7\n% SYNTHETIC placeholder made by the test suite " + eid.encode())
    manifest = {"review": REVIEW, "edition": eid, "date": eid[:10], "published_at": published_at, "trials": 3,
                "analyses": [{"outcome": "o", "timepoint": "t", "k": 3, "estimate": -0.5, "ci_lower": -0.9,
                              "ci_upper": -0.1}], "files": {}}
    (ed / "manifest.json").write_text(json.dumps(manifest))
    return ed


def state(ed: Path) -> dict:
    return delivery.delivery_state(ed)


# ---- item 2 --------------------------------------------------------------------------------------
def test_result_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        files.write_json(tmp_path / "r.json", {"a": 1})
        assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o640
        os.umask(0o022)
        files.atomic_write_bytes(tmp_path / "r.bin", b"x")
        assert stat.S_IMODE((tmp_path / "r.bin").stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_published_files_are_world_readable_whatever_the_umask(tmp_path):
    ed = fake_edition(tmp_path, "2025-11-25-aaaaaaaa", "2025-11-25T10:00:00.000000Z")
    old = os.umask(0o077)
    try:
        publish.publish_to_directory(ed, REVIEW, {"dir": str(tmp_path / "public")}, review_title="Synthetic")
    finally:
        os.umask(old)
    out = tmp_path / "public"
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    made = list(out.iterdir())
    assert len(made) == 5  # pdf, sha256, json, index, feed
    for p in made:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p.name


# ---- item 4 --------------------------------------------------------------------------------------
def _rfc3339(text):
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text[:-1] + "+00:00")


def check_atom(root) -> None:
    """The MUST rules of RFC 4287 section 4.1.1 (feed) and 4.1.2 (entry) this feed can break,
    plus the SHOULD of a rel="self" link."""
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, f"feed needs exactly one atom:{name}"
    entries = root.findall(f"{ATOM}entry")
    assert root.findall(f"{ATOM}author") or all(e.findall(f"{ATOM}author") for e in entries)
    selfs = [lk for lk in root.findall(f"{ATOM}link") if lk.get("rel") == "self"]
    assert len(selfs) == 1 and selfs[0].get("href")
    feed_updated = _rfc3339(root.find(f"{ATOM}updated").text)
    updated = []
    for e in entries:
        for name in ("id", "title", "updated"):
            assert len(e.findall(f"{ATOM}{name}")) == 1, f"entry needs exactly one atom:{name}"
        links = e.findall(f"{ATOM}link")
        alternates = [lk for lk in links if lk.get("rel", "alternate") == "alternate"]
        assert e.find(f"{ATOM}content") is not None or alternates, "entry without content needs rel=alternate"
        pairs = [(lk.get("type"), lk.get("hreflang")) for lk in alternates]
        assert len(pairs) == len(set(pairs)), "at most one alternate link per type and hreflang"
        content = e.find(f"{ATOM}content")
        if content is not None and content.get("src"):
            assert e.find(f"{ATOM}summary") is not None
        updated.append(_rfc3339(e.find(f"{ATOM}updated").text))
    ids = [e.find(f"{ATOM}id").text for e in entries]
    assert len(ids) == len(set(ids))
    assert len(updated) == len(set(updated)), "each edition has its own updated time"
    assert feed_updated == max(updated)


def test_the_atom_feed_follows_rfc_4287(tmp_path):
    cfg = {"dir": str(tmp_path / "public"), "base_url": "https://example.org/reviews"}
    for eid, at in (("2025-11-25-bbbbbbbb", "2025-11-25T09:00:00.000000Z"),
                    ("2025-11-25-aaaaaaaa", "2025-11-25T15:30:00.000000Z")):  # same day, later edition sorts first
        publish.publish_to_directory(fake_edition(tmp_path, eid, at), REVIEW, cfg, review_title="Synthetic")
    root = ET.parse(tmp_path / "public" / f"{REVIEW}.atom").getroot()
    check_atom(root)
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == f"https://example.org/reviews/{REVIEW}.atom"
    newest = root.findall(f"{ATOM}entry")[0]
    assert newest.find(f"{ATOM}updated").text == "2025-11-25T15:30:00Z"
    alt = newest.find(f"{ATOM}link[@rel='alternate']")
    assert alt.get("href") == f"https://example.org/reviews/{REVIEW}-2025-11-25-aaaaaaaa.pdf"
    assert alt.get("type") == "application/pdf"


# ---- item 3 --------------------------------------------------------------------------------------
def email_cfg(port, recipients=("a@example.org", "b@example.org"), **extra):
    return {"smtp_host": "127.0.0.1", "smtp_port": port, "sender": "review@example.org",
            "recipients": list(recipients), **extra}


def test_a_refused_email_is_recorded_and_sent_by_the_next_run(tmp_path):
    ed = fake_edition(tmp_path, "2025-11-25-aaaaaaaa", "2025-11-25T10:00:00.000000Z")
    cfg = {"dir": str(tmp_path / "public"), "email": email_cfg(refused_port())}
    log = []
    assert delivery.deliver(ed, REVIEW, cfg, review_title="Synthetic", log=log.append) is False
    s = state(ed)
    assert s["publish"]["status"] == "done"
    assert s["email"]["status"] == "failed" and s["email"]["attempts"] == 1
    assert "refused" in s["email"]["error"].lower()
    assert any("e-mail" in line and "next run" in line for line in log)
    with smtp_server() as server:
        cfg["email"]["smtp_port"] = server.server_address[1]
        assert delivery.deliver(ed, REVIEW, cfg, review_title="Synthetic", log=log.append) is True
        assert delivery.deliver(ed, REVIEW, cfg, review_title="Synthetic", log=log.append) is True  # nothing twice
    s = state(ed)
    assert s["email"]["status"] == "done" and s["email"]["attempts"] == 2
    assert len(server.messages) == 2


def test_each_subscriber_gets_a_message_that_names_only_them(tmp_path):
    ed = fake_edition(tmp_path, "2025-11-25-aaaaaaaa", "2025-11-25T10:00:00.000000Z")
    with smtp_server() as server:
        cfg = {"dir": str(tmp_path / "public"), "email": email_cfg(server.server_address[1])}
        assert delivery.deliver(ed, REVIEW, cfg, review_title="Synthetic", log=lambda m: None)
    assert sorted(m["rcpt"] for m in server.messages) == [["a@example.org"], ["b@example.org"]]
    for m in server.messages:
        other = "b@example.org" if m["rcpt"] == ["a@example.org"] else "a@example.org"
        assert other not in m["data"]


def test_a_retry_after_a_partial_send_reaches_only_those_not_yet_sent(tmp_path):
    ed = fake_edition(tmp_path, "2025-11-25-aaaaaaaa", "2025-11-25T10:00:00.000000Z")
    with smtp_server() as server:
        server.refuse.add("b@example.org")
        cfg = {"dir": str(tmp_path / "public"), "email": email_cfg(server.server_address[1])}
        assert delivery.deliver(ed, REVIEW, cfg, review_title="Synthetic", log=lambda m: None) is False
        assert "b@example.org" in state(ed)["email"]["error"]
        server.refuse.clear()
        assert delivery.deliver(ed, REVIEW, cfg, review_title="Synthetic", log=lambda m: None) is True
    assert [m["rcpt"] for m in server.messages] == [["a@example.org"], ["b@example.org"]]
    assert "a@example.org" not in (ed / delivery.STATE_FILE).read_text()  # digests, not addresses


def test_an_unwritable_publish_folder_is_retried_and_holds_back_the_email(tmp_path):
    ed = fake_edition(tmp_path, "2025-11-25-aaaaaaaa", "2025-11-25T10:00:00.000000Z")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the publish folder's parent should be")  # unwritable even for root
    with smtp_server() as server:
        cfg = {"dir": str(blocker / "public"), "email": email_cfg(server.server_address[1])}
        assert delivery.deliver(ed, REVIEW, cfg, review_title="Synthetic", log=lambda m: None) is False
        assert state(ed)["publish"]["status"] == "failed"
        assert state(ed)["email"]["status"] == "waiting"  # no announcement of a PDF that is not online
        assert server.messages == []
        blocker.unlink()
        assert delivery.deliver(ed, REVIEW, cfg, review_title="Synthetic", log=lambda m: None) is True
    assert (blocker / "public" / f"{REVIEW}-2025-11-25-aaaaaaaa.pdf").is_file()
    assert state(ed)["publish"]["attempts"] == 2 and len(server.messages) == 2


def test_a_trickling_smtp_server_cannot_hold_the_run_past_the_deadline(tmp_path):
    ed = fake_edition(tmp_path, "2025-11-25-aaaaaaaa", "2025-11-25T10:00:00.000000Z")
    with smtp_server(TricklingSMTPHandler) as server:
        cfg = {"dir": str(tmp_path / "public"),
               "email": email_cfg(server.server_address[1], deadline_seconds=2)}
        result = {}
        worker = threading.Thread(target=lambda: result.setdefault(
            "ok", delivery.deliver(ed, REVIEW, cfg, review_title="Synthetic", log=lambda m: None)), daemon=True)
        t0 = time.monotonic()
        worker.start()
        worker.join(12)
        elapsed = time.monotonic() - t0
    assert not worker.is_alive(), "delivery still blocked after 12 s with a 2 s deadline"
    assert result["ok"] is False and elapsed < 6
    s = state(ed)["email"]
    assert s["status"] == "failed" and "deadline" in s["error"]


# ---- issue 20 item 8, issue 21 item 8: delivery that informs -------------------------------------
def test_the_announcement_gives_a_ratio_on_its_natural_scale_with_certainty_and_what_changed(tmp_path):
    """A SYNTHETIC odds-ratio edition: OR 0.87 (log -0.139) must read as OR 0.87 in the e-mail, the
    index and the feed, with CI, trials, participants, certainty and what changed, and link the web
    edition published beside the PDF."""
    import email
    import email.policy
    import math
    ed = fake_edition(tmp_path, "2025-11-25-aaaaaaaa", "2025-11-25T10:00:00.000000Z")
    (ed / "report.html").write_text("<!DOCTYPE html><title>SYNTHETIC web edition</title>")
    manifest = json.loads((ed / "manifest.json").read_text())
    manifest["analyses"] = [{"outcome": "o", "timepoint": "t", "k": 12, "measure": "OR", "estimate": math.log(0.87),
                             "ci_lower": math.log(0.74), "ci_upper": math.log(1.02)}]
    manifest["announcement"] = {
        "headline": "Aspirin probably reduces deaths slightly (moderate-certainty evidence)", "measure": "OR",
        "estimate": "0.87", "ci": "0.74 to 1.02", "level_pct": "95%", "k": 12, "participants": 3400,
        "certainty": "moderate", "changes": ["Since edition 2025-11-01-bbbbbbbb: 1 trial corrected (Diaz 2018).",
                                             "Diaz 2018: mean (aspirin) 9.9 \u2192 11.9 (source: Table 2)."]}
    (ed / "manifest.json").write_text(json.dumps(manifest))
    result = "OR 0.87 (95% CI 0.74 to 1.02); 12 trials, 3,400 participants; certainty of the evidence: moderate"
    with smtp_server() as server:
        cfg = {"dir": str(tmp_path / "public"), "base_url": "https://example.org/r", "email": email_cfg(
            server.server_address[1], recipients=["a@example.org"])}
        assert delivery.deliver(ed, REVIEW, cfg, review_title="Synthetic", log=lambda m: None)
    text = email.message_from_string(server.messages[0]["data"], policy=email.policy.default).get_body().get_content()
    index = (tmp_path / "public" / f"{REVIEW}.html").read_text()
    feed = (tmp_path / "public" / f"{REVIEW}.atom").read_text()
    for where in (text, index, feed):
        assert result in where and "-0.14" not in where and "\u22120.14" not in where
        assert "Diaz 2018: mean (aspirin) 9.9 \u2192 11.9 (source: Table 2)" in where
    assert "Aspirin probably reduces deaths slightly" in text
    assert f"Read it online: https://example.org/r/{REVIEW}-2025-11-25-aaaaaaaa.html" in text
    assert (tmp_path / "public" / f"{REVIEW}-2025-11-25-aaaaaaaa.html").read_text().startswith("<!DOCTYPE html>")
