"""Typed contracts between stages: every JSON artefact a rule writes has a JSON Schema in
workflow/schemas/ (``<schema>.schema.yaml``, draft 2020-12) and is validated when written, so a
stage never hands the next one a file of another shape (a renamed key, a number turned text).

One name per statistic, metafor's: ``tau2``, ``se_tau2``, ``I2`` (percent), ``H2``, ``QE`` with
``QEdf`` and ``QEp`` (Cochran's heterogeneity test), ``QM`` with ``QMdf`` and ``QMp`` (a test of
moderators, the test for subgroup differences included). The schema descriptions say what each
field is; the README's "Stage outputs and their schemas" lists them.
"""
from __future__ import annotations

from livingmeta.errors import StageOutputError
from livingmeta.files import write_csv, write_json
from livingmeta.pipeline.records import _fast_validator, _validator, _where as _json_path

# The artefact each schema describes (results/<review>/...).
STAGE_SCHEMAS = {
    "pooled": "pooled.json", "moderators": "moderators.json", "small_study_effects": "small_study_effects.json",
    "cumulative": "cumulative.json", "history": "history.json", "changes": "changes.json", "bayes": "bayes.json", "sequential": "sequential.json",
    "rob": "rob.json", "sof": "sof.json", "prisma": "prisma.json", "report_context": "report_context.json",
    "revman_reproduction": "revman_reproduction.json",
}
# The CSV tables: their schemas check the header (the list of column names).
TABLE_SCHEMAS = {"arms_table": "extracted/arms.csv", "trials_table": "extracted/trials.csv",
                 "published_table": "extracted/published.csv", "effects_table": "effects.csv and effects_all.csv",
                 "per_trial_table": "per_trial_results.csv", "revman_reproduction_table": "revman_reproduction.csv"}
MAX_LISTED = 5  # problems named in one message; the first ones say what went wrong


def warm_up() -> None:
    """Compile every stage's validator in the workflow's warm process (livingmeta.pipeline.warm),
    about 80 ms each, which each rule otherwise compiles for itself."""
    for schema in (*STAGE_SCHEMAS, *TABLE_SCHEMAS):
        _fast_validator(schema)


def contract_problems(data, schema: str) -> list[str]:
    """Each way ``data`` breaks ``workflow/schemas/<schema>.schema.yaml``: JSON path, value, the
    schema's rule and where in the schema it is; [] if it keeps the contract. The compiled
    validator (built once per schema) checks the common, valid case; only a failure is explained."""
    import fastjsonschema
    try:
        _fast_validator(schema)(data)
        return []
    except fastjsonschema.JsonSchemaException:
        pass
    out = []
    for err in sorted(_validator(schema).iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        value = "" if isinstance(err.instance, (dict, list)) else f" = {err.instance!r}"
        rule = f"{err.validator}: {err.validator_value!r}" if err.validator != "additionalProperties" else "additionalProperties: false"
        out.append(f"{_json_path(err.absolute_path)}{value}: {err.message} "
                   f"(rule {rule} at {'/'.join(map(str, err.absolute_schema_path))})")
    return out


def check_stage_output(data, schema: str, path) -> None:
    """Raise StageOutputError naming the file, each JSON path, value and schema rule broken."""
    problems = contract_problems(data, schema)
    if problems:
        shown = "; ".join(problems[:MAX_LISTED]) + (f"; and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else "")
        raise StageOutputError(f"{path}: breaks its contract workflow/schemas/{schema}.schema.yaml, so it was not written "
                               f"(a bug in livingmeta; please report it): {shown}")


def write_stage_json(path, obj, schema: str) -> None:
    """Write a stage's JSON artefact after checking it against its schema (see the module's docstring)."""
    if schema not in STAGE_SCHEMAS:
        raise KeyError(f"no stage schema {schema!r}; known: {', '.join(STAGE_SCHEMAS)}")
    write_json(path, obj, check=lambda data, where: check_stage_output(data, schema, where))


def write_stage_csv(path, frame, schema: str) -> None:
    """Write a stage's CSV table after checking its columns against its schema."""
    if schema not in TABLE_SCHEMAS:
        raise KeyError(f"no table schema {schema!r}; known: {', '.join(TABLE_SCHEMAS)}")
    columns = [str(c) for c in frame.columns]
    try:
        check_stage_output(columns, schema, path)
    except StageOutputError as err:  # the checked document is the header: say so, and show it
        raise StageOutputError(f"{str(err).replace('(top level)', 'the header')}; its columns: {columns}") from None
    write_csv(path, frame)
