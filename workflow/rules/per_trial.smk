rule per_trial_results:
    """The analysis the report leads with, per trial, as a tidy CSV: attached to the PDF, a download of the web edition."""
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


rule revman_reproduction:
    """Each imported RevMan analysis recomputed and set beside RevMan's stored totals: the appendix's summary
    (revman_reproduction.json) and every comparison as a tidy CSV attached to the PDF (a header only for a review
    without RevMan totals)."""
    input:
        review=review_definition,
        trials=trial_records,
    output:
        json=f"{RESULTS}/{{review}}/revman_reproduction.json",
        csv=f"{RESULTS}/{{review}}/revman_reproduction.csv",
    params:
        review_dir=lambda wc: f"{DATA}/{wc.review}",
    log:
        f"{RESULTS}/{{review}}/logs/revman_reproduction.log",
    conda:
        ENV
    script:
        "../../scripts/revman_reproduction.py"
