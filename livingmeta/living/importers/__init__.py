"""Importers of whole reviews: the format is detected from the path.

    detect_format(path) -> "rm5" | "revman-web" | "metapsy" | "sheet"

- ``.rm5``: a RevMan 5 file (livingmeta.living.importers.rm5)
- ``.zip``: a RevMan Web "data package" (livingmeta.living.importers.revman_web)
- a folder with ``data.csv`` and ``metadata/``: a Metapsy database (livingmeta.living.importers.metapsy)
- ``.csv`` / ``.xlsx``: the data-extraction sheet of livingmeta.pipeline.intake (adds trials to a review)

Whole-review importers return an :class:`~livingmeta.living.importers.review_writer.ImportedReview`
that :func:`~livingmeta.living.importers.review_writer.write_review` writes atomically.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from livingmeta.errors import ImportFormatError


def detect_format(path: Path | str) -> str:
    """Which importer reads ``path``; a clear refusal when none does."""
    path = Path(path)
    if path.is_dir():
        if (path / "data.csv").is_file() and (path / "metadata").is_dir():
            return "metapsy"
        raise ImportFormatError(f"{path}: a folder is imported only as a Metapsy database (data.csv and metadata/); "
                                "give a .rm5 file, a RevMan Web data package (.zip) or a .csv/.xlsx sheet")
    if not path.is_file():
        raise ImportFormatError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".rm5":
        return "rm5"
    if suffix == ".zip":
        return "revman-web"
    if suffix in (".csv", ".xlsx", ".xlsm"):
        return "sheet"
    raise ImportFormatError(f"{path}: unknown format {suffix or '(no extension)'}; livingmeta imports RevMan 5 (.rm5), "
                            "RevMan Web data packages (.zip), Metapsy databases (folder) and .csv/.xlsx sheets")


def read_whole_review(path: Path | str, fmt: str):
    """Parse a whole-review source into an ImportedReview (nothing is written)."""
    module = {"rm5": "rm5", "revman-web": "revman_web", "metapsy": "metapsy"}[fmt]
    try:
        mod = importlib.import_module(f"livingmeta.living.importers.{module}")
    except ModuleNotFoundError as e:
        if e.name == f"livingmeta.living.importers.{module}":
            raise ImportFormatError(f"{path}: the {fmt} importer is not installed in this version of livingmeta") from None
        raise
    return mod.read(Path(path))
