rule history:
    """The editions published before this build's (fingerprints, dates, primary results) and this build's own
    edition, from the review's archive: the one stage that reads results/<review>/editions/."""
    input:
        archived=history_inputs,
        review=review_definition,
    output:
        f"{RESULTS}/{{review}}/history.json",
    params:
        plan=lambda wc: edition_plan(wc).params(),
    log:
        f"{RESULTS}/{{review}}/logs/history.log",
    conda:
        ENV
    script:
        "../../scripts/history.py"
