rule risk_of_bias:
    """Risk of bias per pooled analysis: judgements, weighted summary, low-risk refit, subgroups."""
    input:
        review=review_definition,
        trials=trial_records,
        effects=f"{RESULTS}/{{review}}/effects.csv",
        pooled=f"{RESULTS}/{{review}}/pooled.json",
    output:
        f"{RESULTS}/{{review}}/rob.json",
    params:
        review_dir=lambda wc: f"{DATA}/{wc.review}",
        pooling=config.get("pooling", {}),
        appraisal=config.get("appraisal", {}),
        moderators=config.get("moderators", {}),
    log:
        f"{RESULTS}/{{review}}/logs/risk_of_bias.log",
    conda:
        ENV
    script:
        "../../scripts/risk_of_bias.py"


rule summary_of_findings:
    """GRADE summary-of-findings table: the five domain ratings and certainty per outcome."""
    input:
        review=review_definition,
        effects=f"{RESULTS}/{{review}}/effects.csv",
        pooled=f"{RESULTS}/{{review}}/pooled.json",
        rob=f"{RESULTS}/{{review}}/rob.json",
    output:
        f"{RESULTS}/{{review}}/sof.json",
    params:
        config=config,
    log:
        f"{RESULTS}/{{review}}/logs/summary_of_findings.log",
    conda:
        ENV
    script:
        "../../scripts/summary_of_findings.py"


rule risk_of_bias_figures:
    """Traffic-light grid, weighted summary bars, forest plot with judgements, RoB subgroups."""
    input:
        review=review_definition,
        rob=f"{RESULTS}/{{review}}/rob.json",
        effects=f"{RESULTS}/{{review}}/effects.csv",
        pooled=f"{RESULTS}/{{review}}/pooled.json",
    output:
        directory(f"{RESULTS}/{{review}}/figures/risk_of_bias"),
    params:
        appraisal=config.get("appraisal", {}),
    log:
        f"{RESULTS}/{{review}}/logs/risk_of_bias_figures.log",
    conda:
        ENV
    script:
        "../../scripts/risk_of_bias_figures.py"


rule prisma:
    """PRISMA 2020 flow diagram per edition from review.yaml's search_flow and, where the review has
    one, the surveillance ledger's counts (validated)."""
    input:
        review=review_definition,
        trials=trial_records,
        ledger=surveillance_ledger,
    output:
        json=f"{RESULTS}/{{review}}/prisma.json",
        figures=directory(f"{RESULTS}/{{review}}/figures/prisma"),
    log:
        f"{RESULTS}/{{review}}/logs/prisma.log",
    conda:
        ENV
    script:
        "../../scripts/prisma.py"
