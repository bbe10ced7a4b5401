"""`livingmeta analyze`: every option is honoured or refused, never silently ignored, and every
input path applies the same checks (issue 20, item 9; issue 23, F23). All tables here are
SYNTHETIC."""

import json

import numpy as np
import pandas as pd
import pytest

from livingmeta import cli
from livingmeta.stats import effects, pooling

BINARY = pd.DataFrame({"study": list("abcdef"), "ai": [4, 10, 3, 7, 12, 2], "n1i": [40, 60, 35, 50, 80, 30],
                       "ci": [8, 14, 6, 9, 20, 5], "n2i": [41, 58, 36, 52, 79, 31],
                       "dose": [1.0, 2.0, 1.5, 3.0, 2.5, 1.0], "site": list("xxyyzz")})
CONTINUOUS = pd.DataFrame({"m1i": [5.0, 4.9, 6.1, 5.5], "sd1i": [4.7, 1.71, 2.2, 3.0], "n1i": [13, 30, 25, 40],
                           "m2i": [6.5, 6.1, 6.0, 7.0], "sd2i": [3.8, 2.3, 2.5, 3.1], "n2i": [13, 50, 24, 38]})


def _csv(tmp_path, frame, name="studies.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def _run(capsys, *argv):
    code = cli.main(["analyze", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _log_or():
    es = effects.binary_effect(BINARY.ai, BINARY.n1i, BINARY.ci, BINARY.n2i, measure="OR")
    return es.yi, es.vi


def test_measure_with_moderators_fits_the_meta_regression(tmp_path, capsys):
    code, out, err = _run(capsys, _csv(tmp_path, BINARY), "--measure", "OR", "--moderators", "dose", "--json")
    assert code == 0, err
    res = json.loads(out)
    yi, vi = _log_or()
    ref = pooling.rma(yi, vi, mods=BINARY[["dose"]])
    assert res["coefficients"]["dose"] == pytest.approx(float(ref.beta[1]), rel=1e-12)
    assert res["measure"] == "OR"


def test_measure_with_cluster_fits_the_robust_model(tmp_path, capsys):
    code, out, err = _run(capsys, _csv(tmp_path, BINARY), "--measure", "OR", "--cluster", "site", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert "robust" in res and res["measure"] == "OR"


def test_measure_with_bayes_adds_the_bayesian_fit(tmp_path, capsys):
    code, out, err = _run(capsys, _csv(tmp_path, BINARY), "--measure", "OR", "--bayes", "--json")
    assert code == 0, err
    res = json.loads(out)
    yi, _ = _log_or()
    assert res["bayes"]["k"] == len(yi) and res["bayes"]["shrinkage"][0]["yi"] == pytest.approx(yi[0], rel=1e-12)


@pytest.mark.parametrize("option", [["--moderators", "no_such_column"], ["--cluster", "no_such_column"]])
@pytest.mark.parametrize("measure", [[], ["--measure", "OR"], ["--measure", "OR", "--method", "MH"]])
def test_an_unknown_column_is_always_an_error(tmp_path, capsys, option, measure):
    frame = BINARY.assign(**dict(zip(["yi", "vi"], _log_or())))
    code, out, err = _run(capsys, _csv(tmp_path, frame), *measure, *option)
    assert code == 2 and out == ""
    assert "no_such_column" in err and "Traceback" not in err


@pytest.mark.parametrize("option", [["--moderators", "dose"], ["--cluster", "site"], ["--bayes"]])
def test_revman_methods_refuse_what_they_cannot_fit(tmp_path, capsys, option):
    code, out, err = _run(capsys, _csv(tmp_path, BINARY), "--measure", "OR", "--method", "MH", *option)
    assert code == 2 and out == ""
    assert option[0] in err and "MH" in err


def test_a_duplicated_column_is_refused_naming_it(tmp_path, capsys):
    path = tmp_path / "dup.csv"
    path.write_text("yi,vi,yi\n0.1,0.02,0.9\n0.3,0.03,0.8\n-0.2,0.025,0.7\n")
    code, out, err = _run(capsys, str(path), "--json")
    assert code == 2 and out == ""
    assert "yi" in err and "dup.csv" in err and "2 columns" in err


BINARY_PATHS = [[], ["--method", "MH"], ["--method", "MH+DL"], ["--revman", "--method", "DL"]]
IMPOSSIBLE = ([(BINARY, "RR", path, column, value, 3) for path in BINARY_PATHS
               for column, value in [("n1i", 0), ("n2i", -5), ("ai", -1), ("ai", 99)]]
              + [(CONTINUOUS, "MD", path, column, value, 2) for path in [[], ["--revman", "--method", "FE"]]
                 for column, value in [("sd1i", 0.0), ("n2i", 1), ("n1i", -3)]])


@pytest.mark.parametrize("frame,measure,method,column,value,row", IMPOSSIBLE)
def test_impossible_study_data_are_refused_on_every_path(tmp_path, capsys, frame, measure, method, column, value, row):
    """Counts, group sizes and SDs: the same rules with inverse variance and with RevMan's methods."""
    frame = frame.copy()
    frame.loc[row - 1, column] = value
    code, out, err = _run(capsys, _csv(tmp_path, frame), "--measure", measure, *method)
    assert code == 2 and out == "", out
    assert column in err and f"row {row}" in err


def test_zero_events_in_both_groups_stay_not_estimable_under_revman(tmp_path, capsys):
    frame = BINARY.copy()
    frame.loc[2, ["ai", "ci"]] = 0
    code, out, err = _run(capsys, _csv(tmp_path, frame), "--measure", "RR", "--method", "MH", "--json")
    assert code == 0, err
    assert json.loads(out)["not_estimable"] == [2]
    assert np.isfinite(json.loads(out)["estimate"])
