"""Delivery of a published edition: copying it to the publish folder and announcing it by
e-mail are recorded steps. Their state lives in the edition's ``manifest.json`` under
``delivery`` ({"publish": {...}, "email": {...}}, each with status done / failed / waiting,
attempts, the last error and its time, and for e-mail digests of the addresses already sent),
so a step that failed (refused SMTP, an unwritable folder, a server past the deadline) is
retried by the next ``livingmeta update``, even when no input changed, and a step (or a
subscriber's message) that succeeded is never repeated.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from livingmeta.living.editions import read_manifest
from livingmeta.errors import LivingmetaError
from livingmeta.files import atomic_write_bytes


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest(address: str) -> str:
    """An address as the manifest records it: a digest, so an archived edition lists no one."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:16]


def _save(edition_dir: Path, manifest: dict) -> None:
    atomic_write_bytes(edition_dir / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())


def pending(edition_dir, publish_cfg: dict) -> list[str]:
    """The configured delivery steps of an edition that are not done."""
    state = read_manifest(edition_dir).get("delivery", {})
    steps = [s for s in ("publish", "email") if (publish_cfg or {}).get("dir" if s == "publish" else s)]
    return [s for s in steps if state.get(s, {}).get("status") != "done"]


def deliver(edition_dir, review: str, publish_cfg: dict, *, review_title: str, log=print) -> bool:
    """Run every configured step of the edition's delivery that is not done yet; record the
    outcome of each in the manifest. True when all are done. Never raises for a failed step."""
    from livingmeta.living.publish import edition_summary, publish_to_directory, recipients, send_edition_email
    edition_dir = Path(edition_dir)
    publish_cfg = publish_cfg or {}
    manifest = read_manifest(edition_dir)
    state = manifest.setdefault("delivery", {})
    eid = manifest["edition"]
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
        _save(edition_dir, manifest)

    if "publish" in todo:
        attempt("publish", lambda st: publish_to_directory(edition_dir, review, publish_cfg, review_title=review_title),
                f"edition {eid} copied to {publish_cfg['dir']}", "copy to the publish folder")
    if "email" in todo:
        if publish_cfg.get("dir") and state["publish"].get("status") != "done":
            state["email"] = {**state.get("email", {"attempts": 0}), "status": "waiting",
                              "error": "waits for the copy to the publish folder (its link would not work yet)"}
            _save(edition_dir, manifest)
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
