"""`livingmeta analyze` against metafor, and its refusal of bad input."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from test_reference_metafor import REF, bcg_rr

CLI = [sys.executable, "-m", "livingmeta.cli"]


def run(*args):
    return subprocess.run([*CLI, *args], capture_output=True, text=True)


@pytest.fixture
def bcg_csv(tmp_path):
    d, yi, vi = bcg_rr()
    path = tmp_path / "bcg.csv"
    pd.DataFrame({"study": d.author, "yi": yi, "vi": vi, "ablat": d.ablat, "year": d.year, "alloc": d.alloc}).to_csv(path, index=False)
    return path


def test_analyze_json_matches_metafor_reml_knha(bcg_csv):
    res = run("analyze", str(bcg_csv), "--method", "REML", "--test", "knha", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    ref = REF["rma"]["bcg_REML_knha"]
    assert out["k"] == 13
    for key, rkey in (("estimate", "beta"), ("se", "se"), ("ci_lower", "ci_lb"), ("ci_upper", "ci_ub"),
                      ("pi_lower", "pi_lb"), ("pi_upper", "pi_ub"), ("tau2", "tau2"), ("I2", "I2"), ("H2", "H2"), ("QE", "QE")):
        assert out[key] == pytest.approx(ref[rkey] if not isinstance(ref[rkey], list) else ref[rkey][0], rel=1e-5)


def test_analyze_with_moderators_names_coefficients_like_metafor(bcg_csv):
    res = run("analyze", str(bcg_csv), "--moderators", "ablat,year", "--json")
    out = json.loads(res.stdout)
    ref = REF["metareg"]["bcg_ablat_year_REML_z"]
    assert list(out["coefficients"]) == ["intrcpt", "ablat", "year"]
    assert list(out["coefficients"].values()) == pytest.approx(ref["beta"], rel=1e-5)
    assert out["QM"] == pytest.approx(ref["QM"], rel=1e-5)


@pytest.mark.parametrize("content,words", [
    ("yi\n0.1\n0.2\n", "missing 1 column: vi"),
    ("yi,vi\n0.1,0.01\n0.2,-0.02\n", "vi must be positive"),
    ("yi,vi\n0.1,0.01\nabc,0.02\n", "non-numeric"),
    ("yi,vi\n0.1,0.01\n", "at least 2 rows"),
    ("yi,vi\n0.1,0.01\n0.2,0\n", "vi must be positive"),
])
def test_bad_input_exits_non_zero_with_one_line(tmp_path, content, words):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    res = run("analyze", str(path), "--json")
    assert res.returncode != 0
    assert words in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


@pytest.fixture
def konstantopoulos_csv(tmp_path):
    from test_reference_metafor import data
    path = tmp_path / "ko.csv"
    data("konstantopoulos2011").to_csv(path, index=False)
    return path


def test_analyze_three_level_reports_both_variance_components(konstantopoulos_csv):
    res = run("analyze", str(konstantopoulos_csv), "--cluster", "district", "--model", "threelevel", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    ref = REF["threelevel"]["intercept"]
    assert [out["sigma2_between"], out["sigma2_within"]] == pytest.approx(ref["sigma2"], rel=1e-5)
    assert out["estimate"] == pytest.approx(ref["beta"], rel=1e-5)


def test_analyze_robust_uses_cr2_with_satterthwaite_df(konstantopoulos_csv):
    res = run("analyze", str(konstantopoulos_csv), "--cluster", "district", "--model", "robust", "--json")
    out = json.loads(res.stdout)
    ref = REF["threelevel"]["cr2_univariate"]
    assert [out["se"], out["df"], out["pval"]] == pytest.approx([ref["se"], ref["df"], ref["pval"]], rel=1e-5)


def test_model_without_cluster_is_refused(konstantopoulos_csv):
    res = run("analyze", str(konstantopoulos_csv), "--model", "threelevel")
    assert res.returncode != 0 and "--cluster" in res.stderr


def test_analyze_robust_prediction_interval_matches_metafor(tmp_path):
    """Issue 14, item 15: with --model robust the prediction interval uses the CR2 SE and the
    t(df_CR2) critical value (metafor's predict on robust(..., clubSandwich = TRUE))."""
    d, yi, vi = bcg_rr()
    path = tmp_path / "bcg.csv"
    pd.DataFrame({"trial": d.trial, "yi": yi, "vi": vi}).to_csv(path, index=False)
    res = run("analyze", str(path), "--cluster", "trial", "--model", "robust", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    ref = REF["robust_predict"]["bcg_trial"]
    got = [out[k] for k in ("estimate", "se", "df", "ci_lower", "ci_upper", "pi_lower", "pi_upper")]
    assert got == pytest.approx([ref[k] for k in ("pred", "se", "df", "ci_lb", "ci_ub", "pi_lb", "pi_ub")], rel=1e-5)
