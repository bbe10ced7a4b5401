"""Third-party data stays outside the repository (README, "Third-party data").

Other people's data (Metapsy releases, R meta's RevMan files, SYNERGY) lives in ../shared/data and
is read there; users import it. These guards fail when a copy of one of those files, or trial
records converted from one, enter the repository: every file git tracks, as git's index holds it
(what the next commit ships; CI runs them on a clean clone, so whatever is committed is checked).
A working tree is read no further: after `make metapsy` the psychotherapy review's tracked
review.yaml is rewritten on that machine, and a user's own imported reviews sit untracked beside
the default one; both are the documented use, not a copy shipped, until they are staged. The
default review's own source, ../shared/data/exercise-depression (our extraction from the
published Cochrane review), ships by design.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared_data import ROOT, shared_path

OUR_OWN = ("exercise-depression",)  # folders of ../shared/data that are this project's own data


def _git(*args: str, stdin: bytes | None = None) -> bytes:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, input=stdin, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs a git checkout of the project (git ls-files)")


def repository_files() -> Iterator[tuple[str, bytes]]:
    """(path, content) of every file git tracks, as the index holds it."""
    staged = [line.split(b"\t", 1) for line in _git("ls-files", "-z", "--stage").split(b"\0") if line]
    blobs = [(meta.split()[1], name.decode("utf-8", "surrogateescape")) for meta, name in staged
             if not meta.startswith((b"120000", b"160000"))]  # symlinks and submodules hold no data
    batch = _git("cat-file", "--batch", stdin=b"".join(blob + b"\n" for blob, _ in blobs))
    at = 0
    for _, name in blobs:
        header_end = batch.index(b"\n", at)
        size = int(batch[at:header_end].split()[2])
        yield name, batch[header_end + 1:header_end + 1 + size]
        at = header_end + 1 + size + 1  # content, then a newline


def sha256_of_file(path: Path) -> str:
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
            theirs.setdefault(sha256_of_file(path), str(path.relative_to(shared)))
    copies = [f"{name} is a copy of ../shared/data/{theirs[h]}"
              for name, content in repository_files() if (h := hashlib.sha256(content).hexdigest()) in theirs]
    assert not copies, ("third-party data must be read in place from ../shared/data, never copied in "
                        "(tests: tests/shared_data.py; users: livingmeta import):\n" + "\n".join(copies))


METAPSY_SOURCE = re.compile(r"metapsy\b[^\n]*\bdata\.csv", re.IGNORECASE)


def test_no_trial_record_is_converted_from_a_metapsy_database():
    converted = [name for name, content in repository_files()
                 if Path(name).suffix in (".yaml", ".yml") and Path(name).parent.name == "trials"
                 and METAPSY_SOURCE.search(content.decode("utf-8", "replace"))]
    assert not converted, ("trial records converted from a Metapsy database are imported by each user "
                           "(livingmeta import), not shipped:\n" + "\n".join(converted[:20]))


def test_no_review_in_the_repository_was_imported_whole_from_someone_elses_file():
    imported = [name for name, content in repository_files()
                if Path(name).name == "review.yaml" and content.startswith(b"# Imported from")]
    assert not imported, "a review written by `livingmeta import` from another's file is not shipped:\n" + "\n".join(imported)
