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
from livingmeta.living.editions import read_manifest
from livingmeta.living.fingerprint import sha256_file
from livingmeta.pipeline.config_check import section


PUBLIC_FILE_MODE = 0o644  # a web server (another user) must be able to read what is published
PUBLIC_DIR_MODE = 0o755


def edition_summary(edition_dir, review: str, review_title: str) -> dict:
    """What the index, the feed and the e-mail say about an edition (from its manifest)."""
    edition_dir = Path(edition_dir)
    manifest = read_manifest(edition_dir)
    primary = next((a for a in manifest["analyses"] if "estimate" in a), {})
    return {"review": review, "title": review_title, "edition": manifest["edition"], "date": manifest["date"],
            "published": manifest.get("published_at") or f"{manifest['date']}T00:00:00Z",
            "pdf": f"{review}-{manifest['edition']}.pdf", "sha256": sha256_file(edition_dir / "report.pdf"),
            "trials": manifest["trials"], "primary": primary}


def publish_to_directory(edition_dir, review: str, cfg: dict, *, review_title: str) -> dict:
    """Copy an edition's PDF to ``cfg['dir']`` as ``<review>-<edition>.pdf`` with a ``.sha256``
    file and a ``.json`` summary, then rewrite ``<review>.html`` (index) and ``<review>.atom``.
    Every file is world-readable (0644) whatever the umask; a folder made here is 0755."""
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
    digest = sha256_file(pdf)
    write(out / f"{stem}.pdf.sha256", f"{digest}  {pdf.name}\n".encode())
    write(out / f"{stem}.json", (json.dumps(summary, indent=2) + "\n").encode())
    editions = sorted((json.loads(p.read_text()) for p in out.glob(f"{review}-*.json")),
                      key=lambda s: (s.get("published") or s["date"], s["edition"]), reverse=True)
    base = cfg.get("base_url", "").rstrip("/")
    write(out / f"{review}.html", index_page(review_title, editions).encode())
    write(out / f"{review}.atom", atom_feed(review, review_title, editions, base).encode())
    return {"pdf": str(pdf), "sha256": digest, "editions": len(editions), "summary": summary}


def _estimate_text(s: dict) -> str:
    p = s.get("primary") or {}
    if "estimate" not in p:
        return ""
    return f"pooled estimate {p['estimate']:.2f} ({100 * p.get('level', 0.95):g}% CI {p['ci_lower']:.2f} to {p['ci_upper']:.2f}), k = {p.get('k')}"


def index_page(title: str, editions: list[dict]) -> str:
    rows = "\n".join(
        f"<tr><td>{html.escape(s['date'])}</td><td><a href=\"{html.escape(s['pdf'])}\">{html.escape(s['edition'])}</a></td>"
        f"<td>{s['trials']}</td><td>{html.escape(_estimate_text(s))}</td>"
        f"<td><code>{html.escape(s['sha256'])}</code></td></tr>" for s in editions)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}: editions</title>"
            f"</head><body><h1>{html.escape(title)}</h1><p>Every edition of this living meta-analysis, newest first. "
            f"Check a download with <code>sha256sum -c FILE.sha256</code>.</p>\n<table><thead><tr><th>Date</th>"
            f"<th>Edition (PDF)</th><th>Trials</th><th>Result</th><th>SHA-256</th></tr></thead><tbody>\n{rows}\n"
            f"</tbody></table></body></html>\n")


def _atom_time(stamp: str) -> str:
    """An RFC 3339 UTC time; fractions of a second only when there are any."""
    t = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond:06d}" if t.microsecond else "") + "Z"


def atom_feed(review: str, title: str, editions: list[dict], base_url: str) -> str:
    """An Atom 1.0 feed (RFC 4287): one entry per edition, newest first, whose ``updated`` is the
    moment the edition was published (so same-day editions differ) and whose ``alternate`` link
    is the PDF; the feed links to itself (rel="self") and its ``updated`` is the newest entry's."""
    def url(name):
        return f"{base_url}/{name}" if base_url else name
    updated = (_atom_time(editions[0]["published"]) if editions
               else datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    entries = "\n".join(
        f"  <entry>\n    <id>urn:livingmeta:{xml_escape(review)}:{xml_escape(s['edition'])}</id>\n"
        f"    <title>{xml_escape(title)}: edition {xml_escape(s['edition'])}</title>\n"
        f"    <updated>{_atom_time(s.get('published') or s['date'] + 'T00:00:00Z')}</updated>\n"
        f"    <link rel=\"alternate\" type=\"application/pdf\" href=\"{xml_escape(url(s['pdf']))}\"/>\n"
        f"    <summary>{xml_escape(_estimate_text(s) + '; sha256 ' + s['sha256'])}</summary>\n  </entry>"
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


def _message(cfg: dict, summary: dict, base_url: str, pdf: Path | None, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"New edition: {summary['title']} ({summary['edition']})"
    msg["From"] = cfg["sender"]
    msg["To"] = to  # one message per subscriber: nobody sees another subscriber's address
    link = f"{base_url}/{summary['pdf']}" if base_url else summary["pdf"]
    msg.set_content(f"A new edition of the living meta-analysis \"{summary['title']}\" is available.\n\n"
                    f"Edition: {summary['edition']} ({summary['date']}), {summary['trials']} trials\n"
                    f"Result: {_estimate_text(summary)}\nPDF: {link}\nSHA-256: {summary['sha256']}\n")
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
