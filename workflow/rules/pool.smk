rule pool:
    """Random-effects meta-analysis of every outcome and timepoint, with sensitivity models."""
    input:
        effects=RESULTS + "/{review}/effects.csv",
        review=review_definition,
    output:
        RESULTS + "/{review}/pooled.json",
    params:
        pooling=config.get("pooling", {}),
    log:
        RESULTS + "/{review}/logs/pool.log",
    conda:
        ENV
    script:
        "../../scripts/pool.py"
