# Shared helpers for the rules: where a review's inputs live.
from pathlib import Path

from livingmeta.pipeline.records import record_paths
from livingmeta.pipeline.warm import start_warm_process, stop_warm_process


def trial_records(wildcards):
    """Every trial record of the review (*.yaml and *.yml, regular files: livingmeta.pipeline.records.record_paths,
    the one definition check, the fingerprint and the snapshot use); adding or removing one reruns extraction."""
    return [str(p) for p in record_paths(f"{DATA}/{wildcards.review}/trials")]


def surveillance_ledger(wildcards):
    """The review's surveillance ledger (searches, runs, candidates, decisions, registry), when it
    has one: the PRISMA counts and the update trigger are read from it."""
    from livingmeta.surveillance.ledger import files
    return [str(p) for p in files(f"{DATA}/{wildcards.review}")]


def review_definition(wildcards):
    return f"{DATA}/{wildcards.review}/review.yaml"


def previous_edition_dir(wildcards):
    """The edition to compare with: the latest published one, or the one before it when the
    inputs are the latest edition's own (resolved, so a later edition does not change this path)."""
    from livingmeta.living.editions import comparison_edition
    from livingmeta.living.fingerprint import fingerprint

    fp = fingerprint(f"{DATA}/{wildcards.review}", config_file(), project_root=Path.cwd())
    ed = comparison_edition(f"{RESULTS}/{wildcards.review}", fp["all"])
    return str(ed) if ed else ""


def previous_edition_files(wildcards):
    ed = previous_edition_dir(wildcards)
    return [f"{ed}/manifest.json", f"{ed}/pooled.json"] if ed else []


def config_file():
    """The configuration file in use (the last one given), which the edition fingerprint covers."""
    files = list(workflow.overwrite_configfiles or []) or ["config/config.yaml"]
    return str(files[-1])


def end_of_run():
    """Stop the warm process, and release Snakemake's idle rescheduling timer: its scheduler
    arms a one-second threading.Timer after every pass (the job rate limit's re-check), and
    Python waits for that non-daemon thread before exiting, a second added to every build."""
    import threading

    stop_warm_process()
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()
