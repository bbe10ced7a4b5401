rule bayes:
    """Bayesian random-effects meta-analysis of the primary outcome (prior from config: bayes)."""
    input:
        effects=f"{RESULTS}/{{review}}/effects.csv",
        review=review_definition,
    output:
        f"{RESULTS}/{{review}}/bayes.json",
    params:
        bayes=config.get("bayes", {}),
    log:
        f"{RESULTS}/{{review}}/logs/bayes.log",
    conda:
        ENV
    script:
        "../../scripts/bayes.py"


rule sequential:
    """Trial sequential analysis: required information size, O'Brien-Fleming boundaries, z-curve by year and by earlier edition (history.json)."""
    input:
        effects=f"{RESULTS}/{{review}}/effects.csv",
        review=review_definition,
        history=f"{RESULTS}/{{review}}/history.json",
    output:
        f"{RESULTS}/{{review}}/sequential.json",
    params:
        sequential=config.get("sequential", {}),
        pooling=config.get("pooling", {}),
    log:
        f"{RESULTS}/{{review}}/logs/sequential.log",
    conda:
        ENV
    script:
        "../../scripts/sequential.py"


rule sequential_plot:
    """The trial sequential analysis figure."""
    input:
        sequential=f"{RESULTS}/{{review}}/sequential.json",
        review=review_definition,
    output:
        svg=f"{RESULTS}/{{review}}/figures/sequential_plot.svg",
    log:
        f"{RESULTS}/{{review}}/logs/sequential_plot.log",
    conda:
        ENV
    script:
        "../../scripts/sequential_plot.py"
