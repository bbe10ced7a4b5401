from livingmeta.report.web import WEB_FONTS


rule report_html:
    """Render the Jinja2 report template with every result (the template only formats): the HTML
    WeasyPrint prints, and the self-contained web edition published beside the PDF."""
    input:
        review=review_definition,
        trials=f"{RESULTS}/{{review}}/extracted/trials.csv",
        arms=f"{RESULTS}/{{review}}/extracted/arms.csv",
        effects=f"{RESULTS}/{{review}}/effects.csv",
        pooled=f"{RESULTS}/{{review}}/pooled.json",
        moderators=f"{RESULTS}/{{review}}/moderators.json",
        small_study_effects=f"{RESULTS}/{{review}}/small_study_effects.json",
        forest=f"{RESULTS}/{{review}}/figures/forest_plot_pages",
        funnel=f"{RESULTS}/{{review}}/figures/funnel_plot.svg",
        moderator_plots=f"{RESULTS}/{{review}}/figures/moderators",
        changes=f"{RESULTS}/{{review}}/changes.json",
        cumulative_plot=f"{RESULTS}/{{review}}/figures/cumulative_plot.svg",
        bayes=f"{RESULTS}/{{review}}/bayes.json",
        sequential=f"{RESULTS}/{{review}}/sequential.json",
        sequential_plot=f"{RESULTS}/{{review}}/figures/sequential_plot.svg",
        rob=f"{RESULTS}/{{review}}/rob.json",
        sof=f"{RESULTS}/{{review}}/sof.json",
        prisma=f"{RESULTS}/{{review}}/prisma.json",
        rob_figures=f"{RESULTS}/{{review}}/figures/risk_of_bias",
        prisma_figures=f"{RESULTS}/{{review}}/figures/prisma",
        per_trial=f"{RESULTS}/{{review}}/per_trial_results.csv",
        template="templates/report.html.j2",
        web_fonts=[f"templates/fonts/{name}" for name, *_ in WEB_FONTS],
        settled_template="templates/sections/settled.html.j2",
        css="templates/report.css",
        csl="templates/csl/vancouver.csl",
    output:
        html=f"{RESULTS}/{{review}}/report.html",
        print_html=f"{RESULTS}/{{review}}/report_print.html",
        context=f"{RESULTS}/{{review}}/report_context.json",
    params:
        config=config,
        config_file=config_file(),
        review_dir=lambda wc: f"{DATA}/{wc.review}",
        previous_edition=previous_edition_dir,
    log:
        f"{RESULTS}/{{review}}/logs/report_html.log",
    conda:
        ENV
    script:
        "../../scripts/report_html.py"


rule report_pdf:
    """HTML -> PDF with WeasyPrint; only project files are fetched, never the network."""
    input:
        html=f"{RESULTS}/{{review}}/report_print.html",
        context=f"{RESULTS}/{{review}}/report_context.json",
        trial_data=f"{RESULTS}/{{review}}/extracted/arms.csv",
        results=f"{RESULTS}/{{review}}/pooled.json",
        per_trial=f"{RESULTS}/{{review}}/per_trial_results.csv",
    output:
        f"{RESULTS}/{{review}}/report.pdf",
    log:
        f"{RESULTS}/{{review}}/logs/report_pdf.log",
    conda:
        ENV
    script:
        "../../scripts/report_pdf.py"
