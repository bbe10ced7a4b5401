"""Typed contracts between stages (livingmeta/pipeline/contracts.py): each JSON artefact has a
schema in workflow/schemas/, the real outputs keep it, a broken output is refused before it is
written with a message naming file, JSON path, value and rule, and one name per statistic."""
import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from livingmeta.errors import StageOutputError
from livingmeta.pipeline import analysis, tables
from livingmeta.pipeline.config_check import load_config
from livingmeta.pipeline.contracts import (STAGE_SCHEMAS, TABLE_SCHEMAS, contract_problems, write_stage_csv,
                                           write_stage_json)
from livingmeta.pipeline.records import load_review

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "workflow" / "schemas"
REVIEW_DIR = ROOT / "data" / "reviews" / "exercise-depression"


@pytest.fixture(scope="module")
def outputs():
    """pooled, moderators, small-study and cumulative results of the default review, computed by
    the functions the rules call, with the shipped configuration."""
    config = load_config(ROOT / "config" / "config.yaml")
    review = load_review(REVIEW_DIR)
    d = review.definition
    effects = analysis.effect_size_table(tables.arm_table(review), d, config["effect_size"])
    return {"pooled": analysis.pool_review(effects, d, config["pooling"]),
            "moderators": analysis.moderator_analyses(effects, tables.trial_table(review), d, config["pooling"],
                                                      config["moderators"]),
            "small_study_effects": analysis.small_study_analysis(effects, d, config["pooling"],
                                                                 config["small_study_effects"]),
            "cumulative": analysis.cumulative_by_year(effects, d, config["pooling"])}


def _as_written(obj):
    from livingmeta.files import _jsonable
    return _jsonable(obj)


@pytest.mark.parametrize("schema", sorted(STAGE_SCHEMAS))
def test_every_stage_schema_is_a_valid_draft_2020_12_schema(schema):
    doc = yaml.safe_load((SCHEMAS / f"{schema}.schema.yaml").read_text())
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["title"] == STAGE_SCHEMAS[schema] and doc["description"]
    jsonschema.Draft202012Validator.check_schema(doc)
    assert doc.get("additionalProperties") is False  # every artefact's top level is fixed


@pytest.mark.parametrize("schema", ["pooled", "moderators", "small_study_effects", "cumulative"])
def test_real_outputs_keep_their_contract(outputs, schema):
    assert contract_problems(_as_written(outputs[schema]), schema) == []


def test_a_renamed_statistic_a_text_number_and_a_nan_are_each_refused(outputs, tmp_path):
    pooled = _as_written(outputs["pooled"])
    renamed = copy.deepcopy(pooled)
    model = renamed["analyses"][0]["model"]
    model["Q_p"] = model.pop("QEp")  # the old name
    problems = contract_problems(renamed, "pooled")
    assert any(p.startswith("analyses[0].model: 'QEp' is a required property") for p in problems), problems
    assert any("analyses[0].model" in p and "'Q_p' was unexpected" in p for p in problems), problems

    text = copy.deepcopy(pooled)
    text["analyses"][0]["model"]["estimate"] = "-0.62"
    (problem,) = contract_problems(text, "pooled")
    assert problem.startswith("analyses[0].model.estimate = '-0.62': '-0.62' is not of type 'number'")
    assert "rule type: 'number' at properties/analyses/items/properties/model/properties/estimate/type" in problem

    nan = copy.deepcopy(outputs["pooled"])
    nan["analyses"][0]["model"]["estimate"] = float("nan")  # written as null: a required number missing
    out = tmp_path / "pooled.json"
    out.write_text("the last good file\n")
    with pytest.raises(StageOutputError) as err:
        write_stage_json(out, nan, "pooled")
    message = str(err.value)
    assert message.startswith(f"{out}: breaks its contract workflow/schemas/pooled.schema.yaml, so it was not written")
    assert "analyses[0].model.estimate = None: None is not of type 'number'" in message
    assert out.read_text() == "the last good file\n"  # nothing half-checked reaches the next stage


def test_a_valid_output_is_written_as_json(outputs, tmp_path):
    out = tmp_path / "cumulative.json"
    write_stage_json(out, outputs["cumulative"], "cumulative")
    written = json.loads(out.read_text())
    assert written["settings"] == {"method": "REML", "test": "knha", "level": 0.95}
    assert len(written["rows"]) == outputs["pooled"]["analyses"][0]["k"]


def test_every_rule_script_writes_its_json_through_its_contract():
    scripts = {p.stem: p.read_text() for p in (ROOT / "scripts").glob("*.py")}
    assert not [name for name, text in scripts.items() if re.search(r"\bwrite_json\(", text)]
    assert not [name for name, text in scripts.items() if re.search(r"\bwrite_csv\(", text)]
    used = {m for text in scripts.values() for m in re.findall(r'write_stage_(?:json|csv)\(.*"(\w+)"\)$', text, re.M)}
    assert used == set(STAGE_SCHEMAS) | set(TABLE_SCHEMAS)
    shipped = {p.name.removesuffix(".schema.yaml") for p in SCHEMAS.glob("*.schema.yaml")}
    assert shipped - used == {"config", "review", "trial"}  # the inputs' schemas


def test_the_tables_columns_keep_their_contract_and_a_renamed_column_is_refused(tmp_path):
    config = load_config(ROOT / "config" / "config.yaml")
    review = load_review(REVIEW_DIR)
    arms = tables.arm_table(review)
    frames = {"arms_table": arms, "trials_table": tables.trial_table(review),
              "published_table": tables.published_table(review),
              "effects_table": analysis.effect_size_table(arms, review.definition, config["effect_size"])}
    for schema, frame in frames.items():
        assert contract_problems([str(c) for c in frame.columns], schema) == [], schema
    out = tmp_path / "effects.csv"
    with pytest.raises(StageOutputError) as err:
        write_stage_csv(out, frames["effects_table"].rename(columns={"vi": "variance"}), "effects_table")
    assert str(err.value).startswith(f"{out}: breaks its contract workflow/schemas/effects_table.schema.yaml")
    assert "its columns: ['trial_id', 'label'," in str(err.value) and "'variance'" in str(err.value)
    assert not out.exists()
    with pytest.raises(StageOutputError, match="coding_note"):
        write_stage_csv(out, frames["trials_table"].drop(columns="coding_note"), "trials_table")


OLD_NAMES = re.compile(r"""["'](Q|Q_p|Qp|Q_df|Q_between|p_between|df_between|QM_p|QM_df)["']""")


def test_one_name_per_statistic_in_code_templates_and_schemas():
    files = [*ROOT.glob("livingmeta/**/*.py"), *ROOT.glob("scripts/*.py"), *ROOT.glob("templates/**/*.j2"),
             *SCHEMAS.glob("*.yaml")]
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in files
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if OLD_NAMES.search(line)
            and p.name not in ("rm5.py", "formatting.py")]  # rm5.py reads RevMan's own attribute names (Q, P_Q);
    # formatting.py prints Cochran's Q by its symbol ("Q = 94.78, df = 34, p < 0.001")
    assert not hits, "use metafor's names (QE, QEdf, QEp, QM, QMdf, QMp):\n" + "\n".join(hits)
