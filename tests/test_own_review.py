"""A team starts and keeps its own review (issue 21, items 1 to 3): `livingmeta new-review` writes a
review that passes `check` and the sheet that fits it; the sheet carries citations, risk of bias
and moderators, and says which columns it did not import; importing into records that exist
merges (what the sheet carries changes, every other field stays) and lists each change.

Every trial, sheet row and citation here is SYNTHETIC."""

import subprocess
import sys

import pandas as pd
import pytest
import yaml

from livingmeta.cli import main
from livingmeta.pipeline.intake import import_sheet, load_definition
from livingmeta.pipeline.records import RecordError, load_review, load_yaml

CLI = [sys.executable, "-m", "livingmeta.cli"]
FLAGS = ["--title", "Mindfulness for chronic pain (SYNTHETIC)", "--intervention", "mindfulness", "--control",
         "usual care", "--outcome", "Pain intensity", "--measure", "SMD", "--lower-is-better"]


def new_review(tmp_path, *flags, name="pain-review"):
    root = tmp_path / "data" / "reviews" / name
    res = subprocess.run([*CLI, "new-review", str(root), *(flags or FLAGS)], capture_output=True, text=True,
                         cwd=tmp_path)
    return root, res


def rows():
    """Two SYNTHETIC trials of the new review, with citation and RoB 2 columns."""
    base = {"outcome": "pain_intensity", "timepoint": "end_of_treatment", "journal": "J Synth",
            "rob_source": "SYNTHETIC assessment, two reviewers", "rob_randomisation": "low",
            "rob_deviations": "low", "rob_missing_data": "low", "rob_measurement": "Some concerns",
            "rob_selection": "low", "rob_overall": "some concerns"}
    return [
        {**base, "trial_id": "alpha-2015", "label": "Alpha 2015", "year": 2015, "source": "SYNTHETIC Table 2",
         "n_int": 30, "mean_int": 4.1, "sd_int": 1.9, "n_ctl": 31, "mean_ctl": 5.0, "sd_ctl": 2.0,
         "authors": "Alpha A; Beta B; et al", "title": "SYNTHETIC trial one", "doi": "https://doi.org/10.1000/a1",
         "pmid": "12345", "rob_randomisation_support": "computer-generated list"},
        {**base, "trial_id": "beta-2016", "label": "Beta 2016", "year": 2016, "source": "SYNTHETIC Table 3",
         "n_int": 25, "mean_int": 3.9, "sd_int": 2.1, "n_ctl": 24, "mean_ctl": 4.8, "sd_ctl": 2.2,
         "authors": "Beta B", "title": "SYNTHETIC trial two", "rob_overall": "high"},
    ]


def write(tmp_path, table, name="sheet.csv"):
    path = tmp_path / name
    df = pd.DataFrame(table)
    df.to_csv(path, index=False) if name.endswith(".csv") else df.to_excel(path, index=False)
    return path


@pytest.fixture
def started(tmp_path):
    root, res = new_review(tmp_path)
    assert res.returncode == 0, res.stderr
    return root


# -- item 1: new-review ------------------------------------------------------------------------------
def test_new_review_writes_a_review_that_passes_check_and_the_sheet_that_fits_it(tmp_path):
    root, res = new_review(tmp_path)
    assert res.returncode == 0, res.stderr
    assert "outcome id:   pain_intensity" in res.stdout and "timepoint id: end_of_treatment" in res.stdout
    definition = load_definition(root)
    assert definition["title"] == "Mindfulness for chronic pain (SYNTHETIC)"
    assert definition["outcomes"][0] | {"timepoints": None} == {
        "id": "pain_intensity", "label": "Pain intensity", "type": "continuous", "effect_measure": "SMD",
        "direction": "lower_is_better", "timepoints": None}
    assert definition["labels"]["favours_comparator"] == "Favours usual care"
    assert (root / "trials").is_dir() and not list((root / "trials").iterdir())
    check = subprocess.run([*CLI, "check", str(root)], capture_output=True, text=True)
    assert check.returncode == 0 and "no trial records yet" in check.stdout, check.stderr
    header = (root / "sheet-template.csv").read_text().strip().split(",")
    assert header[:12] == ["trial_id", "label", "year", "outcome", "timepoint", "source", "n_int", "mean_int",
                           "sd_int", "n_ctl", "mean_ctl", "sd_ctl"]
    assert {"authors", "title", "journal", "doi", "pmid", "rob_source", "rob_overall", "rob_overall_support"} <= set(header)
    assert "#" in (root / "review.yaml").read_text()  # commented


