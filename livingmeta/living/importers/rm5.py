"""RevMan 5 files (``.rm5``): XML, ISO-8859-1, read with a hardened parser.

The file is untrusted: it is parsed by defusedxml with DTDs forbidden (so no entity expansion,
no external entities: a "billion laughs" file is refused), size-capped, and every number is
checked. A refusal names the file, the line (or element) and the reason.

Read: the title and objectives, included studies (year, references with identifiers,
characteristics of included studies), the risk-of-bias items (``QUALITY_ITEMS``), and every
comparison's dichotomous (``DICH_OUTCOME``), continuous (``CONT_OUTCOME``) and generic
inverse-variance (``IV_OUTCOME``) analyses with their subgroups, RevMan's settings and its
stored totals. Other analysis types (individual patient data "O-E and variance") are listed as
not imported.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from livingmeta.errors import ImportFormatError

from livingmeta.living.importers.revman_common import (Analysis, RevManReview, Study, StudyRow, add_rob, ci_level, number,
                                                        read_revman_file, study_key)

MAX_RM5_BYTES = 200_000_000   # the largest Cochrane reviews are tens of MB
ENCODINGS = ("iso-8859-1", "latin-1", "utf-8", "windows-1252")
OUTCOME_TAGS = {"DICH_OUTCOME": ("dichotomous", "DICH_SUBGROUP", "DICH_DATA"),
                "CONT_OUTCOME": ("continuous", "CONT_SUBGROUP", "CONT_DATA"),
                "IV_OUTCOME": ("generic", "IV_SUBGROUP", "IV_DATA")}
TOTAL_ATTRS = {"effect": "EFFECT_SIZE", "ci_lower": "CI_START", "ci_upper": "CI_END", "chi2": "CHI2", "df": "DF",
               "p_chi2": "P_CHI2", "i2": "I2", "tau2": "TAU2", "z": "Z", "p_z": "P_Z", "events_1": "EVENTS_1",
               "total_1": "TOTAL_1", "events_2": "EVENTS_2", "total_2": "TOTAL_2"}
STUDY_ATTRS = {"effect": "EFFECT_SIZE", "ci_lower": "CI_START", "ci_upper": "CI_END", "weight": "WEIGHT"}


class _LineBuilder(ET.TreeBuilder):
    """Remembers the line of each element, so refusals can say where."""

    def __init__(self):
        super().__init__()
        self.lines: dict[int, int] = {}
        self.expat = None

    def start(self, tag, attrs):
        elem = super().start(tag, attrs)
        self.lines[id(elem)] = self.expat.CurrentLineNumber if self.expat is not None else 0
        return elem


def parse_xml(data: bytes, source: str):
    """(root element, line-of-element function); refusal with line and reason."""
    m = re.match(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']", data[:200])
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ImportFormatError(f"{source}: line 1: file is UTF-16; RevMan 5 files are ISO-8859-1 XML. "
                                "Open it in RevMan 5 and save it again")
    if m and m.group(1).decode().lower() not in ENCODINGS:
        raise ImportFormatError(f"{source}: line 1: declared encoding {m.group(1).decode()!r} is not one RevMan 5 "
                                f"writes (ISO-8859-1); expected one of {', '.join(ENCODINGS)}")
    builder = _LineBuilder()
    parser = DET.DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    builder.expat = parser.parser
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException as e:
        line = getattr(parser.parser, "CurrentLineNumber", "?")
        raise ImportFormatError(f"{source}: line {line}: refused: the file declares a DTD or entities ({e.__class__.__name__}); "
                                "RevMan files never do, and entity expansion is never performed on imported files") from None
    except ET.ParseError as e:
        line, col = e.position
        reason = str(e).split(":")[0]
        raise ImportFormatError(f"{source}: line {line}, column {col + 1}: malformed XML ({reason})") from None
    return root, lambda el: builder.lines.get(id(el), 0)


def _text(el) -> str:
    return " ".join(" ".join(el.itertext()).split()) if el is not None else ""


def _reference(ref) -> dict:
    ids = [f"{i.get('TYPE', '').strip()}: {i.get('VALUE', '').strip()}" for i in ref.iter("IDENTIFIER") if i.get("VALUE")]
    detail = ", ".join(x for x in (_text(ref.find("VL")), _text(ref.find("NO")), _text(ref.find("PG"))) if x)
    out = {"type": ref.get("TYPE"), "primary": ref.get("PRIMARY") == "YES", "authors": _text(ref.find("AU")) or None,
           "title": _text(ref.find("TI")) or None, "journal": _text(ref.find("SO")) or None,
           "year": _text(ref.find("YR")) or None, "detail": detail or None, "identifiers": ids}
    return out


def _studies(root, source, line) -> dict:
    studies, first_where = {}, {}
    for st in root.iterfind("./STUDIES_AND_REFERENCES/STUDIES/INCLUDED_STUDIES/STUDY"):
        key = st.get("ID") or ""
        study_key(studies, key, st.get("NAME") or key, f"{source}: line {line(st)}: STUDY", first_where)
        first_where[key] = f"line {line(st)}"
        refs = [_reference(r) for r in st.findall("REFERENCE")]
        ids = [f"{i.get('TYPE', '').strip()}: {i.get('VALUE', '').strip()}"
               for i in st.findall("./IDENTIFIERS/IDENTIFIER") if i.get("VALUE")]
        studies[key] = Study(key=key, name=st.get("NAME") or key, year=st.get("YEAR"), data_source=st.get("DATA_SOURCE"),
                             references=refs, identifiers=ids)
    for ch in root.iterfind("./CHARACTERISTICS_OF_STUDIES/CHARACTERISTICS_OF_INCLUDED_STUDIES/INCLUDED_CHAR"):
        st = studies.get(ch.get("STUDY_ID"))
        if st is not None:
            st.characteristics = {c.tag.replace("CHAR_", "").lower(): _text(c) or None for c in ch}
    for item in root.iterfind("./QUALITY_ITEMS/QUALITY_ITEM"):
        name = _text(item.find("NAME"))
        groups = {g.get("ID"): _text(g.find("NAME")) for g in item.iterfind("./QUALITY_ITEM_GROUPS/QUALITY_ITEM_GROUP")}
        for entry in item.iterfind("./QUALITY_ITEM_DATA/QUALITY_ITEM_DATA_ENTRY"):
            st = studies.get(entry.get("STUDY_ID"))
            if st is None:
                continue
            gid = entry.get("GROUP_ID") or None
            group = groups.get(gid, gid) if (gid and len(groups) > 1) else None
            add_rob(st, name, entry.get("RESULT", ""), _text(entry.find("DESCRIPTION")),
                    f"{source}: QUALITY_ITEM {name!r}, study {st.name}", group=group)
    return studies


def _values(el, data_type, where) -> dict:
    g = el.get
    if data_type == "dichotomous":
        return {k: number(g(a), f"{where} {a}", integer=True)
                for k, a in (("events_1", "EVENTS_1"), ("total_1", "TOTAL_1"), ("events_2", "EVENTS_2"), ("total_2", "TOTAL_2"))}
    if data_type == "continuous":
        out = {k: number(g(a), f"{where} {a}") for k, a in (("mean_1", "MEAN_1"), ("sd_1", "SD_1"), ("mean_2", "MEAN_2"), ("sd_2", "SD_2"))}
        out.update({k: number(g(a), f"{where} {a}", integer=True) for k, a in (("total_1", "TOTAL_1"), ("total_2", "TOTAL_2"))})
        return out
    return {"estimate": number(g("EFFECT_SIZE"), f"{where} EFFECT_SIZE"), "se": number(g("SE"), f"{where} SE"),
            "total_1": number(g("TOTAL_1"), f"{where} TOTAL_1", integer=True, required=False) or None,
            "total_2": number(g("TOTAL_2"), f"{where} TOTAL_2", integer=True, required=False) or None}


def _stored(el, attrs) -> dict | None:
    out = {k: el.get(a).strip() for k, a in attrs.items() if (el.get(a) or "").strip()}
    return out if out.get("effect") else None


def _analysis(out_el, cmp_el, kind, line, source) -> Analysis:
    data_type, sub_tag, data_tag = OUTCOME_TAGS[kind]
    number_ = f"{cmp_el.get('NO')}.{out_el.get('NO')}"
    where = f"line {line(out_el)}: analysis {number_} ({kind})"
    method = (out_el.get("METHOD") or ("IV" if data_type != "dichotomous" else "")).upper()
    if method not in ("MH", "IV", "PETO"):
        raise ImportFormatError(f"{source}: {where}: unknown statistical method METHOD={out_el.get('METHOD')!r}")
    measure = (out_el.get("EFFECT_MEASURE") or "").strip()
    if not measure:
        raise ImportFormatError(f"{source}: {where}: EFFECT_MEASURE is missing")
    a = Analysis(number=number_, comparison=_text(cmp_el.find("NAME")), name=_text(out_el.find("NAME")),
                 data_type=data_type, method=method, measure=measure, random=out_el.get("RANDOM") == "YES",
                 where=f"analysis {number_} ({kind} NO={out_el.get('NO')} in COMPARISON NO={cmp_el.get('NO')})",
                 log_data=out_el.get("LOG_DATA") == "YES", swap_events=out_el.get("SWAP_EVENTS") == "YES",
                 ci_study=ci_level(out_el.get("CI_STUDY"), f"{source}: {where} CI_STUDY"),
                 ci_total=ci_level(out_el.get("CI_TOTAL"), f"{source}: {where} CI_TOTAL"),
                 group_labels=(_text(out_el.find("GROUP_LABEL_1")), _text(out_el.find("GROUP_LABEL_2"))),
                 graph_labels=(_text(out_el.find("GRAPH_LABEL_1")), _text(out_el.find("GRAPH_LABEL_2"))),
                 totals=out_el.get("TOTALS") or "YES", overall=_stored(out_el, TOTAL_ATTRS))
    if out_el.get("SUBGROUPS") == "YES" and out_el.get("SUBGROUP_TEST") == "YES" and (out_el.get("Q") or "").strip():
        a.subgroup_test = {k: out_el.get(v).strip() for k, v in (("chi2", "Q"), ("p", "P_Q"), ("i2", "I2_Q"))
                           if (out_el.get(v) or "").strip()}
    containers = [(None, out_el)] + [(_text(s.find("NAME")) or f"Subgroup {s.get('NO')}", s) for s in out_el.findall(sub_tag)]
    for sub_name, container in containers:
        if sub_name is not None:
            a.subgroups.append({"name": sub_name, "published": _stored(container, TOTAL_ATTRS)})
        for d in container.findall(data_tag):
            dwhere = f"{source}: line {line(d)}: analysis {number_}, {data_tag} STUDY_ID={d.get('STUDY_ID')}"
            a.rows.append(StudyRow(study=d.get("STUDY_ID") or "", subgroup=sub_name,
                                   values=_values(d, data_type, dwhere),
                                   published={k: d.get(v).strip() for k, v in STUDY_ATTRS.items() if (d.get(v) or "").strip()},
                                   where=f"analysis {number_}, {data_tag} STUDY_ID={d.get('STUDY_ID')}"))
    return a


def parse(data: bytes, source: str) -> RevManReview:
    """A RevManReview from the bytes of a .rm5 file (nothing is written)."""
    if len(data) > MAX_RM5_BYTES:
        raise ImportFormatError(f"{source}: file is {len(data):,} bytes; the limit for a RevMan file is {MAX_RM5_BYTES:,}")
    root, line = parse_xml(data, source)
    if root.tag != "COCHRANE_REVIEW":
        raise ImportFormatError(f"{source}: line {line(root)}: root element is <{root.tag}>, not <COCHRANE_REVIEW>: "
                                "not a RevMan 5 review file")
    if root.get("TYPE") not in (None, "INTERVENTION"):
        raise ImportFormatError(f"{source}: line {line(root)}: review TYPE={root.get('TYPE')!r}; only intervention "
                                "reviews (two-group comparisons) can be imported")
    studies = _studies(root, source, line)
    analyses, skipped = [], []
    for cmp_el in root.iterfind("./ANALYSES_AND_DATA/COMPARISON"):
        for out_el in cmp_el:
            if out_el.tag in OUTCOME_TAGS:
                analyses.append(_analysis(out_el, cmp_el, out_el.tag, line, source))
            elif out_el.tag.endswith("_OUTCOME"):
                skipped.append(f"line {line(out_el)}: {out_el.tag} {cmp_el.get('NO')}.{out_el.get('NO')} "
                               f"({_text(out_el.find('NAME'))})")
    rev = RevManReview(title=_text(root.find("./COVER_SHEET/TITLE")), source=source, fmt="RevMan 5 file",
                       studies=studies, analyses=analyses, objectives=_text(root.find("./MAIN_TEXT/BODY/OBJECTIVES")) or None,
                       rob_source="RevMan 5 file, QUALITY_ITEMS")
    rev.skipped = skipped
    return rev


def read(path: Path):
    """ImportedReview from a .rm5 file."""
    return read_revman_file(path, parse, limit=MAX_RM5_BYTES, what="a RevMan file",
                            skipped_note=lambda s: f"{s}: analysis type not imported (only dichotomous, continuous "
                                                   "and generic inverse-variance analyses are)")
