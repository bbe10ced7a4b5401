"""Distribution of editions: a versioned copy in a publish folder with its SHA-256 checksum, an
index page and an Atom feed of all editions, and an optional e-mail to subscribers (SMTP).

Every file is written aside and renamed into place, so readers of the folder never see a
half-written PDF, index or feed.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import smtplib
import socket
import threading
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from livingmeta.errors import PublishError
from livingmeta.files import atomic_write_bytes
from livingmeta.report.history import read_manifest
from livingmeta.report.fingerprint import sha256_file
from livingmeta.pipeline.config_check import section


PUBLIC_FILE_MODE = 0o644  # a web server (another user) must be able to read what is published
PUBLIC_DIR_MODE = 0o755


def announcement(results_dir) -> dict:
    """What the e-mail, the index and the feed say about a build, taken from the report it made
    (report_context.json), so they say what the report says, in its words and formats: the
    headline, the primary result on its natural scale (OR 0.87, never the log value), k,
    participants, the certainty of the evidence and what changed."""
    results_dir = Path(results_dir)
    try:
        ctx = json.loads((results_dir / "report_context.json").read_text())
    except (OSError, ValueError):
        return {}
    key = ctx.get("key") or {}
    certainty = ctx.get("certainty") or {}
    return {"headline": ctx.get("headline"), "measure": key.get("measure"), "estimate": key.get("estimate"),
            "ci": key.get("ci"), "level_pct": ctx.get("level_pct"), "k": key.get("k"),
            "participants": key.get("participants"),
            "certainty": certainty.get("level") if isinstance(certainty, dict) else key.get("certainty"),
            "changes": list(ctx.get("changes") or [])}


def edition_summary(edition_dir, review: str, review_title: str) -> dict:
    """What the index, the feed and the e-mail say about an edition (from its manifest)."""
    edition_dir = Path(edition_dir)
    manifest = read_manifest(edition_dir)
    return {"review": review, "title": review_title, "edition": manifest["edition"], "date": manifest["date"],
            "published": manifest.get("published_at") or f"{manifest['date']}T00:00:00Z",
            "sequence": manifest.get("sequence"),
            "pdf": f"{review}-{manifest['edition']}.pdf",
            "html": f"{review}-{manifest['edition']}.html" if (edition_dir / "report.html").is_file() else None,
            "sha256": sha256_file(edition_dir / "report.pdf"), "trials": manifest["trials"],
            "signed_off": manifest.get("signed_off"), "announcement": manifest.get("announcement") or {}}


def publish_to_directory(edition_dir, review: str, cfg: dict, *, review_title: str) -> dict:
    """Copy an edition's PDF to ``cfg['dir']`` as ``<review>-<edition>.pdf`` with a ``.sha256``
    file and a ``.json`` summary, and its web edition beside it as ``<review>-<edition>.html``,
    then rewrite ``<review>.html`` (index) and ``<review>.atom``. Every file is world-readable
    (0644) whatever the umask; a folder made here is 0755."""
    edition_dir = Path(edition_dir)
    out = Path(cfg["dir"])
    if not out.is_dir():
        out.mkdir(parents=True)
        out.chmod(PUBLIC_DIR_MODE)
    summary = edition_summary(edition_dir, review, review_title)
    pdf = out / summary["pdf"]
    stem = pdf.name[:-len(".pdf")]

    def write(path, data: bytes):
        atomic_write_bytes(path, data, mode=PUBLIC_FILE_MODE)

    write(pdf, (edition_dir / "report.pdf").read_bytes())
    if summary["html"]:
        write(out / summary["html"], (edition_dir / "report.html").read_bytes())
    digest = sha256_file(pdf)
    write(out / f"{stem}.pdf.sha256", f"{digest}  {pdf.name}\n".encode())
    write(out / f"{stem}.json", (json.dumps(summary, indent=2) + "\n").encode())
    editions = sorted((json.loads(p.read_text()) for p in out.glob(f"{review}-*.json")), key=_publication_order,
                      reverse=True)
    base = cfg.get("base_url", "").rstrip("/")
    write(out / f"{review}.html", index_page(review_title, editions).encode())
    write(out / f"{review}.atom", atom_feed(review, review_title, editions, base).encode())
    return {"pdf": str(pdf), "sha256": digest, "editions": len(editions), "summary": summary}


def _publication_order(s: dict):
    """Newest last: by publication sequence (editions from before it was recorded first), then time."""
    seq = s.get("sequence")
    return (isinstance(seq, int), seq if isinstance(seq, int) else 0, s.get("published") or s["date"], s["edition"])


def result_text(s: dict) -> str:
    """The primary result as the report states it: "SMD −0.62 (95% CI −0.84 to −0.41); 35 trials,
    1,353 participants; certainty of the evidence: very low". Empty for an edition archived before
    announcements were recorded (its manifest holds only the analysis-scale numbers)."""
    a = s.get("announcement") or {}
    if not a.get("estimate"):
        return ""
    text = f"{a['measure']} {a['estimate']} ({a.get('level_pct') or '95%'} CI {a['ci']})"
    counts = [f"{a['k']} trial{'s' if a['k'] != 1 else ''}" if a.get("k") is not None else None,
              f"{a['participants']:,} participants" if isinstance(a.get("participants"), int) else None]
    text += "; " + ", ".join(c for c in counts if c) if any(counts) else ""
    return text + (f"; certainty of the evidence: {a['certainty']}" if a.get("certainty") else "")


def changes_text(s: dict) -> str:
    return " ".join((s.get("announcement") or {}).get("changes") or [])


def sign_off_text(s: dict) -> str:
    signed = s.get("signed_off")
    return f"Signed off by {signed['by']} on {signed['at'][:10]}" if signed else ""


def index_page(title: str, editions: list[dict]) -> str:
    def links(s):
        web = f"<a href=\"{html.escape(s['html'])}\">web edition</a>, " if s.get("html") else ""
        return f"{html.escape(s['edition'])}: {web}<a href=\"{html.escape(s['pdf'])}\">PDF</a>"
    rows = "\n".join(
        f"<tr><td>{html.escape(s['date'])}</td><td>{links(s)}</td><td>{s['trials']}</td>"
        f"<td>{html.escape(result_text(s))}</td><td>{html.escape(changes_text(s))}</td>"
        f"<td>{html.escape(sign_off_text(s))}</td><td><code>{html.escape(s['sha256'])}</code></td></tr>"
        for s in editions)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}: editions</title></head><body><h1>{html.escape(title)}</h1>"
            f"<p>Every edition of this living meta-analysis, newest first. "
            f"Check a download with <code>sha256sum -c FILE.sha256</code>.</p>\n<table><thead><tr><th>Date</th>"
            f"<th>Edition</th><th>Trials</th><th>Result</th><th>What changed</th><th>Sign-off</th>"
            f"<th>SHA-256 of the PDF</th></tr></thead><tbody>\n{rows}\n</tbody></table></body></html>\n")


def _atom_time(stamp: str) -> str:
    """An RFC 3339 UTC time; fractions of a second only when there are any."""
    t = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond:06d}" if t.microsecond else "") + "Z"


def _entry_summary(s: dict) -> str:
    parts = [(s.get("announcement") or {}).get("headline"), result_text(s), changes_text(s), sign_off_text(s),
             f"SHA-256 of the PDF: {s['sha256']}"]
    return ". ".join(p.rstrip(".") for p in parts if p) + "."


def atom_feed(review: str, title: str, editions: list[dict], base_url: str) -> str:
    """An Atom 1.0 feed (RFC 4287): one entry per edition, newest first, whose ``updated`` is the
    moment the edition was published (so same-day editions differ), whose ``alternate`` links are
    the web edition and the PDF, and whose summary gives the result, the certainty and what
    changed; the feed links to itself (rel="self") and its ``updated`` is the newest entry's."""
    def url(name):
        return f"{base_url}/{name}" if base_url else name
    updated = (_atom_time(editions[0]["published"]) if editions
               else datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    entries = "\n".join(
        f"  <entry>\n    <id>urn:livingmeta:{xml_escape(review)}:{xml_escape(s['edition'])}</id>\n"
        f"    <title>{xml_escape(title)}: edition {xml_escape(s['edition'])}</title>\n"
        f"    <updated>{_atom_time(s.get('published') or s['date'] + 'T00:00:00Z')}</updated>\n"
        + (f"    <link rel=\"alternate\" type=\"text/html\" href=\"{xml_escape(url(s['html']))}\"/>\n"
           if s.get("html") else "")
        + f"    <link rel=\"alternate\" type=\"application/pdf\" href=\"{xml_escape(url(s['pdf']))}\"/>\n"
        f"    <summary>{xml_escape(_entry_summary(s))}</summary>\n  </entry>"
        for s in editions)
    return (f"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n"
            f"  <id>urn:livingmeta:{xml_escape(review)}</id>\n  <title>{xml_escape(title)}</title>\n"
            f"  <link rel=\"self\" type=\"application/atom+xml\" href=\"{xml_escape(url(review + '.atom'))}\"/>\n"
            f"  <updated>{updated}</updated>\n  <author><name>livingmeta</name></author>\n{entries}\n</feed>\n")


def recipients(cfg: dict) -> list[str]:
    """The subscribers: ``recipients`` (list) and ``recipients_file`` (one address per line)."""
    out = list(cfg.get("recipients") or [])
    if cfg.get("recipients_file"):
        out += [line.strip() for line in Path(cfg["recipients_file"]).read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    return list(dict.fromkeys(out))


def email_text(summary: dict, base_url: str) -> str:
    """The announcement: the headline, the result on its natural scale with CI, k, participants and
    the certainty, what changed, who signed the edition off, and links to the web edition and the PDF."""
    def link(name):
        return f"{base_url}/{name}" if base_url else name
    lines = [f"A new edition of the living meta-analysis \"{summary['title']}\" is available.", ""]
    a = summary.get("announcement") or {}
    if a.get("headline"):
        lines += [a["headline"], ""]
    if result_text(summary):
        lines.append(f"Result: {result_text(summary)}")
    if changes_text(summary):
        lines.append(f"What changed: {changes_text(summary)}")
    if sign_off_text(summary):
        lines.append(f"{sign_off_text(summary)}.")
    lines += ["", f"Edition: {summary['edition']} ({summary['date']}), {summary['trials']} trials"]
    if summary.get("html"):
        lines.append(f"Read it online: {link(summary['html'])}")
    lines += [f"PDF: {link(summary['pdf'])}", f"SHA-256 of the PDF: {summary['sha256']}"]
    return "\n".join(lines) + "\n"


def _message(cfg: dict, summary: dict, base_url: str, pdf: Path | None, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"New edition: {summary['title']} ({summary['edition']})"
    msg["From"] = cfg["sender"]
    msg["To"] = to  # one message per subscriber: nobody sees another subscriber's address
    msg.set_content(email_text(summary, base_url))
    if cfg.get("attach_pdf") and pdf is not None:
        msg.add_attachment(pdf.read_bytes(), maintype="application", subtype="pdf", filename=summary["pdf"])
    return msg


def send_edition_email(cfg: dict, summary: dict, base_url: str, pdf: Path | None, *, skip=(),
                       on_sent=lambda address: None) -> None:
    """Announce an edition to each subscriber not in ``skip``, one message each, in one SMTP
    session; ``on_sent(address)`` after each accepted message. cfg: smtp_host, smtp_port, sender,
    recipients / recipients_file, optional starttls, username, password_env, attach_pdf and
    deadline_seconds (default 120: a server that trickles bytes cannot hold the run longer).
    Raises PublishError on any failure."""
    todo = [r for r in recipients(cfg) if r not in skip]
    if not todo:
        return
    cfg = section("publish", {"email": cfg})["email"]  # defaults: config.schema.yaml, publish.email
    host, port = cfg["smtp_host"], int(cfg["smtp_port"])
    deadline = float(cfg["deadline_seconds"])  # the whole SMTP conversation, not per read
    smtp = smtplib.SMTP(timeout=min(30.0, deadline))
    failure = []

    def conversation():
        try:
            smtp.connect(host, port)
            if cfg["starttls"]:
                smtp.starttls()
            if cfg.get("username"):
                smtp.login(cfg["username"], os.environ.get(cfg["password_env"], ""))
            for address in todo:
                smtp.send_message(_message(cfg, summary, base_url, pdf, address), to_addrs=[address])
                on_sent(address)
            smtp.quit()
        except Exception as e:  # every SMTP, socket and TLS error becomes one recorded failure
            failure.append(e)

    worker = threading.Thread(target=conversation, daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        sock = smtp.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # unblocks the worker's read; it then ends
        raise PublishError(f"SMTP server {host}:{port} did not finish within the deadline of {deadline:g} s "
                           f"(publish.email.deadline_seconds)")
    if failure:
        e = failure[0]
        raise PublishError(f"SMTP server {host}:{port}: {e.__class__.__name__}: {e}") from e
