"""Delivery of a published edition: copying it to the publish folder and announcing it by
e-mail are recorded steps. Their state lives beside the edition in ``delivery.json``
({"publish": {...}, "email": {...}}, each with status done / failed / waiting, attempts, the last
error and its time, and for e-mail digests of the addresses already sent), never in its
``manifest.json``, which does not change once the edition is published (the build reads it).
A step that failed (refused SMTP, an unwritable folder, a server past the deadline) is retried
by the next ``livingmeta update``, even when no input changed, and a step (or a subscriber's
message) that succeeded is never repeated. Editions published by older versions kept this state
in the manifest under ``delivery``; it is read from there and written to ``delivery.json``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from livingmeta.errors import LivingmetaError
from livingmeta.files import atomic_write_bytes
from livingmeta.report.history import read_manifest

STATE_FILE = "delivery.json"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest(address: str) -> str:
    """An address as the state records it: a digest, so an archived edition lists no one."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:16]


def delivery_state(edition_dir) -> dict:
    """The edition's delivery steps so far ({} when none was tried)."""
    path = Path(edition_dir) / STATE_FILE
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except ValueError:  # edited by hand into something else: the steps are tried again
            return {}
    return dict(read_manifest(edition_dir).get("delivery") or {})


def _save(edition_dir: Path, state: dict) -> None:
    atomic_write_bytes(edition_dir / STATE_FILE, (json.dumps(state, indent=2) + "\n").encode())


def pending(edition_dir, publish_cfg: dict) -> list[str]:
    """The configured delivery steps of an edition that are not done."""
    state = delivery_state(edition_dir)
    steps = [s for s in ("publish", "email") if (publish_cfg or {}).get("dir" if s == "publish" else s)]
    return [s for s in steps if state.get(s, {}).get("status") != "done"]


def deliver(edition_dir, review: str, publish_cfg: dict, *, review_title: str, log=print) -> bool:
    """Run every configured step of the edition's delivery that is not done yet; record the
    outcome of each in delivery.json. True when all are done. Never raises for a failed step."""
    from livingmeta.living.publish import edition_summary, publish_to_directory, recipients, send_edition_email
    edition_dir = Path(edition_dir)
    publish_cfg = publish_cfg or {}
    state = delivery_state(edition_dir)
    eid = read_manifest(edition_dir)["edition"]
    todo = pending(edition_dir, publish_cfg)

    def attempt(step, action, done_text, what):
        st = state.setdefault(step, {"attempts": 0})
        st["attempts"] = st.get("attempts", 0) + 1
        st["at"] = _now()
        try:
            action(st)
        except (OSError, LivingmetaError) as e:
            st.update(status="failed", error=f"{e.__class__.__name__}: {e}")
            log(f"livingmeta update: {what} of edition {eid} failed ({st['error']}); the edition is "
                f"published locally, and the next run retries the {what}")
        else:
            st.update(status="done", error=None)
            log(f"livingmeta update: {done_text}")
        _save(edition_dir, state)

    if "publish" in todo:
        attempt("publish", lambda st: publish_to_directory(edition_dir, review, publish_cfg, review_title=review_title),
                f"edition {eid} copied to {publish_cfg['dir']}", "copy to the publish folder")
    if "email" in todo:
        if publish_cfg.get("dir") and state["publish"].get("status") != "done":
            state["email"] = {**state.get("email", {"attempts": 0}), "status": "waiting",
                              "error": "waits for the copy to the publish folder (its link would not work yet)"}
            _save(edition_dir, state)
        else:
            def send(st):
                sent = st.setdefault("sent", [])  # who already has it, as address digests
                skip = {a for a in recipients(publish_cfg["email"]) if _digest(a) in sent}
                summary = edition_summary(edition_dir, review, review_title)
                base = publish_cfg.get("base_url", "").rstrip("/")
                send_edition_email(publish_cfg["email"], summary, base, edition_dir / "report.pdf", skip=skip,
                                   on_sent=lambda address: sent.append(_digest(address)))
            attempt("email", send, f"edition {eid} announced by e-mail", "e-mail")
    return not pending(edition_dir, publish_cfg)
