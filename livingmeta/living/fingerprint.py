"""The input fingerprint of an edition: SHA-256 of the review's data, its configuration and the code.

An edition is named by it (livingmeta.living.editions), ``update`` rebuilds only when it changed
(livingmeta.living.update), and the report prints it so a reader can tell two builds apart.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from livingmeta.paths import INSTALL_ROOT as PROJECT_ROOT

CODE_PATTERNS = ("Snakefile", "livingmeta/**/*.py", "scripts/*.py", "workflow/**/*.smk", "workflow/schemas/*.yaml",
                 "templates/**/*", "requirements/*.txt")


def sha256_file(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _files(root: Path, patterns) -> list[Path]:
    out = set()
    for pat in patterns:
        out.update(p for p in root.glob(pat) if p.is_file() and "__pycache__" not in p.parts)
    return sorted(out)


def fingerprint(review_dir, config_path, project_root: Path = PROJECT_ROOT) -> dict:
    """SHA-256 of everything an edition depends on, in three parts: the review's data (review.yaml
    and trial records), the analysis configuration, and the code (engine, rules, templates)."""
    review_dir, project_root = Path(review_dir), Path(project_root)

    def digest(paths, base):
        h = hashlib.sha256()
        for p in paths:
            h.update(str(p.relative_to(base)).encode() + b"\0" + p.read_bytes() + b"\0")
        return h.hexdigest()

    from livingmeta.pipeline.records import record_paths
    from livingmeta.surveillance.ledger import files as ledger_files  # a review's searches are its data too
    data = [review_dir / "review.yaml", *record_paths(review_dir / "trials"), *ledger_files(review_dir)]
    parts = {"data": digest(data, review_dir), "config": digest([Path(config_path)], Path(config_path).parent),
             "code": digest(_files(project_root, CODE_PATTERNS), project_root)}
    parts["all"] = hashlib.sha256("".join(parts[k] for k in ("data", "config", "code")).encode()).hexdigest()
    return parts
