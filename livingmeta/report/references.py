"""The reference list: trial citations as CSL-JSON, formatted by citeproc-py with a shipped CSL
style (NLM/Vancouver, templates/csl/), and imported from RIS or BibTeX into the trial records.

A record's citation block holds two kinds of fields: bibliographic ones (first_author, authors,
title, journal, volume, issue, pages, doi, pmid, pmcid, type, genre, publisher), which are
printed, and provenance ones (year_as_found, detail, identifier, source_urls, notes), which go to
the appendix's data-provenance table and never into a citation. A citation without a title is
printed with what is known, plainly: "Klein, 1985."
"""

from __future__ import annotations

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
    """'Dunn, Andrea L.' or 'Dunn, A. L.' -> 'Dunn AL'; a name with no letters (',') -> ''."""
    family, _, given = (x.strip() for x in str(name).partition(","))
    initials = "".join(p[0] for p in re.split(r"[\s.\-]+", given) if p and p[0].isalpha()).upper()
    return f"{family} {initials}".strip() if any(c.isalpha() for c in family + initials) else ""


def _names(authors) -> list[str]:
    return [v for v in (_vancouver(a) for a in authors or []) if v]


def _from_ris(path: Path) -> list[dict]:
    import rispy
    with open(path, encoding="utf-8-sig") as fh:
        entries = rispy.load(fh)
    out = []
    for e in entries:
        pages = "-".join(str(p) for p in (e.get("start_page"), e.get("end_page")) if p)
        out.append({"key": e.get("id") or e.get("label"),
                    "authors": _names(e.get("authors")) or _names(e.get("first_authors")),  # AU, else A1
                    "title": e.get("title") or e.get("primary_title"),
                    "journal": e.get("journal_name") or e.get("secondary_title") or e.get("alternate_title3"),
                    "year": str(e.get("year") or e.get("publication_year") or "")[:4], "volume": e.get("volume"),
                    "issue": e.get("number"), "pages": pages or None, "doi": e.get("doi")})
    return out


def _from_bibtex(path: Path) -> list[dict]:
    import logging

    import bibtexparser
    text = path.read_text(encoding="utf-8-sig")
    if hasattr(bibtexparser, "parse_string"):                    # bibtexparser 2
        log = logging.getLogger("bibtexparser")
        level = log.level
        log.setLevel(logging.CRITICAL)  # its parse warnings are reported below, once, as our error
        try:
            library = bibtexparser.parse_string(text)
        finally:
            log.setLevel(level)
        if library.failed_blocks:
            block = library.failed_blocks[0]
            error = getattr(block, "error", None)
            reason = (str(getattr(error, "abort_reason", None) or error or "").strip().splitlines()
                      or ["not an entry"])[0]
            raise ImportFormatError(f"{path}: not a readable BibTeX file: the entry at line {block.start_line + 1} "
                                    f"cannot be read ({reason}); "
                                    + (f"{len(library.failed_blocks) - 1} more entries cannot be read either; "
                                       if len(library.failed_blocks) > 1 else "")
                                    + "fix it or export the file again from the reference manager")
        entries = [{"ID": e.key, **{f.key.lower(): f.value for f in e.fields}} for e in library.entries]
    else:                                                         # bibtexparser 1
        entries = bibtexparser.loads(text).entries
    out = []
    for e in entries:
        authors = [a.strip() for a in re.split(r"\s+and\s+", str(e.get("author", ""))) if a.strip()]
        out.append({"key": e.get("ID"), "authors": _names(authors),
                    "title": (e.get("title") or "").replace("{", "").replace("}", "") or None,
                    "journal": e.get("journal"), "year": (e.get("year") or "")[:4], "volume": e.get("volume"),
                    "issue": e.get("number"), "pages": (e.get("pages") or "").replace("--", "-") or None,
                    "doi": e.get("doi"), "pmid": e.get("pmid")})
    return out


def read_reference_file(path) -> list[dict]:
    """The references of a RIS or BibTeX file; a file that is not one, or holds none, is an
    ImportFormatError (one line, exit 2), never an import of nothing."""
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"{path}: file not found")
    suffix = path.suffix.lower()
    readers = {".ris": _from_ris, ".txt": _from_ris, ".bib": _from_bibtex, ".bibtex": _from_bibtex}
    if suffix not in readers:
        raise ImportFormatError(f"{path}: unknown reference format {suffix!r}; use a .ris or .bib file")
    try:
        entries = readers[suffix](path)
    except ImportFormatError:
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise ImportFormatError(f"{path}: not a readable {suffix[1:].upper()} file ({e}); export it again "
                                f"from the reference manager as UTF-8") from None
    if not entries:
        what = "RIS records (each starts 'TY  - ' and ends 'ER  - ')" if readers[suffix] is _from_ris else "BibTeX entries"
        raise ImportFormatError(f"{path}: no {what} found; export the references again from the reference manager")
    return entries


BIBLIOGRAPHIC_IMPORTED = ("authors", "title", "journal", "volume", "issue", "pages", "doi", "pmid")
FIELD_FIXES = {"citation.doi": "a DOI starts with 10. (e.g. 10.1001/archinte.159.19.2349); correct or delete it "
                               "in the reference file",
               "citation.pmid": "a PubMed id is digits only; correct or delete it in the reference file"}


