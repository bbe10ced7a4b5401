"""Distribution of editions: a versioned copy in a publish folder with its SHA-256 checksum, an
index page and an Atom feed of all editions, and an optional e-mail to subscribers (SMTP).

Every file is written aside and renamed into place, so readers of the folder never see a
half-written PDF, index or feed.
"""

from __future__ import annotations

import html
import json
import smtplib
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from .files import atomic_write_bytes
from .editions import read_manifest, sha256_file


def publish_to_directory(edition_dir, review: str, cfg: dict, *, review_title: str) -> dict:
    """Copy an edition's PDF to ``cfg['dir']`` as ``<review>-<edition>.pdf`` with a ``.sha256``
    file and a ``.json`` summary, then rewrite ``<review>.html`` (index) and ``<review>.atom``."""
    edition_dir = Path(edition_dir)
    manifest = read_manifest(edition_dir)
    out = Path(cfg["dir"])
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{review}-{manifest['edition']}"
    pdf = out / f"{stem}.pdf"
    data = (edition_dir / "report.pdf").read_bytes()
    atomic_write_bytes(pdf, data)
    digest = sha256_file(pdf)
    atomic_write_bytes(out / f"{stem}.pdf.sha256", f"{digest}  {pdf.name}\n".encode())
    primary = next((a for a in manifest["analyses"] if "estimate" in a), {})
    summary = {"review": review, "title": review_title, "edition": manifest["edition"], "date": manifest["date"],
               "pdf": pdf.name, "sha256": digest, "trials": manifest["trials"], "primary": primary}
    atomic_write_bytes(out / f"{stem}.json", (json.dumps(summary, indent=2) + "\n").encode())
    editions = sorted((json.loads(p.read_text()) for p in out.glob(f"{review}-*.json")),
                      key=lambda s: s["edition"], reverse=True)
    base = cfg.get("base_url", "").rstrip("/")
    atomic_write_bytes(out / f"{review}.html", index_page(review_title, editions).encode())
    atomic_write_bytes(out / f"{review}.atom", atom_feed(review, review_title, editions, base).encode())
    if cfg.get("email"):
        send_edition_email(cfg["email"], summary, base, pdf)
    return {"pdf": str(pdf), "sha256": digest, "editions": len(editions)}


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


def atom_feed(review: str, title: str, editions: list[dict], base_url: str) -> str:
    """An Atom 1.0 feed (RFC 4287) with one entry per edition; times are the edition dates."""
    def ts(date):
        return f"{date}T00:00:00Z"
    updated = ts(editions[0]["date"]) if editions else datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries = "\n".join(
        f"  <entry>\n    <id>urn:livingmeta:{xml_escape(review)}:{xml_escape(s['edition'])}</id>\n"
        f"    <title>{xml_escape(title)}: edition {xml_escape(s['edition'])}</title>\n"
        f"    <updated>{ts(s['date'])}</updated>\n"
        f"    <link rel=\"enclosure\" type=\"application/pdf\" href=\"{xml_escape(base_url + '/' + s['pdf'] if base_url else s['pdf'])}\"/>\n"
        f"    <summary>{xml_escape(_estimate_text(s) + '; sha256 ' + s['sha256'])}</summary>\n  </entry>"
        for s in editions)
    return (f"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n"
            f"  <id>urn:livingmeta:{xml_escape(review)}</id>\n  <title>{xml_escape(title)}</title>\n"
            f"  <updated>{updated}</updated>\n  <author><name>livingmeta</name></author>\n{entries}\n</feed>\n")


def send_edition_email(cfg: dict, summary: dict, base_url: str, pdf: Path) -> None:
    """Announce an edition to subscribers. cfg: smtp_host, smtp_port, sender, recipients (list)
    or recipients_file (one address per line), optional starttls/username/password_env,
    attach_pdf (default false)."""
    import os
    recipients = list(cfg.get("recipients") or [])
    if cfg.get("recipients_file"):
        recipients += [line.strip() for line in Path(cfg["recipients_file"]).read_text().splitlines()
                       if line.strip() and not line.startswith("#")]
    if not recipients:
        return
    msg = EmailMessage()
    msg["Subject"] = f"New edition: {summary['title']} ({summary['edition']})"
    msg["From"] = cfg["sender"]
    msg["To"] = ", ".join(recipients)
    link = f"{base_url}/{summary['pdf']}" if base_url else summary["pdf"]
    msg.set_content(f"A new edition of the living meta-analysis \"{summary['title']}\" is available.\n\n"
                    f"Edition: {summary['edition']} ({summary['date']}), {summary['trials']} trials\n"
                    f"Result: {_estimate_text(summary)}\nPDF: {link}\nSHA-256: {summary['sha256']}\n")
    if cfg.get("attach_pdf"):
        msg.add_attachment(pdf.read_bytes(), maintype="application", subtype="pdf", filename=pdf.name)
    with smtplib.SMTP(cfg.get("smtp_host", "localhost"), int(cfg.get("smtp_port", 25)), timeout=30) as smtp:
        if cfg.get("starttls"):
            smtp.starttls()
        if cfg.get("username"):
            smtp.login(cfg["username"], os.environ.get(cfg.get("password_env", "LIVINGMETA_SMTP_PASSWORD"), ""))
        smtp.send_message(msg)
