"""Getting trials in: the new-trial template and the spreadsheet import."""

import subprocess
import sys

import pandas as pd
import pytest
import yaml

from livingmeta.pipeline.intake import import_sheet, new_trial_template
from livingmeta.pipeline.records import RecordError, load_review


def test_new_trial_writes_a_template_that_check_flags_until_filled(review_copy):
    path = new_trial_template(review_copy, "smith-2024")
    text = path.read_text()
    assert "# " in text and "smith-2024" in text and "source: null" in text
    with pytest.raises(RecordError) as err:
        load_review(review_copy)
    assert all(p.file == str(path) for p in err.value.problems)
    rec = yaml.safe_load(text)
    rec["citation"]["first_author"] = "Smith J"
    block = rec["outcomes"]["depression"][0]
    block["source"] = "SYNTHETIC test values"
    block["arms"] = {"exercise": {"n": 20, "mean": 10.0, "sd": 4.0}, "control": {"n": 20, "mean": 12.0, "sd": 4.0}}
    del rec["outcomes"]["completion"]
    path.write_text(yaml.safe_dump(rec))
    assert len(load_review(review_copy).trials) == 36
    with pytest.raises(RecordError):
        new_trial_template(review_copy, "smith-2024")  # never overwrites


def sheet_rows():
    """SYNTHETIC extraction rows for the import tests."""
    return [
        {"trial_id": "doe-2025", "label": "Doe 2025", "year": 2025, "first_author": "Doe A", "outcome": "depression",
         "timepoint": "post_treatment", "source": "SYNTHETIC sheet row", "n_int": 30, "mean_int": 9.5, "sd_int": 4.1,
         "n_ctl": 28, "mean_ctl": 12.0, "sd_ctl": 4.4, "exercise_type": "resistance", "weeks": 12},
        {"trial_id": "doe-2025", "label": "Doe 2025", "year": 2025, "first_author": "Doe A", "outcome": "completion",
         "timepoint": "end_of_intervention", "source": "SYNTHETIC sheet row", "events_int": 27, "total_int": 32,
         "events_ctl": 26, "total_ctl": 30, "exercise_type": "resistance", "weeks": 12},
    ]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_import_turns_sheet_rows_into_valid_records(review_copy, tmp_path, suffix):
    sheet = tmp_path / f"extraction{suffix}"
    df = pd.DataFrame(sheet_rows())
    df.to_csv(sheet, index=False) if suffix == ".csv" else df.to_excel(sheet, index=False)
    written = import_sheet(review_copy, sheet).written
    assert [p.name for p in written] == ["doe-2025.yaml"]
    review = load_review(review_copy)
    rec = next(r for r in review.trials if r["id"] == "doe-2025")
    assert rec["outcomes"]["depression"][0]["arms"]["exercise"] == {"n": 30, "mean": 9.5, "sd": 4.1}
    assert rec["outcomes"]["completion"][0]["arms"]["control"] == {"events": 26, "total": 30}
    assert rec["moderators"]["exercise_type"] == "resistance" and rec["moderators"]["weeks"] == 12.0


def test_import_refuses_rows_it_cannot_map_and_writes_nothing(review_copy, tmp_path):
    rows = sheet_rows()
    rows[0]["sd_int"] = "about four"
    rows[1]["outcome"] = "mood"
    rows.append({**rows[0], "trial_id": "Bad ID", "sd_int": 4.0})
    sheet = tmp_path / "bad.csv"
    pd.DataFrame(rows).to_csv(sheet, index=False)
    with pytest.raises(RecordError) as err:
        import_sheet(review_copy, sheet)
    text = str(err.value)
    assert "row 2, sd_int: not a number" in text
    assert "row 3, outcome: must be one of" in text
    assert "row 4" in text and "trial_id" in text
    assert not (review_copy / "trials" / "doe-2025.yaml").exists()
    # an import writes; it builds nothing, so it must not say "nothing was built" (a new user read it so)
    assert text.startswith("3 problems found before writing; nothing was written:") and "built" not in text


def test_import_refuses_values_the_review_would_reject(review_copy, tmp_path):
    rows = sheet_rows()
    rows[1]["events_int"] = 40  # more completers than randomised
    sheet = tmp_path / "over.csv"
    pd.DataFrame(rows).to_csv(sheet, index=False)
    with pytest.raises(RecordError) as err:
        import_sheet(review_copy, sheet)
    assert "more events than participants" in str(err.value)
    assert not (review_copy / "trials" / "doe-2025.yaml").exists()


def test_import_command_line(review_copy, tmp_path):
    sheet = tmp_path / "ok.csv"
    pd.DataFrame(sheet_rows()).to_csv(sheet, index=False)
    res = subprocess.run([sys.executable, "-m", "livingmeta.cli", "import", str(review_copy), str(sheet)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "doe-2025: new record" in res.stdout and "1 added, 0 updated, 0 unchanged" in res.stdout
