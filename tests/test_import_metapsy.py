"""Importing a Metapsy database (the real depression-psyctr database, releases 22.0.2 and 24.0.2,
ODC-By, read in place from ../shared/data/metapsy-depression-psyctr, attribution in its README): every
data row accounted for, effects that agree with the database's own g, risk of bias and PRISMA
mapped per workflow/schemas/trial.schema.yaml, hostile or malformed input refused with file, location and reason, and
a sync between releases listing what was added, removed and corrected."""

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from livingmeta.pipeline import analysis, tables
from livingmeta.errors import ImportFormatError
from livingmeta.living.importers import metapsy
from livingmeta.pipeline.records import load_review
from shared_data import shared_path

ROOT = Path(__file__).resolve().parents[1]


def r22() -> Path:
    return shared_path("metapsy-depression-psyctr/22.0.2")


def r24() -> Path:
    return shared_path("metapsy-depression-psyctr/24.0.2")


def database_rows(release: Path) -> pd.DataFrame:
    """data.csv read independently of the importer (pandas, decimal comma)."""
    return pd.read_csv(release / "data.csv", sep=";", decimal=",", na_values=["NA"], keep_default_na=False)


@pytest.fixture(scope="module")
def imported24(tmp_path_factory):
    target = tmp_path_factory.mktemp("m24") / "psy"
    report = metapsy.import_metapsy(target, r24())
    return target, report


def test_every_study_becomes_one_valid_record_and_every_row_is_accounted_for(imported24):
    target, report = imported24
    review = load_review(target)
    db = database_rows(r24())
    assert len(review.trials) == db.study.nunique() == 480
    blocks = sum(len(r["outcomes"]["depression"]) for r in review.trials)
    rows = list(csv.DictReader((target / "provenance" / "metapsy-rows.csv").open(encoding="utf-8")))
    assert len(rows) == len(db) == 900
    assert sorted(int(r["row"]) for r in rows) == list(range(1, 901))
    refused = [r for r in rows if r["used"] == "refused"]
    assert blocks + len(refused) == 900
    assert all(r["reason"] for r in refused) and len(report.refused) == len(refused)
    # each used row points at a block of its study's record
    by_id = {r["id"]: {b["effect_id"] for b in r["outcomes"]["depression"]} for r in review.trials}
    assert all(r["effect_id"] in by_id[r["trial_id"]] for r in rows if r["used"] != "refused")


def test_effects_agree_with_the_databases_own_hedges_g(imported24):
    """The database ships metapsyTools' g (.g, positive = psychotherapy better). livingmeta's
    effect per row (intervention minus control, lower is better) must be its negative."""
    target, _ = imported24
    review = load_review(target)
    every = analysis.effect_size_table(tables.arm_table(review), review.definition, {})
    rows = pd.read_csv(target / "provenance" / "metapsy-rows.csv")
    used = rows[rows.used != "refused"].merge(every[["trial_id", "effect_id", "yi", "sei"]],
                                               on=["trial_id", "effect_id"], how="left")
    db = database_rows(r24()).reset_index(names="i")
    db["row"] = db.i + 1
    both = used.merge(db[["row", ".g", ".g_se"]], on="row")
    assert len(both) == len(used) and both.yi.notna().all()
    agree = np.isclose(-both.yi, both[".g"], atol=1e-3)
    # five rows where the database's g disagrees with its own means (documented in the README)
    assert (~agree).sum() == 5, both.loc[~agree, ["study", ".g"]]
    assert set(both.loc[~agree, "study"]) == {"Arjadi, 2018", "Baker, 2010", "Mueller-Weinitschke, 2023",
                                             "Rohde, 2014b", "Victor-Aigbodion, 2023"}


