"""End to end, as a new user would (issue 21): the README's five steps, from nothing to a published
first edition of one's own review, with no YAML written by hand (the configuration is not touched
either): `livingmeta new-review` with its flags, fill the sheet it wrote with 8 trials (risk of bias
and citations included), `import`, `build REVIEW`, `update REVIEW`. Then a delivery setting changes
and nothing is published; a corrected sheet is imported with --update, the hand edits made in
between are still there, and the next edition names the corrected field.

Every trial, number, judgement and citation here is SYNTHETIC."""

import csv
import json
import subprocess
import sys

import pytest
import yaml
from conftest import copy_project

from livingmeta.pipeline.records import dump_yaml, load_yaml

REVIEW = "pain-review"
FLAGS = ["--title", "Mindfulness for chronic pain (SYNTHETIC)", "--intervention", "mindfulness", "--control",
         "usual care", "--outcome", "Pain intensity", "--measure", "SMD", "--lower-is-better"]
# label, year, n, mean and SD (intervention, control), RoB 2 overall, title (all SYNTHETIC)
TRIALS = [
    ("Alpha", 2015, 30, 4.1, 1.9, 31, 5.0, 2.0, "some concerns", "Mindful pain care in adults"),
    ("Beta", 2016, 25, 3.9, 2.1, 24, 4.8, 2.2, "high", "Group mindfulness for back pain"),
    ("Gamma", 2017, 40, 5.2, 2.4, 42, 5.6, 2.3, "low", "Mindfulness training and pain"),
    ("Delta", 2018, 18, 3.0, 1.5, 20, 4.1, 1.7, "high", "A pilot trial of mindfulness"),
    ("Epsilon", 2019, 55, 4.4, 2.0, 53, 4.9, 2.1, "low", "Online mindfulness for pain"),
    ("Zeta", 2020, 22, 4.0, 1.8, 21, 5.2, 1.9, "some concerns", "Mindfulness in primary care"),
    ("Eta", 2021, 35, 4.8, 2.2, 36, 5.1, 2.2, "low", "Mindfulness and physiotherapy"),
    ("Theta", 2022, 60, 3.7, 1.9, 58, 4.6, 2.0, "high", "Mindfulness for older adults"),
]


def livingmeta(work, *args):
    return subprocess.run([sys.executable, "-m", "livingmeta.cli", *args], capture_output=True, text=True, cwd=work)


def fill_sheet(template, out, trials):
    """The sheet new-review wrote, filled in: one row per trial, every column of the template."""
    with open(template, newline="") as fh:
        header = next(csv.reader(fh))
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        for label, year, n1, m1, s1, n2, m2, s2, overall, title in trials:
            tid = f"{label.lower()}-{year}"
            writer.writerow({
                "trial_id": tid, "label": f"{label} {year}", "year": year, "outcome": "pain_intensity",
                "timepoint": "end_of_treatment", "source": f"SYNTHETIC {label} {year}, Table 2", "n_int": n1,
                "mean_int": m1, "sd_int": s1, "n_ctl": n2, "mean_ctl": m2, "sd_ctl": s2,
                "authors": f"{label} A; Other B", "title": f"{title} (SYNTHETIC)", "journal": "J Synth Pain",
                "doi": f"10.9999/synthetic.{tid}", "rob_source": "SYNTHETIC: our assessment, two reviewers",
                "rob_randomisation": "low", "rob_randomisation_support": "computer-generated list",
                "rob_deviations": "low", "rob_missing_data": "low" if overall != "high" else "high",
                "rob_measurement": "some concerns" if overall != "low" else "low", "rob_selection": "low",
                "rob_overall": overall})


