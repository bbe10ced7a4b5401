"""Archiving editions: a snapshot of the inputs taken before a build, publishing an edition (or
archiving a draft) atomically, and recovering after a crash. The unattended run that drives them
is livingmeta.living.update; how the build reads the archive is livingmeta.report.history.

A published edition is ``results/<review>/editions/<date>-<hash8>/``: the PDF, the web edition,
the fitted results, ``inputs/`` (the snapshot of review.yaml, the trial records and the
configuration the build read) and ``manifest.json`` (what the edition is: fingerprint, date,
publication sequence, the edition it follows, who signed it off, what the announcement says).
A published edition never changes afterwards: whether it has been delivered is recorded beside
it in ``delivery.json`` (livingmeta.living.delivery). ``results/<review>/latest`` is a symbolic
link to the current edition. A draft waiting for sign-off has the same layout under ``drafts/``.

Every edition is assembled in a hidden temporary folder and renamed into place, and ``latest``
is swapped with an atomic rename, so a run that dies at any moment leaves the previous edition
whole; the next run removes the leftovers. Runs are kept apart by the project lock
(livingmeta.living.runlock).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from livingmeta.report.fingerprint import data_files, fingerprint, sha256_file
from livingmeta.report.history import DRAFTS, EDITIONS, LATEST, edition_date, edition_id, read_manifest

EDITION_FILES = ("report.pdf", "report.html", "pooled.json", "moderators.json", "small_study_effects.json",
                 "changes.json", "history.json", "cumulative.json", "effects.csv", "extracted/arms.csv",
                 "extracted/trials.csv", "bayes.json", "sequential.json")
TMP_PREFIX = ".tmp-edition-"
SNAPSHOT_PREFIX = ".tmp-inputs-"
ASIDE_PREFIX = ".unreadable-"


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def snapshot_inputs(results_dir, review_dir, config_path, project_root) -> tuple[Path, dict]:
    """Copy the inputs a build is about to read (review.yaml, trial records, configuration) into a
    hidden folder of the archive and fingerprint the copy: the edition's ``inputs/`` and its name
    are then the same bytes, whatever is edited meanwhile. Returns (folder, fingerprint); the
    folder holds ``review/`` (review.yaml, trials/, surveillance/) and ``config.yaml``."""
    review_dir = Path(review_dir)
    folder = Path(results_dir) / EDITIONS / f"{SNAPSHOT_PREFIX}{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "review" / "trials").mkdir(parents=True)
    for src in data_files(review_dir):  # review.yaml, trials/, the surveillance ledger
        dst = folder / "review" / src.relative_to(review_dir)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    shutil.copy2(config_path, folder / "config.yaml")
    return folder, fingerprint(folder / "review", folder / "config.yaml", project_root)


def recover(results_dir) -> list[str]:
    """Remove leftovers of a run that died half-way (temporary edition folders, snapshots, links)."""
    removed = []
    results_dir = Path(results_dir)
    for sub in (EDITIONS, DRAFTS):
        folder = results_dir / sub
        for p in (list(folder.glob(TMP_PREFIX + "*")) + list(folder.glob(SNAPSHOT_PREFIX + "*"))
                  if folder.exists() else []):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    for p in results_dir.glob(".latest-*"):
        p.unlink(missing_ok=True)
        removed.append(p.name)
    return removed


def publish_edition(results_dir, snapshot: Path, fp: dict, epoch: int, *, sequence: int | None,
                    extra: dict | None = None, draft: bool = False, log=None) -> Path:
    """Copy the build's artefacts and the input ``snapshot`` into a new edition (or, ``draft``, a
    draft), then point ``latest`` at it (not for a draft). Each step is write-aside-then-rename.
    An edition folder that already exists whole (the same inputs on the same day, or a run killed
    between the two renames) is kept; one whose manifest cannot be read is moved aside (kept) and
    written again."""
    results_dir = Path(results_dir)
    date = edition_date(epoch)
    eid = edition_id(date, fp["all"])
    parent = results_dir / (DRAFTS if draft else EDITIONS)
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / eid
    if final.exists() and not _readable(final):
        aside = parent / f"{ASIDE_PREFIX}{eid}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}"
        os.rename(final, aside)
        if log:
            log(f"livingmeta update: {parent.name}/{eid} had an unreadable manifest; moved it to {aside.name} (kept)")
    if not final.exists():
        tmp = parent / f"{TMP_PREFIX}{eid}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            _assemble(tmp, results_dir, snapshot, fp, epoch, eid, date, sequence, extra or {}, draft)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)  # e.g. a full disk: the previous edition stays latest
            raise
    if not draft:
        point_latest(results_dir, eid, log)
    return final


def _readable(edition: Path) -> bool:
    try:
        return isinstance(read_manifest(edition).get("fingerprint"), dict)
    except (OSError, ValueError, AttributeError):
        return False


def point_latest(results_dir, eid: str, log=None) -> None:
    """Make ``latest`` a link to ``editions/<eid>`` with an atomic rename. A ``latest`` that is a
    real folder (made by hand or by an old version) cannot be replaced by a rename; it is moved
    aside to ``latest.moved-<time>`` (kept, never deleted) first."""
    results_dir = Path(results_dir)
    link = results_dir / LATEST
    if link.is_dir() and not link.is_symlink():
        aside = results_dir / f"latest.moved-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}"
        os.rename(link, aside)
        if log:
            log(f"livingmeta update: {link} was a folder, not a link; moved it to {aside.name}")
    link_tmp = results_dir / f".latest-{os.getpid()}"
    link_tmp.unlink(missing_ok=True)
    os.symlink(Path(EDITIONS) / eid, link_tmp)
    os.replace(link_tmp, link)


def _assemble(tmp: Path, results_dir: Path, snapshot: Path, fp: dict, epoch: int, eid: str, date: str,
              sequence: int | None, extra: dict, draft: bool) -> None:
    from livingmeta.living.publish import announcement
    files = {}
    for name in EDITION_FILES:
        src = results_dir / name
        if src.is_file():
            dst = tmp / Path(name).name
            shutil.copy2(src, dst)
            files[dst.name] = sha256_file(dst)
    shutil.copytree(snapshot / "review", tmp / "inputs")
    shutil.copy2(snapshot / "config.yaml", tmp / "inputs" / "config.yaml")
    pooled = json.loads((results_dir / "pooled.json").read_text())
    history = json.loads((results_dir / "history.json").read_text())
    from livingmeta.pipeline.records import record_paths
    manifest = {"review": results_dir.name, "edition": eid, "date": date, "source_date_epoch": epoch,
                **({"built_at": now_utc()} if draft else {"published_at": now_utc(), "sequence": sequence}),
                "previous_edition": history.get("compare_with"), "fingerprint": fp, "files": files,
                "trials": len(record_paths(tmp / "inputs" / "trials")),
                "analyses": [_analysis(a) for a in pooled["analyses"]],
                "announcement": announcement(results_dir), **extra}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    _fsync_tree(tmp)


def _analysis(a: dict) -> dict:
    """An analysis as the manifest lists it: estimate and CI on the measure's natural scale (a
    ratio, never its logarithm), and for a ratio measure also the log values the model works in."""
    import math

    from livingmeta.stats.effects import RATIO_MEASURES
    out = {k: a.get(k) for k in ("outcome", "timepoint", "k", "measure")}
    if "model" not in a:
        return out
    values = {k: a["model"][k] for k in ("estimate", "ci_lower", "ci_upper")}
    if a.get("measure") in RATIO_MEASURES:
        return out | {k: math.exp(v) for k, v in values.items()} | {f"log_{k}": v for k, v in values.items()}
    return out | values


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
