"""An `import --sync` killed at any moment loses nothing (issue 23 F6, F20): the review is swapped
in one atomic step; where it cannot be, a kill between the two renames is repaired by the next
import before it reads the review (ids of renamed studies, hand-written review.yaml keys and the
PRISMA history kept); scratch folders of killed imports are removed by the next import.

Data: the SYNTHETIC RoB 2 database of tests/fixtures/metapsy-rob2 and a second release made from
it here (one study renamed, its full reference unchanged; one study corrected)."""

import csv
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from livingmeta.living.importers import metapsy, review_writer
from livingmeta.pipeline.records import load_review

ROOT = Path(__file__).resolve().parents[1]
RELEASE_1 = ROOT / "tests" / "fixtures" / "metapsy-rob2" / "1.0.0"
RENAMED_FROM, RENAMED_TO = "Synthetic-B, 2012", "Synthetic-Bee, 2012"


def second_release(tmp_path) -> Path:
    """Release 1.1.0: Synthetic-B renamed (same full reference), one mean of Synthetic-A corrected."""
    folder = tmp_path / "db" / "1.1.0"
    shutil.copytree(RELEASE_1, folder)
    header, *rows = list(csv.reader(io.StringIO((folder / "data.csv").read_text()), delimiter=";"))
    for row in rows:
        if row[header.index("study")] == RENAMED_FROM:
            row[header.index("study")] = RENAMED_TO
    rows[0][header.index("mean_arm1")] = "20,5"
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\n").writerows([header, *rows])
    (folder / "data.csv").write_text(out.getvalue())
    return folder


def first_import(tmp_path) -> Path:
    """Release 1 imported, then a review author's own key added to review.yaml."""
    target = tmp_path / "reviews" / "ptsd"
    metapsy.import_metapsy(target, RELEASE_1)
    definition = yaml.safe_load((target / "review.yaml").read_text())
    definition["report"] = {"keywords": ["written by hand"]}
    (target / "review.yaml").write_text(yaml.safe_dump(definition, sort_keys=False, allow_unicode=True))
    return target


def assert_review_kept_its_identity(target):
    definition = yaml.safe_load((target / "review.yaml").read_text())
    assert definition["report"] == {"keywords": ["written by hand"]}
    labels = {r["id"]: r["label"] for r in load_review(target).trials}
    assert labels["synthetic-b-2012"] in (RENAMED_FROM, RENAMED_TO)  # the renamed study keeps its id
    assert not any(i.startswith("synthetic-bee") for i in labels)
    assert "Metapsy release 1.0.0" in [e["label"] for e in definition["search_flow"]]  # PRISMA history


KILL_BETWEEN_RENAMES = """
import os, sys
from livingmeta.living.importers import review_writer
review_writer.exchange_paths = lambda a, b: False      # a kernel or file system without RENAME_EXCHANGE
real_rename = os.rename
def rename(src, dst, **kw):
    real_rename(src, dst, **kw)
    if str(dst).endswith(".previous"):
        os._exit(9)                                       # killed between the two renames
os.rename = rename
from livingmeta.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_sync_killed_between_the_two_renames_is_repaired_by_the_next_import(tmp_path):
    target = first_import(tmp_path)
    release_2 = second_release(tmp_path)
    killed = subprocess.run([sys.executable, "-c", KILL_BETWEEN_RENAMES, "import", str(target), str(release_2),
                             "--sync"], capture_output=True, text=True)
    assert killed.returncode == 9 and not target.exists()  # the state F6 describes: no review
    again = subprocess.run([sys.executable, "-m", "livingmeta.cli", "import", str(target), str(release_2), "--sync"],
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"warning: restored {target}" in again.stdout
    assert f"changed: {RENAMED_TO} (synthetic-b-2012) -- renamed from {RENAMED_FROM!r}" in again.stdout
    assert_review_kept_its_identity(target)
    assert not list(target.parent.glob(".*.import-*"))


def test_scratch_folders_of_killed_imports_are_removed_by_the_next_import(tmp_path):
    target = first_import(tmp_path)
    left = [target.parent / ".ptsd.import-k1ll3d00", target.parent / ".other-review.import-abcd1234"]
    for scratch in left:
        (scratch / "ptsd" / "trials").mkdir(parents=True)
        (scratch / "ptsd" / "trials" / "x.yaml").write_text("id: x\n")
    report = metapsy.import_metapsy(target, second_release(tmp_path), sync=True)
    assert not any(p.exists() for p in left)
    assert f"removed {left[0]}, left by an import that did not finish" in report.warnings
    assert_review_kept_its_identity(target)


def test_the_review_is_swapped_in_one_atomic_step_where_the_kernel_can(tmp_path, monkeypatch):
    target = first_import(tmp_path)
    swaps = []
    real = review_writer.exchange_paths

    def spy(a, b):
        swaps.append(real(a, b))
        return swaps[-1]
    monkeypatch.setattr(review_writer, "exchange_paths", spy)
    monkeypatch.setattr(os, "rename", lambda *a, **k: pytest.fail(f"two-step rename used: {a}"))
    metapsy.import_metapsy(target, second_release(tmp_path), sync=True)
    assert swaps == [True]
    assert_review_kept_its_identity(target)


def test_imports_into_one_folder_take_turns(tmp_path):
    """The lock a scratch folder's owner holds: a second import waits instead of deleting the
    first one's scratch folder as stale."""
    target = tmp_path / "reviews" / "ptsd"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom livingmeta.living.importers.review_writer import import_lock\n"
        f"with import_lock({str(target)!r}):\n    print('locked', flush=True)\n    time.sleep(3)\n")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    start = time.monotonic()
    metapsy.import_metapsy(target, RELEASE_1)
    assert time.monotonic() - start > 1.5  # waited for the holder
    holder.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("atomic_swap", [True, False], ids=["renameat2", "two-renames"])
def test_kill_9_loop_an_interrupted_sync_never_loses_the_review(tmp_path, atomic_swap):
    """20 syncs between two releases, each killed with SIGKILL at a random moment of its run:
    after each kill the next import finds the review whole (or repairs it), the renamed study
    keeps its id, the hand-written key survives, and no scratch folder is left at the end."""
    target = first_import(tmp_path)
    releases = [RELEASE_1, second_release(tmp_path)]
    code = ("import sys\nfrom livingmeta.living.importers import review_writer\n"
            + ("" if atomic_swap else "review_writer.exchange_paths = lambda a, b: False\n")
            + "from livingmeta.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code, "import", str(target), str(releases[1]), "--sync"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    duration = time.monotonic() - start
    rng = random.Random(20)
    outcomes = []
    for run in range(20):
        proc = subprocess.Popen([sys.executable, "-c", code, "import", str(target), str(releases[run % 2]), "--sync"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 1.0) * duration)
        proc.send_signal(signal.SIGKILL)
        outcomes.append(proc.wait())
        if target.exists():  # whole, or one of the two releases exactly
            assert_review_kept_its_identity(target)
        else:  # only possible between the two renames
            assert not atomic_swap
    assert -signal.SIGKILL in outcomes  # the loop did kill imports mid-run
    final = subprocess.run([sys.executable, "-c", code, "import", str(target), str(releases[1]), "--sync"],
                           capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert_review_kept_its_identity(target)
    assert not list(target.parent.glob(".*.import-*"))
    print(f"{'renameat2' if atomic_swap else 'two renames'}: 20 syncs killed at random in a {duration:.1f} s run; "
          f"{outcomes.count(-signal.SIGKILL)} killed, {outcomes.count(0)} had finished")
