"""Which of the reviews listed in the configuration can be built.

A review folder may ship its settings without its trial records: the psychotherapy review's data are
a third-party database that each user imports (README, "Third-party data"). Such a review is left
out of the build with one line saying how to get its records, in the words of its own review.yaml
(``import_source``), never a failed build.
"""

from __future__ import annotations

from pathlib import Path

from livingmeta.pipeline.records import load_yaml, record_paths


def awaits_import(review_dir: Path) -> bool:
    """A folder that ships a review's settings and names what to import (``import_source``), with no
    trial records yet."""
    if record_paths(Path(review_dir) / "trials"):
        return False
    definition, _ = load_yaml(Path(review_dir) / "review.yaml")
    return isinstance(definition, dict) and isinstance(definition.get("import_source"), str)


def import_hint(review_dir: Path) -> str:
    """The line printed for a listed review that has no trial records yet."""
    review = review_dir.name
    definition, _ = load_yaml(review_dir / "review.yaml")  # a problem with it is check's to name, not this line's
    source = definition.get("import_source") if isinstance(definition, dict) else None
    if isinstance(source, str) and source.strip():
        source = " ".join(source.split())
        return f"{review} has no trial records: import {source} with `livingmeta import {review} PATH`"
    return (f"{review} has no trial records: import a sheet or a whole review with `livingmeta import {review} PATH`, "
            f"or write one with `livingmeta new-trial {review} TRIAL-ID`")


def buildable_reviews(data_dir, reviews: list[str]) -> tuple[list[str], list[str]]:
    """The listed reviews that have trial records (in the listed order), and one line for each
    listed review whose folder holds a review.yaml but no records. A review whose folder is missing
    stays in the first list, so the build names it as an error."""
    build, skipped = [], []
    for review in reviews:
        folder = Path(data_dir) / review
        if (folder / "review.yaml").is_file() and not record_paths(folder / "trials"):
            skipped.append(import_hint(folder))
        else:
            build.append(review)
    return build, skipped
