"""The input fingerprint of an edition: SHA-256 of what the report is computed from, in three parts.

- **data**: the review's ``review.yaml``, its trial records (``records.record_paths``) and its
  surveillance ledger, if any (``surveillance.ledger.files``);
- **config**: the analysis settings of the configuration, read as the build reads them (defaults
  filled in, YAML 1.2 numbers), so a comment or the order of keys changes nothing, and without
  the settings that only say which reviews to build, where files live and how an edition is
  delivered (``NOT_ANALYSIS``: adding a subscriber or a publish folder is not a new edition);
- **code**: the files that compute the report (engine, rules, rule scripts, schemas, templates,
  pinned dependencies), not the command line or the living-review modules that archive and
  deliver editions (``livingmeta/living``: no rule uses them).

An edition is named by it, ``livingmeta update`` rebuilds only when it changed, the ``history``
rule tells this build's edition from the archived ones by it, and the report prints it.
``livingmeta fingerprint REVIEW --explain`` lists what each part covers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from livingmeta.paths import INSTALL_ROOT as PROJECT_ROOT

CODE_PATTERNS = ("Snakefile", "livingmeta/**/*.py", "scripts/*.py", "workflow/**/*.smk", "workflow/schemas/*.yaml",
                 "templates/**/*", "requirements/*.txt")
# Code that never runs in a build: the command line, and archiving and delivering editions.
CODE_EXCLUDED = ("livingmeta/living/", "livingmeta/cli.py")
# Settings that change no number or word of a report: which reviews a run builds, where files
# live, and delivery (publish folder, feed, e-mail, sign-off).
NOT_ANALYSIS = ("reviews", "data_dir", "results_dir", "publish")
PARTS = ("data", "config", "code")


def sha256_file(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def data_files(review_dir) -> list[Path]:
    """The review's data as the fingerprint and the edition snapshot read it: review.yaml, the
    trial records and, when the review has one, its surveillance ledger (its searches are its data
    too: the PRISMA counts and the update trigger come from them)."""
    from livingmeta.pipeline.records import record_paths
    from livingmeta.surveillance.ledger import files as ledger_files
    review_dir = Path(review_dir)
    return [review_dir / "review.yaml", *record_paths(review_dir / "trials"), *ledger_files(review_dir)]


def code_files(project_root) -> list[Path]:
    root = Path(project_root)
    out = set()
    for pattern in CODE_PATTERNS:
        out.update(p for p in root.glob(pattern) if p.is_file() and "__pycache__" not in p.parts
                   and not p.relative_to(root).as_posix().startswith(CODE_EXCLUDED))
    return sorted(out)


def analysis_settings(config) -> dict:
    """The settings the fingerprint covers: ``config`` (a mapping, or the path of a configuration
    file) with its defaults filled in, less ``NOT_ANALYSIS``."""
    from livingmeta.pipeline.config_check import load_config, with_defaults
    config = load_config(config) if isinstance(config, (str, Path)) else with_defaults(dict(config))
    return {k: v for k, v in config.items() if k not in NOT_ANALYSIS}


def _digest_files(paths, base: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).relative_to(base).as_posix().encode() + b"\0" + Path(p).read_bytes() + b"\0")
    return h.hexdigest()


def settings_digest(settings: dict) -> str:
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def combine(parts: dict) -> dict:
    """``parts`` with ``all``, the digest that names an edition."""
    return {**{k: parts[k] for k in PARTS},
            "all": hashlib.sha256("".join(parts[k] for k in PARTS).encode()).hexdigest()}


def fingerprint(review_dir, config, project_root=PROJECT_ROOT) -> dict:
    """SHA-256 of everything an edition depends on: {"data", "config", "code", "all"}.
    ``config``: the configuration file's path or the loaded mapping (as the Snakefile has it)."""
    review_dir, project_root = Path(review_dir), Path(project_root)
    return combine({"data": _digest_files(data_files(review_dir), review_dir),
                    "config": settings_digest(analysis_settings(config)),
                    "code": _digest_files(code_files(project_root), project_root)})


def file_digests(review_dir) -> dict:
    """Relative path -> SHA-256 of each data file: which inputs differ between two moments."""
    review_dir = Path(review_dir)
    return {p.relative_to(review_dir).as_posix(): sha256_file(p) for p in data_files(review_dir)}
