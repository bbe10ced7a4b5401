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


PROJECT_PARTS = ["Snakefile", "workflow", "scripts", "templates", "config", "data", "environment.yml"]


def copy_project(dst: Path) -> Path:
    """A private copy of the project (code + default review) that a test may edit and build."""
    dst.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        src = ROOT / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst / part)
    return dst