def test_a_binary_review_gets_event_columns_and_rob1_if_asked(tmp_path):
    root, res = new_review(tmp_path, "--outcome", "Relapse within a year", "--measure", "RR", "--lower-is-better",
                           "--rob", "rob1")
    assert res.returncode == 0, res.stderr
    outcome = load_definition(root)["outcomes"][0]
    assert (outcome["id"], outcome["type"], outcome["effect_measure"]) == ("relapse_within_a_year", "binary", "RR")
    header = (root / "sheet-template.csv").read_text().strip().split(",")
    assert {"events_int", "total_int", "events_ctl", "total_ctl", "rob_sequence_generation"} <= set(header)
    assert "n_int" not in header and "rob_overall" not in header


def test_the_commented_moderator_and_search_count_examples_are_valid_once_uncommented(started):
    from livingmeta.pipeline.prisma import flow_problems
    from livingmeta.pipeline.records import schema_problems
    text = (started / "review.yaml").read_text()
    before, after = text.split("\nmoderators: []\n")

    def uncommented(part, first):
        lines = part.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith(first))
        return "\n".join(line[2:] for line in lines[start:] if line.startswith("# "))
    definition = yaml.safe_load(text)
    definition |= yaml.safe_load(uncommented(before, "#   moderators:"))
    definition |= yaml.safe_load(uncommented(after, "# search_flow:"))
    assert [m["name"] for m in definition["moderators"]] == ["setting", "weeks"]
    assert definition["search_flow"][0]["studies_included_total"] == 8
    assert schema_problems(definition, "review", "review.yaml") == []
    assert flow_problems(definition["search_flow"], None) == []


def test_new_review_never_overwrites_and_says_which_flags_it_needs(started, tmp_path):
    before = (started / "review.yaml").read_bytes()
    _, again = new_review(tmp_path)
    assert again.returncode == 2 and "never overwrites" in again.stderr
    assert (started / "review.yaml").read_bytes() == before
    _, bare = new_review(tmp_path, "--title", "x", name="other-review")
    assert bare.returncode == 2 and "--outcome" in bare.stderr and "--measure" in bare.stderr
    assert "Traceback" not in bare.stderr and len(bare.stderr.strip().splitlines()) == 1


def test_importing_into_a_review_that_does_not_exist_says_how_to_start_one(tmp_path):
    sheet = write(tmp_path, rows())
    res = subprocess.run([*CLI, "import", "no-such-review", str(sheet)], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 2 and "livingmeta new-review no-such-review" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["import", "new-trial"])
def test_a_review_yaml_without_arms_is_a_message_not_a_traceback(started, tmp_path, command):
    text = (started / "review.yaml").read_text()
    (started / "review.yaml").write_text(text.replace("arms:\n  intervention: intervention\n  control: control\n", ""))
    arg = str(write(tmp_path, rows())) if command == "import" else "alpha-2015"
    res = subprocess.run([*CLI, command, str(started), arg], capture_output=True, text=True)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert f"{started / 'review.yaml'}: arms: is missing; add the names" in res.stderr


def test_the_template_imported_before_it_is_filled_says_so(started):
    with pytest.raises(RecordError, match="no data rows below the header"):
        import_sheet(started, started / "sheet-template.csv")


def test_what_new_review_writes_imports_and_checks(started, tmp_path):
    import_sheet(started, write(tmp_path, rows()))
    review = load_review(started)
    assert sorted(r["id"] for r in review.trials) == ["alpha-2015", "beta-2016"]


