"""RevMan 5 (.rm5) and RevMan Web data package (.zip) imports: the fixtures import and reproduce
RevMan's stored totals; hostile or malformed files are refused with file, location and reason;
nothing is written unless the whole import validates; --sync lists added/changed/removed trials.

Fixtures: R meta's Fleiss 1993 examples (GPL >= 2), read in place from ../shared/data/revman
(tests/shared_data.py; skipped with one line when absent)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import yaml

from livingmeta import cli
from livingmeta.pipeline import revman_reproduction
from livingmeta.errors import ImportFormatError
from livingmeta.living.importers import detect_format, rm5, revman_web
from livingmeta.living.importers.review_writer import write_review
from livingmeta.pipeline.records import load_review

from shared_data import shared_path

RM5, ZIP = "revman/Fleiss1993.rm5", "revman/Fleiss1993.zip"


def rm5_file() -> Path:
    return shared_path(RM5)


def zip_file() -> Path:
    return shared_path(ZIP)


def _import(tmp_path, source, name="fleiss-1993", sync=False):
    mod = rm5 if source.suffix == ".rm5" else revman_web
    return write_review(tmp_path / name, mod.read(source), sync=sync)


@pytest.mark.parametrize("source", [RM5, ZIP], ids=["rm5", "revman-web"])
def test_fixture_imports_and_reproduces_stored_totals(tmp_path, source):
    changes = _import(tmp_path, shared_path(source))
    assert changes.created and len(changes.added) == 12
    review = load_review(tmp_path / "fleiss-1993")
    assert [o["id"] for o in review.definition["outcomes"]] == ["analysis-1-1", "analysis-1-2"]
    aspirin = review.outcome("analysis-1-1")["revman"]
    assert (aspirin["method"], aspirin["effect_measure"], aspirin["model"]) == ("MH", "OR", "fixed")
    table = revman_reproduction.reproduce(review.definition, review.trials)
    first = table[0]
    # every stored total is compared, and every one agrees within the printed precision
    assert {r["key"] for r in first["rows"]} >= {"effect", "ci_lower", "ci_upper", "chi2", "df", "p_chi2", "i2", "z", "p_z"}
    assert first["agree"] and first["studies_checked"] == 7
    assert revman_reproduction.disagreements(table) == []
    # the SMD analysis has no stored totals in either format: nothing claimed
    assert table[1]["stored"] is False and table[1]["rows"] == []


@pytest.mark.parametrize("source", [RM5, ZIP], ids=["rm5", "revman-web"])
def test_an_outcome_named_after_the_intervention_gets_a_warning_with_the_fix(source):
    """Fleiss 1993 names analysis 1.1's outcome 'Aspirin for Preventing Death after Myocardial
    Infarction', and its group 1 'Aspirin': the report cannot say 'Aspirin reduces <outcome>'. Its
    data package names no groups at all."""
    if source == ZIP:  # the data package names no groups: a warning says so, and how to name them
        warnings = revman_web.read(shared_path(source)).warnings
        assert any(w.startswith("the source names neither group") for w in warnings)
        assert not any("names the intervention" in w for w in warnings)
        return
    warnings = [w for w in rm5.read(shared_path(source)).warnings if "names the intervention" in w]
    # 1.1 'Aspirin for ...' with group 1 'Aspirin'; 1.2 'Mental Health Treatment versus Control' with
    # group 1 'Mental health treatment'
    assert [w.split(":")[0] for w in warnings] == ["analysis 1.1", "analysis 1.2"]
    assert "set that outcome's label in review.yaml" in warnings[0] and "--sync keeps it" in warnings[0]


def test_rm5_records_keep_source_subgroupless_timepoint_and_risk_of_bias(tmp_path):
    _import(tmp_path, rm5_file())
    rec = yaml.safe_load((tmp_path / "fleiss-1993" / "trials" / "isis-2.yaml").read_text())
    block = rec["outcomes"]["analysis-1-1"][0]
    assert block["arms"]["experimental"] == {"events": 1570, "total": 8587}
    assert "STD-ISIS_x002d_2" in block["source"]
    assert rec["year"] == 1988 and rec["revman"]["study_id"] == "STD-ISIS_x002d_2"
    # QUALITY_ITEMS "Allocation concealment?" RESULT=UNKNOWN -> RoB 1 key, judgement unclear
    assert rec["risk_of_bias"]["domains"] == {"allocation_concealment": {"judgement": "unclear", "support": None}}


def test_disagreement_is_reported(tmp_path):
    _import(tmp_path, rm5_file())
    path = tmp_path / "fleiss-1993" / "trials" / "isis-2.yaml"
    text = path.read_text().replace("events: 1570", "events: 1500")
    path.write_text(text)
    review = load_review(tmp_path / "fleiss-1993")
    bad = revman_reproduction.disagreements(revman_reproduction.reproduce(review.definition, review.trials))
    assert any("pooled estimate" in line for line in bad)


# --- refusals -----------------------------------------------------------------------------------
def _rm5_bytes(tmp_path, data: bytes) -> Path:
    p = tmp_path / "bad.rm5"
    p.write_bytes(data)
    return p


def test_malformed_xml_refused_with_line(tmp_path):
    text = rm5_file().read_bytes().replace(b"</COVER_SHEET>", b"</COVER_SHEEP>", 1)
    with pytest.raises(ImportFormatError, match=r"bad\.rm5: line \d+, column \d+: malformed XML"):
        rm5.read(_rm5_bytes(tmp_path, text))


def test_billion_laughs_refused(tmp_path):
    bomb = (b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<!DOCTYPE COCHRANE_REVIEW [\n <!ENTITY a "aaaaaaaaaa">\n'
            + b"".join(b' <!ENTITY %s "&%s;&%s;&%s;&%s;&%s;&%s;&%s;&%s;&%s;&%s;">\n' % ((chr(98 + i).encode(),)
                                                                                    + (chr(97 + i).encode(),) * 10)
                       for i in range(8))
            + b']>\n<COCHRANE_REVIEW TYPE="INTERVENTION"><COVER_SHEET><TITLE>&i;</TITLE></COVER_SHEET></COCHRANE_REVIEW>')
    with pytest.raises(ImportFormatError, match=r"bad\.rm5: line \d+: refused: the file declares a DTD or entities"):
        rm5.read(_rm5_bytes(tmp_path, bomb))


def test_wrong_encoding_refused(tmp_path):
    utf16 = rm5_file().read_bytes().decode("iso-8859-1").encode("utf-16")
    with pytest.raises(ImportFormatError, match="UTF-16"):
        rm5.read(_rm5_bytes(tmp_path, utf16))
    # declared UTF-8 but ISO-8859-1 bytes inside: the parser names the line
    latin = rm5_file().read_bytes().replace(b'encoding="ISO-8859-1"', b'encoding="UTF-8"').replace(
        b"Examples from Fleiss 1993</TITLE>", b"Exemples \xe9t\xe9</TITLE>", 1)
    with pytest.raises(ImportFormatError, match=r"line 4, column \d+: malformed XML"):
        rm5.read(_rm5_bytes(tmp_path, latin))
    odd = rm5_file().read_bytes().replace(b'encoding="ISO-8859-1"', b'encoding="EBCDIC-CP-US"')
    with pytest.raises(ImportFormatError, match="declared encoding"):
        rm5.read(_rm5_bytes(tmp_path, odd))


def test_not_a_revman_file_and_bad_number_refused(tmp_path):
    with pytest.raises(ImportFormatError, match="not a RevMan 5 review file"):
        rm5.read(_rm5_bytes(tmp_path, b'<?xml version="1.0"?><html/>'))
    bad = rm5_file().read_bytes().replace(b'EVENTS_1="49"', b'EVENTS_1="forty-nine"', 1)
    with pytest.raises(ImportFormatError, match=r"line \d+: analysis 1\.1, DICH_DATA STUDY_ID=STD-MRC_x002d_1 EVENTS_1: "
                                                r"'forty-nine' is not a number"):
        rm5.read(_rm5_bytes(tmp_path, bad))


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _inner_members() -> dict[str, bytes]:
    outer = zipfile.ZipFile(zip_file())
    inner_name = next(n for n in outer.namelist() if n.endswith("-data.zip"))
    inner = zipfile.ZipFile(io.BytesIO(outer.read(inner_name)))
    return {n: inner.read(n) for n in inner.namelist() if not n.endswith("/")}


def test_zip_path_traversal_refused(tmp_path):
    members = _inner_members() | {"../../evil.csv": b"x"}
    p = tmp_path / "evil.zip"
    p.write_bytes(_zip(members))
    with pytest.raises(ImportFormatError, match=r"evil\.zip: member '\.\./\.\./evil\.csv': refused: .*path traversal"):
        revman_web.read(p)
    assert not (tmp_path.parent / "evil.csv").exists()


def test_zip_bomb_member_refused(tmp_path):
    members = _inner_members() | {"study-data/huge.csv": b"0" * (revman_web.MAX_MEMBER_BYTES + 10)}
    p = tmp_path / "bomb.zip"
    p.write_bytes(_zip(members))
    assert p.stat().st_size < 1_000_000  # small on disk, huge when inflated
    with pytest.raises(ImportFormatError, match=r"bomb\.zip: member 'study-data/huge\.csv' would inflate to"):
        revman_web.read(p)


def test_missing_analysis_data_refused(tmp_path):
    members = {n: d for n, d in _inner_members().items() if "data-rows" not in n}
    p = tmp_path / "partial.zip"
    p.write_bytes(_zip(members))
    with pytest.raises(ImportFormatError, match=r"partial\.zip: missing analysis-data/\*-data-rows\.csv"):
        revman_web.read(p)
    p.write_bytes(b"not a zip at all")
    with pytest.raises(ImportFormatError, match="not a readable zip file"):
        revman_web.read(p)


def test_existing_review_refused_without_sync_and_nothing_written_on_failure(tmp_path):
    _import(tmp_path, rm5_file())
    before = sorted(p.name for p in (tmp_path / "fleiss-1993" / "trials").iterdir())
    with pytest.raises(ImportFormatError, match="a review already exists here; use --sync"):
        _import(tmp_path, rm5_file())
    # an import that does not validate (an SD of 0 is refused by the record checks) writes nothing
    bad = rm5_file().read_bytes().replace(b'SD_1="4.7"', b'SD_1="0"', 1)
    with pytest.raises(Exception, match="standard deviation must be greater than 0"):
        write_review(tmp_path / "fleiss-1993", rm5.read(_rm5_bytes(tmp_path, bad)), sync=True)
    with pytest.raises(Exception, match="standard deviation must be greater than 0"):
        write_review(tmp_path / "new-review", rm5.read(_rm5_bytes(tmp_path, bad)))
    assert not (tmp_path / "new-review").exists()
    assert sorted(p.name for p in (tmp_path / "fleiss-1993" / "trials").iterdir()) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no scratch folder left behind


def test_sync_lists_added_changed_removed(tmp_path, capsys):
    src = rm5_file().read_bytes()
    # edition 2 of the source: Wilson removed (its data and study), CDP corrected, a new study added
    wilson_data = src[src.index(b'<CONT_DATA CI_END="" CI_START="" EFFECT_SIZE="" ESTIMABLE="YES" MEAN_1="6.5"'):]
    wilson_data = wilson_data[:wilson_data.index(b"/>") + 3]
    new = (src.replace(wilson_data, b"", 1)
           .replace(b'EVENTS_1="44"', b'EVENTS_1="45"', 1)
           .replace(b'<STUDY DATA_SOURCE="PUB" ID="STD-Wilson"', b'<STUDY DATA_SOURCE="PUB" ID="STD-New" NAME="New" YEAR="2001"/>'
                    b'\n<STUDY DATA_SOURCE="PUB" ID="STD-Wilson"', 1)
           .replace(b"</CONT_OUTCOME>", b'<CONT_DATA MEAN_1="1.0" MEAN_2="2.0" SD_1="1.0" SD_2="1.1" STUDY_ID="STD-New" '
                    b'TOTAL_1="10" TOTAL_2="12"/>\n</CONT_OUTCOME>', 1))
    v2 = tmp_path / "v2.rm5"
    v2.write_bytes(new)
    reviews = tmp_path / "reviews"
    assert cli.main(["import", str(reviews / "fleiss"), str(rm5_file())]) == 0
    capsys.readouterr()
    assert cli.main(["import", str(reviews / "fleiss"), str(v2)]) == 2
    assert "use --sync" in capsys.readouterr().err
    with open(reviews / "fleiss" / "review.yaml", "a") as fh:  # written by hand after the first import
        fh.write("report:\n  short_title: Fleiss examples\n")
    assert cli.main(["import", str(reviews / "fleiss"), str(v2), "--sync"]) == 0
    out = capsys.readouterr().out
    assert "1 added, 1 changed, 1 removed" in out
    assert "added    new" in out and "changed  cdp" in out and "removed  wilson" in out
    assert not (reviews / "fleiss" / "trials" / "wilson.yaml").exists()
    synced = load_review(reviews / "fleiss")
    assert len(synced.trials) == 12
    assert synced.definition["report"] == {"short_title": "Fleiss examples"}  # hand-written keys survive a sync


def test_cli_import_prints_reproduction_and_warns_loudly(tmp_path, capsys):
    assert cli.main(["import", str(tmp_path / "r1"), str(zip_file())]) == 0
    out = capsys.readouterr()
    assert "Reproduction of RevMan's stored totals" in out.out and "DIFFERS" not in out.out
    assert "WARNING" not in out.err
    bad = tmp_path / "bad.rm5"
    bad.write_bytes(rm5_file().read_bytes().replace(b'EFFECT_SIZE="0.8968655609130709"', b'EFFECT_SIZE="0.9"', 1))
    assert cli.main(["import", str(tmp_path / "r2"), str(bad)]) == 0
    err = capsys.readouterr().err
    assert "WARNING: 1 RevMan total NOT reproduced" in err and "pooled estimate" in err


def test_detect_format(tmp_path):
    assert detect_format(rm5_file()) == "rm5" and detect_format(zip_file()) == "revman-web"
    (tmp_path / "s.csv").write_text("a\n")
    assert detect_format(tmp_path / "s.csv") == "sheet"
    (tmp_path / "m" / "metadata").mkdir(parents=True)
    (tmp_path / "m" / "data.csv").write_text("x\n")
    assert detect_format(tmp_path / "m") == "metapsy"
    (tmp_path / "x.docx").write_text("")
    with pytest.raises(ImportFormatError, match="unknown format .docx"):
        detect_format(tmp_path / "x.docx")


def test_report_section_shows_reproduction_only_for_revman_reviews(tmp_path):
    """The appendix is one summary table (issue 20); every comparison is in the attached CSV."""
    import jinja2

    from livingmeta.report.context import TEMPLATE_DIR
    _import(tmp_path, zip_file())
    review_yaml = lambda d: yaml.safe_load((d / "review.yaml").read_text())  # noqa: E731
    ctx = revman_reproduction.section_for_review_dir(tmp_path / "fleiss-1993", review_yaml(tmp_path / "fleiss-1993"))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    html = env.get_template("sections/revman_reproduction.html.j2").render(revman_reproduction=ctx)
    # 2 analyses: 1.1 reproduced; 1.2's totals RevMan Web stored as zeros (it computed none), ours exist: not compared
    assert ctx["summary"] | {"differing_analyses": None} == {
        "analyses": 2, "compared": 1, "reproduced": 1, "not_estimable_in_both": 0, "differing": 0, "not_stored": 1,
        "statistics": 13, "studies_checked": 7, "differing_analyses": None}
    assert "Every stored total is reproduced" in html and "DIFFERS" not in html and revman_reproduction.CSV_NAME in html
    default = Path(__file__).parents[1] / "data" / "reviews" / "exercise-depression"
    assert revman_reproduction.section_for_review_dir(default, review_yaml(default)) is None


def test_subgroups_are_parsed_and_each_subgroup_reproduced(tmp_path):
    """Synthetic (labelled): the aspirin analysis split into two subgroups; the subgroup odds
    ratios written into the file are metafor 3.8.1's rma.mh on the same tables (7 digits)."""
    src = rm5_file().read_bytes().decode("iso-8859-1")
    start = src.index("<DICH_DATA", src.index('<DICH_OUTCOME'))
    end = src.index("</DICH_OUTCOME>")
    rows = src[start:end].strip().split("\n")
    sub = ('<DICH_SUBGROUP NO="{no}" EFFECT_SIZE="{es}" CI_START="" CI_END=""><NAME>{name}</NAME>\n{rows}\n</DICH_SUBGROUP>\n')
    # Rscript: exp(rma.mh(ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=d[s, ], measure='OR')$beta), s = 1:2 and 3:7
    a = sub.format(no=1, name="Early trials", rows="\n".join(rows[:2]), es="0.7004690")
    b = sub.format(no=2, name="Later trials", rows="\n".join(rows[2:]), es="0.9100216")
    text = src[:start] + a + b + src[end:]
    text = text.replace('SUBGROUPS="NO" SUBGROUP_TEST="YES" SWAP_EVENTS="NO"', 'SUBGROUPS="YES" SUBGROUP_TEST="YES" SWAP_EVENTS="NO"', 1)
    p = tmp_path / "sub.rm5"
    p.write_bytes(text.encode("iso-8859-1"))
    write_review(tmp_path / "sub", rm5.read(p))
    review = load_review(tmp_path / "sub")
    spec = review.outcome("analysis-1-1")
    # subgroups of one analysis, not time points (issue 20)
    assert [t["id"] for t in spec["timepoints"]] == ["as-analysed"]
    assert spec["subgroups"] == ["Early trials", "Later trials"]
    rec = yaml.safe_load((tmp_path / "sub" / "trials" / "cdp.yaml").read_text())
    assert rec["outcomes"]["analysis-1-1"][0]["subgroup"] == "Early trials"
    table = revman_reproduction.reproduce(review.definition, review.trials)
    parts = {r["part"]: r for r in table[0]["rows"] if r["key"] == "effect"}
    assert set(parts) == {"overall", "subgroup Early trials", "subgroup Later trials"}
    assert parts["subgroup Early trials"]["ours"] == pytest.approx(0.7004690, abs=1e-6)
    assert parts["subgroup Later trials"]["ours"] == pytest.approx(0.9100216, abs=1e-6)