def _family(name: str) -> str:
    """The first word of a family name, lower case ('' for none): what matching compares."""
    words = str(name or "").split()
    return words[0].lower().rstrip(",") if words else ""


def _matcher(records: dict):
    """entry -> (the trial it belongs to, "key" or "author and year"): by key equal to the trial
    id, else by the first author's family name and the year (a unique match only)."""
    by_author_year: dict[tuple, list] = {}
    for tid, rec in records.items():
        first = (rec.get("citation") if isinstance(rec.get("citation"), dict) else {}).get("first_author")
        by_author_year.setdefault((_family(first), str(rec.get("year"))), []).append(tid)

    def match(entry: dict) -> tuple[str | None, str | None]:
        if entry.get("key") in records:
            return entry["key"], "key"
        if not entry["authors"] or not entry["year"]:
            return None, None
        hits = by_author_year.get((_family(entry["authors"][0]), entry["year"]), [])
        return (hits[0], "author and year") if len(hits) == 1 else (None, None)
    return match


def import_references(review_root, ref_file) -> dict:
    """Write the bibliographic fields of a RIS/BibTeX file into the matching trial records
    (data/reviews/<review>/trials/*.yaml), keeping every other field and the records' header
    comments; what the file does not give is left as it was. A trial is matched by one reference:
    one whose key is the trial id, else the one reference with its first author and year; a trial
    several references match is left as it was (a warning names them). Each record is written
    once, and only if every updated record passes the record checks (else a RecordError names
    the reference, the field and the value, and nothing is written), through the one writer of
    records (pipeline.record_writer: atomic, all or nothing). Returns the trials matched, the
    references unmatched, the changes per trial and warnings."""
    from livingmeta.pipeline.intake import load_definition
    from livingmeta.pipeline.record_writer import field_changes, normalise_doi, record_header, write_records
    from livingmeta.pipeline.records import Problem, RecordError, load_yaml, record_paths
    review_root, ref_file = Path(review_root), Path(ref_file)
    definition = load_definition(review_root)
    records, paths, problems = {}, {}, []
    for path in record_paths(review_root / "trials"):
        rec, problem = load_yaml(path)
        if problem or not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
            problems.append(problem or Problem(str(path), "id", "not a trial record (run livingmeta check)"))
            continue
        records[rec["id"]], paths[rec["id"]] = rec, path
    if problems:
        raise RecordError(problems)
    entries = read_reference_file(ref_file)
    match = _matcher(records)
    candidates: dict[str, dict[str, list]] = {}  # trial -> how matched -> [(name, entry)]
    unmatched = []
    for n, entry in enumerate(entries, 1):
        tid, how = match(entry)
        if tid is None:
            unmatched.append(entry.get("key") or (entry["authors"][:1] + [entry["year"]]))
            continue
        name = f"reference {n}" + (f" ({entry['key']})" if entry.get("key") else "")
        candidates.setdefault(tid, {}).setdefault(how, []).append((name, entry))
    warnings, updated, source_of = [], {}, {}
    for tid, by_how in candidates.items():
        chosen = by_how.get("key") or by_how["author and year"]
        if len(chosen) > 1:
            names = [name for name, _ in chosen]
            how = "key" if "key" in by_how else "first author and year"
            warnings.append(f"{ref_file}: {len(names)} references match trial {tid} by {how} ({', '.join(names[:3])}"
                            f"{', ...' if len(names) > 3 else ''}); its record is left as it was: keep one of them, "
                            f"or give the trial's own reference the key {tid}")
            continue
        source_of[tid], entry = chosen[0]
        c = dict(records[tid].get("citation") or {})
        for key in BIBLIOGRAPHIC_IMPORTED:
            if entry.get(key):
                c[key] = entry[key] if key == "authors" else str(entry[key])
        if c.get("doi"):
            c["doi"] = normalise_doi(c["doi"])
        c["notes"] = [x for x in c.get("notes", []) if not str(x).startswith("bibliographic fields imported")] + [
            f"bibliographic fields imported from {ref_file.name}"]
        updated[tid] = {**records[tid], "citation": c}
    changed = {tid: field_changes(records[tid], rec) for tid, rec in updated.items()}
    to_write = {paths[tid]: rec for tid, rec in updated.items() if changed[tid]}

    def explain(found: list) -> None:
        out = []
        for p in found:
            tid = Path(p.file).stem
            fix = FIELD_FIXES.get(re.sub(r"\[\d+\]$", "", p.field), "")
            out.append(Problem(f"{ref_file}, {source_of[tid]}", f"trial {tid}: {p.field}",
                               f"{p.message}{'; ' + fix if fix else ''} (the record {p.file} would not pass "
                               "livingmeta check; nothing was written)", p.value))
        raise RecordError(out)

    write_records(to_write, definition, headers={path: record_header(path) for path in to_write}, explain=explain)
    return {"matched": list(updated), "unmatched": unmatched, "warnings": warnings,
            "changed": {tid: changes for tid, changes in changed.items() if changes}}
