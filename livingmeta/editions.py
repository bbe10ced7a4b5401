"""Living-review operations: input fingerprints, archived editions, the 'what changed' comparison,
and the unattended ``update`` run (lock, build, publish atomically, recover after a crash).

An edition is ``results/<review>/editions/<date>-<hash8>/``: the PDF, the fitted results, and a
snapshot of the inputs, plus ``manifest.json``. ``results/<review>/latest`` is a symbolic link to
the newest edition. An edition is assembled in a hidden temporary folder and renamed into place,
and ``latest`` is swapped with an atomic rename, so a run that dies at any moment leaves the
previous edition whole; the next run removes the leftovers.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CODE_PATTERNS = ("Snakefile", "livingmeta/**/*.py", "scripts/*.py", "workflow/**/*.smk", "workflow/schemas/*.yaml",
                 "templates/**/*")
EDITION_FILES = ("report.pdf", "report.html", "pooled.json", "moderators.json", "small_study_effects.json",
                 "changes.json", "cumulative.json", "effects.csv", "extracted/arms.csv", "extracted/trials.csv",
                 "bayes.json", "sequential.json")
TMP_PREFIX = ".tmp-edition-"


def sha256_file(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _files(root: Path, patterns) -> list[Path]:
    out = set()
    for pat in patterns:
        out.update(p for p in root.glob(pat) if p.is_file() and "__pycache__" not in p.parts)
    return sorted(out)


def fingerprint(review_dir, config_path, project_root: Path = PROJECT_ROOT) -> dict:
    """SHA-256 of everything an edition depends on, in three parts: the review's data (review.yaml
    and trial records), the analysis configuration, and the code (engine, rules, templates)."""
    review_dir, project_root = Path(review_dir), Path(project_root)

    def digest(paths, base):
        h = hashlib.sha256()
        for p in paths:
            h.update(str(p.relative_to(base)).encode() + b"\0" + p.read_bytes() + b"\0")
        return h.hexdigest()

    data = [review_dir / "review.yaml", *sorted((review_dir / "trials").glob("*.yaml"))]
    parts = {"data": digest(data, review_dir), "config": digest([Path(config_path)], Path(config_path).parent),
             "code": digest(_files(project_root, CODE_PATTERNS), project_root)}
    parts["all"] = hashlib.sha256("".join(parts[k] for k in ("data", "config", "code")).encode()).hexdigest()
    return parts


def edition_date(epoch: int | None = None) -> str:
    """The edition's date: from SOURCE_DATE_EPOCH when set (reproducible builds), else today (UTC)."""
    if epoch is None:
        env = os.environ.get("SOURCE_DATE_EPOCH")
        epoch = int(env) if env and env.isdigit() else int(time.time())
    return datetime.fromtimestamp(epoch, tz=timezone.utc).date().isoformat()


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
    from .records import load_yaml
    out = {}
    for p in sorted(Path(trial_dir).glob("*.yaml")):
        data, problem = load_yaml(p)  # the safe loader; an unreadable record still counts by its id
        label = data.get("label", p.stem) if not problem and isinstance(data, dict) else p.stem
        out[p.stem] = (label, sha256_file(p))
    return out


def _primary(pooled: dict, outcome: str, timepoint: str) -> dict | None:
    for a in pooled.get("analyses", []):
        if a["outcome"] == outcome and a["timepoint"] == timepoint and "model" in a:
            return a
    return None


def _conclusion(model: dict, direction: str) -> str:
    from .wording import benefit, ci_excludes_null, smd_size_words
    if not ci_excludes_null(model["ci_lower"], model["ci_upper"]):
        return "no clear evidence of a difference"
    side = "benefit" if benefit(model["estimate"], direction) > 0 else "harm"
    return f"{smd_size_words(model['estimate'])} {side}"


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
            "k": cur["k"], "conclusion": _conclusion(cur["model"], outcome["direction"])}
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
            "k": prev["k"], "conclusion": _conclusion(prev["model"], outcome["direction"])}
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


