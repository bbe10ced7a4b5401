"""RevMan Web "data package" (Cochrane's "Download data" zip).

The outer zip holds the article, forest plots and a nested ``...-data.zip`` with
``analysis-data/`` (``data-rows.csv``, ``overall-estimates-and-settings.csv``,
``subgroup-estimates.csv``) and ``study-data/`` (``study-information.csv``,
``risk-of-bias.csv``, ``included.ris``). A data zip given directly is read the same way.

The archive is untrusted: members are read in memory only (never extracted to a path taken from
the archive), a member whose name is absolute or climbs out with ``..`` is refused, and sizes are
capped (member count, each member's declared and actual size, compression ratio), so a zip bomb
is refused before it is inflated. Numbers in the CSVs are printed to 6 decimals; the reproduction
check uses that precision.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from livingmeta.errors import ImportFormatError
from livingmeta.formatting import plural

from livingmeta.living.importers.revman_common import (Analysis, RevManReview, Study, StudyRow, add_rob, ci_level, number,
                                                        read_revman_file, study_key)

MAX_MEMBERS = 10_000
MAX_MEMBER_BYTES = 100_000_000      # one CSV of a very large review is a few MB
MAX_TOTAL_BYTES = 300_000_000
MAX_RATIO = 200                     # deflate rarely exceeds ~100:1 on real CSV; bombs reach 1000:1
PRINTED_DECIMALS = 6
MEASURES = {"odds ratio": "OR", "risk ratio": "RR", "risk difference": "RD", "mean difference": "MD",
            "std. mean difference": "SMD", "standardized mean difference": "SMD", "standardised mean difference": "SMD",
            "peto odds ratio": "PETO_OR", "hazard ratio": "HR"}
METHODS = {"mh": "MH", "mantel-haenszel": "MH", "iv": "IV", "inverse variance": "IV", "peto": "PETO"}
FILES = {"rows": "analysis-data/*-data-rows.csv", "overall": "analysis-data/*-overall-estimates-and-settings.csv",
         "subgroups": "analysis-data/*-subgroup-estimates.csv", "studies": "study-data/*-study-information.csv",
         "rob": "study-data/*-risk-of-bias.csv", "ris": "study-data/*-included.ris"}


def _check_name(name: str, source: str) -> None:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or re.match(r"^[A-Za-z]:", name):
        raise ImportFormatError(f"{source}: member {name!r}: refused: an absolute path or '..' in an archive member "
                                "name (path traversal); this is not a RevMan data package")


def _members(data: bytes, source: str) -> dict[str, bytes]:
    """Every file member of a zip, in memory, with the caps of the module docstring."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, NotImplementedError, OSError) as e:
        raise ImportFormatError(f"{source}: not a readable zip file ({e})") from None
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ImportFormatError(f"{source}: {len(infos):,} members; a data package has a few dozen (limit {MAX_MEMBERS:,})")
    out, total = {}, 0
    for info in infos:
        _check_name(info.filename, source)
        if info.is_dir():
            continue
        if info.file_size > MAX_MEMBER_BYTES or (info.compress_size and info.file_size / info.compress_size > MAX_RATIO
                                                 and info.file_size > 1_000_000):
            raise ImportFormatError(f"{source}: member {info.filename!r} would inflate to {info.file_size:,} bytes "
                                    f"from {info.compress_size:,} (limits: {MAX_MEMBER_BYTES:,} bytes, ratio {MAX_RATIO}); refused")
        chunk = _read_member(zf, info, source)
        if len(chunk) > MAX_MEMBER_BYTES:
            raise ImportFormatError(f"{source}: member {info.filename!r} is larger than {MAX_MEMBER_BYTES:,} bytes; refused")
        total += len(chunk)
        if total > MAX_TOTAL_BYTES:
            raise ImportFormatError(f"{source}: the archive inflates to more than {MAX_TOTAL_BYTES:,} bytes; refused")
        out[info.filename] = chunk
    return out


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> bytes:
    """One member's bytes, at most MAX_MEMBER_BYTES + 1 (the declared size may lie); an encrypted
    member, a bad CRC, corrupt compressed data or an unsupported compression method (Deflate64) is
    one refusal naming the member, as an unreadable archive is."""
    try:
        with zf.open(info) as fh:
            return fh.read(MAX_MEMBER_BYTES + 1)
    except NotImplementedError:  # before RuntimeError, its base class
        why = f"its compression method ({info.compress_type}) is not one Python's zip reader supports (e.g. Deflate64)"
    except RuntimeError as e:  # zipfile: "File ... is encrypted, password required for extraction"
        why = "it is encrypted (a RevMan data package is not)" if info.flag_bits & 0x1 else str(e)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
        why = f"its data are damaged ({e})"
    raise ImportFormatError(f"{source}: member {info.filename!r} cannot be read: {why}; download the package again")


