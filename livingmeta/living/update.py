"""The unattended ``livingmeta update`` run: under the project lock, rebuild a review when its
fingerprint changed, publish the new edition atomically, then deliver it (publish folder, e-mail).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from livingmeta.living.editions import (edition_date, edition_id, latest_edition, point_latest, publish_edition,
                                        read_manifest, recover)
from livingmeta.living.fingerprint import fingerprint
from livingmeta.pipeline.config_check import with_defaults
from livingmeta.paths import INSTALL_ROOT as PROJECT_ROOT


def run_update(review: str, *, project_root: Path = PROJECT_ROOT, config_path=None, snakemake_args=(),
               log=print) -> int:
    """Rebuild and publish a new edition of ``review`` if any input changed since the last one;
    then deliver the latest edition (publish folder, e-mail) if a step of it is still pending.

    Returns 0 when up to date, when another run holds the project lock, or after publishing;
    the build's exit code if it failed (the previous edition is then untouched); 1 if a
    delivery step failed (recorded in the edition's manifest and retried by the next run)."""
    import yaml

    from livingmeta.living.runlock import clear_stale_snakemake_lock, project_lock, snakemake_command
    project_root = Path(project_root)
    config_path = Path(config_path or project_root / "config" / "config.yaml")
    config = with_defaults(yaml.safe_load(config_path.read_text()) or {})  # defaults: config.schema.yaml
    review_dir = project_root / config["data_dir"] / review
    results_dir = project_root / config["results_dir"] / review
    if not (review_dir / "review.yaml").is_file():
        log(f"livingmeta update: no review {review!r} in {review_dir.parent}")
        return 2
    publish_cfg = config.get("publish") or {}
    with project_lock(project_root, wait=False) as locked:
        if not locked:
            log("livingmeta update: another livingmeta run (update or make report) is building; nothing done")
            return 0
        results_dir.mkdir(parents=True, exist_ok=True)
        for name in recover(results_dir):
            log(f"livingmeta update: removed {name} left by an interrupted run")
        fp = fingerprint(review_dir, config_path, project_root)
        latest = latest_edition(results_dir)
        previous_fp = read_manifest(latest)["fingerprint"] if latest else None
        if previous_fp and previous_fp["all"] == fp["all"]:
            log(f"livingmeta update: {review} is up to date (edition {latest.name}); nothing changed")
            return _deliver(latest, review, review_dir, publish_cfg, log)
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or time.time())
        existing = results_dir / "editions" / edition_id(edition_date(epoch), fp["all"])
        if (existing / "manifest.json").is_file() and read_manifest(existing)["fingerprint"]["all"] == fp["all"]:
            # the inputs went back to an edition published today (or a run died before the swap)
            point_latest(results_dir, existing.name, log)
            log(f"livingmeta update: the inputs are those of edition {existing.name} (already published); "
                f"{results_dir / 'latest'} points at it again")
            return _deliver(existing, review, review_dir, publish_cfg, log)
        sm_cmd = snakemake_command(project_root, config_path)
        clear_stale_snakemake_lock(project_root, sm_cmd, log)
        cmd = [*sm_cmd, "--cores", os.environ.get("LIVINGMETA_CORES", "2"),
               "--rerun-incomplete", "--forcerun", "report_html", "changes",
               *(["--forceall"] if previous_fp and previous_fp["code"] != fp["code"] else []),
               *snakemake_args, str((results_dir / "report.pdf").relative_to(project_root))]
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
        log(f"livingmeta update: inputs changed; building {review}")
        rc = subprocess.call(cmd, cwd=project_root, env=env)
        if rc != 0:
            log(f"livingmeta update: the build failed (exit {rc}); the previous edition is unchanged")
            return rc
        edition = publish_edition(results_dir, review_dir, config_path, fp, epoch, log)
        log(f"livingmeta update: published edition {edition.name} -> {results_dir / 'latest'}")
        return _deliver(edition, review, review_dir, publish_cfg, log)


def _deliver(edition: Path, review: str, review_dir: Path, publish_cfg: dict, log) -> int:
    from livingmeta.living.delivery import deliver, pending
    if not pending(edition, publish_cfg):
        return 0
    return 0 if deliver(edition, review, publish_cfg, review_title=_title(review_dir), log=log) else 1


def _title(review_dir: Path) -> str:
    import yaml
    return (yaml.safe_load((review_dir / "review.yaml").read_text()) or {}).get("title", review_dir.name)