# -- item 2: the sheet carries what a record carries -------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_citation_and_risk_of_bias_columns_reach_the_record(started, tmp_path, suffix):
    table = rows()
    table[1]["pmid"] = 23456789  # a number cell in a workbook: still the PMID as typed
    import_sheet(started, write(tmp_path, table, "sheet" + suffix))
    alpha, beta = (load_yaml(started / "trials" / f"{t}.yaml")[0] for t in ("alpha-2015", "beta-2016"))
    assert alpha["citation"] | {"source_urls": None} == {
        "first_author": "Alpha", "authors": ["Alpha A", "Beta B"], "authors_complete": False,
        "title": "SYNTHETIC trial one", "journal": "J Synth", "doi": "10.1000/a1", "pmid": "12345",
        "source_urls": None}
    assert beta["citation"]["pmid"] == "23456789"
    rob = alpha["risk_of_bias"]
    assert rob["tool"] == "rob2" and rob["source"] == "SYNTHETIC assessment, two reviewers"
    assert rob["domains"]["randomisation"] == {"judgement": "low", "support": "computer-generated list"}
    assert rob["domains"]["measurement"]["judgement"] == "some_concerns"
    assert beta["risk_of_bias"]["domains"]["overall"]["judgement"] == "high"


def test_rob1_columns_give_a_rob1_block(started, tmp_path):
    table = [{k: v for k, v in r.items() if not k.startswith("rob_") or k == "rob_source"} for r in rows()]
    table[0] |= {"rob_sequence_generation": "low", "rob_allocation_concealment": "unclear",
                 "rob_allocation_concealment_support": "not described"}
    notes = []
    import_sheet(started, write(tmp_path, table), notes=notes)
    rob = load_yaml(started / "trials" / "alpha-2015.yaml")[0]["risk_of_bias"]
    assert rob["tool"] == "rob1"
    assert "risk_of_bias" not in load_yaml(started / "trials" / "beta-2016.yaml")[0]
    assert any("row 3, rob_source: trial beta-2016" in n and "no risk-of-bias block" in n for n in notes), notes
    assert rob["domains"] == {"sequence_generation": {"judgement": "low", "support": None},
                              "allocation_concealment": {"judgement": "unclear", "support": "not described"}}


@pytest.mark.parametrize("change,words", [
    ({"rob_overall": "probably fine"}, "row 2, rob_overall: must be one of low, some_concerns, high, not_assessed"),
    ({"rob_source": None}, "row 2, rob_source: trial alpha-2015: is empty: say where the risk-of-bias judgements"),
    ({"rob_sequence_generation": "low"}, "a record uses one tool"),
    ({"rob_selection_support": "text", "rob_selection": None}, "support text without a judgement"),
    ({"doi": "javascript:alert(1)"}, "row 2, doi: trial alpha-2015: 'javascript:alert(1)' does not match"),
])
def test_risk_of_bias_and_citation_cells_a_record_cannot_hold_are_refused_with_their_row(started, tmp_path,
                                                                                           change, words):
    table = rows()
    table[0] |= change
    with pytest.raises(RecordError) as err:
        import_sheet(started, write(tmp_path, table))
    assert words in str(err.value)
    assert not list((started / "trials").iterdir())


def test_an_unknown_column_is_a_warning_naming_it_and_a_declared_moderator_once_declared(started, tmp_path):
    table = rows()
    for r, country in zip(table, ["DE", "FR"]):
        r["country"] = country
    notes = []
    import_sheet(started, write(tmp_path, table), notes=notes)
    assert any("column 'country'" in n and "NOT imported" in n and "moderator" in n for n in notes), notes
    text = (started / "review.yaml").read_text().replace(
        "moderators: []", "moderators:\n  - {name: country, label: Country, type: categorical, "
                          "levels: {DE: Germany, FR: France}}")
    (started / "review.yaml").write_text(text)
    notes = []
    result = import_sheet(started, write(tmp_path, table), update=True, notes=notes)
    assert not any("country" in n for n in notes), notes
    assert str(result.changed["alpha-2015"][0]) == 'moderators.country: (none) -> "DE"'
    assert load_yaml(started / "trials" / "beta-2016.yaml")[0]["moderators"] == {"country": "FR"}


# -- item 3: re-importing merges, never deletes ---------------------------------------------------------
def hand_edit(path):
    """What a reviewer adds by hand after an import: an outcome-level RoB judgement, a citation's
    volume and pages, an arm description, a note on the block, and a comment at the top."""
    rec = load_yaml(path)[0]
    rec["risk_of_bias"]["by_outcome"] = {"pain_intensity": {"measurement": {"judgement": "high", "support": "unblinded"}}}
    rec["citation"] |= {"volume": "12", "pages": "100-110"}
    rec["arms"]["intervention"]["description"] = "8 weekly group sessions"
    rec["outcomes"]["pain_intensity"][0]["measure"] = "BPI (SYNTHETIC)"
    from livingmeta.pipeline.records import dump_yaml
    path.write_text("# Checked by hand against the paper (SYNTHETIC).\n" + dump_yaml(rec))
    return rec