def _data_members(data: bytes, source: str) -> tuple[dict[str, bytes], str]:
    members = _members(data, source)
    if any("analysis-data/" in n for n in members):
        return members, source
    nested = [n for n in members if n.lower().endswith("-data.zip")]
    if len(nested) == 1:
        inner = f"{source}!{nested[0]}"
        return _members(members[nested[0]], inner), inner
    raise ImportFormatError(f"{source}: no analysis-data/ folder and no single nested ...-data.zip; expected the "
                            "RevMan Web data package (\"Download data\" of a Cochrane review)")


def _find(members: dict, pattern: str) -> str | None:
    folder, _, tail = pattern.partition("/")
    suffix = tail.replace("*", "")
    hits = [n for n in members if f"{folder}/" in n and n.endswith(suffix)]
    return hits[0] if len(hits) == 1 else None


def _csv(members: dict, key: str, where: str, required: bool = True) -> tuple[list[dict], str]:
    name = _find(members, FILES[key])
    if name is None:
        if required:
            raise ImportFormatError(f"{where}: missing {FILES[key]} (a RevMan Web data package has it)")
        return [], ""
    try:
        text = members[name].decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportFormatError(f"{where}!{name}: byte {e.start}: not UTF-8 text") from None
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as e:
        raise ImportFormatError(f"{where}!{name}: not a readable CSV file ({e})") from None
    return rows, name


def _need(rows: list[dict], cols: list[str], where: str) -> None:
    have = set(rows[0]) if rows else set()
    missing = [c for c in cols if c not in have]
    if rows and missing:
        raise ImportFormatError(f"{where}: missing {plural(len(missing), 'column')}: {', '.join(missing)}")


def _printed(row: dict, mapping: dict) -> dict | None:
    """Stored totals as printed. RevMan Web writes 0 for an estimate it did not make (mean and CI
    all 0): kept as printed, the reproduction check reads them as "not estimable"
    (livingmeta.pipeline.revman_reproduction.stored_as_not_estimable)."""
    out = {k: row[c].strip() for k, c in mapping.items() if (row.get(c) or "").strip()}
    return out if out.get("effect") else None


