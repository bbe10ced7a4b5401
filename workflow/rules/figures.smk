rule forest_plot:
    """Forest plots in the RevMan layout: the analysis the report leads with (pages, the first page, an overview when
    several), and every other analysis of the review with its subgroups, subtotals and test for subgroup differences."""
    # the slowest figure; start it as soon as pooling is done
    priority: 9
    input:
        effects=f"{RESULTS}/{{review}}/effects.csv",
        pooled=f"{RESULTS}/{{review}}/pooled.json",
        review=review_definition,
    output:
        svg=f"{RESULTS}/{{review}}/figures/forest_plot.svg",
        pages=directory(f"{RESULTS}/{{review}}/figures/forest_plot_pages"),
        analyses=directory(f"{RESULTS}/{{review}}/figures/forest_analyses"),
    log:
        f"{RESULTS}/{{review}}/logs/forest_plot.log",
    conda:
        ENV
    script:
        "../../scripts/forest_plot.py"


rule funnel_plot:
    """Contour-enhanced funnel plot of the primary outcome."""
    input:
        small_study_effects=f"{RESULTS}/{{review}}/small_study_effects.json",
        review=review_definition,
    output:
        svg=f"{RESULTS}/{{review}}/figures/funnel_plot.svg",
    log:
        f"{RESULTS}/{{review}}/logs/funnel_plot.log",
    conda:
        ENV
    script:
        "../../scripts/funnel_plot.py"


rule moderator_plots:
    """Subgroup forest plot per categorical moderator, bubble plot per continuous one."""
    input:
        moderators=f"{RESULTS}/{{review}}/moderators.json",
        pooled=f"{RESULTS}/{{review}}/pooled.json",
        review=review_definition,
    output:
        directory(f"{RESULTS}/{{review}}/figures/moderators"),
    log:
        f"{RESULTS}/{{review}}/logs/moderator_plots.log",
    conda:
        ENV
    script:
        "../../scripts/moderator_plots.py"


rule cumulative_plot:
    """The pooled estimate as trials accrued, year by year."""
    input:
        cumulative=f"{RESULTS}/{{review}}/cumulative.json",
        review=review_definition,
    output:
        svg=f"{RESULTS}/{{review}}/figures/cumulative_plot.svg",
    log:
        f"{RESULTS}/{{review}}/logs/cumulative_plot.log",
    conda:
        ENV
    script:
        "../../scripts/cumulative_plot.py"
