"""Structure the trial records' citations into bibliographic fields (run once; kept for provenance).

The extraction wrote each citation as free text: ``detail`` ("2007;69(7):587-596 (authors ...)"),
``identifier`` ("PMID:17164159; doi:..."), and notes about the sources inside ``title``,
``journal`` and ``first_author`` ("(weak source)", "(per review label; ...)"). This script reads
only those strings and writes what they state as separate fields (authors, volume, issue, pages,
doi, pmid, pmcid, type, publisher, genre), and moves every note that is not part of the citation
into ``notes``, verbatim. Nothing is looked up and nothing is added that the strings do not
say; ``detail`` and ``identifier`` stay as found. Where a string is ambiguous the field stays
absent. Run from the project root:

    python data/reviews/exercise-depression/provenance/normalise_citations.py
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

TRIALS = Path(__file__).resolve().parents[1] / "trials"
NOTE = re.compile(r"\s*\(([^()]*)\)\s*$")          # a trailing "(...)"
AUTHOR = re.compile(r"^(?:[a-z]+ )?[A-Z][\w'\-]+(?: [A-Z][\w'\-]+)* [A-Z]{1,3}(?:-[A-Z])?$")  # "Dunn AL", "de Souza V"
SERIAL = re.compile(r"(?:^|;)\s*(\d+)(?:\((\d+)\))?:\s*([A-Z]?\d+(?:-[A-Z]?\d+)?)")  # 69(7):587-596


def split_note(text):
    """'Title (note)' -> ('Title', 'note') for a trailing note that is not part of the title."""
    if not text:
        return text, None
    m = NOTE.search(text)
    if m and any(w in m.group(1).lower() for w in ("source", "label", "inferred", "journal id", "persian",
                                                   "olum-e", "author list")):
        return text[:m.start()].strip(), m.group(1)
    return text, None


def authors_from(detail):
    """The author list a detail string spells out, e.g. '(Dunn AL, Trivedi MH, ...)' or
    'authors Pilu A, Sorba M, ...'; (list, complete) or ([], True)."""
    for chunk in re.findall(r"\(([^()]*)\)", detail) + re.findall(r"authors:? ([^;(']+)", detail):
        chunk = chunk.removeprefix("authors: ").replace(" - transliterated", "")
        names = [n.strip() for n in chunk.split(",")]
        complete = names[-1] not in ("...", "et al.")
        names = [n for n in names if n not in ("...", "et al.", "")]
        if names and all(AUTHOR.match(n) for n in names):
            return names, complete
    return [], True


def serial_from(detail):
    """Volume, issue and pages from '2007;69(7):587-596', 'vol 11, issue 2, pp 241-251',
    'vol 159, first page 2349', 'No. 13, ..., pp 51-62', 'vol 3, article 8'."""
    out = {}
    m = SERIAL.search(detail)
    if m:
        out.update(volume=m.group(1), issue=m.group(2), pages=m.group(3))
    for key, pattern in (("volume", r"\bvol (\d+)"), ("issue", r"\bissue (\d+)|\bNo\. (\d+)"),
                         ("pages", r"\bpp (\d+-\d+)|first page (\d+)|article (\d+)")):
        m = re.search(pattern, detail)
        if m and not out.get(key):
            out[key] = next(g for g in m.groups() if g)
    return {k: v for k, v in out.items() if v}


def identifiers_from(identifier):
    out = {}
    for key, pattern in (("doi", r"doi:\s*(10\.[^\s;]+)"), ("pmid", r"PMID:\s*(\d+)"), ("pmcid", r"PMCID:? (PMC\d+)")):
        m = re.search(pattern, identifier or "")
        if m:
            out[key] = m.group(1)
    return out


def normalise(c: dict) -> dict:
    notes = list(c.get("notes") or [])
    for field in ("first_author", "title", "journal"):
        clean, note = split_note(c.get(field))
        if note:
            notes.append(f"{field} as found: {c[field]}")
            c[field] = None if note.startswith("inferred") else clean  # inferred, not read: not printed
    detail = c.get("detail") or ""
    if "weak source" not in detail:
        names, complete = authors_from(detail)
        if names:
            c["authors"] = names
            if not complete:
                c["authors_complete"] = False
    c.update(serial_from(detail))
    c.update(identifiers_from(c.get("identifier")))
    journal = c.get("journal") or ""
    if "dissertation" in journal.lower():
        genre, _, publisher = journal.partition(", ")
        c.update(type="thesis", genre=genre, publisher=publisher, journal=None)
        notes.append(f"journal as found: {journal}")
    if notes:
        c["notes"] = notes
    return c


def main():
    for path in sorted(TRIALS.glob("*.yaml")):
        text = path.read_text()
        header = "".join(line for line in text.splitlines(keepends=True)[:5] if line.startswith("#"))
        record = yaml.safe_load(text)
        citation = normalise(dict(record["citation"]))
        urls = citation.pop("source_urls", [])
        record["citation"] = {**citation, "source_urls": urls}
        path.write_text(header + yaml.safe_dump(record, sort_keys=False, allow_unicode=True, width=100))
    print(f"normalised the citations of {len(list(TRIALS.glob('*.yaml')))} records in {TRIALS}")


if __name__ == "__main__":
    main()