# The columns of a RevMan Web data package this importer reads or knows to carry nothing it needs
# (R package meta's read.cdir reads the same), in RevMan Web's order; any other column is named in one warning line.
KNOWN_COLUMNS = {
    "overall": ("Analysis group", "Analysis number", "Analysis name", "Analysis group name", "Data source",
                "Data source eligibility", "Data type", "Log-scale data", "Outcome", "Intervention grouping",
                "Experimental intervention", "Control intervention", "Subgroup by", "Filter criteria",
                "Experimental group label", "Control group label", "Statistical method", "Effect measure",
                "Unit of effect measure", "Analysis model", "Subgroup estimates", "Overall estimates",
                "Test for subgroup differences", "Swap event and non-event", "Study CI", "Estimate CI",
                "Experimental cases", "Experimental N", "Control cases", "Control N", "Mean", "CI start", "CI end",
                "Heterogeneity Tau²", "Heterogeneity Chi²", "Heterogeneity df", "Heterogeneity P", "Heterogeneity I²",
                "Effect Z", "Effect P", "Subgroup Chi²", "Subgroup df", "Subgroup P", "Subgroup I²", "ID"),
    "rows": ("Analysis group", "Analysis number", "Analysis name", "Subgroup", "Applicability", "Study", "Study year",
             "GIV Mean", "GIV SE", "Experimental mean", "Experimental SD", "Experimental cases", "Experimental N",
             "Control mean", "Control SD", "Control cases", "Control N", "O-E", "Variance", "Weight", "Mean",
             "CI start", "CI end", "Footnotes"),
    "subgroups": ("Analysis group", "Analysis number", "Subgroup", "Subgroup number", "Experimental cases",
                  "Experimental N", "Control cases", "Control N", "Weight", "Mean", "CI start", "CI end",
                  "Heterogeneity Tau²", "Heterogeneity Chi²", "Heterogeneity df", "Heterogeneity P",
                  "Heterogeneity I²", "Effect Z", "Effect P", "ID"),
    "studies": ("Study", "Year", "Data source"),
}


def unknown_columns(rows: list[dict], key: str, name: str) -> list[str]:
    """One note per column of ``name`` this importer does not know (its values are not imported)."""
    known = KNOWN_COLUMNS[key]
    cols = [c for c in (rows[0] if rows else {}) if c and c not in known and not c.startswith("Char:")]
    return [f"{name.rsplit('/', 1)[-1]}: column {c!r} is not one livingmeta knows; its values are not imported"
            for c in cols]


TOTALS = {"effect": "Mean", "ci_lower": "CI start", "ci_upper": "CI end", "tau2": "Heterogeneity Tau²",
          "chi2": "Heterogeneity Chi²", "df": "Heterogeneity df", "p_chi2": "Heterogeneity P", "i2": "Heterogeneity I²",
          "z": "Effect Z", "p_z": "Effect P", "events_1": "Experimental cases", "total_1": "Experimental N",
          "events_2": "Control cases", "total_2": "Control N"}


def _ris(text: str) -> dict[str, list[dict]]:
    """References per study name (RIS tag NS) from included.ris."""
    out: dict[str, list[dict]] = {}
    rec: dict[str, list[str]] = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Z][A-Z0-9])  - ?(.*)$", line)
        if not m:
            continue
        tag, val = m.group(1), m.group(2).strip()
        if tag == "ER":
            study = (rec.get("NS") or [""])[0]
            ids = [f"DOI: {d}" for d in rec.get("DO", [])] + [f"{'PMID' if v.isdigit() else 'ID'}: {v}" for v in rec.get("AN", [])]
            detail = ", ".join(x for x in ((rec.get("VL") or [""])[0], (rec.get("IS") or [""])[0],
                                           "-".join(rec.get("SP", []) + rec.get("EP", []))) if x)
            out.setdefault(study, []).append({
                "type": (rec.get("TY") or [None])[0], "primary": False,
                "authors": ", ".join(rec.get("AU", []) + rec.get("A1", [])) or None,
                "title": (rec.get("TI") or rec.get("T1") or [None])[0],
                "journal": (rec.get("T2") or rec.get("JO") or rec.get("JF") or [None])[0],
                "year": (rec.get("PY") or rec.get("Y1") or [None])[0], "detail": detail or None, "identifiers": ids})
            rec = {}
        else:
            rec.setdefault(tag, []).append(val)
    return out