@pytest.mark.slow
def test_from_nothing_to_a_published_edition_in_five_commands_and_a_corrected_sheet_keeps_hand_edits(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    work = copy_project(tmp_path / "project")  # the project as cloned: config.yaml does not list the new review
    config_before = (work / "config" / "config.yaml").read_bytes()
    made = livingmeta(work, "new-review", REVIEW, *FLAGS)                       # 1
    assert made.returncode == 0, made.stderr
    root = work / "data" / "reviews" / REVIEW
    sheet = tmp_path / "extraction.csv"
    fill_sheet(root / "sheet-template.csv", sheet, TRIALS)                      # 2 (a spreadsheet, not YAML)
    imported = livingmeta(work, "import", REVIEW, str(sheet))                   # 3
    assert imported.returncode == 0 and "8 added" in imported.stdout, imported.stderr
    assert imported.stderr == ""  # every column of the template was imported
    build = livingmeta(work, "build", REVIEW)                                   # 4
    assert build.returncode == 0, build.stderr[-4000:]
    assert f"results/{REVIEW}/report.pdf" in build.stdout + build.stderr
    assert not (work / "results" / "exercise-depression").exists()  # only the named review was built
    pdf = work / "results" / REVIEW / "report.pdf"
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(pdf).pages).split())
    for label, year, *_ in TRIALS:
        assert f"{label} {year}" in text
    assert "Mindfulness for chronic pain (SYNTHETIC)" in text and "Favours mindfulness" in text
    assert "Group mindfulness for back pain (SYNTHETIC)" in text  # the citation reached the references
    assert "some concerns" in text.lower() and "RoB 2" in text    # and the risk of bias its section
    update = livingmeta(work, "update", REVIEW)                                 # 5
    assert update.returncode == 0, update.stderr[-4000:]
    first = (work / "results" / REVIEW / "latest").resolve()
    assert (first / "report.pdf").is_file() and (first / "report.html").is_file()
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["review"] == REVIEW
    assert (work / "config" / "config.yaml").read_bytes() == config_before  # no YAML edited by hand, not even here

    # A delivery setting is not evidence: adding a publish folder publishes nothing new.
    cfg = yaml.safe_load(config_before)
    cfg["publish"] = {**(cfg.get("publish") or {}), "dir": str(tmp_path / "published")}
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    again_update = livingmeta(work, "update", REVIEW)
    assert again_update.returncode == 0, again_update.stderr[-4000:]
    assert (work / "results" / REVIEW / "latest").resolve() == first

    # A reviewer adds to a record by hand, then the team corrects the sheet and imports it again.
    path = root / "trials" / "beta-2016.yaml"
    rec = load_yaml(path)[0]
    rec["risk_of_bias"]["domains"]["deviations"]["support"] = "SYNTHETIC: checked against the protocol"
    rec["citation"] |= {"volume": "7", "pages": "11-19"}
    rec["moderator_sources"]["note"] = "SYNTHETIC: setting coded from the methods section"
    path.write_text("# Beta 2016: checked by hand (SYNTHETIC).\n" + dump_yaml(rec))
    corrected = [list(t) for t in TRIALS]
    corrected[1][3] = 3.6  # Beta 2016's intervention mean, corrected
    fill_sheet(root / "sheet-template.csv", sheet, corrected)
    dry = livingmeta(work, "import", REVIEW, str(sheet), "--update", "--dry-run")
    assert dry.returncode == 0 and path.read_text().startswith("# Beta 2016: checked by hand"), dry.stderr
    assert load_yaml(path)[0]["outcomes"]["pain_intensity"][0]["arms"]["intervention"]["mean"] == 3.9
    again = livingmeta(work, "import", REVIEW, str(sheet), "--update")
    assert again.returncode == 0, again.stderr
    assert "beta-2016: 1 field changed\n  outcomes.pain_intensity[0].arms.intervention.mean: 3.9 -> 3.6" in again.stdout
    assert "0 added, 1 updated, 7 unchanged" in again.stdout
    after = load_yaml(path)[0]
    assert after["outcomes"]["pain_intensity"][0]["arms"]["intervention"]["mean"] == 3.6
    assert after["risk_of_bias"] == rec["risk_of_bias"] and after["citation"] == rec["citation"]
    assert after["moderator_sources"] == rec["moderator_sources"]
    assert path.read_text().startswith("# Beta 2016: checked by hand (SYNTHETIC).\n")
    check = livingmeta(work, "check", REVIEW)
    assert check.returncode == 0 and "8 trial records, all valid" in check.stdout, check.stderr
    assert yaml.safe_load((root / "review.yaml").read_text())["id"] == REVIEW
    # the next edition says what changed, field by field
    next_update = livingmeta(work, "update", REVIEW)
    assert next_update.returncode == 0, next_update.stderr[-4000:]
    second = (work / "results" / REVIEW / "latest").resolve()
    assert second != first
    changes = json.loads((second / "changes.json").read_text())
    fields = [f for c in changes["corrections"] for f in c["fields"]]
    assert any(f["old"] == 3.9 and f["new"] == 3.6 for f in fields), changes["corrections"]
