"""Archived editions: where they live, the 'what changed' comparison, publishing one atomically and
recovering after a crash (the unattended ``update`` run that drives them is livingmeta.living.update;
the input fingerprint that names them is livingmeta.living.fingerprint).

An edition is ``results/<review>/editions/<date>-<hash8>/``: the PDF, the fitted results, and a
snapshot of the inputs, plus ``manifest.json``. ``results/<review>/latest`` is a symbolic link to
the newest edition. An edition is assembled in a hidden temporary folder and renamed into place,
and ``latest`` is swapped with an atomic rename, so a run that dies at any moment leaves the
previous edition whole; the next run removes the leftovers. Runs are kept apart by the project
lock (livingmeta.living.runlock); delivering an edition (publish folder, e-mail) is livingmeta.living.delivery.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

from livingmeta.living.fingerprint import sha256_file

EDITION_FILES = ("report.pdf", "report.html", "pooled.json", "moderators.json", "small_study_effects.json",
                 "changes.json", "cumulative.json", "effects.csv", "extracted/arms.csv", "extracted/trials.csv",
                 "bayes.json", "sequential.json")
TMP_PREFIX = ".tmp-edition-"


def edition_date(epoch: int | None = None) -> str:
    """The edition's date: from SOURCE_DATE_EPOCH when set (reproducible builds), else today (UTC)."""
    if epoch is None:
        env = os.environ.get("SOURCE_DATE_EPOCH")
        epoch = int(env) if env and env.isdigit() else int(time.time())
    return datetime.fromtimestamp(epoch, tz=timezone.utc).date().isoformat()


def build_epoch(fp: dict, review_dir, config_path, results_dir) -> tuple[int, str]:
    """The build's SOURCE_DATE_EPOCH (the edition date, and every timestamp inside the PDF), from
    the inputs, so a rebuild of the same inputs is byte-identical without the caller setting it:
    the SOURCE_DATE_EPOCH variable when set; else the epoch recorded by the latest edition when
    the inputs are that edition's (the rebuild is that edition's report); else the time the
    review's data or configuration last changed: the last git commit that touched them when they
    are committed and unmodified (the same in every clone), else their newest modification time.
    Returns (epoch, where it came from)."""
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env and env.isdigit():
        return int(env), "SOURCE_DATE_EPOCH"
    latest = latest_edition(results_dir)
    if latest is not None:
        manifest = read_manifest(latest)
        if manifest["fingerprint"]["all"] == fp["all"] and manifest.get("source_date_epoch") is not None:
            return int(manifest["source_date_epoch"]), f"edition {latest.name}"
    from livingmeta.pipeline.records import record_paths
    review_dir = Path(review_dir)
    inputs = [review_dir / "review.yaml", *record_paths(review_dir / "trials"), Path(config_path)]
    committed = _last_commit_epoch(inputs)
    if committed is not None:
        return committed, "the last commit of the inputs"
    return max(int(p.stat().st_mtime) for p in inputs), "the newest input file"


