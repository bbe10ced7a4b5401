"""RevMan's methods (livingmeta.stats.revman) and `livingmeta analyze --measure/--method/--revman`
against metafor 3.8.1 (tests/reference/make_reference_revman.R -> revman_reference.json) and
against the totals stored in RevMan's own file (R meta's Fleiss1993.rm5, read in place from
../shared/data/revman; the aspirin counts are read from it too)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from livingmeta import cli
from livingmeta.stats import revman
from shared_data import shared_path

REF = json.loads((Path(__file__).parent / "reference" / "revman_reference.json").read_text())
DATA = Path(__file__).parent / "reference" / "data"


def fleiss_outcome():
    """Analysis 1.1 of Fleiss1993.rm5 (read independently of the importer): the element with RevMan's
    stored totals and its study rows."""
    from defusedxml import ElementTree
    outcome = ElementTree.parse(shared_path("revman/Fleiss1993.rm5")).getroot().find(".//DICH_OUTCOME[@NO='1']")
    return outcome, outcome.findall("DICH_DATA")


def fleiss_aspirin() -> pd.DataFrame:
    """Analysis 1.1's 2x2 counts as RevMan stored them."""
    rows = fleiss_outcome()[1]
    return pd.DataFrame({"ai": [int(r.get("EVENTS_1")) for r in rows], "n1i": [int(r.get("TOTAL_1")) for r in rows],
                         "ci": [int(r.get("EVENTS_2")) for r in rows], "n2i": [int(r.get("TOTAL_2")) for r in rows]})


def zero_cells() -> pd.DataFrame:
    return pd.read_csv(DATA / "revman_zero_cells.csv")  # synthetic, labelled


def _cells(name):
    d = fleiss_aspirin() if name == "aspirin" else zero_cells()
    return d["ai"], d["n1i"], d["ci"], d["n2i"]


