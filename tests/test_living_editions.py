"""Issue 14 items 1, 3, 5, 16 and 17 on a private copy of the project, in order (each test builds
on the editions the previous ones published):

16: a plain build is dated from its inputs (not the clock), so rebuilds give the same bytes;
17: after `update` publishes an edition, a plain build of the same inputs is that edition's
    report, byte for byte, compared with the edition before it;
1:  `latest` follows the inputs back to an edition already published, also after a kill between
    the two renames and when `latest` is a real folder;
3:  a failed copy to the publish folder is recorded and the next `update` retries it;
5:  `make report` (`livingmeta build`) waits for a running update, and clears Snakemake's lock
    left by a killed run instead of failing with LockException.

Runs without SOURCE_DATE_EPOCH, as a user's `make report` and cron's `update` do."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import add_synthetic_trial, copy_project

from livingmeta.living import delivery, editions, runlock

REVIEW = "exercise-depression"
ENV = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}


def run(work, *args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=ENV, cwd=work)


def update(work):
    return run(work, "-m", "livingmeta.cli", "update", REVIEW, "--root", str(work))


def plain_build(work, *extra):
    """What `make report` ran before it took the project lock: Snakemake with the default profile."""
    return run(work, "-m", "snakemake", "--profile", "workflow/profiles/default", "--cores", "2", *extra)


def results(work) -> Path:
    return work / "results" / REVIEW


def latest(work) -> Path:
    return (results(work) / "latest").resolve()


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("living-editions"))


def test_16_a_plain_build_takes_its_date_from_the_inputs_not_the_clock(work):
    """Inputs last changed on 2024-03-05: the report is dated that day whenever it is built, so a
    rebuild on any later day (or second) gives the same bytes."""
    changed = 1709640000  # 2024-03-05T12:00:00Z
    review_dir = work / "data" / "reviews" / REVIEW
    for p in [review_dir / "review.yaml", *(review_dir / "trials").glob("*.yaml"), work / "config" / "config.yaml"]:
        os.utime(p, (changed, changed))
    res = plain_build(work)
    assert res.returncode == 0, res.stderr[-3000:]
    context = json.loads((results(work) / "report_context.json").read_text())
    assert context["edition"]["date"] == "2024-03-05"
    assert context["source_date_epoch"] == changed
    first = (results(work) / "report.pdf").read_bytes()
    time.sleep(1.5)  # timestamps inside a PDF are in seconds
    res = plain_build(work, "--forcerun", "report_html", "report_pdf")
    assert res.returncode == 0, res.stderr[-3000:]
    assert (results(work) / "report.pdf").read_bytes() == first


def test_17_a_plain_build_of_the_latest_editions_inputs_is_that_edition(work):
    res = update(work)
    assert res.returncode == 0, res.stderr[-3000:]
    first = latest(work)
    add_synthetic_trial(work, "synthetic-one-2026")
    res = update(work)
    assert res.returncode == 0, res.stderr[-3000:]
    second = latest(work)
    assert second != first
    time.sleep(1.5)
    res = plain_build(work, "--forcerun", "changes", "report_html", "report_pdf")
    assert res.returncode == 0, res.stderr[-3000:]
    changes = json.loads((results(work) / "changes.json").read_text())
    assert changes["previous_edition"] == first.name  # not the edition itself
    assert changes["added"] == ["Synthetic One 2026"]
    assert (results(work) / "report.pdf").read_bytes() == (second / "report.pdf").read_bytes()


def test_1_a_kill_between_the_edition_rename_and_the_latest_swap_is_finished_later(work):
    second = latest(work)
    first = work / "results" / REVIEW / "editions" / json.loads((second / "changes.json").read_text())["previous_edition"]
    (results(work) / "latest").unlink()
    os.symlink(Path("editions") / first.name, results(work) / "latest")  # as if killed before the swap
    manifest = editions.read_manifest(second)
    editions.publish_edition(results(work), None, manifest["fingerprint"], manifest["source_date_epoch"],
                             sequence=None)  # the edition folder is whole: only the latest swap is left to do
    assert latest(work) == second


def test_1_inputs_reverted_to_a_published_edition_make_it_latest_again(work):
    second = latest(work)
    first_name = json.loads((second / "changes.json").read_text())["previous_edition"]
    trial = work / "data" / "reviews" / REVIEW / "trials" / "synthetic-one-2026.yaml"
    trial.unlink()
    res = update(work)
    assert res.returncode == 0, res.stderr[-3000:]
    assert latest(work).name == first_name
    assert "building" not in res.stderr  # that edition exists: nothing to rebuild
    res = update(work)
    assert res.returncode == 0 and "up to date" in res.stderr, res.stderr[-3000:]
    assert latest(work).name == first_name


def test_1_a_latest_that_is_a_real_folder_is_moved_aside_not_stuck(work):
    link = results(work) / "latest"
    target = link.resolve()
    link.unlink()
    import shutil
    shutil.copytree(target, link)  # e.g. made by hand
    add_synthetic_trial(work, "synthetic-two-2026")
    res = update(work)
    assert res.returncode == 0, res.stderr[-3000:]
    assert link.is_symlink() and (latest(work) / "manifest.json").is_file()
    assert editions.read_manifest(latest(work))["trials"] == 36
    assert "was a folder, not a link" in res.stderr
    moved = list(results(work).glob("latest.moved-*"))
    assert len(moved) == 1 and (moved[0] / "report.pdf").is_file()  # nothing lost


def test_3_a_failed_publish_is_recorded_and_retried_by_the_next_update(work, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the publish folder's parent should be")  # unwritable, even for root
    config = work / "config" / "config.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["publish"] = {"dir": str(blocker / "public"), "base_url": ""}
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = update(work)
    assert res.returncode == 1, res.stderr[-3000:]
    assert "Traceback" not in res.stderr and "next run retries" in res.stderr
    ed = latest(work)
    assert delivery.delivery_state(ed)["publish"]["status"] == "failed"
    blocker.unlink()
    res = update(work)  # inputs unchanged: only the pending step runs
    assert res.returncode == 0, res.stderr[-3000:]
    assert "up to date" in res.stderr
    assert (blocker / "public" / f"{REVIEW}-{ed.name}.pdf").read_bytes() == (ed / "report.pdf").read_bytes()
    assert delivery.delivery_state(ed)["publish"] | {"at": None} == {
        "status": "done", "attempts": 2, "error": None, "at": None}


def test_5_make_report_waits_for_a_running_update(work):
    with runlock.project_lock(work, wait=False) as got:  # what a running `update` holds
        assert got
        proc = subprocess.Popen([sys.executable, "-m", "livingmeta.cli", "build", "--dry-run"], cwd=work, env=ENV,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        still_waiting = proc.poll() is None
    out, err = proc.communicate(timeout=120)
    assert still_waiting, err[-2000:]
    assert "waiting for it to finish" in err
    assert proc.returncode == 0, err[-2000:]


def test_5_a_snakemake_lock_left_by_a_killed_build_is_cleared(work):
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--profile", "workflow/profiles/default", "--cores", "1",
                             "--forcerun", "report_html", "report_pdf"], cwd=work, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    locks = work / ".snakemake" / "locks"
    for _ in range(200):
        if locks.is_dir() and any(locks.iterdir()):
            break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # `make report` killed mid-build
    proc.wait()
    assert any(locks.iterdir())
    res = run(work, "-m", "livingmeta.cli", "build", "--cores", "2")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "LockException" not in res.stderr and "snakemake --unlock" in res.stderr
    assert (results(work) / "report.pdf").is_file()