def parse(data: bytes, source: str) -> RevManReview:
    members, where = _data_members(data, source)
    studies: dict[str, Study] = {}
    first_where: dict[str, str] = {}
    info, info_name = _csv(members, "studies", where)
    for i, r in enumerate(info):
        name = (r.get("Study") or "").strip()
        if name:
            study_key(studies, name, name, f"{where}!{info_name}: row {i + 2}", first_where)
            first_where[name] = f"row {i + 2}"
            studies[name] = Study(key=name, name=name, year=(r.get("Year") or "").strip() or None,
                                  data_source=(r.get("Data source") or "").strip() or None,
                                  characteristics={k.replace("Char:", "").strip().lower(): (v or "").strip() or None
                                                   for k, v in r.items() if k and k.startswith("Char:")})
    ris_name = _find(members, FILES["ris"])
    if ris_name:
        for name, refs in _ris(members[ris_name].decode("utf-8-sig", errors="replace")).items():
            if name in studies:
                studies[name].references = refs
                studies[name].identifiers = [i for ref in refs for i in ref["identifiers"]]
    rob, rob_name = _csv(members, "rob", where, required=False)
    for r in rob:
        st = studies.get((r.get("Study") or "").strip())
        if st is None:
            continue
        for col, val in r.items():
            m = re.match(r"^Domain \(judgement\): (.+)$", col or "")
            if m:
                add_rob(st, m.group(1), val or "", r.get(f"Domain (support): {m.group(1)}"),
                        f"{where}!{rob_name}: study {st.name}, column {col!r}")
    overall, overall_name = _csv(members, "overall", where)
    rows, rows_name = _csv(members, "rows", where)
    subs, subs_name = _csv(members, "subgroups", where, required=False)
    _need(overall, ["Analysis group", "Analysis number", "Analysis name", "Data type", "Statistical method",
                    "Effect measure", "Analysis model"], f"{where}!{overall_name}")
    _need(rows, ["Analysis group", "Analysis number", "Study", "Experimental N", "Control N"], f"{where}!{rows_name}")
    _need(subs, ["Analysis group", "Analysis number", "Subgroup"], f"{where}!{subs_name}")
    analyses, skipped = [], []
    for i, o in enumerate(overall):
        loc = f"{where}!{overall_name}: row {i + 2}"
        num = f"{o['Analysis group'].strip()}.{o['Analysis number'].strip()}"
        dtype_text = o["Data type"].strip().lower()
        dtype = ("dichotomous" if dtype_text == "dichotomous" else "continuous" if dtype_text == "continuous"
                 else "generic" if ("inverse" in dtype_text or "generic" in dtype_text) else None)
        if dtype is None:
            skipped.append(f"analysis {num} ({o['Data type']}): data type not imported")
            continue
        method = METHODS.get(o["Statistical method"].strip().lower())
        if method is None:
            raise ImportFormatError(f"{loc}: unknown statistical method {o['Statistical method']!r}")
        measure = MEASURES.get(o["Effect measure"].strip().lower())
        if measure is None:
            if dtype != "generic":
                raise ImportFormatError(f"{loc}: unknown effect measure {o['Effect measure']!r}")
            measure = o["Effect measure"].strip()
        model = o["Analysis model"].strip().lower()
        if model not in ("fixed effect", "random effects", "random effect"):
            raise ImportFormatError(f"{loc}: unknown analysis model {o['Analysis model']!r}")
        ci = lambda s, f=o: ci_level((f.get(s) or "95").strip().rstrip("%"), f"{loc} {s}")  # noqa: E731
        a = Analysis(number=num, comparison=(o.get("Analysis group name") or "").strip(), name=o["Analysis name"].strip(),
                     data_type=dtype, method=method, measure=measure, random=model.startswith("random"),
                     where=f"analysis {num} ({overall_name.rsplit('/', 1)[-1]} row {i + 2})",
                     log_data=(o.get("Log-scale data") or "").strip().lower() == "true",
                     swap_events=(o.get("Swap event and non-event") or "").strip().lower() == "true",
                     ci_study=ci("Study CI"), ci_total=ci("Estimate CI"),
                     group_labels=((o.get("Experimental group label") or "").strip(),
                                   (o.get("Control group label") or "").strip()),
                     graph_labels=("", ""),  # not in the data package
                     totals="YES" if (o.get("Overall estimates") or "true").strip().lower() == "true" else "SUB",
                     overall=_printed(o, TOTALS))
        if (o.get("Subgroup Chi²") or "").strip():
            a.subgroup_test = {k: o[c].strip() for k, c in (("chi2", "Subgroup Chi²"), ("df", "Subgroup df"),
                                                            ("p", "Subgroup P"), ("i2", "Subgroup I²")) if (o.get(c) or "").strip()}
        for s in subs:
            if f"{s['Analysis group'].strip()}.{s['Analysis number'].strip()}" == num:
                a.subgroups.append({"name": s["Subgroup"].strip(), "published": _printed(s, {**TOTALS, "weight": "Weight"})})
        analyses.append(a)
    by_number = {a.number: a for a in analyses}
    for i, r in enumerate(rows):
        num = f"{r['Analysis group'].strip()}.{r['Analysis number'].strip()}"
        a = by_number.get(num)
        if a is None:
            continue
        loc = f"{where}!{rows_name}: row {i + 2} (analysis {num}, study {r['Study']})"
        g = lambda c, integer=False, required=True: number(r.get(c), f"{loc} column {c!r}", integer=integer, required=required)  # noqa: E731
        if a.data_type == "dichotomous":
            values = {"events_1": g("Experimental cases", True), "total_1": g("Experimental N", True),
                      "events_2": g("Control cases", True), "total_2": g("Control N", True)}
        elif a.data_type == "continuous":
            values = {"mean_1": g("Experimental mean"), "sd_1": g("Experimental SD"), "total_1": g("Experimental N", True),
                      "mean_2": g("Control mean"), "sd_2": g("Control SD"), "total_2": g("Control N", True)}
        else:
            values = {"estimate": g("GIV Mean"), "se": g("GIV SE"),
                      "total_1": g("Experimental N", True, False) or None, "total_2": g("Control N", True, False) or None}
        study = r["Study"].strip()
        if study not in studies:
            studies[study] = Study(key=study, name=study, year=(r.get("Study year") or "").strip() or None)
        a.rows.append(StudyRow(study=study, subgroup=(r.get("Subgroup") or "").strip() or None, values=values,
                               published=_printed(r, {"effect": "Mean", "ci_lower": "CI start", "ci_upper": "CI end",
                                                      "weight": "Weight"}) or {},
                               where=f"analysis {num}, {rows_name.rsplit('/', 1)[-1]} row {i + 2}"))
    # The data package carries its review's title only in the article PDF, which is not parsed (untrusted
    # input, and no PDF reader among the dependencies): a package of one comparison is named after it,
    # else after the file; review.yaml's title, once set by hand, is kept by --sync.
    file_name = Path(source.split("!")[0])
    comparisons = list(dict.fromkeys(a.comparison for a in analyses if a.rows and a.comparison))
    title = comparisons[0] if len(comparisons) == 1 else file_name.stem
    rev = RevManReview(title=title, source=file_name.name,
                       fmt="RevMan Web data package", studies=studies, analyses=[a for a in analyses if a.rows],
                       printed_decimals=PRINTED_DECIMALS, rob_source=f"RevMan Web data package, {rob_name.rsplit('/', 1)[-1]}" if rob_name else None)
    rev.skipped = skipped + [f"analysis {a.number} ({a.name}): no data rows" for a in analyses if not a.rows]
    rev.skipped.append(f"the data package carries no review title outside its article PDF: the review is named "
                       f"{title!r} (after its {'comparison' if len(comparisons) == 1 else 'file'}); set title in "
                       "review.yaml, which --sync keeps")
    rev.skipped += [note for rows_, key, name in ((overall, "overall", overall_name), (rows, "rows", rows_name),
                                                  (subs, "subgroups", subs_name), (info, "studies", info_name))
                    for note in unknown_columns(rows_, key, name)]
    return rev


def read(path: Path):
    """ImportedReview from a RevMan Web data package (.zip)."""
    return read_revman_file(path, parse, limit=MAX_TOTAL_BYTES, what="a RevMan Web data package")
