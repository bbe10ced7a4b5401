"""Bad trial records are rejected with a message naming the file, the field and the fix, and
all problems are reported at once."""

import pytest
import yaml

from livingmeta.records import RecordError, load_review


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
    (lambda r: post(r)["exercise"].pop("mean"), "outcomes.depression[0].arms.exercise", "n, mean and sd"),
    (lambda r: post(r)["exercise"].update(mean="8.7 points"), "outcomes.depression[0].arms.exercise", "n, mean and sd"),
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


def test_oversized_files_are_refused_without_parsing(review_copy):
    (review_copy / "trials" / "huge.yaml").write_text("# " + "x" * 2_000_000)
    _, text = problems(review_copy)
    assert "huge.yaml" in text and "must be under" in text