def test_effect_source_follows_the_priority_raw_change_events_precomputed(imported24):
    target, _ = imported24
    rec = yaml.safe_load((target / "trials" / "aagaard-2017.yaml").read_text())
    blk = rec["outcomes"]["depression"][0]
    assert blk["effect_source"].startswith("means and SDs") and blk["arms"]["psychotherapy"] == {
        "n": 40, "mean": 17.5, "sd": 12.6}
    sources = [b["effect_source"].split(" (")[0].split(";")[0] for p in (target / "trials").glob("*.yaml")
               for b in yaml.safe_load(p.read_text())["outcomes"]["depression"]]
    kinds = pd.Series([s.split(":")[0] for s in sources]).value_counts()
    assert kinds["means and SDs"] == 807 and kinds["change scores"] == 19
    # Shaw 1977 has one row with neither precalc_g nor raw data: the database's .g is used, and said so
    shaw = yaml.safe_load((target / "trials" / "shaw-1977.yaml").read_text())
    assert any("only the database's computed g" in b["effect_source"] for b in shaw["outcomes"]["depression"])


def test_risk_of_bias_rob1_items_follow_the_contract(imported24):
    target, _ = imported24
    rob = yaml.safe_load((target / "trials" / "aagaard-2017.yaml").read_text())["risk_of_bias"]
    assert rob["tool"] == "rob1"
    d = rob["domains"]
    # data.csv: sg 1, ac 1, ba sr, itt 0
    assert d["sequence_generation"]["judgement"] == "low"
    assert d["allocation_concealment"]["judgement"] == "low"
    assert d["incomplete_outcome_data"]["judgement"] == "high"
    assert d["blinding_outcome_assessment"]["judgement"] == "not_assessed"
    assert "self-report" in d["blinding_outcome_assessment"]["support"]


def test_search_flow_copies_prisma_counts_without_fixing_them(imported24):
    target, _ = imported24
    flow = yaml.safe_load((target / "review.yaml").read_text())["search_flow"]
    src = json.loads((r24() / "metadata" / "search_flow.json").read_text())
    (entry,) = flow
    assert entry["label"] == "Metapsy release 24.0.2" and entry["date"] == "2024-01-01"
    assert entry["identified"] == {"databases": src["database.hits"], "registers": None,
                                   "other": src["additional.records"]}
    assert entry["records_screened"] == src["records.screened"]
    assert entry["duplicates_removed"] is None and entry["records_excluded"] is None
    assert entry["reports_assessed"] == 4439 and entry["studies_included_total"] == 480
    assert entry["reports_excluded"] == src["full.text.excluded.reasons"]
    assert sum(entry["reports_excluded"].values()) == 3875  # not "fixed" to 4439 - 480


def test_attribution_and_licence_travel_with_the_data(imported24):
    target, _ = imported24
    definition = yaml.safe_load((target / "review.yaml").read_text())
    assert "version 24.0.2" in definition["attribution"] and "10.5281/zenodo.7254845" in definition["attribution"]
    assert "ODC-By" in definition["licence"]
    copy = target / "provenance" / "metapsy-source"
    assert (copy / "LICENSE.txt").is_file() and (copy / "data.csv").read_bytes() == (r24() / "data.csv").read_bytes()


# ------------------------------------------------------------------------------------------------
# Refusals: file, location, reason; nothing written
# ------------------------------------------------------------------------------------------------
def small_database(tmp_path, edit=None, rows=6) -> Path:
    """The first rows of release 24.0.2, optionally edited (text lines of data.csv)."""
    folder = tmp_path / "db" / "24.0.2"
    shutil.copytree(r24() / "metadata", folder / "metadata")
    lines = (r24() / "data.csv").read_text(encoding="utf-8").splitlines(keepends=True)[: rows + 1]
    if edit:
        lines = edit(lines)
    (folder / "data.csv").write_text("".join(lines), encoding="utf-8")
    return folder


def test_a_folder_without_data_csv_is_refused(tmp_path):
    folder = tmp_path / "db"
    (folder / "metadata").mkdir(parents=True)
    with pytest.raises(ImportFormatError, match=r"data\.csv: \(file\): missing"):
        metapsy.import_metapsy(tmp_path / "review", folder)
    assert not (tmp_path / "review").exists()


