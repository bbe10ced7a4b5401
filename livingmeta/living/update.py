"""The unattended ``livingmeta update`` run and ``livingmeta publish``.

``update REVIEW``, under the project lock: when the review's fingerprint differs from its latest
edition's, build that review alone, publish the new edition atomically (or, for a review that
requires sign-off and with ``--draft``, archive it as a draft), then deliver it (publish folder,
e-mail). ``publish REVIEW EDITION --by NAME`` publishes a draft: its report is rendered again
with the sign-off in the colophon, and the edition records who signed it off and when.

The inputs are copied before the build and the edition is named by, and archives, that copy;
after the build the review's live inputs and the fingerprint the build saw must still be those
bytes, else the build is repeated (an edit made meanwhile never lands in an edition's inputs/
without being in its report).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from livingmeta.errors import LivingmetaError
from livingmeta.living.editions import now_utc, point_latest, publish_edition, recover, snapshot_inputs
from livingmeta.living.runlock import clear_stale_snakemake_lock, project_lock, run_snakemake, snakemake_command
from livingmeta.paths import INSTALL_ROOT as PROJECT_ROOT
from livingmeta.report.fingerprint import file_digests, fingerprint
from livingmeta.report.history import DRAFT_ENV, SIGNED_OFF_ENV, Archive, edition_date, read_archive

BUILD_ATTEMPTS = 3  # builds of one update when the inputs keep changing while it builds
LOCK_PATIENCE = 20.0  # seconds an update waits for a run that is ending (a killed build ends within about 10)
MAX_NAME_CHARS = 120


class UpdateError(LivingmetaError):
    """A review, draft or sign-off that update or publish cannot use."""


@dataclass
class ReviewRun:
    review: str
    project_root: Path
    config_path: Path
    config: dict
    review_dir: Path
    results_dir: Path

    @property
    def publish_cfg(self) -> dict:
        return self.config.get("publish") or {}

    @property
    def sign_off_required(self) -> bool:
        required = self.publish_cfg.get("require_sign_off")
        return required is True or (isinstance(required, list) and self.review in required)

    def title(self) -> str:
        import yaml
        return (yaml.safe_load((self.review_dir / "review.yaml").read_text()) or {}).get("title", self.review)


def review_run(review: str, project_root=PROJECT_ROOT, config_path=None) -> ReviewRun:
    from livingmeta.pipeline.config_check import load_config
    project_root = Path(project_root)
    config_path = Path(config_path or project_root / "config" / "config.yaml")
    config = load_config(config_path)
    review_dir = project_root / config["data_dir"] / review
    if not (review_dir / "review.yaml").is_file():
        raise UpdateError(f"no review {review!r} in {review_dir.parent}")
    results_dir = project_root / config["results_dir"] / review
    return ReviewRun(review, project_root, config_path, config, review_dir, results_dir)


def configured_reviews(project_root=PROJECT_ROOT, config_path=None, log=print) -> list[str]:
    """The reviews of the configuration that can be built; a listed review without trial records
    yet is left out with one line saying how to import them."""
    from livingmeta.pipeline.config_check import load_config
    from livingmeta.pipeline.reviews import buildable_reviews
    project_root = Path(project_root)
    config = load_config(config_path or project_root / "config" / "config.yaml")
    reviews, not_built = buildable_reviews(project_root / config["data_dir"], config["reviews"])
    for line in not_built:
        log(f"livingmeta update: {line}")
    return reviews


def run_updates(reviews, *, project_root=PROJECT_ROOT, config_path=None, draft=False, verbose=False, log=print) -> int:
    """``update`` for each review in turn (every review of the configuration that has trial records
    when none is named); the worst exit code."""
    reviews = list(reviews) or configured_reviews(project_root, config_path, log)
    codes = [run_update(r, project_root=project_root, config_path=config_path, draft=draft, verbose=verbose, log=log)
             for r in reviews]
    return max(codes, default=0)


def run_update(review: str, *, project_root: Path = PROJECT_ROOT, config_path=None, draft: bool = False,
               snakemake_args=(), verbose: bool = False, log=print) -> int:
    """Rebuild and publish a new edition of ``review`` if any input changed since the last one
    (with ``draft``, or when the review requires sign-off: archive it as a draft); then deliver
    the latest edition (publish folder, e-mail) if a step of it is still pending.

    Returns 0 when up to date, when another run holds the project lock, or after publishing;
    the build's exit code if it failed (the previous edition is then untouched); 1 if a
    delivery step failed (recorded beside the edition and retried by the next run), or if the
    inputs kept changing during every build; 2 for a review, date or archive it cannot use."""
    try:
        run = review_run(review, project_root, config_path)
    except LivingmetaError as e:
        log(f"livingmeta update: {e}")
        return 2
    with project_lock(run.project_root, wait=False, patience=LOCK_PATIENCE) as lock:
        if not lock:
            log("livingmeta update: another livingmeta run (update, publish or make report) is building; nothing done")
            return 0
        archive = _open_archive(run, log)
        fp = fingerprint(run.review_dir, run.config_path, run.project_root)
        latest = archive.latest
        if latest is not None and latest.fingerprint_all == fp["all"]:
            _repair_latest(run, archive, log)
            log(f"livingmeta update: {review} is up to date (edition {latest.name}); nothing changed")
            return _deliver(latest.path, run, log)
        existing = archive.find(fp["all"], drafts=False)
        if existing is not None:  # the inputs went back to an edition already published
            point_latest(run.results_dir, existing.name, log)
            log(f"livingmeta update: the inputs are those of edition {existing.name} (already published); "
                f"{run.results_dir / 'latest'} points at it again")
            return _deliver(existing.path, run, log)
        as_draft = draft or run.sign_off_required
        waiting = next((d for d in reversed(archive.drafts) if d.fingerprint_all == fp["all"]), None)
        if as_draft and waiting is not None:
            log(f"livingmeta update: draft {waiting.name} of these inputs is waiting for sign-off; publish it with "
                f"`livingmeta publish {review} {waiting.name} --by NAME`")
            return 0
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or time.time())
        refused = _dated_before_latest(archive, edition_date(epoch))
        if refused:
            log(f"livingmeta update: {refused}")
            return 2
        why = "sign-off is required for it (publish.require_sign_off)" if as_draft and not draft else None
        log(f"livingmeta update: inputs changed; building {review}" + (" as a draft" if as_draft else "")
            + (f": {why}" if why else ""))
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), DRAFT_ENV: "1" if as_draft else "0"}
        env.pop(SIGNED_OFF_ENV, None)
        code_changed = latest is not None and latest.manifest["fingerprint"].get("code") != fp["code"]
        rc, snapshot, fp = _build(run, lock, env, forceall=code_changed, snakemake_args=snakemake_args,
                                  verbose=verbose, log=log)
        if rc != 0:
            return rc
        try:
            if as_draft:
                edition = publish_edition(run.results_dir, snapshot, fp, epoch, sequence=None, draft=True, log=log)
                log(f"livingmeta update: draft {edition.name} archived in {edition}; nothing was published or mailed. "
                    f"After review, publish it with `livingmeta publish {review} {edition.name} --by NAME`")
                return 0
            edition = publish_edition(run.results_dir, snapshot, fp, epoch, sequence=archive.next_sequence(), log=log)
        finally:
            shutil.rmtree(snapshot, ignore_errors=True)
        log(f"livingmeta update: published edition {edition.name} -> {run.results_dir / 'latest'}")
        return _deliver(edition, run, log)


def run_publish(review: str, edition: str, by: str, *, project_root: Path = PROJECT_ROOT, config_path=None,
                verbose: bool = False, log=print) -> int:
    """Publish draft ``edition`` of ``review``, signed off by ``by``: render its report again with
    the sign-off in the colophon (from the same inputs: they must still be the draft's), archive it
    as a published edition recording who signed it off and when, point ``latest`` at it and
    deliver it. Raises UpdateError (exit 2) for a name, draft or inputs it cannot use."""
    by = _signer(by)
    run = review_run(review, project_root, config_path)
    with project_lock(run.project_root, wait=True, log=log) as lock:
        archive = _open_archive(run, log)
        draft = next((d for d in archive.drafts if d.name == edition), None)
        if draft is None:
            if any(e.name == edition for e in archive.published):
                log(f"livingmeta publish: edition {edition} of {review} is already published")
                return 0
            waiting = ", ".join(d.name for d in archive.drafts) or "none"
            raise UpdateError(f"no draft {edition!r} of {review} in {run.results_dir / 'drafts'} (drafts waiting: "
                              f"{waiting}); make one with `livingmeta update {review} --draft`")
        fp = fingerprint(run.review_dir, run.config_path, run.project_root)
        if fp["all"] != draft.fingerprint_all:
            then = draft.manifest["fingerprint"]
            changed = [part for part in ("data", "config", "code") if fp[part] != then.get(part)]
            raise UpdateError(f"the {' and '.join(changed)} of {review} changed since draft {edition} was built, so "
                              f"its report can no longer be rendered again as it was; build a new draft with "
                              f"`livingmeta update {review} --draft` and sign that one off")
        epoch = int(draft.manifest["source_date_epoch"])
        refused = _dated_before_latest(archive, edition_date(epoch))
        if refused:
            raise UpdateError(refused)
        signed = {"by": by, "at": now_utc()}
        log(f"livingmeta publish: rendering draft {edition} again with the sign-off of {by}")
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), DRAFT_ENV: "0", SIGNED_OFF_ENV: json.dumps(signed)}
        rc, snapshot, fp = _build(run, lock, env, forceall=False, verbose=verbose, log=log)
        if rc != 0:
            return rc
        try:
            published = publish_edition(run.results_dir, snapshot, fp, epoch, sequence=archive.next_sequence(),
                                        extra={"signed_off": signed}, log=log)
        finally:
            shutil.rmtree(snapshot, ignore_errors=True)
        shutil.rmtree(draft.path, ignore_errors=True)
        log(f"livingmeta publish: published edition {published.name}, signed off by {by}, -> "
            f"{run.results_dir / 'latest'}")
        return _deliver(published, run, log)


def _signer(by: str) -> str:
    """The name recorded with a sign-off, printed in the report and the announcement: one line of
    readable text."""
    name = " ".join((by or "").split())
    if not name:
        raise UpdateError("--by needs the name of the person signing the edition off, e.g. --by \"A. Author\"")
    if len(name) > MAX_NAME_CHARS or any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        raise UpdateError(f"--by {by[:40]!r}...: give a name of at most {MAX_NAME_CHARS} characters without "
                          "control or formatting characters")
    return name


def _open_archive(run: ReviewRun, log) -> Archive:
    """The review's archive after removing a crashed run's leftovers; what was wrong with it is logged."""
    run.results_dir.mkdir(parents=True, exist_ok=True)
    for name in recover(run.results_dir):
        log(f"livingmeta update: removed {name} left by an interrupted run")
    archive = read_archive(run.results_dir)
    for note in archive.notes:
        log(f"livingmeta update: {note}")
    return archive


def _repair_latest(run: ReviewRun, archive: Archive, log) -> None:
    """Point ``latest`` at the edition the archive takes as latest when the link lost it (a
    deleted folder, an unreadable manifest)."""
    link = run.results_dir / "latest"
    if archive.latest is not None and not (link.is_symlink() and link.resolve() == archive.latest.path.resolve()):
        point_latest(run.results_dir, archive.latest.name, log)


def _dated_before_latest(archive: Archive, date: str) -> str | None:
    """Why an edition dated ``date`` may not be published: it would be dated before one already
    published (a clock set back), and readers would see editions out of order."""
    dates = [e.manifest.get("date") for e in archive.published if e.manifest.get("date")]
    newest = max(dates, default=None)
    if newest and date < newest:
        return (f"the new edition would be dated {date}, before edition {newest} already published; the system "
                f"clock looks wrong (or SOURCE_DATE_EPOCH is set to the past): correct it and run again; nothing "
                f"was built or published")
    return None


def _build(run: ReviewRun, lock, env: dict, *, forceall: bool, snakemake_args=(), verbose: bool, log):
    """Snapshot the inputs, build the review's report from them and check that the build read the
    snapshot's bytes (the live inputs and the fingerprint in history.json are the snapshot's);
    build again when they changed meanwhile. Returns (exit code, snapshot folder, fingerprint)."""
    target = str((run.results_dir / "report.pdf").relative_to(run.project_root))
    history = run.results_dir / "history.json"
    for attempt in range(BUILD_ATTEMPTS):
        snapshot, fp = snapshot_inputs(run.results_dir, run.review_dir, run.config_path, run.project_root)
        cmd = [*snakemake_command(run.project_root, run.config_path, targets=[target]),
               "--cores", os.environ.get("LIVINGMETA_CORES", "2"), "--rerun-incomplete",
               # again after an edit: everything, as Snakemake may have recorded the edited record's checksum
               # as that of the version its job read (it takes them when the job ends)
               *(["--forceall"] if forceall or attempt > 0 else []), *snakemake_args]
        clear_stale_snakemake_lock(run.project_root, cmd, lock, log)
        rc = run_snakemake(cmd, run.project_root, lock, env=env, verbose=verbose)
        if rc != 0:
            shutil.rmtree(snapshot, ignore_errors=True)
            log(f"livingmeta update: the build failed (exit {rc}); the previous edition is unchanged")
            return rc, None, None
        built = json.loads(history.read_text())["this_edition"]["fingerprint"]["all"]
        live = fingerprint(run.review_dir, run.config_path, run.project_root)
        if built == fp["all"] == live["all"]:
            return 0, snapshot, fp
        log(f"livingmeta update: {_changed_inputs(run, snapshot)} changed while the edition was being built; "
            + ("building again" if attempt + 1 < BUILD_ATTEMPTS else "nothing was published"))
        shutil.rmtree(snapshot, ignore_errors=True)
    log("livingmeta update: the inputs changed during every build; run `livingmeta update` again when the edits "
        "are done (the previous edition is unchanged)")
    return 1, None, None


def _changed_inputs(run: ReviewRun, snapshot: Path) -> str:
    before, now = file_digests(snapshot / "review"), file_digests(run.review_dir)
    names = sorted(name for name in set(before) | set(now) if before.get(name) != now.get(name))
    if (snapshot / "config.yaml").read_bytes() != run.config_path.read_bytes():
        names.append(str(run.config_path.name))
    return ", ".join(names) or "the inputs"


def _deliver(edition: Path, run: ReviewRun, log) -> int:
    from livingmeta.living.delivery import deliver, pending
    if not pending(edition, run.publish_cfg):
        return 0
    return 0 if deliver(edition, run.review, run.publish_cfg, review_title=run.title(), log=log) else 1