def test_generic_inverse_variance_outcome_imports_and_reproduces(tmp_path):
    """Synthetic (labelled): the aspirin log odds ratios entered as a generic inverse-variance
    analysis (LOG_DATA=YES); its stored totals are metafor's rma(method="FE") on the same values."""
    import json
    import math
    ref = json.loads((Path(__file__).parent / "reference" / "revman_reference.json").read_text())["aspirin"]["OR"]
    ids = ["STD-MRC_x002d_1", "STD-CDP", "STD-MRC_x002d_2", "STD-GASP", "STD-PARIS", "STD-AMIS", "STD-ISIS_x002d_2"]
    rows = "\n".join(f'<IV_DATA EFFECT_SIZE="{y!r}" SE="{math.sqrt(v)!r}" STUDY_ID="{s}" TOTAL_1="" TOTAL_2=""/>'
                     for y, v, s in zip(ref["yi"], ref["vi"], ids))
    fe = ref["FE"]
    outcome = (f'<IV_OUTCOME CHI2="{fe["Q"]!r}" CI_END="{math.exp(fe["estimate"] + 1.959963984540054 * fe["se"])!r}" '
               f'CI_START="{math.exp(fe["estimate"] - 1.959963984540054 * fe["se"])!r}" CI_STUDY="95" CI_TOTAL="95" DF="6" '
               f'EFFECT_MEASURE="OR" EFFECT_SIZE="{math.exp(fe["estimate"])!r}" I2="{fe["I2"]!r}" LOG_DATA="YES" METHOD="IV" '
               f'NO="3" RANDOM="NO" SUBGROUPS="NO" TOTALS="YES"><NAME>Aspirin, generic inverse variance</NAME>'
               f'<GROUP_LABEL_1>Aspirin</GROUP_LABEL_1><GROUP_LABEL_2>Control</GROUP_LABEL_2>'
               f'<GRAPH_LABEL_1>Favours aspirin</GRAPH_LABEL_1><GRAPH_LABEL_2>Favours control</GRAPH_LABEL_2>\n{rows}\n</IV_OUTCOME>\n')
    text = rm5_file().read_bytes().decode("iso-8859-1").replace("</COMPARISON>", outcome + "</COMPARISON>", 1)
    p = tmp_path / "giv.rm5"
    p.write_bytes(text.encode("iso-8859-1"))
    write_review(tmp_path / "giv", rm5.read(p))
    review = load_review(tmp_path / "giv")
    spec = review.outcome("analysis-1-3")
    assert (spec["type"], spec["effect_measure"], spec["revman"]["log_data"]) == ("generic", "OR", True)
    rec = yaml.safe_load((tmp_path / "giv" / "trials" / "isis-2.yaml").read_text())
    block = rec["outcomes"]["analysis-1-3"][0]
    assert block["generic"]["estimate"] == pytest.approx(ref["yi"][6]) and block["arms"]["experimental"] == {"n": None}
    table = revman_reproduction.reproduce(review.definition, review.trials)
    giv = next(a for a in table if a["analysis"] == "1.3")
    assert revman_reproduction.disagreements(table) == [] and {r["key"] for r in giv["rows"]} == {"effect", "ci_lower", "ci_upper", "chi2", "df", "i2"}


