"""The reference list: trial citations as CSL-JSON, formatted by citeproc-py with a shipped CSL
style (NLM/Vancouver, templates/csl/), and imported from RIS or BibTeX into the trial records.

A record's citation block holds two kinds of fields: bibliographic ones (first_author, authors,
title, journal, volume, issue, pages, doi, pmid, pmcid, type, genre, publisher), which are
printed, and provenance ones (year_as_found, detail, identifier, source_urls, notes), which go to
the appendix's data-provenance table and never into a citation. A citation without a title is
printed with what is known, plainly: "Klein, 1985."
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from livingmeta.errors import ImportFormatError

from livingmeta.paths import CSL_STYLE
BIBLIOGRAPHIC = ("first_author", "authors", "authors_complete", "title", "journal", "volume", "issue", "pages",
                 "doi", "pmid", "pmcid", "type", "genre", "publisher")
PROVENANCE = ("year_as_found", "detail", "identifier", "notes")
_INITIALS = re.compile(r"^[A-Z]{1,3}(?:-[A-Z])?$")


def csl_name(vancouver: str) -> dict:
    """'Dunn AL' -> {'family': 'Dunn', 'given': 'A. L.'}; 'Chu I-H' -> given 'I.-H.'; a name
    without initials ('Klein') is a family name only."""
    parts = vancouver.split()
    if len(parts) > 1 and _INITIALS.match(parts[-1]):
        given = "".join(c + "." if c.isalpha() else c for c in parts[-1])
        return {"family": " ".join(parts[:-1]), "given": given.replace(".", ". ").replace(". -", ".-").strip()}
    return {"family": vancouver}


def full_page_range(pages: str) -> str:
    """'911-9' -> '911-919', 'M27-35' -> 'M27-M35': citeproc abbreviates ranges itself and
    mangles ranges that are already abbreviated."""
    m = re.fullmatch(r"([A-Za-z]?)(\d+)\s*[-\u2013]\s*[A-Za-z]?(\d+)", str(pages).strip())
    if not m:
        return str(pages)
    prefix, first, last = m.groups()
    if len(last) < len(first):
        last = first[:len(first) - len(last)] + last
    return f"{prefix}{first}-{prefix}{last}"


def csl_item(item_id: str, year, citation: dict) -> dict:
    """One trial's citation as a CSL-JSON item (identifiers are kept out: the template links them)."""
    names = citation.get("authors") or [citation["first_author"]]
    item = {"id": item_id, "type": citation.get("type") or "article-journal",
            "author": [csl_name(n) for n in names], "issued": {"date-parts": [[int(year)]]}}
    if citation.get("authors_complete") is False:
        item["author"].append({"literal": "et al"})
    for csl_key, key in (("title", "title"), ("container-title", "journal"), ("volume", "volume"),
                         ("issue", "issue"), ("page", "pages"), ("genre", "genre"), ("publisher", "publisher")):
        if citation.get(key):
            item[csl_key] = full_page_range(citation[key]) if key == "pages" else str(citation[key])
    return item


def _links(citation: dict) -> list[dict]:
    out = []
    for key, label, url in (("doi", "doi", "https://doi.org/{}"), ("pmid", "PMID", "https://pubmed.ncbi.nlm.nih.gov/{}/"),
                            ("pmcid", "PMCID", "https://www.ncbi.nlm.nih.gov/pmc/articles/{}/")):
        if citation.get(key):
            out.append({"label": f"{label}: {citation[key]}", "url": url.format(citation[key])})
    return out


def format_references(entries: list[tuple[str, int, dict]], style: Path = CSL_STYLE) -> list[dict]:
    """``entries``: (trial id, year, citation block) in the order to print. Returns one dict per
    entry: ``text`` (plain text; the template escapes it) and ``links`` (DOI, PMID, PMCID)."""
    from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
    from citeproc.source.json import CiteProcJSON

    full = [(i, y, c) for i, y, c in entries if c.get("title")]
    texts = {}
    if full:
        bib = CitationStylesBibliography(CitationStylesStyle(str(style), validate=False),
                                         CiteProcJSON([csl_item(i, y, c) for i, y, c in full]), formatter.plain)
        for i, _, _ in full:
            bib.register(Citation([CitationItem(i)]))
        for key, text in zip(bib.keys, bib.bibliography()):
            texts[key] = re.sub(r"^\d+\.\s*", "", str(text)).replace("et al, et al.", "et al.")
    out = []
    for i, year, c in entries:
        text = texts.get(i.lower()) or texts.get(i) or f"{', '.join(c.get('authors') or [c['first_author']])}, {year}."
        out.append({"id": i, "text": text, "links": _links(c)})
    return out


def provenance_row(label: str, citation: dict) -> dict:
    """The appendix's data-provenance entry of one trial's citation: where it was read and every
    note the extraction made (hosts of the source URLs, so the table stays readable)."""
    hosts = []
    for url in citation.get("source_urls") or []:
        host = re.sub(r"^[a-z]+://(www\.)?", "", url).split("/")[0]
        if host and host not in hosts:
            hosts.append(host)
    notes = [f"year as found: {citation['year_as_found']}" for _ in [0] if citation.get("year_as_found")]
    notes += [f"as recorded: {citation['detail']}" for _ in [0] if citation.get("detail")]
    notes += list(citation.get("notes") or [])
    if not citation.get("title"):
        notes.append("title, journal and pages not found in the sources read")
    return {"label": label, "notes": notes, "sources": ", ".join(hosts) or "none recorded"}


