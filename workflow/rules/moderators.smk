rule moderators:
    """Subgroup analyses (categorical) and meta-regressions (continuous) on the primary outcome."""
    input:
        effects=RESULTS + "/{review}/effects.csv",
        trials=RESULTS + "/{review}/extracted/trials.csv",
        review=review_definition,
    output:
        RESULTS + "/{review}/moderators.json",
    params:
        pooling=config.get("pooling", {}),
        moderators=config.get("moderators", {}),
    log:
        RESULTS + "/{review}/logs/moderators.log",
    conda:
        ENV
    script:
        "../../scripts/moderators.py"
