rule extract:
    """Validate every trial record against workflow/schemas/trial.schema.yaml, then write tidy tables."""
    input:
        review=review_definition,
        trials=trial_records,
        schema="workflow/schemas/trial.schema.yaml",
    output:
        arms=f"{RESULTS}/{{review}}/extracted/arms.csv",
        trials=f"{RESULTS}/{{review}}/extracted/trials.csv",
        published=f"{RESULTS}/{{review}}/extracted/published.csv",
    params:
        review_dir=lambda wc: f"{DATA}/{wc.review}",
    log:
        f"{RESULTS}/{{review}}/logs/extract.log",
    conda:
        ENV
    script:
        "../../scripts/extract.py"
