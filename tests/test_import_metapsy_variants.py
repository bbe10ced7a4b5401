"""A Metapsy database as real ones vary (issue 20 item 5; issue 23 F9, F10, F17, F19): RoB 2 with
the overall judgement wherever the database puts it, written as it writes it; columns the
importer does not know; duplicate rows; impossible counts; hostile metadata.

tests/fixtures/metapsy-rob2/1.0.0 is SYNTHETIC (made by make_fixture.py beside it) in the layout
of a real Metapsy database: semicolons, decimal commas, NA, metadata/ folder, RoB 2 columns
rob_d1..rob_d5 with the overall judgement in ``rob`` and ``rob_numeric`` beside them, as in the
Metapsy PTSD database, and one more unknown column."""

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from livingmeta.errors import ImportFormatError
from livingmeta.living.importers import metapsy
from livingmeta.pipeline.records import RecordError, load_review
from shared_data import shared_path

ROOT = Path(__file__).resolve().parents[1]
ROB2_DB = ROOT / "tests" / "fixtures" / "metapsy-rob2" / "1.0.0"
CLI = [sys.executable, "-m", "livingmeta.cli"]


def database(tmp_path, edit=None, metadata=None) -> Path:
    """A copy of the SYNTHETIC RoB 2 database; ``edit(header, rows)`` changes data.csv's cells (lists
    of text, "NA" for missing) in place, ``metadata`` {file name: text} replaces metadata files."""
    folder = tmp_path / "db" / "1.0.0"
    shutil.copytree(ROB2_DB, folder)
    if edit:
        text = (folder / "data.csv").read_text(encoding="utf-8")
        header, *rows = list(csv.reader(io.StringIO(text), delimiter=";"))
        edit(header, rows)
        out = io.StringIO()
        csv.writer(out, delimiter=";", lineterminator="\n").writerows([header, *rows])
        (folder / "data.csv").write_text(out.getvalue(), encoding="utf-8")
    for name, content in (metadata or {}).items():
        (folder / "metadata" / name).write_text(content, encoding="utf-8")
    return folder


def set_cell(header, rows, row, column, value):
    rows[row - 1][header.index(column)] = value


def records(target) -> dict:
    return {p.stem: yaml.safe_load(p.read_text()) for p in (target / "trials").glob("*.yaml")}


def data_rows() -> list[dict]:
    """data.csv read independently of the importer."""
    return list(csv.DictReader(io.StringIO((ROB2_DB / "data.csv").read_text(encoding="utf-8")), delimiter=";"))


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    target = tmp_path_factory.mktemp("rob2") / "ptsd"
    report = metapsy.import_metapsy(target, ROB2_DB)
    return target, report


def test_a_rob2_database_with_rob_numeric_and_an_unknown_column_imports(imported):
    """The PTSD database's rob_numeric was refused ("cannot be mapped"); an unknown column is now
    named in one warning line, and the import goes on."""
    target, report = imported
    unknown = [w for w in report.warnings if w.startswith("column ")]
    assert unknown == [f"column {c!r} of data.csv is not one livingmeta reads; not imported (its values stay in "
                       "provenance/metapsy-source/data.csv)" for c in ("rob_numeric", "session_length_min")]
    assert len(load_review(target).trials) == len({r["study"] for r in data_rows()}) == 12
    # nothing lost: the column is in the source copy kept with the review
    assert "rob_numeric" in (target / "provenance" / "metapsy-source" / "data.csv").read_text().splitlines()[0]


def test_the_overall_rob2_judgement_is_read_from_rob_whatever_its_case(imported):
    target, _ = imported
    recs = records(target)
    expected = {"low": "low", "low risk": "low", "some concerns": "some_concerns", "high": "high",
                "high risk": "high"}
    for row in data_rows():
        rec = recs[metapsy.slug(row["study"])]
        rob = rec["risk_of_bias"]
        assert rob["tool"] == "rob2" and "rob" in rob["source"]
        if row["study"] != "Synthetic-D, 2014":  # its two rows differ, below
            assert rob["domains"]["overall"] == {"judgement": expected[row["rob"].lower()], "support": None}
        for i, domain in enumerate(("randomisation", "deviations", "missing_data", "measurement", "selection"), 1):
            assert rob["domains"][domain]["judgement"] == expected[row[f"rob_d{i}"].lower()]


