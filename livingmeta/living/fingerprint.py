"""``livingmeta fingerprint REVIEW [--explain]``: a review's input fingerprint, what each part
covers and what is left out, and how it compares with the latest edition's, so a user can tell
before running ``update`` whether it would publish a new edition, and why.

The fingerprint itself is livingmeta.report.fingerprint (the build computes it too).
"""

from __future__ import annotations

from pathlib import Path

from livingmeta.report.fingerprint import (CODE_EXCLUDED, CODE_PATTERNS, NOT_ANALYSIS, PARTS, analysis_settings,
                                             code_files, data_files, fingerprint, sha256_file)

__all__ = ["fingerprint", "sha256_file", "describe"]

WHY_EXCLUDED = {"livingmeta/living/": "archiving and delivering editions", "livingmeta/cli.py": "the command line"}


def describe(review_dir, config_path, project_root, results_dir, *, explain: bool) -> list[str]:
    """The lines ``livingmeta fingerprint`` prints."""
    from livingmeta.report.history import read_archive
    review_dir, config_path, project_root = Path(review_dir), Path(config_path), Path(project_root)
    fp = fingerprint(review_dir, config_path, project_root)
    lines = [f"{review_dir.name}: fingerprint {fp['all']}"] + [f"  {part:<6} {fp[part]}" for part in PARTS]
    archive = read_archive(results_dir)
    latest = archive.latest
    if latest is None:
        verdict = "no edition is published yet: `livingmeta update` would publish the first"
    elif latest.fingerprint_all == fp["all"]:
        verdict = f"the same as the latest edition, {latest.name}: `livingmeta update` would publish nothing"
    else:
        differ = [p for p in PARTS if latest.manifest["fingerprint"].get(p) != fp[p]]
        verdict = (f"differs from the latest edition, {latest.name}, in its {' and '.join(differ)}: `livingmeta "
                   f"update` would publish a new edition (named <date>-{fp['all'][:8]})")
    if not explain:
        return lines + [verdict]
    from livingmeta.pipeline.records import record_paths
    data = data_files(review_dir)
    records = len(record_paths(review_dir / "trials"))
    ledger = len(data) - records - 1
    settings = analysis_settings(config_path)
    code = code_files(project_root)
    lines += [
        "",
        f"data   = {len(data)} files: {review_dir / 'review.yaml'}, the {records} trial records in "
        f"{review_dir / 'trials'} (*.yaml and *.yml)"
        + (f" and the {ledger} files of the surveillance ledger in {review_dir / 'surveillance'}" if ledger else "")
        + ", byte for byte: any edit, comments included, is a new edition",
        f"config = the analysis settings of {config_path}, as the build reads them (defaults filled in; comments, "
        f"layout and key order do not count): {', '.join(sorted(settings))}",
        f"         not covered (they change no number or word of a report): {', '.join(NOT_ANALYSIS)} (which "
        f"reviews to build, where files live, and how editions are delivered: publish folder, feed, e-mail, "
        f"sign-off)",
        f"code   = {len(code)} files under {project_root} that compute the report: {', '.join(CODE_PATTERNS)}",
        "         not covered: " + ", ".join(f"{p} ({WHY_EXCLUDED[p]})" for p in CODE_EXCLUDED),
        "all    = SHA-256 of the three; its first 8 characters name the edition (<date>-<8 characters>)",
    ]
    return lines + ["", verdict]
