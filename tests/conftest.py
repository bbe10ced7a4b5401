import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REVIEW = ROOT / "data" / "reviews" / "exercise-depression"


@pytest.fixture
def review_copy(tmp_path):
    """A private copy of the default review that a test may edit."""
    dst = tmp_path / "exercise-depression"
    shutil.copytree(REVIEW, dst)
    return dst