def test_update_changes_what_the_sheet_carries_keeps_hand_edits_and_lists_each_change(started, tmp_path, capsys):
    import_sheet(started, write(tmp_path, rows()))
    path = started / "trials" / "alpha-2015.yaml"
    edited = hand_edit(path)
    corrected = rows()
    corrected[0] |= {"mean_int": 4.4, "title": None}  # a corrected mean; the title cell left empty
    sheet = write(tmp_path, corrected, "corrected.csv")
    assert main(["import", str(started), str(sheet), "--update"]) == 0
    out = capsys.readouterr().out
    assert "alpha-2015: 1 field changed\n  outcomes.pain_intensity[0].arms.intervention.mean: 4.1 -> 4.4" in out
    assert "0 added, 1 updated, 1 unchanged" in out
    after = load_yaml(path)[0]
    assert after["outcomes"]["pain_intensity"][0]["arms"]["intervention"]["mean"] == 4.4
    for kept in ("risk_of_bias", "arms"):
        assert after[kept] == edited[kept]
    assert after["citation"] == edited["citation"]  # volume and pages kept; an empty cell deletes nothing
    assert after["outcomes"]["pain_intensity"][0]["measure"] == "BPI (SYNTHETIC)"
    assert path.read_text().startswith("# Checked by hand against the paper (SYNTHETIC).\n")
    assert len(load_review(started).trials) == 2


def test_dry_run_lists_the_changes_and_writes_nothing(started, tmp_path, capsys):
    import_sheet(started, write(tmp_path, rows()))
    before = {p.name: p.read_bytes() for p in (started / "trials").iterdir()}
    corrected = rows()
    corrected[1]["sd_ctl"] = 2.5
    corrected.append({**rows()[1], "trial_id": "gamma-2017", "label": "Gamma 2017", "year": 2017})
    sheet = write(tmp_path, corrected, "corrected.csv")
    assert main(["import", str(started), str(sheet), "--overwrite", "--dry-run"]) == 0  # the old name still works
    out = capsys.readouterr().out
    assert "beta-2016: 1 field changed\n  outcomes.pain_intensity[0].arms.control.sd: 2.2 -> 2.5" in out
    assert "gamma-2017: new record" in out and "dry run: nothing written" in out
    assert {p.name: p.read_bytes() for p in (started / "trials").iterdir()} == before


def test_without_update_records_that_exist_are_refused_and_an_unchanged_sheet_writes_nothing(started, tmp_path):
    sheet = write(tmp_path, rows())
    import_sheet(started, sheet)
    with pytest.raises(RecordError, match="use --update"):
        import_sheet(started, sheet)
    mtimes = {p.name: p.stat().st_mtime_ns for p in (started / "trials").iterdir()}
    result = import_sheet(started, sheet, update=True)
    assert result.unchanged == ["alpha-2015", "beta-2016"] and result.written == []
    assert {p.name: p.stat().st_mtime_ns for p in (started / "trials").iterdir()} == mtimes


def test_a_sheet_may_not_switch_a_records_risk_of_bias_tool(started, tmp_path):
    import_sheet(started, write(tmp_path, rows()))
    table = [{k: v for k, v in r.items() if not k.startswith("rob_") or k == "rob_source"} for r in rows()]
    table[0]["rob_sequence_generation"] = "low"
    with pytest.raises(RecordError, match="assessed with RoB 2, the sheet gives RoB 1"):
        import_sheet(started, write(tmp_path, table), update=True)


def test_a_correction_the_checks_refuse_leaves_the_record_as_it_was(started, tmp_path):
    import_sheet(started, write(tmp_path, rows()))
    path = started / "trials" / "alpha-2015.yaml"
    hand_edit(path)
    before = path.read_bytes()
    corrected = rows()
    corrected[0]["sd_int"] = -1
    with pytest.raises(RecordError) as err:
        import_sheet(started, write(tmp_path, corrected, "corrected.csv"), update=True)
    assert "row 2, sd_int" in str(err.value) and "greater than 0" in str(err.value)
    assert path.read_bytes() == before
