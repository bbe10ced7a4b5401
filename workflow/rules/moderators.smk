rule moderators:
    """Subgroup analyses (categorical) and meta-regressions (continuous) on the primary outcome."""
    input:
        effects=f"{RESULTS}/{{review}}/effects.csv",
        trials=f"{RESULTS}/{{review}}/extracted/trials.csv",
        review=review_definition,
    output:
        f"{RESULTS}/{{review}}/moderators.json",
    params:
        pooling=config.get("pooling", {}),
        moderators=config.get("moderators", {}),
    log:
        f"{RESULTS}/{{review}}/logs/moderators.log",
    conda:
        ENV
    script:
        "../../scripts/moderators.py"