def test_malformed_csv_is_refused_with_its_row(tmp_path):
    def stray_field(lines):
        lines[4] = lines[4].rstrip("\n") + ';"extra"\n'
        return lines
    folder = small_database(tmp_path, stray_field)
    with pytest.raises(ImportFormatError, match=r"data\.csv: data row 4 \(line 5\): 72 fields, the header has 71"):
        metapsy.import_metapsy(tmp_path / "review", folder)
    assert not (tmp_path / "review").exists()


def test_a_number_that_is_not_one_is_refused_with_row_and_column(tmp_path):
    def bad_mean(lines):
        lines[2] = lines[2].replace(";17,5;12,6;40;", ";17,5;twelve;40;", 1) if ";17,5;12,6;40;" in lines[2] else \
            lines[2].replace(";3,8;3,3;13;", ";3,8;three;13;", 1)
        return lines
    folder = small_database(tmp_path, bad_mean)
    with pytest.raises(ImportFormatError, match=r"data row 2, column sd_arm1: 'three' is not a number"):
        metapsy.import_metapsy(tmp_path / "review", folder)


def test_an_unknown_risk_of_bias_column_is_named_in_one_warning_never_refused(tmp_path):
    def extra_rob(lines):
        return [line.rstrip("\n") + (';"rob_blinding"\n' if i == 0 else ";1\n") for i, line in enumerate(lines)]
    folder = small_database(tmp_path, extra_rob)
    report = metapsy.import_metapsy(tmp_path / "review", folder)
    assert [w for w in report.warnings if "rob_blinding" in w] == [
        "column 'rob_blinding' of data.csv is not one livingmeta reads; not imported (its values stay in "
        "provenance/metapsy-source/data.csv)"]


def test_rob2_domains_are_read_and_bad_judgements_refused(tmp_path):
    def rob2(lines, value="some concerns"):
        rows = list(csv.reader(io.StringIO("".join(lines)), delimiter=";"))
        keep = [j for j, h in enumerate(rows[0]) if h not in ("sg", "ac", "ba", "itt")]  # one tool per database
        out = io.StringIO()
        w = csv.writer(out, delimiter=";", lineterminator="\n")
        for i, cells in enumerate(rows):
            cells = [cells[j] for j in keep]
            w.writerow(cells + (["rob_d1", "rob_d2", "rob_d3", "rob_d4", "rob_d5", "rob_overall"] if i == 0
                                else ["low", "high", value, "low", "NA", "high"]))
        return out.getvalue().splitlines(keepends=True)
    folder = small_database(tmp_path, rob2)
    metapsy.import_metapsy(tmp_path / "review", folder)
    rec = yaml.safe_load((tmp_path / "review" / "trials" / "aagaard-2017.yaml").read_text())
    assert rec["risk_of_bias"]["tool"] == "rob2"
    assert rec["risk_of_bias"]["domains"]["missing_data"]["judgement"] == "some_concerns"
    assert rec["risk_of_bias"]["domains"]["selection"]["judgement"] == "not_assessed"
    assert rec["risk_of_bias"]["domains"]["overall"]["judgement"] == "high"
    folder = small_database(tmp_path / "bad", lambda ls: rob2(ls, "probably fine"))
    with pytest.raises(ImportFormatError, match=r"column rob_d3: 'probably fine' is not a RoB 2 judgement"):
        metapsy.import_metapsy(tmp_path / "bad" / "review", folder)


def test_an_existing_review_is_refused_without_sync_and_left_untouched(tmp_path):
    folder = small_database(tmp_path)
    target = tmp_path / "review"
    metapsy.import_metapsy(target, folder)
    before = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    with pytest.raises(ImportFormatError, match="review exists; use --sync"):
        metapsy.import_metapsy(target, folder)
    assert {p: p.read_bytes() for p in target.rglob("*") if p.is_file()} == before


