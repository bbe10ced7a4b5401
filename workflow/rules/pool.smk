rule pool:
    """Meta-analysis of every outcome and timepoint with its declared analysis (review.yaml, else the config), with
    this report's other models as sensitivity rows."""
    # on the critical path to the report: schedule first when cores are scarce
    priority: 10
    input:
        effects=f"{RESULTS}/{{review}}/effects.csv",
        effects_all=f"{RESULTS}/{{review}}/effects_all.csv",
        review=review_definition,
    output:
        f"{RESULTS}/{{review}}/pooled.json",
    params:
        pooling=config.get("pooling", {}),
        effect_size=config.get("effect_size", {}),
    log:
        f"{RESULTS}/{{review}}/logs/pool.log",
    conda:
        ENV
    script:
        "../../scripts/pool.py"


rule cumulative:
    """Cumulative meta-analysis of the primary outcome by publication year."""
    input:
        effects=f"{RESULTS}/{{review}}/effects.csv",
        review=review_definition,
    output:
        f"{RESULTS}/{{review}}/cumulative.json",
    params:
        pooling=config.get("pooling", {}),
    log:
        f"{RESULTS}/{{review}}/logs/cumulative.log",
    conda:
        ENV
    script:
        "../../scripts/cumulative.py"