def test_a_study_whose_rows_differ_takes_the_most_severe_judgement_and_says_so(imported):
    target, _ = imported
    overall = records(target)["synthetic-d-2014"]["risk_of_bias"]["domains"]["overall"]
    assert overall["judgement"] == "high"
    assert "rows of this study differ" in overall["support"] and "most severe" in overall["support"]


def test_no_rob1_score_moderator_in_a_rob2_database_and_the_arms_are_the_databases_words(imported):
    target, _ = imported
    definition = yaml.safe_load((target / "review.yaml").read_text())
    assert "rob" not in {m["name"] for m in definition["moderators"]}
    assert not any("0-4" in m["label"] for m in definition["moderators"])
    # metadata/comparisons.txt: "psychological treatment vs control"
    assert definition["arms"] == {"intervention": "psychological treatment", "control": "control"}
    assert definition["labels"]["intervention"] == "psychological treatment"
    assert "psychotherapy" not in (target / "review.yaml").read_text().lower()
    # the Metapsy metadata declare no analysis model, so the importer writes none
    assert "analysis" not in definition


def test_the_risk_of_bias_section_agrees_with_itself(imported):
    """The PTSD database built with "risk of bias recorded for 102 of 102 trials" and "102 not
    assessed" (its overall judgement was not read). Computed as the rules do."""
    from livingmeta.pipeline import analysis, tables
    from livingmeta.pipeline.appraisal import risk_of_bias_review
    from livingmeta.report.appraisal import risk_of_bias_section
    from livingmeta.stats.dependent import dependent_rho, one_effect_per_trial
    target, _ = imported
    review = load_review(target)
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    every = analysis.effect_size_table(tables.arm_table(review), review.definition, config["effect_size"])
    effects = one_effect_per_trial(every, rho=dependent_rho(review.definition))
    pooled = analysis.pool_review(effects, review.definition, config["pooling"])
    rob = risk_of_bias_review(review.definition, review.trials, effects, pooled, config["pooling"],
                              config["appraisal"], config["moderators"])
    primary = rob["analyses"][0]
    assert rob["k_with_assessment"] == primary["k"] == 12
    assert primary["counts"]["not_assessed"] == 0
    assert primary["counts"] == {"low": 4, "unclear": 0, "some_concerns": 4, "high": 4, "not_assessed": 0}
    text = risk_of_bias_section(rob, {})["text"]
    assert "recorded for 12 of the 12 trials" in text and "not assessed" not in text


@pytest.mark.parametrize("column", ["rob_overall", "rob_d_overall", "rob_study_lvl"])
def test_the_overall_judgement_is_read_wherever_the_database_puts_it(tmp_path, column):
    def rename(header, rows):
        header[header.index("rob")] = column
    plan = metapsy.plan_import(metapsy.read_metapsy(database(tmp_path, rename)))
    judgements = {r["label"]: r["risk_of_bias"]["domains"]["overall"]["judgement"] for r in plan.records.values()}
    assert judgements["Synthetic-A, 2011"] == "low" and judgements["Synthetic-C, 2013"] == "high"
    assert column in plan.records["synthetic-a-2011"]["risk_of_bias"]["source"]