@pytest.mark.parametrize("case", ["aspirin", "zero"])
@pytest.mark.parametrize("measure", ["OR", "RR", "RD"])
def test_mantel_haenszel_inverse_variance_and_mh_dl_match_metafor(case, measure):
    ref = REF[case][measure]
    mh = revman.dichotomous(*_cells(case), measure=measure, method="MH")
    assert list(mh.estimable) == ref["estimable"]
    ok = mh.estimable
    np.testing.assert_allclose(mh.yi[ok], ref["yi"], rtol=1e-10)
    np.testing.assert_allclose(mh.vi[ok], ref["vi"], rtol=1e-10)
    assert mh.estimate == pytest.approx(ref["MH"]["estimate"], rel=1e-10)
    assert mh.QE == pytest.approx(ref["MH"]["Q"], rel=1e-10)
    se_ref = ref["MH"]["se_greenland_robins"] if measure == "RD" else ref["MH"]["se"]
    assert mh.se == pytest.approx(se_ref, rel=1e-10)
    fe = revman.dichotomous(*_cells(case), measure=measure, method="IV")
    assert (fe.estimate, fe.se, fe.QE) == pytest.approx((ref["FE"]["estimate"], ref["FE"]["se"], ref["FE"]["Q"]), rel=1e-10)
    assert fe.I2 == pytest.approx(ref["FE"]["I2"], rel=1e-8, abs=1e-10)
    dl = revman.dichotomous(*_cells(case), measure=measure, method="IV", random=True)
    assert (dl.estimate, dl.se) == pytest.approx((ref["DL"]["estimate"], ref["DL"]["se"]), rel=1e-8)
    assert dl.tau2 == pytest.approx(ref["DL"]["tau2"], rel=1e-8, abs=1e-12)
    mhdl = revman.dichotomous(*_cells(case), measure=measure, method="MH", random=True)
    assert (mhdl.estimate, mhdl.se, mhdl.QE) == pytest.approx(
        (ref["MH_DL"]["estimate"], ref["MH_DL"]["se"], ref["MH_DL"]["Q"]), rel=1e-8)
    assert mhdl.tau2 == pytest.approx(ref["MH_DL"]["tau2"], rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("case", ["aspirin", "zero"])
def test_peto_matches_metafor_rma_peto(case):
    ref = REF[case]["Peto"]
    res = revman.dichotomous(*_cells(case), measure="OR", method="Peto")
    assert list(res.estimable) == ref["estimable"]
    assert (res.estimate, res.se, res.QE, res.pval, res.QEp) == pytest.approx(
        (ref["estimate"], ref["se"], ref["Q"], ref["pval"], ref["Q_p"]), rel=1e-9)
    assert res.I2 == pytest.approx(ref["I2"], rel=1e-8, abs=1e-10)


def test_double_zero_study_not_estimable_but_counted_in_totals():
    a, n1, c, n2 = _cells("zero")
    res = revman.dichotomous(a, n1, c, n2, measure="OR", method="MH")
    assert res.to_dict()["not_estimable"] == [3, 4]  # no events in either group; everyone had the event
    assert res.df == res.k - 1 == 3
    assert res.totals["events_1"] == a.sum() and res.totals["total_2"] == n2.sum()
    assert np.isnan(res.weights[3]) and res.weights[~np.isnan(res.weights)].sum() == pytest.approx(100)
    rd = revman.dichotomous(a, n1, c, n2, measure="RD", method="MH")
    assert rd.k == 6  # a risk difference is estimable for every study


def test_fleiss_aspirin_reproduces_revman_stored_totals():
    """Stored in Fleiss1993.rm5 by RevMan 5.0.23 (DICH_OUTCOME CMP-001.01, OR, MH, fixed)."""
    outcome, rows = fleiss_outcome()
    stored = {key: float(outcome.get(key)) for key in ("EFFECT_SIZE", "CI_START", "CI_END", "CHI2", "I2", "Z", "P_Z", "P_CHI2")}
    d = fleiss_aspirin()
    res = revman.dichotomous(d["ai"], d["n1i"], d["ci"], d["n2i"], measure="OR", method="MH")
    assert np.exp(res.estimate) == pytest.approx(stored["EFFECT_SIZE"], rel=1e-12)
    assert np.exp(res.ci_lower) == pytest.approx(stored["CI_START"], rel=1e-12)
    assert np.exp(res.ci_upper) == pytest.approx(stored["CI_END"], rel=1e-12)
    assert res.QE == pytest.approx(stored["CHI2"], rel=1e-12)
    assert res.I2 == pytest.approx(stored["I2"], rel=1e-12)
    assert abs(res.zval) == pytest.approx(stored["Z"], rel=1e-12)
    assert res.pval == pytest.approx(stored["P_Z"], rel=1e-9)
    assert res.QEp == pytest.approx(stored["P_CHI2"], abs=1e-6)  # RevMan's chi-squared tail: ~1e-7
    # study weights as stored (DICH_DATA WEIGHT), in the file's order
    np.testing.assert_allclose(res.weights, [float(r.get("WEIGHT")) for r in rows], rtol=1e-12)


def test_revman_smd_is_hedges_adjusted_g():
    # Deeks & Higgins: g = (m1 - m2)/s (1 - 3/(4N - 9)), SE^2 = N/(n1 n2) + g^2/(2(N - 3.94)); Davis (Fleiss 1993)
    res = revman.continuous([5.0], [4.7], [13], [6.5], [3.8], [13], measure="SMD")
    s = np.sqrt((12 * 4.7**2 + 12 * 3.8**2) / 24)
    g = (5.0 - 6.5) / s * (1 - 3 / (4 * 26 - 9))
    assert res.yi[0] == pytest.approx(g, rel=1e-12)
    assert res.vi[0] == pytest.approx(26 / 169 + g**2 / (2 * (26 - 3.94)), rel=1e-12)


def _csv(tmp_path, frame):
    p = tmp_path / "studies.csv"
    frame.to_csv(p, index=False)
    return str(p)


@pytest.mark.parametrize("method,key", [("MH", "MH"), ("MH+DL", "MH_DL"), ("Peto", None)])
def test_cli_analyze_binary_columns(tmp_path, capsys, method, key):
    path = _csv(tmp_path, zero_cells())
    assert cli.main(["analyze", path, "--measure", "OR", "--method", method, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = REF["zero"]["Peto"] if key is None else REF["zero"]["OR"][key]
    assert out["method"] == method and out["k"] == 4 and out["not_estimable"] == [3, 4]
    assert (out["estimate"], out["se"]) == pytest.approx((ref["estimate"], ref["se"]), rel=1e-8)
    assert {"estimate", "se", "zval", "pval", "ci_lower", "ci_upper", "tau2", "I2", "QE", "QEdf", "QEp"} <= set(out)


def test_cli_analyze_without_revman_uses_metafor_conventions(tmp_path, capsys):
    path = _csv(tmp_path, fleiss_aspirin())
    assert cli.main(["analyze", path, "--measure", "OR", "--method", "DL", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["estimate"] == pytest.approx(REF["aspirin"]["OR"]["DL"]["estimate"], rel=1e-8)


def test_cli_analyze_refusals(tmp_path, capsys):
    path = _csv(tmp_path, fleiss_aspirin())
    assert cli.main(["analyze", path, "--measure", "SMD", "--method", "MH"]) == 2
    assert "needs columns m1i, sd1i, n1i, m2i, sd2i, n2i" in capsys.readouterr().err
    assert cli.main(["analyze", path, "--measure", "RR", "--method", "Peto"]) == 2
    assert "use --measure OR" in capsys.readouterr().err
    assert cli.main(["analyze", path, "--method", "MH"]) == 2
    assert "need --measure" in capsys.readouterr().err


def test_cli_analyze_one_estimable_study_and_fe_give_json_without_nan(tmp_path, capsys):
    path = _csv(tmp_path, pd.DataFrame({"ai": [0, 3], "n1i": [10, 10], "ci": [0, 2], "n2i": [10, 10]}))
    assert cli.main(["analyze", path, "--measure", "OR", "--method", "MH", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)  # json.loads would accept NaN; the CLI must not write it
    assert out["k"] == 1 and out["not_estimable"] == [0] and out["QEp"] is None and out["I2"] is None
    # the single estimable study: 0.5 added to its cells (3 of 10 vs 2 of 10 has no zero cell: none added)
    assert out["estimate"] == pytest.approx(np.log(3 * 8 / (7 * 2)), rel=1e-12)
    md = _csv(tmp_path, pd.DataFrame({"m1i": [5.0, 4.9], "sd1i": [4.7, 1.71], "n1i": [13, 30],
                                      "m2i": [6.5, 6.1], "sd2i": [3.8, 2.3], "n2i": [13, 50]}))
    assert cli.main(["analyze", md, "--measure", "MD", "--method", "FE", "--json"]) == 0
    assert "NaN" not in capsys.readouterr().out