# ------------------------------------------------------------------------------------------------
# A living update: 22.0.2 -> 24.0.2
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    target = tmp_path_factory.mktemp("sync") / "psy"
    metapsy.import_metapsy(target, r22())
    before = {p.stem: yaml.safe_load(p.read_text()) for p in (target / "trials").glob("*.yaml")}
    # a review author's own outcome setting, which the database does not hold
    definition = yaml.safe_load((target / "review.yaml").read_text())
    definition["outcomes"][0]["clinically_important_difference"] = {"value": 0.24, "source": "set by the authors"}
    (target / "review.yaml").write_text(yaml.safe_dump(definition, sort_keys=False))
    report = metapsy.import_metapsy(target, r24(), sync=True)
    return target, before, report


def test_sync_keeps_hand_written_outcome_settings(synced):
    target, _, _ = synced
    outcome = yaml.safe_load((target / "review.yaml").read_text())["outcomes"][0]
    assert outcome["clinically_important_difference"] == {"value": 0.24, "source": "set by the authors"}


def test_sync_lists_added_removed_and_corrected_studies(synced):
    target, before, report = synced
    labels22, labels24 = set(database_rows(r22()).study), set(database_rows(r24()).study)
    added = {lab for _, lab in report.added}
    removed = {lab for _, lab in report.removed}
    renamed = {lab: why for _, lab, why in report.changed if why.startswith("renamed")}
    # every label new in 24.0.2 is either added or a renamed study matched by its full reference
    assert added | set(renamed) == labels24 - labels22
    assert removed == (labels22 - labels24) - {why.split("'")[1] for why in renamed.values()}
    assert len(report.added) == 80 and len(report.removed) == 15 and len(renamed) == 11
    assert "Abbas, 2023a" in added and "Castonguay, 2004" in removed
    # "Alfonso, 2009" became "Afonso, 2009" (same full reference): same trial id, listed as changed
    assert renamed["Afonso, 2009"].startswith("renamed from 'Alfonso, 2009'")
    assert yaml.safe_load((target / "trials" / "alfonso-2009.yaml").read_text())["label"] == "Afonso, 2009"
    assert len(load_review(target).trials) == 480
    # a study whose rows did not change keeps a byte-identical record; a corrected one is listed
    changed_ids = {tid for tid, _, _ in report.changed}
    unchanged = set(before) & {p.stem for p in (target / "trials").glob("*.yaml")} - changed_ids
    assert len(unchanged) == report.unchanged > 0
    flow = yaml.safe_load((target / "review.yaml").read_text())["search_flow"]
    assert [e["label"] for e in flow] == ["Metapsy release 22.0.2", "Metapsy release 24.0.2"]
    # each release's counts cover every search to date: drawn in the new-review form, never added to
    # the previous release's (the studies new since then are the edition's "what changed")
    assert [e["scope"] for e in flow] == ["cumulative", "cumulative"]
    assert flow[1]["studies_included_new"] is None and flow[1]["studies_included_total"] == 480


