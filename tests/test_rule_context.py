"""rule_context (livingmeta/pipeline/rule.py): a rule script's traceback lands in the rule's log,
the console gets one clear line, and review.yaml's problems stop the rule with file and fix."""
import subprocess
import sys
import textwrap

# A rule script as Snakemake runs it: a separate Python process with a `snakemake` object.
SCRIPT = textwrap.dedent("""
    from types import SimpleNamespace
    snakemake = SimpleNamespace(rule="pool", log=[{log!r}], input=SimpleNamespace(review={review!r}))
    from livingmeta.pipeline.rule import rule_context
    ctx = rule_context(snakemake)
    ctx.line("fitted " + str(sorted(ctx.review_def)))
    {body}
""")


def _run(tmp_path, body="", review_text="title: A review\n"):
    review = tmp_path / "review.yaml"
    review.write_text(review_text, encoding="utf-8")
    log = tmp_path / "logs" / "pool.log"
    code = SCRIPT.format(log=str(log), review=str(review), body=body)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return run, log.read_text(encoding="utf-8") if log.exists() else ""


def test_success_prints_one_stage_line_on_the_console_and_in_the_log(tmp_path):
    run, log = _run(tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stderr == "[livingmeta:pool] fitted ['title']\n"
    assert log == "[livingmeta:pool] fitted ['title']\n"


def test_a_crash_leaves_its_traceback_in_the_log_and_one_line_on_the_console(tmp_path):
    run, log = _run(tmp_path, body='{"a": 1}["missing_key"]')
    assert run.returncode == 1
    console = run.stderr.splitlines()
    assert console[0] == "[livingmeta:pool] fitted ['title']"
    assert len(console) == 2 and "Traceback" not in run.stderr
    assert console[1].startswith("[livingmeta:pool] failed: KeyError: 'missing_key'")
    assert str(tmp_path / "logs" / "pool.log") in console[1]
    assert "Traceback (most recent call last)" in log and "KeyError: 'missing_key'" in log


def test_a_livingmeta_error_is_its_own_message_on_the_console_and_in_the_log(tmp_path):
    body = 'from livingmeta.errors import ModelError\nraise ModelError("method must be one of REML, DL; got \'XYZ\'")'
    run, log = _run(tmp_path, body=body)
    assert run.returncode == 1
    line = "[livingmeta:pool] method must be one of REML, DL; got 'XYZ'"
    assert run.stderr.splitlines()[-1] == line
    # bad input, not a bug: the log (which the profile prints for a failed job) has no traceback either
    assert log.splitlines()[-1] == line and "Traceback" not in log


def test_a_broken_review_yaml_stops_the_rule_naming_file_and_line(tmp_path):
    run, log = _run(tmp_path, review_text="title: [unclosed\n")
    assert run.returncode == 1
    assert "fitted" not in run.stderr and "Traceback" not in run.stderr
    assert "review.yaml: line 2" in run.stderr and "malformed YAML" in run.stderr
    assert "malformed YAML" in log and "Traceback" not in log


def test_a_review_yaml_that_is_not_a_mapping_is_refused(tmp_path):
    run, _ = _run(tmp_path, review_text="- just\n- a list\n")
    assert run.returncode == 1
    assert "must be a mapping" in run.stderr and "(found: 'list')" in run.stderr