def test_risk_of_bias_item_names_map_to_rob1_keys():
    from livingmeta.living.importers.revman_common import Study, add_rob, rob1_domains
    assert rob1_domains("Random sequence generation (selection bias)") == ["sequence_generation"]
    assert rob1_domains("Blinding of participants and personnel (performance bias)") == [
        "blinding_participants", "blinding_personnel"]
    assert rob1_domains("Blinding of outcome assessment (detection bias)") == ["blinding_outcome_assessment"]
    assert rob1_domains("Incomplete outcome data (attrition bias)") == ["incomplete_outcome_data"]
    assert rob1_domains("Selective reporting (reporting bias)") == ["selective_reporting"]
    assert rob1_domains("Other bias") == ["other_bias"]
    st = Study(key="s", name="S 2000", year="2000")
    add_rob(st, "Allocation concealment (selection bias)", "Low risk", "Central allocation", "here")
    add_rob(st, "Baseline imbalance", "High risk", "", "here")
    add_rob(st, "Blinding of outcome assessment (detection bias)", "YES", None, "here", group="Self-reported outcomes")
    assert st.risk_of_bias == {"allocation_concealment": {"judgement": "low", "support": "Central allocation"}}
    assert st.other_bias_items[0] == {"item": "Baseline imbalance", "judgement": "high", "support": None}
    assert st.other_bias_items[1]["group"] == "Self-reported outcomes"
    assert st.other_bias_items[1]["domains"] == ["blinding_outcome_assessment"]
    with pytest.raises(ImportFormatError, match="unknown risk-of-bias judgement 'Maybe'"):
        add_rob(st, "Other bias", "Maybe", None, "here")


