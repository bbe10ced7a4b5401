"""Third-party data, read in place from ``../shared/data`` beside the project root.

Other people's data (the Metapsy database releases, R meta's RevMan files, the SYNERGY screening
sets) is published elsewhere under its own licence and is never copied into this repository
(README, "Third-party data"). Development and CI machines lay ``shared/`` beside the clone; a
test that needs one of its files asks :func:`shared_path`, which skips the test with one line
naming the file when it is absent. Benchmarks use :func:`shared_file` and print the same line.

``LIVINGMETA_SHARED_DATA`` may point at another copy of that folder.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shared_root() -> Path:
    """The folder holding the third-party data (``../shared/data`` unless the environment says)."""
    return Path(os.environ.get("LIVINGMETA_SHARED_DATA") or ROOT.parent / "shared" / "data")


def needs(rel: str) -> str:
    """The one line that says what is missing and where it is found."""
    return f"needs ../shared/data/{rel}, present on development and CI machines"


def shared_file(rel: str) -> Path | None:
    """``../shared/data/REL`` if it exists, else None (for benchmarks and scripts)."""
    path = shared_root() / rel
    return path if path.exists() else None


def shared_path(rel: str) -> Path:
    """``../shared/data/REL`` for a test; the test is skipped with one clear line when it is absent."""
    import pytest

    path = shared_file(rel)
    if path is None:
        pytest.skip(needs(rel))
    return path