def publish_edition(results_dir, review_dir, config_path, fp: dict, epoch: int) -> Path:
    """Copy the build's artefacts and an input snapshot into a new edition, then point
    ``latest`` at it. Each step is write-aside-then-rename."""
    results_dir, review_dir = Path(results_dir), Path(review_dir)
    date = edition_date(epoch)
    eid = edition_id(date, fp["all"])
    eds = results_dir / "editions"
    eds.mkdir(parents=True, exist_ok=True)
    final = eds / eid
    if final.exists():
        return final  # the same inputs on the same day: that edition is already published
    tmp = eds / f"{TMP_PREFIX}{eid}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        _assemble(tmp, results_dir, review_dir, config_path, fp, epoch, eid, date)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # e.g. a full disk: the previous edition stays latest
        raise
    link_tmp = results_dir / f".latest-{os.getpid()}"
    link_tmp.unlink(missing_ok=True)
    os.symlink(Path("editions") / eid, link_tmp)
    os.replace(link_tmp, results_dir / "latest")
    return final


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
    for p in sorted((review_dir / "trials").glob("*.yaml")):
        shutil.copy2(p, inputs / "trials" / p.name)
    shutil.copy2(config_path, inputs / "config.yaml")
    pooled = json.loads((results_dir / "pooled.json").read_text())
    manifest = {"review": review_dir.name, "edition": eid, "date": date, "source_date_epoch": epoch,
                "fingerprint": fp, "files": files,
                "trials": len(list((review_dir / "trials").glob("*.yaml"))),
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


@contextlib.contextmanager
def update_lock(results_dir):
    """An exclusive, non-blocking lock; the kernel releases it when the process dies (kill -9)."""
    Path(results_dir).mkdir(parents=True, exist_ok=True)
    fh = open(Path(results_dir) / ".update.lock", "a")  # "a": an idle run must not even touch the file
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        yield False
        return
    try:
        yield True
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def run_update(review: str, *, project_root: Path = PROJECT_ROOT, config_path=None, snakemake_args=(),
               log=print) -> int:
    """Rebuild and publish a new edition of ``review`` if any input changed since the last one.

    Returns 0 when up to date, when another update holds the lock, or after publishing; the
    build's exit code if it failed (the previous edition is then untouched)."""
    import yaml
    project_root = Path(project_root)
    config_path = Path(config_path or project_root / "config" / "config.yaml")
    config = yaml.safe_load(config_path.read_text())
    review_dir = project_root / config.get("data_dir", "data/reviews") / review
    results_dir = project_root / config.get("results_dir", "results") / review
    if not (review_dir / "review.yaml").is_file():
        log(f"livingmeta update: no review {review!r} in {review_dir.parent}")
        return 2
    with update_lock(results_dir) as locked:
        if not locked:
            log(f"livingmeta update: another update of {review} is running; nothing done")
            return 0
        for name in recover(results_dir):
            log(f"livingmeta update: removed {name} left by an interrupted run")
        fp = fingerprint(review_dir, config_path, project_root)
        latest = latest_edition(results_dir)
        previous_fp = read_manifest(latest)["fingerprint"] if latest else None
        if previous_fp and previous_fp["all"] == fp["all"]:
            log(f"livingmeta update: {review} is up to date (edition {latest.name}); nothing changed")
            return 0
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or time.time())
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(project_root / "Snakefile"), "--directory",
               str(project_root), "--configfile", str(config_path), "--cores", os.environ.get("LIVINGMETA_CORES", "2"),
               "--nolock", "--rerun-incomplete", "--forcerun", "report_html", "changes",
               *(["--forceall"] if previous_fp and previous_fp["code"] != fp["code"] else []),
               *snakemake_args, str((results_dir / "report.pdf").relative_to(project_root))]
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
        log(f"livingmeta update: inputs changed; building {review}")
        rc = subprocess.call(cmd, cwd=project_root, env=env)
        if rc != 0:
            log(f"livingmeta update: the build failed (exit {rc}); the previous edition is unchanged")
            return rc
        edition = publish_edition(results_dir, review_dir, config_path, fp, epoch)
        log(f"livingmeta update: published edition {edition.name} -> {results_dir / 'latest'}")
        publish_cfg = config.get("publish") or {}
        if publish_cfg.get("dir"):
            from .publish import publish_to_directory
            published = publish_to_directory(edition, review, publish_cfg, review_title=_title(review_dir))
            log(f"livingmeta update: copied to {published['pdf']} (sha256 {published['sha256'][:12]}...)")
        return 0


def _title(review_dir: Path) -> str:
    import yaml
    return (yaml.safe_load((review_dir / "review.yaml").read_text()) or {}).get("title", review_dir.name)