def test_revman_web_rob_not_applicable_is_not_assessed(tmp_path):
    _import(tmp_path, zip_file())
    rec = yaml.safe_load((tmp_path / "fleiss-1993" / "trials" / "amis.yaml").read_text())
    assert rec["risk_of_bias"]["domains"]["allocation_concealment"]["judgement"] == "not_assessed"
    assert rec["risk_of_bias"]["source"].startswith("RevMan Web data package, ")


def test_data_package_with_missing_columns_refused(tmp_path):
    members = _inner_members()
    name = next(n for n in members if n.endswith("subgroup-estimates.csv"))
    members[name] = "\ufeffAnalysis group,Mean\n1,0.5\n".encode("utf-8")
    p = tmp_path / "cols.zip"
    p.write_bytes(_zip(members))
    with pytest.raises(ImportFormatError, match=r"subgroup-estimates\.csv: missing 2 columns: Analysis number, Subgroup"):
        revman_web.read(p)
    members = _inner_members()
    name = next(n for n in members if n.endswith("data-rows.csv"))
    members[name] = members[name].replace(b",246,2267,", b",many,2267,", 1)
    p.write_bytes(_zip(members))
    with pytest.raises(ImportFormatError, match=r"data-rows\.csv: row 2 \(analysis 1\.1, study AMIS\) column "
                                                r"'Experimental cases': 'many' is not a number"):
        revman_web.read(p)