def _last_commit_epoch(paths) -> int | None:
    """Commit time of the last git commit touching ``paths`` if they are all committed unchanged;
    None outside a git checkout, without git, or with uncommitted changes (then mtimes decide)."""
    import shutil
    import subprocess
    if shutil.which("git") is None:
        return None
    paths = [str(Path(p).resolve()) for p in paths]
    cwd = Path(paths[0]).parent
    try:  # fixed arguments, no shell: file names are passed as data
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=cwd, capture_output=True,
                               text=True, timeout=30)
        if dirty.returncode != 0 or dirty.stdout.strip():
            return None
        out = subprocess.run(["git", "log", "-1", "--format=%ct", "--", *paths], cwd=cwd, capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = out.stdout.strip()
    return int(value) if out.returncode == 0 and value.isdigit() else None


def comparison_edition(results_dir, fp_all: str) -> Path | None:
    """The edition a build is compared with in 'What changed': the latest edition, unless the
    inputs are that edition's own, in which case the edition before it (so rebuilding the latest
    edition's inputs reproduces that edition's report instead of comparing it with itself)."""
    latest = latest_edition(results_dir)
    if latest is None or read_manifest(latest)["fingerprint"]["all"] != fp_all:
        return latest
    changes = latest / "changes.json"
    before = json.loads(changes.read_text()).get("previous_edition") if changes.is_file() else None
    if before and (latest.parent / before / "manifest.json").is_file():
        return latest.parent / before
    return None


def edition_id(date: str, fp_all: str) -> str:
    return f"{date}-{fp_all[:8]}"


def latest_edition(results_dir) -> Path | None:
    link = Path(results_dir) / "latest"
    if link.is_symlink() or link.exists():
        target = link.resolve()
        if (target / "manifest.json").is_file():
            return target
    return None


def read_manifest(edition_dir) -> dict:
    return json.loads((Path(edition_dir) / "manifest.json").read_text())


def record_hashes(trial_dir) -> dict:
    """trial id -> (label, sha256 of the record file)."""
    from livingmeta.pipeline.records import load_yaml, record_paths
    out = {}
    for p in record_paths(trial_dir):
        data, problem = load_yaml(p)  # the safe loader; an unreadable record still counts by its id
        label = data.get("label", p.stem) if not problem and isinstance(data, dict) else p.stem
        out[p.stem] = (label, sha256_file(p))
    return out


def _primary(pooled: dict, outcome: str, timepoint: str) -> dict | None:
    for a in pooled.get("analyses", []):
        if a["outcome"] == outcome and a["timepoint"] == timepoint and "model" in a:
            return a
    return None


def _conclusion(model: dict, direction: str, measure: str) -> str:
    from livingmeta.report.wording import benefit, ci_excludes_null, size_words
    if not ci_excludes_null(model["ci_lower"], model["ci_upper"]):
        return "no clear evidence of a difference"
    side = "benefit" if benefit(model["estimate"], direction) > 0 else "harm"
    return f"{size_words(model['estimate'], measure)} {side}".strip()


def compare_editions(previous: dict | None, current_records: dict, current_pooled: dict, review_def: dict) -> dict:
    """What changed since the previous edition: trials added, removed or corrected, how the
    primary pooled estimate and its CI moved, and whether the conclusion in words changed.

    ``previous``: None for the first edition, else {"edition", "records", "pooled"}."""
    outcome = next(o for o in review_def["outcomes"] if o["id"] == review_def["primary_outcome"])
    tp = outcome["timepoints"][0]["id"]
    cur = _primary(current_pooled, outcome["id"], tp)
    out = {"first_edition": previous is None, "previous_edition": None, "added": [], "removed": [], "corrected": []}
    if cur:
        out["current"] = {k: cur["model"][k] for k in ("estimate", "ci_lower", "ci_upper")} | {
            "k": cur["k"], "conclusion": _conclusion(cur["model"], outcome["direction"], cur.get("measure", "SMD"))}
    if previous is None:
        return out
    old = previous["records"]
    out["previous_edition"] = previous["edition"]
    out["added"] = sorted(current_records[i][0] for i in set(current_records) - set(old))
    out["removed"] = sorted(old[i][0] for i in set(old) - set(current_records))
    out["corrected"] = sorted(current_records[i][0] for i in set(old) & set(current_records)
                              if old[i][1] != current_records[i][1])
    prev = _primary(previous["pooled"], outcome["id"], tp)
    if prev and cur:
        out["previous"] = {k: prev["model"][k] for k in ("estimate", "ci_lower", "ci_upper")} | {
            "k": prev["k"], "conclusion": _conclusion(prev["model"], outcome["direction"], prev.get("measure", "SMD"))}
        out["estimate_change"] = cur["model"]["estimate"] - prev["model"]["estimate"]
        out["conclusion_changed"] = out["previous"]["conclusion"] != out["current"]["conclusion"]
    return out


# ------------------------------------------------------------------------------------------------
# Publishing an edition atomically.
# ------------------------------------------------------------------------------------------------
def recover(results_dir) -> list[str]:
    """Remove leftovers of a run that died half-way (temporary edition folders and links)."""
    removed = []
    eds = Path(results_dir) / "editions"
    for p in list(eds.glob(TMP_PREFIX + "*")) if eds.exists() else []:
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p.name)
    for p in Path(results_dir).glob(".latest-*"):
        p.unlink(missing_ok=True)
        removed.append(p.name)
    return removed


