"""The reference list prints citations only, in one style (CSL Vancouver via citeproc-py); the
extraction notes go to the provenance table; references import from RIS and BibTeX into the
records; outcome instruments are normalised and counted."""

import yaml

from livingmeta.pipeline.instruments import instrument_counts, instrument_table, normalise_instruments
from livingmeta.pipeline.records import load_review
from livingmeta.report.references import (csl_name, format_references, import_references, provenance_row,
                                   read_reference_file)

from conftest import REVIEW

NOTE_WORDS = ("not found", "weak source", "per review label", "per label", "inferred", "as found", "excerpt",
              "review label", "sources read", "Crossref", "not shown")


def _entries(review_dir=REVIEW):
    review = load_review(review_dir)
    return [(r["id"], r["year"], r["citation"]) for r in sorted(review.trials, key=lambda r: r["label"])]


def test_the_reference_list_holds_citations_and_no_extraction_note():
    refs = format_references(_entries())
    assert len(refs) == 35
    for r in refs:
        assert not any(w.lower() in r["text"].lower() for w in NOTE_WORDS), r["text"]
    by_id = {r["id"]: r for r in refs}
    assert by_id["klein-1985"]["text"] == "Klein, 1985."                    # incomplete: plainly what is known
    dunn = by_id["dunn-2005"]["text"]
    assert dunn.startswith("Dunn AL, Trivedi MH, Kampert JB, Clark CG, Chambliss HO. Exercise treatment for depression")
    assert "2005;28(1):1\u20138." in dunn                                    # Vancouver: year;vol(issue):pages
    assert [link["url"] for link in by_id["veale-1992"]["links"]] == [
        "https://doi.org/10.1177/014107689208500910", "https://pubmed.ncbi.nlm.nih.gov/1433121/",
        "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC1293641/"]
    assert "2010;2(10):911\u20139." in by_id["hoffman-2010"]["text"]        # "911-9" as found: not mangled to "911-."


def test_the_notes_move_to_the_provenance_table():
    entries = {i: c for i, _, c in _entries()}
    krogh = provenance_row("Krogh 2009", entries["krogh-2009"])
    assert any("inferred from host" in n for n in krogh["notes"])
    assert "psychiatrist.com" in " ".join(krogh["notes"]) or krogh["sources"]
    assert any("weak source" in n for n in provenance_row("x", entries["mota-pereira-2011"])["notes"])
    assert provenance_row("x", entries["klein-1985"])["notes"][-1].startswith("title, journal and pages not found")


def test_vancouver_names_become_csl_names():
    assert csl_name("Dunn AL") == {"family": "Dunn", "given": "A. L."}
    assert csl_name("Chu I-H") == {"family": "Chu", "given": "I.-H."}
    assert csl_name("de Souza V") == {"family": "de Souza", "given": "V."}
    assert csl_name("Klein") == {"family": "Klein"}


RIS = """TY  - JOUR
AU  - Klein, Marjorie H.
AU  - Greist, John H.
TI  - A comparative outcome study of group psychotherapy vs. exercise treatments for depression
T2  - International Journal of Mental Health
PY  - 1985
VL  - 13
IS  - 3-4
SP  - 148
EP  - 176
DO  - 10.1080/00207411.1984.11448982
ER  - 
TY  - JOUR
AU  - Nobody, A.
TI  - Not one of the trials
PY  - 1999
ER  - 
"""

BIB = """@article{orth-1979,
  author = {Orth, Dennis K.},
  title = {{Clinical treatments of depression}},
  journal = {Some Journal},
  year = {1979},
  volume = {5},
  pages = {10--20}
}
"""


def test_ris_and_bibtex_import_writes_citations_into_the_records(review_copy, tmp_path):
    ris = tmp_path / "refs.ris"
    ris.write_text(RIS)
    out = import_references(review_copy, ris)
    assert out["matched"] == ["klein-1985"] and len(out["unmatched"]) == 1
    rec = yaml.safe_load((review_copy / "trials" / "klein-1985.yaml").read_text())
    c = rec["citation"]
    assert c["authors"] == ["Klein MH", "Greist JH"] and c["volume"] == "13" and c["pages"] == "148-176"
    assert c["doi"] == "10.1080/00207411.1984.11448982" and c["year_as_found"].startswith("1985")  # provenance kept
    assert (review_copy / "trials" / "klein-1985.yaml").read_text().startswith("# Trial record")  # header kept
    bib = tmp_path / "refs.bib"
    bib.write_text(BIB)
    assert import_references(review_copy, bib)["matched"] == ["orth-1979"]
    review = load_review(review_copy)                                         # still valid records
    refs = {r["id"]: r["text"] for r in format_references(
        [(r["id"], r["year"], r["citation"]) for r in review.trials])}
    assert refs["klein-1985"].startswith("Klein MH, Greist JH. A comparative outcome study")
    assert refs["orth-1979"].startswith("Orth DK. Clinical treatments of depression. Some Journal. 1979;5:10\u201320.")


def test_an_unknown_reference_format_is_a_clear_error(tmp_path):
    import pytest

    from livingmeta.errors import ImportFormatError
    bad = tmp_path / "refs.docx"
    bad.write_text("x")
    with pytest.raises(ImportFormatError, match="refs.docx.*use a .ris or .bib file"):
        read_reference_file(bad)


def test_instrument_names_are_normalised_and_counted():
    entries = yaml.safe_load((REVIEW / "review.yaml").read_text())["instruments"]
    table = instrument_table(entries)
    assert normalise_instruments("HRSD-17 (primary); GDS; CGI; PGI", table) == ["HAM-D 17", "GDS", "CGI", "PGI"]
    assert normalise_instruments("HAM-D (17-item) and BDI", table) == ["HAM-D 17", "BDI"]
    assert normalise_instruments("BDI-II", table) == ["BDI-II"]
    assert normalise_instruments("standard psychiatric interview; BDI not confirmed", table) == []
    assert normalise_instruments("unknown", table) == []
    counts = instrument_counts({"A": "BDI; HAM-D", "B": "BDI", "C": "unknown", "D": "interview only"}, entries)
    assert [(r["abbreviation"], r["trials"]) for r in counts["rows"]] == [("BDI", 2), ("HAM-D", 1)]
    assert counts["not_recorded"] == ["C"] and counts["unmatched"] == ["D"]


def test_the_references_command_reports_matched_and_unmatched(review_copy, tmp_path, capsys):
    from livingmeta.cli import main
    ris = tmp_path / "refs.ris"
    ris.write_text(RIS)
    assert main(["references", str(review_copy), str(ris)]) == 1       # one reference matched no trial
    out = capsys.readouterr()
    assert "klein-1985" in out.out and "no trial matches reference" in out.err