def test_references_identifiers_and_characteristics_are_kept(tmp_path):
    """Synthetic (labelled) reference and characteristics text added to the fixture's ISIS-2."""
    src = rm5_file().read_bytes()
    ref = (b'<STUDY DATA_SOURCE="PUB" ID="STD-ISIS_x002d_2" MODIFIED="2009-08-18 11:10:09 +0200" '
           b'MODIFIED_BY="[Empty name]" NAME="ISIS-2" YEAR="1988">\n<REFERENCE PRIMARY="NO" TYPE="JOURNAL_ARTICLE">\n'
           b'<IDENTIFIERS/>\n</REFERENCE>')
    assert ref in src
    new_ref = (b'<STUDY DATA_SOURCE="PUB" ID="STD-ISIS_x002d_2" NAME="ISIS-2" YEAR="1988">\n'
               b'<REFERENCE PRIMARY="YES" TYPE="JOURNAL_ARTICLE"><AU>ISIS-2 Collaborative Group</AU>'
               b'<TI>Randomised trial of streptokinase, aspirin, both, or neither</TI><SO>Lancet</SO><YR>1988</YR>'
               b'<VL>2</VL><PG>349-60</PG><IDENTIFIERS><IDENTIFIER TYPE="PUBMED" VALUE="2899772"/></IDENTIFIERS></REFERENCE>')
    chars = b'<INCLUDED_CHAR STUDY_ID="STD-ISIS_x002d_2">\n<CHAR_METHODS/>'
    text = src.replace(ref, new_ref, 1).replace(chars, b'<INCLUDED_CHAR STUDY_ID="STD-ISIS_x002d_2">\n'
                                                       b'<CHAR_METHODS><P>Randomised, 2x2 factorial</P></CHAR_METHODS>', 1)
    p = tmp_path / "refs.rm5"
    p.write_bytes(text)
    write_review(tmp_path / "refs", rm5.read(p))
    rec = yaml.safe_load((tmp_path / "refs" / "trials" / "isis-2.yaml").read_text())
    assert rec["citation"]["first_author"] == "ISIS-2 Collaborative Group"
    assert rec["citation"]["journal"] == "Lancet" and rec["citation"]["detail"] == "2, 349-60"
    assert rec["citation"]["identifier"] == "PUBMED: 2899772"
    assert rec["revman"]["characteristics"]["methods"] == "Randomised, 2x2 factorial"


def test_ris_references_of_the_data_package():
    from livingmeta.living.importers.revman_web import _ris
    text = ("TY  - JOUR\nNS  - ISIS-2\nAU  - ISIS-2 Collaborative Group\nTI  - Randomised trial\nJO  - Lancet\n"
            "PY  - 1988\nVL  - 2\nSP  - 349\nEP  - 60\nDO  - 10.1016/S0140-6736(88)92833-4\nER  - \n")
    (ref,) = _ris(text)["ISIS-2"]
    assert ref["authors"] == "ISIS-2 Collaborative Group" and ref["journal"] == "Lancet" and ref["year"] == "1988"
    assert ref["identifiers"] == ["DOI: 10.1016/S0140-6736(88)92833-4"] and ref["detail"] == "2, 349-60"


def test_a_data_package_is_named_after_its_comparison_not_its_file_name(tmp_path):
    """A RevMan Web data package carries no review title outside its article PDF (which is not
    parsed): a package of one comparison is named after it, with a warning saying how to set one."""
    imported = revman_web.read(zip_file())
    assert imported.definition["title"] == "Examples from Fleiss (1993)"
    assert any("carries no review title" in w for w in imported.warnings)
