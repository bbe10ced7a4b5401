# Shared helpers for the rules: where a review's inputs live, and which archived editions it follows.
from pathlib import Path

from livingmeta.report.history import edition_plan as plan_editions
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


_EDITION_PLANS = {}


def edition_plan(wildcards):
    """This build's edition and the earlier ones it follows (livingmeta.report.history.edition_plan),
    read from the review's manifests once per run; the history rule then reads what it names."""
    if wildcards.review not in _EDITION_PLANS:
        _EDITION_PLANS[wildcards.review] = plan_editions(
            f"{DATA}/{wildcards.review}", f"{RESULTS}/{wildcards.review}", config, config_file(), Path.cwd())
    return _EDITION_PLANS[wildcards.review]


def history_inputs(wildcards):
    return edition_plan(wildcards).history_inputs()


def previous_records(wildcards):
    """The trial records of the edition "what changed" compares with (its input snapshot)."""
    return edition_plan(wildcards).previous_records()


def config_file():
    """The configuration file in use (the last one given): when it last changed dates a build whose
    inputs are not those of an archived edition."""
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
