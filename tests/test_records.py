"""Bad trial records are rejected with a message naming the file, the field and the fix, and
all problems are reported at once."""

import pytest
import yaml

from livingmeta.pipeline.records import RecordError, load_review


def edit(review_dir, trial_id, change):
    path = review_dir / "trials" / f"{trial_id}.yaml"
    rec = yaml.safe_load(path.read_text())
    change(rec)
    path.write_text(yaml.safe_dump(rec, sort_keys=False))
    return path


def problems(review_dir):
    with pytest.raises(RecordError) as err:
        load_review(review_dir)
    return err.value.problems, str(err.value)


def post(rec):
    return rec["outcomes"]["depression"][0]["arms"]


def test_the_default_review_is_valid(review_copy):
    review = load_review(review_copy)
    assert len(review.trials) == 35


@pytest.mark.parametrize("change,field,words", [
    (lambda r: post(r)["exercise"].update(sd=-6.9), "outcomes.depression[0].arms.exercise.sd", "greater than 0"),
    (lambda r: post(r)["exercise"].update(sd=0), "outcomes.depression[0].arms.exercise.sd", "greater than 0"),
    (lambda r: post(r)["control"].update(n=1), "outcomes.depression[0].arms.control.n", "at least 2"),
    (lambda r: post(r)["exercise"].pop("mean"), "outcomes.depression[0].arms.exercise.mean", "mean is missing"),
    (lambda r: post(r)["exercise"].update(mean="8.7 points"), "outcomes.depression[0].arms.exercise.mean", "not a number"),
    (lambda r: r["moderators"].update(exercise_type="yoga"), "moderators.exercise_type", "unknown level"),
    (lambda r: r["moderators"].update(weeks="sixteen"), "moderators.weeks", "number"),
    (lambda r: r["outcomes"]["completion"][0]["arms"]["exercise"].update(events=60), "outcomes.completion[0].arms.exercise.events", "more events"),
    (lambda r: r["outcomes"]["depression"][0].pop("source"), "outcomes.depression.0", "source"),
])
def test_a_bad_value_is_named_with_file_and_field(review_copy, change, field, words):
    path = edit(review_copy, "blumenthal-1999", change)
    probs, text = problems(review_copy)
    assert any(p.file == str(path) and p.field.replace("[0]", ".0").startswith(field.replace("[0]", ".0")[:30])
               for p in probs), text
    assert words in text


def test_duplicate_trial_ids_are_refused(review_copy):
    src = review_copy / "trials" / "blumenthal-1999.yaml"
    (review_copy / "trials" / "blumenthal-1999-copy.yaml").write_text(src.read_text())
    probs, text = problems(review_copy)
    assert "must equal the file name" in text


def test_every_problem_is_listed_not_just_the_first(review_copy):
    edit(review_copy, "blumenthal-1999", lambda r: post(r)["exercise"].update(sd=-1))
    edit(review_copy, "sims-2009", lambda r: post(r)["control"].update(n=0))
    probs, _ = problems(review_copy)
    assert {p.file.split("/")[-1] for p in probs} == {"blumenthal-1999.yaml", "sims-2009.yaml"}


def test_malformed_yaml_names_the_line(review_copy):
    (review_copy / "trials" / "broken.yaml").write_text("id: broken\nlabel: [unclosed\n")
    _, text = problems(review_copy)
    assert "broken.yaml" in text and "malformed YAML" in text and "line" in text


def test_non_utf8_text_is_refused(review_copy):
    (review_copy / "trials" / "latin1.yaml").write_bytes("id: latin1\nlabel: M\xfcller 2001\n".encode("latin-1"))
    _, text = problems(review_copy)
    assert "not UTF-8" in text


def test_yaml_alias_bombs_are_refused(review_copy):
    bomb = "a: &a ['x','x']\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    (review_copy / "trials" / "bomb.yaml").write_text(bomb)
    _, text = problems(review_copy)
    assert "aliases" in text


