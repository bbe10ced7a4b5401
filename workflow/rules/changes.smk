rule changes:
    """Compare with the previous edition: trials added, removed or corrected (field by field); the shift in the estimate."""
    input:
        trials=trial_records,
        previous_trials=previous_records,
        history=f"{RESULTS}/{{review}}/history.json",
        pooled=f"{RESULTS}/{{review}}/pooled.json",
        review=review_definition,
        ledger=surveillance_ledger,
    output:
        f"{RESULTS}/{{review}}/changes.json",
    log:
        f"{RESULTS}/{{review}}/logs/changes.log",
    conda:
        ENV
    script:
        "../../scripts/changes.py"
