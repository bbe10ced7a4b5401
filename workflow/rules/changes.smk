rule changes:
    """Compare with the latest published edition: trials added, removed or corrected; the shift in the estimate."""
    input:
        trials=trial_records,
        pooled=f"{RESULTS}/{{review}}/pooled.json",
        review=review_definition,
        previous=previous_edition_files,
        ledger=surveillance_ledger,
    output:
        f"{RESULTS}/{{review}}/changes.json",
    params:
        previous=previous_edition_dir,
        trial_dir=lambda wc: f"{DATA}/{wc.review}/trials",
    log:
        f"{RESULTS}/{{review}}/logs/changes.log",
    conda:
        ENV
    script:
        "../../scripts/changes.py"