def test_numeric_codes_are_read_through_the_codebook_and_never_guessed(tmp_path):
    def numeric(header, rows):
        for row in rows:
            row[header.index("rob")] = row[header.index("rob_numeric")]
    codebook = json.loads((ROB2_DB / "metadata" / "variable_description.json").read_text())
    with_codes = {**codebook, "rob": "Overall risk of bias (1= low risk; 2= some concerns; 3= high risk)"}
    plan = metapsy.plan_import(metapsy.read_metapsy(database(
        tmp_path / "a", numeric, {"variable_description.json": json.dumps(with_codes)})))
    overall = {r["label"]: r["risk_of_bias"]["domains"]["overall"]["judgement"] for r in plan.records.values()}
    assert overall["Synthetic-A, 2011"] == "low" and overall["Synthetic-B, 2012"] == "some_concerns"
    assert overall["Synthetic-C, 2013"] == "high"
    plan = metapsy.plan_import(metapsy.read_metapsy(database(tmp_path / "b", numeric)))
    assert {r["risk_of_bias"]["domains"]["overall"]["judgement"] for r in plan.records.values()} == {"not_assessed"}
    assert [w for w in plan.warnings if "not explained" in w] == [
        "column rob: code '1' is not explained in metadata/variable_description.json; read as not assessed",
        "column rob: code '2' is not explained in metadata/variable_description.json; read as not assessed",
        "column rob: code '3' is not explained in metadata/variable_description.json; read as not assessed"]


def test_a_text_that_is_no_judgement_is_refused_with_row_and_column(tmp_path):
    folder = database(tmp_path, lambda h, rows: set_cell(h, rows, 3, "rob_d2", "Probably fine"))
    with pytest.raises(ImportFormatError, match=r"data row 3, column rob_d2: 'probably fine' is not a RoB 2 judgement"):
        metapsy.import_metapsy(tmp_path / "review", folder)
    assert not (tmp_path / "review").exists()


def test_real_databases_standard_columns_raise_no_warning():
    """Every column of the real depression-psyctr releases is mapped or a known Metapsy column:
    no warning noise, and the RoB 1 score stays a moderator of a RoB 1 database."""
    for release in ("22.0.2", "24.0.2"):
        imported = metapsy.read(shared_path(f"metapsy-depression-psyctr/{release}"))
        assert not [w for w in imported.warnings if w.startswith("column ")], release
        assert "rob" in {m["name"] for m in imported.definition["moderators"]}
        assert "analysis" not in imported.definition


# ------------------------------------------------------------------------------------------------
# Issue 23 F9: an exact duplicate row
# ------------------------------------------------------------------------------------------------
def test_an_exact_duplicate_row_is_dropped_with_a_warning_naming_both_rows(tmp_path):
    def duplicate(header, rows):
        copy = list(rows[0])
        copy[0] = str(len(rows) + 1)  # the row-number column differs, as in a real pasted copy
        rows.append(copy)
    folder = database(tmp_path, duplicate)
    report = metapsy.import_metapsy(tmp_path / "review", folder)
    assert [w for w in report.warnings if "repeats" in w] == [
        "data row 15 (Synthetic-A, 2011) repeats data row 1 exactly (same .id "
        "'Synthetic-A_2011_msd_caps-5_post_clinician_cpt_wl_NA_NA'); the copy is left out"]
    blocks = records(tmp_path / "review")["synthetic-a-2011"]["outcomes"]["ptsd"]
    assert len(blocks) == 1  # not a second effect of the study
    fates = list(csv.DictReader((tmp_path / "review" / "provenance" / "metapsy-rows.csv").open()))
    assert fates[-1]["row"] == "15" and fates[-1]["used"] == "dropped"


def test_the_same_id_on_two_different_rows_is_refused_naming_both(tmp_path):
    def clash(header, rows):
        copy = list(rows[0])
        copy[0] = str(len(rows) + 1)
        copy[header.index("mean_arm1")] = "19,0"
        rows.append(copy)
    folder = database(tmp_path, clash)
    with pytest.raises(ImportFormatError, match=r"data rows 1 and 15, column \.id: both rows are "
                                                 r"'Synthetic-A_2011_[^']*' but differ in mean_arm1"):
        metapsy.import_metapsy(tmp_path / "review", folder)


