rule extract:
    """Validate every trial record against workflow/schemas/trial.schema.yaml, then write tidy tables."""
    input:
        review=review_definition,
        trials=trial_records,
        schema="workflow/schemas/trial.schema.yaml",
    output:
        arms=RESULTS + "/{review}/extracted/arms.csv",
        trials=RESULTS + "/{review}/extracted/trials.csv",
        published=RESULTS + "/{review}/extracted/published.csv",
    params:
        review_dir=lambda wc: f"{DATA}/{wc.review}",
    log:
        RESULTS + "/{review}/logs/extract.log",
    conda:
        ENV
    script:
        "../../scripts/extract.py"
