"""Third-party data stays outside the repository (README, "Third-party data").

Other people's data (Metapsy releases, R meta's RevMan files, SYNERGY) lives in ../shared/data and
is read there; users import it. These guards fail when a copy of one of those files, or trial
records converted from one, enter the tree: tracked files, and new files not yet added (so a copy
is caught before it is committed). The default review's own source, ../shared/data/
exercise-depression (our extraction from the published Cochrane review), ships by design.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

from shared_data import ROOT, shared_path

OUR_OWN = ("exercise-depression",)  # folders of ../shared/data that are this project's own data


def repository_files() -> list[Path]:
    """Files git tracks, plus files not yet added that .gitignore does not exclude."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs a git checkout of the project (git ls-files)")
    return [ROOT / name for name in out.decode("utf-8", "surrogateescape").split("\0") if name]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def test_no_file_in_the_repository_is_a_copy_of_third_party_data():
    shared = shared_path("")
    theirs = {}
    for path in sorted(shared.rglob("*")):
        if path.is_file() and path.relative_to(shared).parts[0] not in OUR_OWN:
            theirs.setdefault(sha256(path), str(path.relative_to(shared)))
    copies = [f"{p.relative_to(ROOT)} is a copy of ../shared/data/{theirs[h]}"
              for p in repository_files() if p.is_file() and not p.is_symlink() and (h := sha256(p)) in theirs]
    assert not copies, ("third-party data must be read in place from ../shared/data, never copied in "
                        "(tests: tests/shared_data.py; users: livingmeta import):\n" + "\n".join(copies))


METAPSY_SOURCE = re.compile(r"metapsy\b[^\n]*\bdata\.csv", re.IGNORECASE)


def test_no_trial_record_is_converted_from_a_metapsy_database():
    converted = [str(p.relative_to(ROOT)) for p in repository_files()
                 if p.suffix in (".yaml", ".yml") and p.parent.name == "trials" and p.is_file()
                 and METAPSY_SOURCE.search(p.read_text(encoding="utf-8", errors="replace"))]
    assert not converted, ("trial records converted from a Metapsy database are imported by each user "
                           "(livingmeta import), not shipped:\n" + "\n".join(converted[:20]))


def test_no_review_in_the_repository_was_imported_whole_from_someone_elses_file():
    imported = [str(p.relative_to(ROOT)) for p in repository_files()
                if p.name == "review.yaml" and p.is_file()
                and p.read_text(encoding="utf-8", errors="replace").startswith("# Imported from")]
    assert not imported, "a review written by `livingmeta import` from another's file is not shipped:\n" + "\n".join(imported)
