"""`livingmeta references` (issue 23, F1 and F11): a record is written once, atomically and only if
it passes `check`; a failed write leaves it as it was and says so; a reference file that cannot be
read, or holds no references, is one line with exit 2.

Every reference here is SYNTHETIC."""

import resource
import signal
import subprocess
import sys

import pytest

from livingmeta.cli import main
from livingmeta.pipeline.records import load_review, load_yaml

CLI = [sys.executable, "-m", "livingmeta.cli"]
GOOD_DOI = "10.1001/archinte.159.19.2349"  # blumenthal-1999's, in its record


def ris(*entries: dict) -> str:
    out = []
    for e in entries:
        out.append("TY  - JOUR")
        out += [f"{tag}  - {value}" for tag, value in e.items()]
        out.append("ER  - \n")
    return "\n".join(out)


def run_references(review, ref, *, max_file_bytes=None):
    def limit():  # the kernel refuses writes past the limit (EFBIG), as a full disk refuses them (ENOSPC)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, resource.RLIM_INFINITY))
    return subprocess.run([*CLI, "references", str(review), str(ref)], capture_output=True, text=True,
                          preexec_fn=limit if max_file_bytes else None)


# -- F1: a failed write leaves the record whole and says so ------------------------------------------------
def test_a_write_that_fails_half_way_leaves_the_record_as_it_was_and_says_so(review_copy, tmp_path):
    record = review_copy / "trials" / "klein-1985.yaml"
    before = record.read_bytes()
    ref = tmp_path / "refs.ris"
    ref.write_text(ris({"ID": "klein-1985", "TI": "SYNTHETIC " + "long title " * 20_000, "PY": "1985"}))
    res = run_references(review_copy, ref, max_file_bytes=20_000)  # the new record is 220 kB
    assert res.returncode == 2, res.stderr
    assert record.read_bytes() == before
    assert "klein-1985.yaml" in res.stderr and "the record is as before this command" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not [p for p in (review_copy / "trials").iterdir() if p.name.startswith(".")]  # no scratch file left


def test_the_record_writer_writes_several_records_all_or_nothing(tmp_path):
    from conftest import file_size_limit
    from livingmeta.files import atomic_write_many
    small, large = tmp_path / "a.yaml", tmp_path / "b.yaml"
    small.write_text("old a\n")
    large.write_text("old b\n")
    with file_size_limit(1000), pytest.raises(OSError) as err:
        atomic_write_many({small: b"new a\n", large: b"x" * 5000})
    assert err.value.filename == str(large)
    assert small.read_text() == "old a\n" and large.read_text() == "old b\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "b.yaml"]


# -- F11: what `check` refuses is never written --------------------------------------------------------------
def test_a_javascript_doi_is_refused_and_the_good_one_kept(review_copy, tmp_path):
    ref = tmp_path / "refs.ris"
    ref.write_text(ris({"ID": "blumenthal-1999", "DO": "javascript:alert(1)", "PY": "1999"}))
    record = review_copy / "trials" / "blumenthal-1999.yaml"
    before = record.read_bytes()
    res = run_references(review_copy, ref)
    assert res.returncode == 1, res.stderr
    assert "reference 1 (blumenthal-1999)" in res.stderr and "citation.doi" in res.stderr
    assert "javascript:alert(1)" in res.stderr and "a DOI starts with 10." in res.stderr
    assert record.read_bytes() == before
    assert load_yaml(record)[0]["citation"]["doi"] == GOOD_DOI


def test_titles_that_look_like_numbers_or_booleans_stay_text(review_copy, tmp_path):
    from livingmeta.report.references import import_references
    for title in ("1e5", "yes", "0x1F", ".inf", "2024-01-01", "~"):
        ref = tmp_path / "refs.ris"
        ref.write_text(ris({"ID": "klein-1985", "TI": title, "PY": "1985"}))
        import_references(review_copy, ref)
        assert load_yaml(review_copy / "trials" / "klein-1985.yaml")[0]["citation"]["title"] == title
        load_review(review_copy)  # and `check` accepts the record


def test_an_author_without_letters_is_dropped_not_a_traceback(review_copy, tmp_path):
    ref = tmp_path / "refs.ris"
    ref.write_text(ris({"AU": ",", "TI": "SYNTHETIC", "PY": "1985"},
                       {"ID": "klein-1985", "AU": ",", "A1": "Klein, M. H.", "TI": "SYNTHETIC title", "PY": "1985"}))
    res = run_references(review_copy, ref)
    assert "Traceback" not in res.stderr and res.returncode == 1, res.stderr  # 1: the first matched no trial
    assert load_yaml(review_copy / "trials" / "klein-1985.yaml")[0]["citation"]["authors"] == ["Klein MH"]
    load_review(review_copy)


