rule per_trial_results:
    """The primary analysis per trial as a tidy CSV: attached to the PDF, a download of the web edition."""
    input:
        review=review_definition,
        trials=f"{RESULTS}/{{review}}/extracted/trials.csv",
        effects=f"{RESULTS}/{{review}}/effects.csv",
        pooled=f"{RESULTS}/{{review}}/pooled.json",
    output:
        f"{RESULTS}/{{review}}/per_trial_results.csv",
    log:
        f"{RESULTS}/{{review}}/logs/per_trial_results.log",
    conda:
        ENV
    script:
        "../../scripts/per_trial_results.py"
