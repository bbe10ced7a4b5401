rule small_study_effects:
    """Egger's and Begg's tests, trim-and-fill, contour-enhanced funnel data."""
    # the funnel plot waits on it
    priority: 8
    input:
        effects=f"{RESULTS}/{{review}}/effects.csv",
        review=review_definition,
    output:
        f"{RESULTS}/{{review}}/small_study_effects.json",
    params:
        pooling=config.get("pooling", {}),
        small_study_effects=config.get("small_study_effects", {}),
    log:
        f"{RESULTS}/{{review}}/logs/small_study_effects.log",
    conda:
        ENV
    script:
        "../../scripts/small_study_effects.py"
