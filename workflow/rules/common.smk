# Shared helpers for the rules: where a review's inputs live.
import glob as _glob


def trial_records(wildcards):
    """Every trial record of the review; adding or removing a file reruns extraction."""
    return sorted(_glob.glob(f"{DATA}/{wildcards.review}/trials/*.yaml"))


def review_definition(wildcards):
    return f"{DATA}/{wildcards.review}/review.yaml"
