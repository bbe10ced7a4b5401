"""Issue 14, item 11 (engine part): extreme inputs are refused with a clear error naming the row
and the value, non-convergence is a ConvergenceError that says what to try, and no NaN or
infinity reaches JSON output."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from livingmeta.stats import estimators, pooling
from livingmeta.errors import ConvergenceError, ModelError

CLI = [sys.executable, "-m", "livingmeta.cli"]
YI = [0.1, -0.3, 0.25, 0.4, -0.05]
VI = [0.02, 0.05, 0.03, 0.04, 0.06]


def run(*args):
    return subprocess.run([*CLI, *args], capture_output=True, text=True)


@pytest.mark.parametrize("column,value", [("vi", 1e-300), ("yi", 1e308), ("yi", -1e308), ("vi", 1e300)])
def test_values_outside_a_sane_range_are_refused_naming_row_and_value(column, value):
    yi, vi = list(YI), list(VI)
    (yi if column == "yi" else vi)[2] = value
    with pytest.raises(ModelError) as err:
        pooling.rma(yi, vi)
    msg = str(err.value)
    assert f"{column} in row 3" in msg and f"{value:g}" in msg


@pytest.mark.parametrize("column,value", [("vi", "1e-300"), ("yi", "1e308"), ("yi", "-1e308")])
def test_cli_refuses_extreme_values_with_one_line(tmp_path, column, value):
    d = pd.DataFrame({"yi": YI, "vi": VI}).astype(object)
    d.loc[2, column] = value
    path = tmp_path / "x.csv"
    d.to_csv(path, index=False)
    res = run("analyze", str(path), "--json")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "row 3" in res.stderr and column in res.stderr


def test_non_convergence_is_a_convergence_error_that_says_what_to_try(monkeypatch):
    monkeypatch.setattr(estimators, "MAXITER", 1)
    with pytest.raises(ConvergenceError, match="did not converge.*try"):
        pooling.rma(YI, VI, method="REML")
    with pytest.raises(ConvergenceError, match="did not converge.*try"):
        pooling.rma(YI, VI, method="PM")


@pytest.mark.parametrize("method", pooling.TAU2_METHODS)
@pytest.mark.parametrize("test", pooling.TESTS)
def test_analyze_json_is_strict_json_for_every_method(tmp_path, method, test):
    path = tmp_path / "x.csv"
    pd.DataFrame({"yi": YI, "vi": VI}).to_csv(path, index=False)
    res = run("analyze", str(path), "--method", method, "--test", test, "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    if method == "FE":  # a common-effect model has no tau^2 standard error and no prediction interval
        assert out["se_tau2"] is None and out["pi_lower"] is None and out["pi_upper"] is None
        assert out["tau2"] == 0.0


def test_fixed_tau2_has_no_standard_error_in_json():
    out = pooling.rma(YI, VI, tau2=0.01).to_dict()
    assert out["se_tau2"] is None
    json.dumps(out, allow_nan=False)
    assert np.isfinite(out["pi_lower"])