# --- Import from RIS / BibTeX ------------------------------------------------------------------

def _vancouver(name: str) -> str:
    """'Dunn, Andrea L.' or 'Dunn, A. L.' -> 'Dunn AL'."""
    family, _, given = (x.strip() for x in name.partition(","))
    initials = "".join(p[0] for p in re.split(r"[\s.\-]+", given) if p and p[0].isalpha()).upper()
    return f"{family} {initials}".strip()


def _from_ris(path: Path) -> list[dict]:
    import rispy
    with open(path, encoding="utf-8-sig") as fh:
        entries = rispy.load(fh)
    out = []
    for e in entries:
        pages = "-".join(str(p) for p in (e.get("start_page"), e.get("end_page")) if p)
        out.append({"key": e.get("id") or e.get("label"), "authors": [_vancouver(a) for a in e.get("authors", [])],
                    "title": e.get("title") or e.get("primary_title"),
                    "journal": e.get("journal_name") or e.get("secondary_title") or e.get("alternate_title3"),
                    "year": str(e.get("year") or e.get("publication_year") or "")[:4], "volume": e.get("volume"),
                    "issue": e.get("number"), "pages": pages or None, "doi": e.get("doi")})
    return out


def _from_bibtex(path: Path) -> list[dict]:
    import bibtexparser
    text = path.read_text(encoding="utf-8-sig")
    if hasattr(bibtexparser, "parse_string"):                    # bibtexparser 2
        entries = [{"ID": e.key, **{f.key.lower(): f.value for f in e.fields}} for e in bibtexparser.parse_string(text).entries]
    else:                                                         # bibtexparser 1
        entries = bibtexparser.loads(text).entries
    out = []
    for e in entries:
        authors = [a.strip() for a in re.split(r"\s+and\s+", e.get("author", "")) if a.strip()]
        out.append({"key": e.get("ID"), "authors": [_vancouver(a) for a in authors],
                    "title": (e.get("title") or "").replace("{", "").replace("}", "") or None,
                    "journal": e.get("journal"), "year": (e.get("year") or "")[:4], "volume": e.get("volume"),
                    "issue": e.get("number"), "pages": (e.get("pages") or "").replace("--", "-") or None,
                    "doi": e.get("doi"), "pmid": e.get("pmid")})
    return out


def read_reference_file(path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"{path}: file not found")
    suffix = path.suffix.lower()
    try:
        if suffix in (".ris", ".txt"):
            return _from_ris(path)
        if suffix in (".bib", ".bibtex"):
            return _from_bibtex(path)
    except (ValueError, KeyError, UnicodeDecodeError) as e:
        raise ImportFormatError(f"{path}: not a readable {suffix[1:].upper()} file ({e}); export it again "
                                f"from the reference manager as UTF-8") from None
    raise ImportFormatError(f"{path}: unknown reference format {suffix!r}; use a .ris or .bib file")


def _match(entry: dict, records: dict) -> str | None:
    """The trial a reference belongs to: by key equal to the trial id, else by the first
    author's family name and the year (unique match only)."""
    if entry.get("key") in records:
        return entry["key"]
    if not entry["authors"] or not entry["year"]:
        return None
    family = entry["authors"][0].rsplit(" ", 1)[0].lower()
    hits = [tid for tid, rec in records.items()
            if str(rec.get("year")) == entry["year"]
            and rec["citation"]["first_author"].split()[0].lower().rstrip(",") == family.split()[0]]
    return hits[0] if len(hits) == 1 else None


def import_references(review_root, ref_file) -> dict:
    """Write the bibliographic fields of a RIS/BibTeX file into the matching trial records
    (data/reviews/<review>/trials/*.yaml), keeping every other field and the records' header
    comments; what the file does not give is left as it was. Returns matched and unmatched."""
    import yaml

    from livingmeta.pipeline.records import load_yaml
    trials_dir = Path(review_root) / "trials"
    records, texts = {}, {}
    for path in sorted(trials_dir.glob("*.yaml")):
        rec, problem = load_yaml(path)
        if problem:
            raise ImportFormatError(str(problem))
        records[rec["id"]], texts[rec["id"]] = rec, path
    matched, unmatched = [], []
    for entry in read_reference_file(ref_file):
        tid = _match(entry, records)
        if tid is None:
            unmatched.append(entry.get("key") or (entry["authors"][:1] + [entry["year"]]))
            continue
        c = records[tid]["citation"]
        for key in ("authors", "title", "journal", "volume", "issue", "pages", "doi", "pmid"):
            if entry.get(key):
                c[key] = entry[key] if key == "authors" else str(entry[key])
        if c.get("doi"):
            c["doi"] = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", c["doi"])
        c["notes"] = [n for n in c.get("notes", []) if not n.startswith("bibliographic fields imported")] + [
            f"bibliographic fields imported from {Path(ref_file).name}"]
        path = texts[tid]
        text = path.read_text()
        header = "".join(itertools.takewhile(lambda line: line.startswith("#"), text.splitlines(keepends=True)))
        path.write_text(header + yaml.safe_dump(records[tid], sort_keys=False, allow_unicode=True, width=100))
        matched.append(tid)
    return {"matched": matched, "unmatched": unmatched}