@pytest.mark.parametrize("name,content,words", [
    ("refs.bib", "@article{x, title = {unclosed\n", "not a readable BibTeX file: the entry at line 1"),
    ("refs.bib", "@article{a, title={one}}\n@article{a, title={two}}\n", "Duplicate entry key"),
    ("refs.bib", "nothing but words\n", "no BibTeX entries found"),
    ("refs.ris", "nothing but words\n", "no RIS records"),
    ("refs.ris", "TY  - JOUR\nTI  - never ended\n", "no RIS records"),
])
def test_a_file_with_no_readable_references_is_one_line_with_exit_2(review_copy, tmp_path, name, content, words):
    ref = tmp_path / name
    ref.write_text(content)
    res = run_references(review_copy, ref)
    assert res.returncode == 2 and words in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and name in res.stderr


def test_each_record_is_written_once_and_many_references_to_one_trial_change_nothing(review_copy, tmp_path,
                                                                                      monkeypatch, capsys):
    from livingmeta import files
    writes = []
    real = files.atomic_write_many
    monkeypatch.setattr(files, "atomic_write_many", lambda contents, **kw: (writes.append(list(contents)),
                                                                           real(contents, **kw)))
    from livingmeta.pipeline import record_writer
    monkeypatch.setattr(record_writer, "atomic_write_many", files.atomic_write_many)
    many = [{"AU": "Klein, Marjorie H.", "TI": f"SYNTHETIC {i}", "PY": "1985"} for i in range(2000)]
    ref = tmp_path / "refs.ris"
    ref.write_text(ris(*many, {"ID": "orth-1979", "TI": "SYNTHETIC orth", "PY": "1979"},
                       {"ID": "dunn-2005", "VL": "99", "PY": "2005"}))
    klein = (review_copy / "trials" / "klein-1985.yaml").read_bytes()
    assert main(["references", str(review_copy), str(ref)]) == 1
    err = capsys.readouterr().err
    assert "2000 references match trial klein-1985" in err and "left as it was" in err
    assert (review_copy / "trials" / "klein-1985.yaml").read_bytes() == klein
    assert len(writes) == 1 and sorted(p.name for p in writes[0]) == ["dunn-2005.yaml", "orth-1979.yaml"]


def test_the_next_record_write_removes_what_a_killed_writer_left_and_nothing_else(review_copy, tmp_path):
    """The temporary files of a writer killed before its renames are removed by the next write into
    the folder (writers take turns, so they belong to a dead writer); an editor's files are not."""
    trials = review_copy / "trials"
    dead = trials / ".klein-1985.yaml.k2x_9abc.tmp"
    dead.write_text("half a record")
    editor = trials / ".klein-1985.yaml.swp"
    editor.write_text("an editor's swap file")
    ref = tmp_path / "refs.ris"
    ref.write_text(ris({"ID": "klein-1985", "TI": "SYNTHETIC title", "PY": "1985"}))
    assert run_references(review_copy, ref).returncode == 0
    assert not dead.exists() and editor.read_text() == "an editor's swap file"


@pytest.mark.slow
def test_killed_at_any_moment_references_loses_no_record_and_leaves_nothing_behind(review_copy, tmp_path):
    """Issue 23's kill loop: `references` on every trial of the default review, killed with SIGKILL
    at 20 moments spread over its run; after each kill every record is whole (its old or its new
    version, and the review passes `check`), and the next run leaves no scratch file and every
    record new.
    The references are SYNTHETIC."""
    import random
    import shutil
    import time
    trials = sorted(p.stem for p in (review_copy / "trials").glob("*.yaml"))
    ref = tmp_path / "refs.ris"
    ref.write_text(ris(*({"ID": t, "TI": f"SYNTHETIC title of {t} " + "words " * 2000, "JO": "J Synth"} for t in trials)))
    before = {p.name: p.read_bytes() for p in (review_copy / "trials").glob("*.yaml")}
    done = tmp_path / "done"
    shutil.copytree(review_copy, done)
    started = time.monotonic()
    assert run_references(done, ref).returncode == 0
    duration = time.monotonic() - started
    after = {p.name: p.read_bytes() for p in (done / "trials").glob("*.yaml")}
    assert after != before
    rng = random.Random(23)
    for run in range(20):
        target = tmp_path / f"run{run}"
        shutil.copytree(review_copy, target)
        proc = subprocess.Popen([*CLI, "references", str(target), str(ref)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 1.1) * duration)
        proc.kill()
        proc.wait(timeout=30)
        records = [p for p in (target / "trials").iterdir() if not p.name.startswith(".")]
        for p in records:
            assert p.read_bytes() in (before[p.name], after[p.name]), f"run {run}: {p.name} is neither old nor new"
        assert sorted(p.name for p in records) == sorted(before)
        load_review(target)  # every record passes the checks: nothing was lost or cut
        # A kill between writing the temporary files and renaming them leaves those files (SIGKILL
        # runs no cleanup; CI's clean clone once hit that window); the next write removes them.
        assert run_references(target, ref).returncode == 0
        assert sorted(p.name for p in (target / "trials").iterdir()) == sorted(before), f"run {run}: scratch left"
        assert {p.name: p.read_bytes() for p in (target / "trials").iterdir()} == after
        shutil.rmtree(target)