def publish_edition(results_dir, review_dir, config_path, fp: dict, epoch: int, log=None) -> Path:
    """Copy the build's artefacts and an input snapshot into a new edition, then point
    ``latest`` at it. Each step is write-aside-then-rename. An edition folder that already
    exists (the same inputs on the same day, or a run killed between the two renames) is
    complete (it was renamed into place whole): it is kept and ``latest`` points at it."""
    results_dir, review_dir = Path(results_dir), Path(review_dir)
    date = edition_date(epoch)
    eid = edition_id(date, fp["all"])
    eds = results_dir / "editions"
    eds.mkdir(parents=True, exist_ok=True)
    final = eds / eid
    if not final.exists():
        tmp = eds / f"{TMP_PREFIX}{eid}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            _assemble(tmp, results_dir, review_dir, config_path, fp, epoch, eid, date)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)  # e.g. a full disk: the previous edition stays latest
            raise
    point_latest(results_dir, eid, log)
    return final


def point_latest(results_dir, eid: str, log=None) -> None:
    """Make ``latest`` a link to ``editions/<eid>`` with an atomic rename. A ``latest`` that is a
    real folder (made by hand or by an old version) cannot be replaced by a rename; it is moved
    aside to ``latest.moved-<time>`` (kept, never deleted) first."""
    results_dir = Path(results_dir)
    link = results_dir / "latest"
    if link.is_dir() and not link.is_symlink():
        aside = results_dir / f"latest.moved-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}"
        os.rename(link, aside)
        if log:
            log(f"livingmeta update: {link} was a folder, not a link; moved it to {aside.name}")
    link_tmp = results_dir / f".latest-{os.getpid()}"
    link_tmp.unlink(missing_ok=True)
    os.symlink(Path("editions") / eid, link_tmp)
    os.replace(link_tmp, link)


def _assemble(tmp: Path, results_dir: Path, review_dir: Path, config_path, fp: dict, epoch: int, eid: str,
              date: str) -> None:
    files = {}
    for name in EDITION_FILES:
        src = results_dir / name
        if src.is_file():
            dst = tmp / Path(name).name
            shutil.copy2(src, dst)
            files[dst.name] = sha256_file(dst)
    inputs = tmp / "inputs"
    (inputs / "trials").mkdir(parents=True)
    shutil.copy2(review_dir / "review.yaml", inputs / "review.yaml")
    from livingmeta.pipeline.records import record_paths
    for p in record_paths(review_dir / "trials"):
        shutil.copy2(p, inputs / "trials" / p.name)
    from livingmeta.surveillance.ledger import files as ledger_files  # the surveillance ledger, when there is one
    for p in ledger_files(review_dir):
        (inputs / p.relative_to(review_dir)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, inputs / p.relative_to(review_dir))
    shutil.copy2(config_path, inputs / "config.yaml")
    pooled = json.loads((results_dir / "pooled.json").read_text())
    manifest = {"review": review_dir.name, "edition": eid, "date": date, "source_date_epoch": epoch,
                "published_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "fingerprint": fp, "files": files,
                "trials": len(record_paths(review_dir / "trials")),
                "analyses": [{k: a.get(k) for k in ("outcome", "timepoint", "k")} | (
                    {k: a["model"][k] for k in ("estimate", "ci_lower", "ci_upper")} if "model" in a else {})
                    for a in pooled["analyses"]]}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    _fsync_tree(tmp)


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