# ------------------------------------------------------------------------------------------------
# Issue 23 F10: group sizes beside a computed effect are checked like arm data
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("column,value,words", [
    ("n_arm1", "-40", "data row 8, column n_arm1: -40 is impossible: a number of participants cannot be negative"),
    ("n_arm2", "-1", "data row 8, column n_arm2: -1 is impossible"),
])
def test_a_negative_group_size_beside_a_precomputed_g_is_refused(tmp_path, column, value, words):
    rows = data_rows()
    assert rows[7]["study"] == "Synthetic-F, 2016" and rows[7]["precalc_g"] != "NA"  # row 8: precomputed g
    folder = database(tmp_path, lambda h, r: set_cell(h, r, 8, column, value))
    with pytest.raises(ImportFormatError, match=words):
        metapsy.import_metapsy(tmp_path / "review", folder)
    res = subprocess.run([*CLI, "import", str(tmp_path / "cli"), str(folder)], capture_output=True, text=True)
    assert res.returncode == 2 and "column " + column in res.stderr and "Traceback" not in res.stderr


def test_more_events_than_participants_is_refused(tmp_path):
    def events(header, rows):
        for col, value in (("event_arm1", "50"), ("totaln_arm1", "40"), ("event_arm2", "10"), ("totaln_arm2", "40")):
            set_cell(header, rows, 1, col, value)
    with pytest.raises(ImportFormatError, match=r"data row 1, column event_arm1: 50 events of 40 participants"):
        metapsy.import_metapsy(tmp_path / "review", database(tmp_path, events))


def test_a_group_size_of_one_beside_a_computed_effect_is_not_reported(tmp_path):
    folder = database(tmp_path, lambda h, r: set_cell(h, r, 8, "n_arm1", "1"))
    metapsy.import_metapsy(tmp_path / "review", folder)
    block = records(tmp_path / "review")["synthetic-f-2016"]["outcomes"]["ptsd"][0]
    assert block["arms"]["psychological treatment"] == {"n": None} and block["arms"]["control"] == {"n": 45}


# ------------------------------------------------------------------------------------------------
# Issue 23 F17 and F19: hostile text and metadata
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200b", "\ufeff"])
def test_a_bidirectional_or_invisible_format_character_is_refused_with_its_line(tmp_path, char):
    folder = database(tmp_path, lambda h, r: set_cell(h, r, 4, "study", f"Synthetic-C{char}, 2013"))
    with pytest.raises(ImportFormatError, match=r"data\.csv: line 5: invisible format character .* remove it"):
        metapsy.import_metapsy(tmp_path / "review", folder)


@pytest.mark.parametrize("name,content,words", [
    ("variable_description.json", "[1, 2, 3]", "expected an object of column names and descriptions; found a list"),
    ("search_flow.json", '"35518"', "expected an object of PRISMA counts; found text"),
    ("authors.json", '{"name": "x"}', "expected a list of authors; found an object"),
    ("references.json", "[" * 100_000 + "]" * 100_000, "JSON nested too deep to read"),
    ("search_flow.json", '{"full.text.excluded.reasons": [1, 2]}', "full.text.excluded.reasons: expected an object"),
])
def test_metadata_of_the_wrong_shape_is_one_line_and_exit_2(tmp_path, name, content, words):
    folder = database(tmp_path, metadata={name: content})
    with pytest.raises(ImportFormatError, match=words):
        metapsy.import_metapsy(tmp_path / "review", folder)
    res = subprocess.run([*CLI, "import", str(tmp_path / "cli"), str(folder)], capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert name in res.stderr and words in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "cli").exists()


def test_records_with_problems_still_exit_1(tmp_path):
    """Exit 1 stays for records the checks refuse (README: 1 = records with problems)."""
    long = "Synthetic-" + "x" * 130 + ", 2013"
    folder = database(tmp_path, lambda h, rows: [set_cell(h, rows, 4, "study", long)])
    res = subprocess.run([*CLI, "import", str(tmp_path / "cli"), str(folder)], capture_output=True, text=True)
    assert res.returncode == 1 and "label" in res.stderr and "Traceback" not in res.stderr
    with pytest.raises(RecordError):
        metapsy.import_metapsy(tmp_path / "review", folder)
