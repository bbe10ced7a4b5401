# livingmeta: trial records -> effect sizes -> pooling -> moderators -> small-study effects
# -> figures -> report.pdf, one DAG per review listed in config/config.yaml.
import sys

from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "config/config.yaml"


from livingmeta.pipeline.config_check import check_config

# YAML 1.2 numbers and one message naming a misspelt key or a bad value, before Snakemake's own check
config.update(check_config(config, " + ".join(map(str, workflow.overwrite_configfiles or ["config/config.yaml"]))))
validate(config, "workflow/schemas/config.schema.yaml")

DATA = config.get("data_dir", "data/reviews")
RESULTS = config.get("results_dir", "results")

from livingmeta.pipeline.reviews import buildable_reviews

# A listed review whose folder ships without trial records (a third-party database each user
# imports) is left out with one line saying how to get them.
REVIEWS, NOT_BUILT = buildable_reviews(DATA, config["reviews"])
if workflow.is_main_process:
    for line in NOT_BUILT:
        print(line, file=sys.stderr)
ENV = "../../environment.yml"


include: "workflow/rules/common.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/effects.smk"
include: "workflow/rules/pool.smk"
include: "workflow/rules/moderators.smk"
include: "workflow/rules/bias.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/changes.smk"
include: "workflow/rules/settled.smk"
include: "workflow/rules/appraisal.smk"
include: "workflow/rules/per_trial.smk"
include: "workflow/rules/report.smk"


# Rule scripts run in a fork of one warm process that has done their imports (livingmeta.pipeline.warm):
# local runs only; cluster jobs, and LIVINGMETA_COLD=1, start each script in its own Python.
onstart:
    if workflow.is_main_process and workflow.local_exec:
        start_warm_process("scripts")


onsuccess:
    end_of_run()


onerror:
    end_of_run()


rule all:
    input:
        expand(f"{RESULTS}/{{review}}/report.pdf", review=REVIEWS),
    default_target: True
