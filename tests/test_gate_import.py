"""`livingmeta import`: unusable files are one clear line, every problem points at the sheet and
its row, formula-like cells are neutralised on export (issue 14, items 6, 11 and 13).

All sheet rows here are SYNTHETIC."""

import subprocess
import sys

import pandas as pd
import pytest

from livingmeta.errors import ImportFormatError
from livingmeta.pipeline.intake import import_sheet
from livingmeta.pipeline.records import RecordError, load_review
from test_intake import sheet_rows

CLI = [sys.executable, "-m", "livingmeta.cli"]
FORMULA = "=cmd|' /C calc'!A0"


def write(tmp_path, rows, name="sheet.csv"):
    path = tmp_path / name
    df = pd.DataFrame(rows)
    df.to_csv(path, index=False) if name.endswith(".csv") else df.to_excel(path, index=False, sheet_name="Extraction")
    return path


def refused(review_copy, sheet):
    with pytest.raises(RecordError) as err:
        import_sheet(review_copy, sheet)
    return err.value.problems, str(err.value)


# -- item 6: non-finite and overflowing numbers -----------------------------------------------
@pytest.mark.parametrize("column,value,words", [
    ("sd_int", "inf", "finite"),
    ("mean_ctl", "-inf", "finite"),
    ("sd_ctl", "nan", "finite"),
    ("n_int", "inf", "finite"),
    ("n_int", "1e400", "finite"),
    ("n_ctl", "1e30", "between 2 and 1,000,000,000"),
])
def test_numbers_a_build_cannot_use_are_refused_with_their_row(review_copy, tmp_path, column, value, words):
    rows = sheet_rows()
    rows[0][column] = value
    probs, text = refused(review_copy, write(tmp_path, rows))
    assert any("row 2" in p.field and column in p.field and words in p.message for p in probs), text
    assert not (review_copy / "trials" / "doe-2025.yaml").exists()


# -- item 11: files that cannot be read are one line, exit 2 ------------------------------------
def run_import(review_copy, sheet):
    return subprocess.run([*CLI, "import", str(review_copy), str(sheet)], capture_output=True, text=True)


@pytest.mark.parametrize("name,content,words", [
    ("missing.csv", None, "not found"),
    ("empty.csv", b"", "empty"),
    ("latin1.csv", "trial_id,label\nm\xfcller-2001,M\xfcller 2001\n".encode("latin-1"), "UTF-8"),
    ("quote.csv", b'trial_id,label,year\n"doe-2025,Doe 2025,2025\n', "CSV"),
    ("corrupt.xlsx", b"PK\x03\x04 this is not a workbook", "xlsx"),
    ("folder.csv", "DIR", "a folder is imported only as"),
])
def test_an_unreadable_sheet_is_one_line_with_exit_2(review_copy, tmp_path, name, content, words):
    path = tmp_path / name
    if content == "DIR":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    res = run_import(review_copy, path)
    assert res.returncode == 2, res.stderr
    assert words in res.stderr and name in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_unreadable_sheets_raise_the_import_error_class(review_copy, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ImportFormatError):
        import_sheet(review_copy, path)


# -- item 13 ----------------------------------------------------------------------------------
def test_a_formula_in_a_label_is_imported_with_a_warning_and_neutralised_on_export(review_copy, tmp_path):
    from livingmeta.pipeline import tables
    from livingmeta.files import write_csv
    rows = sheet_rows()
    for r in rows:
        r["label"] = FORMULA
    notes = []
    import_sheet(review_copy, write(tmp_path, rows), notes=notes)
    assert any("formula" in n and "label" in n and "row 2" in n for n in notes), notes
    review = load_review(review_copy)
    out = tmp_path / "trials.csv"
    write_csv(out, tables.trial_table(review))
    text = out.read_text()
    assert "'" + FORMULA in text.replace('"', "").replace("''", "'")
    assert not any(line.split(",")[i].startswith("=") for line in text.splitlines() for i in range(len(line.split(","))))


