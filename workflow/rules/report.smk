rule report_html:
    """Render the Jinja2 report template with every result; the template only formats."""
    input:
        review=review_definition,
        trials=RESULTS + "/{review}/extracted/trials.csv",
        arms=RESULTS + "/{review}/extracted/arms.csv",
        effects=RESULTS + "/{review}/effects.csv",
        pooled=RESULTS + "/{review}/pooled.json",
        moderators=RESULTS + "/{review}/moderators.json",
        small_study_effects=RESULTS + "/{review}/small_study_effects.json",
        forest=RESULTS + "/{review}/figures/forest_plot.svg",
        funnel=RESULTS + "/{review}/figures/funnel_plot.svg",
        moderator_plots=RESULTS + "/{review}/figures/moderators",
        template="templates/report.html.j2",
        css="templates/report.css",
    output:
        html=RESULTS + "/{review}/report.html",
        context=RESULTS + "/{review}/report_context.json",
    params:
        config=config,
        trial_dir=lambda wc: f"{DATA}/{wc.review}/trials",
    log:
        RESULTS + "/{review}/logs/report_html.log",
    conda:
        ENV
    script:
        "../../scripts/report_html.py"


rule report_pdf:
    """HTML -> PDF with WeasyPrint; only project files are fetched, never the network."""
    input:
        html=RESULTS + "/{review}/report.html",
    output:
        RESULTS + "/{review}/report.pdf",
    log:
        RESULTS + "/{review}/logs/report_pdf.log",
    conda:
        ENV
    script:
        "../../scripts/report_pdf.py"
