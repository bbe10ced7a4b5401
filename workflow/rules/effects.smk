rule effect_sizes:
    """Hedges' g (continuous) or the configured ratio/difference (binary) per trial and outcome."""
    input:
        arms=f"{RESULTS}/{{review}}/extracted/arms.csv",
        review=review_definition,
    output:
        f"{RESULTS}/{{review}}/effects.csv",
        # every effect before dependent effects of a trial are aggregated (see livingmeta/stats/dependent.py)
        all=f"{RESULTS}/{{review}}/effects_all.csv",
    params:
        effect_size=config.get("effect_size", {}),
        level=config["pooling"]["level"],
    log:
        f"{RESULTS}/{{review}}/logs/effect_sizes.log",
    conda:
        ENV
    script:
        "../../scripts/effect_sizes.py"