def test_a_50_mb_file_is_refused_without_parsing(review_copy):
    with open(review_copy / "trials" / "huge.yaml", "w") as fh:
        fh.write("# " + "x" * (50 * 1024 * 1024))
    _, text = problems(review_copy)
    assert "huge.yaml" in text and "must be under" in text


def test_the_same_id_in_two_files_is_a_duplicate(review_copy):
    src = review_copy / "trials" / "blumenthal-1999.yaml"
    (review_copy / "trials" / "blumenthal-1999.yml").write_text(src.read_text())
    _, text = problems(review_copy)
    assert "duplicate trial id" in text


def with_scales(review_copy):
    path = review_copy / "review.yaml"
    review = yaml.safe_load(path.read_text())
    review["outcomes"][0]["scales"] = {"HAM-D": {"min": 0, "max": 52, "higher_is_worse": True},
                                       "WHO-5": {"min": 0, "max": 25, "higher_is_worse": False}}
    path.write_text(yaml.safe_dump(review, sort_keys=False))


def test_means_outside_the_declared_scale_range_are_flagged_as_wrong_units(review_copy):
    with_scales(review_copy)
    edit(review_copy, "blumenthal-1999", lambda r: r["outcomes"]["depression"][0].update(measure="HAM-D")
         or post(r)["exercise"].update(mean=87.0))
    _, text = problems(review_copy)
    assert "outside the HAM-D range 0-52" in text and "wrong units" in text


def test_a_scale_running_the_other_way_needs_reversed(review_copy):
    with_scales(review_copy)
    edit(review_copy, "blumenthal-1999", lambda r: r["outcomes"]["depression"][0].update(measure="WHO-5"))
    _, text = problems(review_copy)
    assert "higher scores are better" in text and "reversed: true" in text
    edit(review_copy, "blumenthal-1999", lambda r: r["outcomes"]["depression"][0].update(reversed=True))
    load_review(review_copy)


def test_reversed_scales_flip_the_sign_of_the_effect(review_copy):
    from livingmeta.pipeline import analysis, tables
    with_scales(review_copy)
    before = analysis.effect_size_table(tables.arm_table(load_review(review_copy)), yaml.safe_load(
        (review_copy / "review.yaml").read_text()), {})
    edit(review_copy, "blumenthal-1999", lambda r: r["outcomes"]["depression"][0].update(measure="WHO-5", reversed=True))
    review = load_review(review_copy)
    after = analysis.effect_size_table(tables.arm_table(review), review.definition, {})
    key = (before.trial_id == "blumenthal-1999") & (before.timepoint == "post_treatment")
    assert float(after[key].yi.iloc[0]) == -float(before[key].yi.iloc[0])


def test_check_command_lists_problems_without_a_traceback(review_copy):
    import subprocess
    import sys
    edit(review_copy, "blumenthal-1999", lambda r: post(r)["exercise"].update(sd=-1))
    res = subprocess.run([sys.executable, "-m", "livingmeta.cli", "check", str(review_copy)], capture_output=True, text=True)
    assert res.returncode == 1
    assert "blumenthal-1999.yaml" in res.stderr and "Traceback" not in res.stderr


def test_a_moderator_no_trial_reports_is_listed_as_not_analysed(review_copy):
    """Found by the many-reviews benchmark: an all-null moderator must not stop the build."""
    from livingmeta.pipeline import analysis, tables
    for path in (review_copy / "trials").glob("*.yaml"):
        rec = yaml.safe_load(path.read_text())
        rec["moderators"]["population"] = None
        rec["moderators"]["weeks"] = None
        path.write_text(yaml.safe_dump(rec, sort_keys=False))
    review = load_review(review_copy)
    effects = analysis.effect_size_table(tables.arm_table(review), review.definition, {})
    result = analysis.moderator_analyses(effects, tables.trial_table(review), review.definition, {}, {})
    by_name = {a["name"]: a for a in result["analyses"]}
    assert "no trial reports" in by_name["population"]["not_analysed_reason"]
    assert "not_analysed_reason" in by_name["weeks"]
    assert "not_analysed_reason" not in by_name["exercise_type"]