def test_cli_import_dispatches_a_metapsy_folder_and_lists_the_sync(tmp_path):
    target = tmp_path / "reviews" / "psy"
    cli = [sys.executable, "-m", "livingmeta.cli", "import"]
    first = subprocess.run([*cli, str(target), str(r22())], capture_output=True, text=True, cwd=ROOT)
    assert first.returncode == 0, first.stderr
    assert "415 added" in first.stdout
    again = subprocess.run([*cli, str(target), str(r24())], capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 2 and "use --sync" in again.stderr and "Traceback" not in again.stderr
    sync = subprocess.run([*cli, str(target), str(r24()), "--sync"], capture_output=True, text=True, cwd=ROOT)
    assert sync.returncode == 0, sync.stderr
    assert "removed: Castonguay, 2004 (castonguay-2004)" in sync.stdout
    assert "80 added, " in sync.stdout and "15 removed" in sync.stdout


@pytest.mark.slow
def test_living_update_from_release_22_to_24_reports_what_changed(tmp_path):
    """Part 5 end to end: import 22.0.2, publish an edition, --sync to 24.0.2, publish again; the
    second edition's changes.json lists the studies added, removed and corrected, how the
    estimate moved and whether the conclusion changed. (Two builds of a 480-study review.)"""
    from conftest import copy_project
    work = copy_project(tmp_path / "project", reviews=["psychotherapy-depression"])
    review_dir = work / "data" / "reviews" / "psychotherapy-depression"
    for imported in ("trials", "provenance"):  # a developer's own import of the database is not part of the project
        shutil.rmtree(review_dir / imported, ignore_errors=True)
    hand_set = yaml.safe_load((review_dir / "review.yaml").read_text())  # the folder ships settings, no data
    cli = [sys.executable, "-m", "livingmeta.cli"]

    def run(*args, epoch):
        env = {**__import__("os").environ, "SOURCE_DATE_EPOCH": epoch}
        res = subprocess.run([*cli, *args], capture_output=True, text=True, cwd=work, env=env)
        assert res.returncode == 0, res.stderr[-3000:]
        return res

    run("import", str(review_dir), str(r22()), epoch="1764028800")  # into the prepared folder: no --sync needed
    imported = yaml.safe_load((review_dir / "review.yaml").read_text())
    for key in ("title", "subtitle", "question", "labels", "report", "dependent_effects"):
        assert imported[key] == hand_set[key], key
    assert imported["outcomes"][0]["clinically_important_difference"] == hand_set["outcomes"][0]["clinically_important_difference"]
    assert imported["outcomes"][0]["label"] == hand_set["outcomes"][0]["label"]
    run("update", "psychotherapy-depression", "--root", str(work), epoch="1764028800")
    results = work / "results" / "psychotherapy-depression"
    first = (results / "latest").resolve()
    assert json.loads((first / "changes.json").read_text())["first_edition"] is True
    sync = run("import", str(review_dir), str(r24()), "--sync", epoch="1764115200")
    assert "added: Abbas, 2023a (abbas-2023a)" in sync.stdout
    run("update", "psychotherapy-depression", "--root", str(work), epoch="1764115200")
    second = (results / "latest").resolve()
    assert second != first and first.is_dir()
    changes = json.loads((second / "changes.json").read_text())
    assert changes["previous_edition"] == first.name
    assert len(changes["added"]) == 80 and "Abbas, 2023a" in changes["added"]
    assert len(changes["removed"]) == 15 and "Castonguay, 2004" in changes["removed"]
    assert "Afonso, 2009" in changes["corrected"]  # renamed from "Alfonso, 2009", matched by its reference
    assert changes["previous"]["k"] == 415 and changes["current"]["k"] == 480
    pooled_first = json.loads((first / "pooled.json").read_text())["analyses"][0]["model"]["estimate"]
    assert changes["estimate_change"] == pytest.approx(changes["current"]["estimate"] - pooled_first)
    assert changes["conclusion_changed"] is (changes["previous"]["conclusion"] != changes["current"]["conclusion"])
    assert (second / "inputs" / "trials" / "abbas-2023a.yaml").is_file()
    assert not (second / "inputs" / "trials" / "castonguay-2004.yaml").exists()


def test_hostile_labels_stay_inside_the_review_and_are_plain_text(tmp_path):
    def hostile(lines):
        rows = list(csv.reader(io.StringIO("".join(lines)), delimiter=";"))
        col = rows[0].index("study")
        rows[1][col] = "../../../etc/passwd, 2017"
        rows[2][col] = rows[3][col] = "<script>alert(1)</script>, 2018"
        out = io.StringIO()
        csv.writer(out, delimiter=";", lineterminator="\n").writerows(rows)
        return out.getvalue().splitlines(keepends=True)
    folder = small_database(tmp_path, hostile)
    target = tmp_path / "reviews" / "review"
    metapsy.import_metapsy(target, folder)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.yaml"))
    assert all(p.parts[:2] == ("reviews", "review") for p in written)
    assert (target / "trials" / "etc-passwd-2017.yaml").is_file()
    review = load_review(target)
    assert any("markup-like" in w for w in review.warnings)


def test_a_nul_byte_is_refused_with_its_line(tmp_path):
    def nul(lines):
        lines[3] = lines[3][:8] + "\0" + lines[3][8:]
        return lines
    folder = small_database(tmp_path, nul)
    with pytest.raises(ImportFormatError, match=r"data\.csv: line 4: control character '\\x00'"):
        metapsy.import_metapsy(tmp_path / "review", folder)


def test_generic_blocks_pool_as_given_and_ratios_must_be_on_the_log_scale(review_copy):
    """A record block with a computed effect (generic: estimate, se) enters the effect table as it
    is; for a ratio outcome the estimate must be a log ratio (log_scale: true)."""
    from livingmeta.pipeline.records import RecordError
    path = review_copy / "trials" / "singh-2005.yaml"
    rec = yaml.safe_load(path.read_text())
    def arms():
        return {a: {"n": None} for a in rec["arms"]}
    rec["outcomes"]["depression"][0] = {"timepoint": "post_treatment", "source": "SYNTHETIC test block",
                                        "generic": {"estimate": -0.5, "se": 0.2}, "arms": arms()}
    rec["outcomes"]["completion"] = [{"timepoint": "end_of_intervention", "source": "SYNTHETIC test block",
                                      "generic": {"estimate": 1.2, "se": 0.1}, "arms": arms()}]
    path.write_text(yaml.safe_dump(rec, sort_keys=False))
    with pytest.raises(RecordError, match=r"completion\[0\]\.generic\.log_scale: a RR is pooled on the log scale"):
        load_review(review_copy)
    rec["outcomes"]["completion"][0]["generic"]["log_scale"] = True
    path.write_text(yaml.safe_dump(rec, sort_keys=False))
    review = load_review(review_copy)
    table = analysis.effect_size_table(tables.arm_table(review), review.definition, {})
    row = table[(table.trial_id == "singh-2005") & (table.outcome == "depression")].iloc[0]
    assert (row.yi, row.vi) == (-0.5, pytest.approx(0.04))
    row = table[(table.trial_id == "singh-2005") & (table.outcome == "completion")].iloc[0]
    assert (row.yi, row.measure) == (1.2, "RR")


@pytest.mark.parametrize("comparisons, expected", [
    ("pharmacotherapy vs placebo", ("pharmacotherapy", "placebo")),
    ("Guided self-help versus waitlist", ("Guided self-help", "waitlist")),
    (None, None),
])
def test_the_arms_words_come_from_the_databases_metadata(tmp_path, comparisons, expected):
    """No review's words in the importer: the intervention and comparator are named by the
    database's metadata/comparisons.txt; without it the report keeps its generic words."""
    db = tmp_path / "db"
    shutil.copytree(r24(), db)
    target = db / "metadata" / "comparisons.txt"
    if comparisons is None:
        target.unlink()
    else:
        target.write_text(comparisons + "\n")
    definition = metapsy.read(db).definition
    labels = {m["name"]: m["label"] for m in definition["moderators"]}
    if expected is None:
        assert "labels" not in definition
        assert labels["condition_arm1"] == "Type of arm 1"
        assert "psychotherapy" not in definition["title"].lower() + definition["intervention"].lower()
    else:
        assert (definition["labels"]["intervention"], definition["labels"]["comparator"]) == expected
        assert definition["labels"]["favours_intervention"] == f"Favours {expected[0]}"
        assert labels["condition_arm1"] == f"Type of {expected[0]}"
        assert definition["intervention"].startswith(expected[0].capitalize())