def test_write_csv_leaves_numbers_and_plain_text_alone(tmp_path):
    from livingmeta.files import write_csv
    df = pd.DataFrame({"label": ["Smith 2020", "-1 dose", "@home", "+plus", "\tTab"], "yi": [-0.5, 0.1, -2.0, 1.0, 0.0],
                       "level": ["-0.5", "+3", "x", "y", "z"]})
    write_csv(tmp_path / "x.csv", df)
    back = pd.read_csv(tmp_path / "x.csv", dtype=str, keep_default_na=False)
    assert back.label.tolist() == ["Smith 2020", "'-1 dose", "'@home", "'+plus", "'\tTab"]
    assert back.yi.tolist() == ["-0.5", "0.1", "-2.0", "1.0", "0.0"]
    assert back.level.tolist() == ["-0.5", "+3", "x", "y", "z"]  # numbers written as text stay numbers


def test_a_blank_row_is_skipped_with_a_note(review_copy, tmp_path):
    rows = sheet_rows()
    rows.insert(1, {k: None for k in rows[0]})
    notes = []
    written = import_sheet(review_copy, write(tmp_path, rows), notes=notes).written
    assert [p.name for p in written] == ["doe-2025.yaml"]
    assert any("row 3" in n and "blank" in n for n in notes), notes


def test_duplicate_ids_with_conflicting_label_or_year_are_refused_naming_both_rows(review_copy, tmp_path):
    rows = sheet_rows()
    rows[1]["year"] = 2024
    rows[1]["label"] = "Doe 2024"
    probs, text = refused(review_copy, write(tmp_path, rows))
    assert "row 2" in text and "row 3" in text and "doe-2025" in text
    assert "label" in text and "year" in text


def test_rows_of_one_trial_that_disagree_on_a_moderator_are_refused(review_copy, tmp_path):
    rows = sheet_rows()
    rows[1]["exercise_type"] = "aerobic"
    probs, text = refused(review_copy, write(tmp_path, rows))
    assert "row 3, exercise_type" in text and "row 2" in text, text


@pytest.mark.parametrize("name", ["bad.csv", "bad.xlsx"])
def test_problems_found_by_the_record_checks_point_at_the_sheet_row(review_copy, tmp_path, name):
    rows = sheet_rows()
    rows[1]["events_int"] = 40  # more completers than randomised
    probs, text = refused(review_copy, write(tmp_path, rows, name))
    assert "/tmp/" not in text.replace(str(tmp_path), "SHEET"), text  # no scratch-copy path
    hit = [p for p in probs if "more events" in p.message]
    assert hit and hit[0].file.startswith(str(tmp_path / name)), text
    assert "row 3" in hit[0].field and "events_int" in hit[0].field, text
    if name.endswith(".xlsx"):
        assert "Extraction" in hit[0].file


def test_a_thousand_rows_import_and_check(review_copy, tmp_path):
    """The vectorised import handles many rows (the 100k-row timing is in benchmarks/import_sheet.py)."""
    base = sheet_rows()[0]
    rows = [{**base, "trial_id": f"synthetic-{i}", "label": f"Synthetic {i}", "n_int": 20 + i % 7} for i in range(1000)]
    written = import_sheet(review_copy, write(tmp_path, rows)).written
    assert len(written) == 1000
    assert len(load_review(review_copy).trials) == 1035


def test_a_write_failure_half_way_leaves_no_new_records(review_copy, tmp_path):
    """The second record is larger than the file-size limit: its write fails in the kernel after the
    first record's was written (issue 23 F1: every record or none)."""
    from conftest import file_size_limit
    rows = sheet_rows() + [{**sheet_rows()[0], "trial_id": "roe-2025", "label": "Roe 2025",
                            "source": "SYNTHETIC " + "x" * 40_000}]
    sheet = write(tmp_path, rows)
    with file_size_limit(20_000), pytest.raises(OSError) as err:
        import_sheet(review_copy, sheet)
    assert "roe-2025.yaml" in str(err.value) and "none of the 2 records was written" in str(err.value)
    assert not (review_copy / "trials" / "doe-2025.yaml").exists()
    assert not (review_copy / "trials" / "roe-2025.yaml").exists()
    assert not [p.name for p in (review_copy / "trials").iterdir() if p.name.startswith(".")]  # no scratch files
