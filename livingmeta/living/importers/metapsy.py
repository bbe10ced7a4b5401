"""Import a database in the Metapsy data standard (a folder with data.csv and metadata/).

https://docs.metapsy.org/data-preparation/format/ -- data.csv is semicolon-separated with decimal
commas and NA for missing; one row per comparison x instrument x time point, so a study has
several rows (multi-arm trials, several instruments): dependent effects.

Mapping (documented in the README, section "Metapsy databases"):
- one trial record per study label (column ``study``); every row becomes one effect block of
  that record, keyed by ``effect_id`` = the row's Metapsy ``.id`` (or a key built from its
  instrument, arms and time point where ``.id`` is missing);
- the effect of a row, in this order: raw means/SDs at post-test; else change scores; else events
  (the database's own conversion to g, ``.g``, since the review pools SMDs); else the
  precomputed g (``precalc_g``, ``precalc_g_se``); else the database's computed ``.g`` (the last
  three as a ``generic`` block: estimate and se, generic inverse variance). Each block
  says which in ``effect_source``. Metapsy's g is positive when psychotherapy is better; records
  store intervention minus control on a lower-is-better scale, so imported g is negated;
- the record's content does not depend on the release or the row number, so a study whose data
  did not change between releases has an identical record; row numbers and the release are in
  provenance/metapsy-rows.csv;
- risk of bias: RoB 1 items sg/ac/ba/itt (``rob`` is then their score, a moderator) or RoB 2
  domains rob_d1..rob_d5 with the overall judgement wherever the database puts it (ROB2_OVERALL);
- a column neither read nor known from the standard is named in one warning and left in the
  provenance copy of data.csv, never refused; refusals are for malformed files and impossible
  values (negative counts, a .id on two different rows, text that is no RoB 2 judgement).

Records are plain dicts; the shared :func:`review_writer.write_review` (also used by the RevMan
importers) writes them atomically after validating the whole review: nothing is written unless
everything validates.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from livingmeta.errors import ImportFormatError
from livingmeta.living.importers.review_writer import (ImportedReview, import_lock, recover_interrupted_imports,
                                                       write_review)
from livingmeta.pipeline.labels import character_name, unprintable_character

MAX_CSV_BYTES = 50_000_000
DOI_PATTERN = re.compile(r"10\.5281(?:/|%2F)zenodo\.(\d+)", re.IGNORECASE)
ROB1_ITEMS = {"sg": "sequence_generation", "ac": "allocation_concealment", "ba": "blinding_outcome_assessment",
              "itt": "incomplete_outcome_data"}
ROB1_CODES = {"1": "low", "0": "high"}
ROB2_DOMAINS = {"rob_d1": "randomisation", "rob_d2": "deviations", "rob_d3": "missing_data", "rob_d4": "measurement",
                "rob_d5": "selection"}
# Where a RoB 2 database puts the overall judgement, the first present being read: metapsyTools'
# createRobRatings writes the comparison-level ``rob`` and the study-level ``rob_study_lvl``.
ROB2_OVERALL = ("rob_overall", "rob_d_overall", "rob_study_lvl", "rob")
# RoB 2 judgements as databases write them (read case-insensitively); numeric codes only through
# the database's codebook (variable_description.json), never guessed.
ROB2_WORDS = {"low": "low", "low risk": "low", "some concerns": "some_concerns", "some_concerns": "some_concerns",
              "high": "high", "high risk": "high"}
ROB2_SEVERITY = {"low": 0, "some_concerns": 1, "high": 2}
ROB_SCORE = "rob"  # in a RoB 1 database: the number of low-risk items (0-4), a moderator, not a domain
NUMERIC = ["mean_arm1", "sd_arm1", "n_arm1", "mean_arm2", "sd_arm2", "n_arm2", "mean_change_arm1", "sd_change_arm1",
           "n_change_arm1", "mean_change_arm2", "sd_change_arm2", "n_change_arm2", "event_arm1", "event_arm2",
           "totaln_arm1", "totaln_arm2", "precalc_g", "precalc_g_se", ".g", ".g_se", "year"]
COUNTS = ["n_arm1", "n_arm2", "n_change_arm1", "n_change_arm2", "event_arm1", "event_arm2", "totaln_arm1",
          "totaln_arm2"]
# Columns read for every row (besides NUMERIC, the moderators and the risk-of-bias columns).
ROW_COLUMNS = {"study", "condition_arm1", "condition_arm2", "multi_arm1", "multi_arm2", "outcome_type", "instrument",
               "rating", "time", "other_stat", "full_ref", ".id"}
# Columns of the Metapsy standard (and of metapsyTools' output) that livingmeta does not use: they
# stay in the provenance copy of data.csv without a warning. Any other column (a risk-of-bias
# column not read included) is named in one warning line each, never refused.
KNOWN_UNUSED = {
    "dich", "dich_type", "dich_paper", "precalc_log_rr", "precalc_log_rr_se", "descr_arm1", "descr_arm2",
    "baseline_m_arm1", "baseline_sd_arm1", "baseline_n_arm1", "baseline_m_arm2", "baseline_sd_arm2", "baseline_n_arm2",
    "rand_arm1", "rand_arm2", "attr_arm1", "attr_arm2", "rand_ratio", "comorbid_mental", "format_details",
    "percent_women", "mean_age", "n_sessions_ig", "no.arms", "is.multiarm", "primary", ".log_rr", ".log_rr_se",
    ".event_arm1", ".event_arm2", ".totaln_arm1", ".totaln_arm2", "time_weeks_needs_cleaning",
    "condition_legacy_arm1", "condition_legacy_arm2", "number_instruments", "number_arms", "is_multiarm",
    "outcome_rank", "doi", "abstract", "title", "url", "journal", "id_study"}
# Moderators read from the database when present: (column, type, label used when the codebook has
# none; {arm1}/{arm2} are the arms as metadata/comparisons.txt names them)
MODERATORS = [
    ("condition_arm1", "categorical", "Type of {arm1}"),
    ("condition_arm2", "categorical", "Type of {arm2} condition"),
    ("format", "categorical", "Treatment format"),
    ("country", "categorical", "Country"),
    ("target_group", "categorical", "Target group"),
    ("diagnosis", "categorical", "How the condition was defined (diagnosis)"),
    ("age_group", "categorical", "Age group"),
    ("recruitment", "categorical", "Recruitment"),
    (ROB_SCORE, "continuous", "Risk of bias score (number of low-risk items, 0-4)"),
    ("n_sessions_arm1", "continuous", "Number of sessions"),
    ("time_weeks", "continuous", "Time of assessment (weeks after randomisation)"),
    ("year", "continuous", "Publication year"),
]
SEVERAL = "several"  # level of a categorical moderator whose value differs between a study's rows
GENERIC_ARMS = ("intervention", "control")  # arm names when metadata/comparisons.txt does not name them


def _fail(path, where: str, reason: str):
    raise ImportFormatError(f"{path}: {where}: {reason}")


@dataclass
class MetapsyRelease:
    """One release of a Metapsy database as read from its folder."""

    folder: Path
    release: str
    rows: pd.DataFrame                  # all columns as text (None = NA), plus 'row' (1-based data row)
    numbers: pd.DataFrame               # NUMERIC columns parsed
    codebook: dict
    search_flow: dict | None
    text: dict                          # metadata/*.txt by stem, README.md, LICENSE.txt
    references: dict
    authors: list


@dataclass
class ImportPlan:
    """What an import would write: the review definition, one record per study, and the fate of
    every data row (used in a record, or refused with a reason)."""

    definition: dict
    records: dict                       # trial id -> record dict
    rows: list = field(default_factory=list)      # dicts for provenance/metapsy-rows.csv
    refused: list = field(default_factory=list)   # (row, study, reason)
    warnings: list = field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------
def is_metapsy_folder(path) -> bool:
    p = Path(path)
    return p.is_dir() and (p / "data.csv").is_file() and (p / "metadata").is_dir()


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        _fail(path, f"byte {e.start}", "not UTF-8 text")


def _read_json(path: Path, shape: type, what: str):
    """A metadata JSON file of the expected shape (an object or a list), or None when absent; a
    malformed file, another shape or nesting too deep to parse is refused by name."""
    if not path.is_file():
        return None
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        _fail(path, f"line {e.lineno}, column {e.colno}", f"malformed JSON ({e.msg})")
    except RecursionError:  # the parser recurses per level: [[[[...]]]] 100,000 deep
        _fail(path, "(file)", f"JSON nested too deep to read; expected {what}")
    if not isinstance(data, shape):
        kinds = {dict: "an object", list: "a list", str: "text", bool: "true or false", type(None): "null"}
        _fail(path, "(file)", f"expected {what}; found {kinds.get(type(data), 'a number')} "
                              f"({json.dumps(data)[:40]})")
    return data


def _parse_csv(path: Path) -> pd.DataFrame:
    """data.csv as text cells. Every row must have as many fields as the header; the error names
    the row (1 = first data row) and its line in the file."""
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        _fail(path, "(file)", f"{size:,} bytes; a Metapsy data.csv is a few MB (limit {MAX_CSV_BYTES:,})")
    text = _read_text(path)
    found = unprintable_character(text)
    if found:
        index, char, kind = found
        _fail(path, f"line {text.count(chr(10), 0, index) + 1}",
              f"{kind} {char!r} ({character_name(char)}) in the text: not a plain-text CSV file; remove it")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";", quotechar='"', strict=True)
    try:
        header = next(reader)
    except StopIteration:
        _fail(path, "line 1", "empty file; expected a header row of column names")
    except csv.Error as e:
        _fail(path, "line 1", f"malformed CSV ({e})")
    header = [h.strip() for h in header]
    if "study" not in header:
        _fail(path, "line 1", f"no column 'study' (found {header[:8]}...): not a Metapsy data.csv "
                              "(semicolon-separated, decimal commas)")
    if header[0] == "":
        header[0] = "_rownames"
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        _fail(path, "line 1", f"duplicate column names {dupes}")
    body = []
    try:
        for i, fields in enumerate(reader, start=1):
            if not fields:
                continue
            if len(fields) != len(header):
                _fail(path, f"data row {i} (line {reader.line_num})",
                      f"{len(fields)} fields, the header has {len(header)}: a stray ';' or quote?")
            body.append([None if f == "NA" or f == "" else f for f in fields])
    except csv.Error as e:
        _fail(path, f"line {reader.line_num}", f"malformed CSV ({e})")
    if not body:
        _fail(path, "(file)", "no data rows")
    df = pd.DataFrame(body, columns=header, dtype=object)
    df["row"] = range(1, len(df) + 1)
    return df


def _numbers(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    for col in NUMERIC:
        if col not in df:
            out[col] = float("nan")
            continue
        raw = df[col]
        num = pd.to_numeric(raw.str.replace(",", ".", regex=False), errors="coerce")
        bad = raw.notna() & num.isna()
        if bad.any():
            i = bad.to_numpy().nonzero()[0][0]
            _fail(path, f"data row {df.row.iloc[i]}, column {col}",
                  f"{raw.iloc[i]!r} is not a number (decimal comma, NA for missing)")
        out[col] = num
    return out


def _release_name(folder: Path) -> str:
    name = folder.resolve().name
    return name if re.fullmatch(r"\d+(\.\d+)*", name) else "unversioned"


def read_metapsy(folder) -> MetapsyRelease:
    """Read and check a Metapsy folder; raise ImportFormatError naming file, location and reason."""
    folder = Path(folder)
    if not folder.is_dir():
        _fail(folder, "(folder)", "not found")
    if not (folder / "data.csv").is_file():
        _fail(folder / "data.csv", "(file)", "missing: a Metapsy database is a folder with data.csv and metadata/")
    if not (folder / "metadata").is_dir():
        _fail(folder / "metadata", "(folder)", "missing: a Metapsy database is a folder with data.csv and metadata/")
    rows = _parse_csv(folder / "data.csv")
    numbers = _numbers(rows, folder / "data.csv")
    meta = folder / "metadata"
    codebook = _read_json(meta / "variable_description.json", dict, "an object of column names and descriptions") or {}
    text = {p.stem: _read_text(p).strip() for p in sorted(meta.glob("*.txt"))}
    for name, where in (("README", folder / "README.md"), ("LICENSE", folder / "LICENSE.txt"),
                        ("LICENSE", folder.parent / "LICENSE.txt")):
        if where.is_file() and name not in text:
            text[name] = _read_text(where)
    return MetapsyRelease(folder, _release_name(folder), rows, numbers,
                          {k: v for k, v in codebook.items() if isinstance(v, str)},
                          _read_json(meta / "search_flow.json", dict, "an object of PRISMA counts"), text,
                          {k: v for k, v in (_read_json(meta / "references.json", dict, "an object of study labels "
                                                        "and references") or {}).items() if isinstance(v, str)},
                          _read_json(meta / "authors.json", list, "a list of authors") or [])


# ------------------------------------------------------------------------------------------------
# Mapping rows to records
# ------------------------------------------------------------------------------------------------
def slug(label: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    s = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")
    return s or "study"


def reference_key(text: str | None) -> str | None:
    """A citation reduced to lower-case letters and digits: survives changed punctuation and
    mis-encoded characters between releases."""
    if not text:
        return None
    key = re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower())
    return key[:160] or None


def _int_or_none(x):
    if x is None or pd.isna(x):
        return None
    return int(x) if float(x).is_integer() else None


def _group_size(x):
    """A group size beside a computed effect: a whole number of at least 2, else None (not usable)."""
    n = _int_or_none(x)
    return n if n is not None and n >= 2 else None


def _arm_values(num, suffix_mean, suffix_sd, suffix_n):
    vals = [num[f"{suffix_mean}_arm{i}"] for i in (1, 2)] + [num[f"{suffix_sd}_arm{i}"] for i in (1, 2)] + \
           [num[f"{suffix_n}_arm{i}"] for i in (1, 2)]
    return None if any(pd.isna(v) for v in vals) else vals


def _effect_block(text_row, num, arms: tuple[str, str]) -> tuple[dict | None, str | None]:
    """One row's effect block (without effect_id/timepoint/source) and, if refused, why. ``arms``:
    the review's names of arm 1 and arm 2."""
    arm1, arm2 = arms
    skipped = []
    for kind, cols, label in (("msd", ("mean", "sd", "n"), "means and SDs"),
                              ("change", ("mean_change", "sd_change", "n_change"), "change scores")):
        vals = _arm_values(num, *cols)
        if vals is None:
            continue
        m1, m2, s1, s2, n1, n2 = vals
        n1i, n2i = _int_or_none(n1), _int_or_none(n2)
        if n1i is None or n2i is None:
            skipped.append(f"{label} given but a group size is not a whole number ({n1:g}, {n2:g})")
        elif min(n1i, n2i) < 2 or min(s1, s2) <= 0:
            skipped.append(f"{label} given but n < 2 or SD <= 0 (n {n1i}, {n2i}; SD {s1:g}, {s2:g})")
        else:
            return {"effect_source": f"{label} (arm 1 {arm1}, arm 2 {arm2}); Hedges' g computed by livingmeta",
                    "arms": {arm1: {"n": n1i, "mean": float(m1), "sd": float(s1)},
                             arm2: {"n": n2i, "mean": float(m2), "sd": float(s2)}}}, None
    ev = [num["event_arm1"], num["totaln_arm1"], num["event_arm2"], num["totaln_arm2"]]
    why = ("; ".join(skipped) + "; ") if skipped else ""
    # beside a computed effect the arms say only who took part (null = not reported or not a group size)
    sizes = {arm1: {"n": _group_size(num["n_arm1"])}, arm2: {"n": _group_size(num["n_arm2"])}}
    if not any(pd.isna(v) for v in ev) and not pd.isna(num[".g"]) and not pd.isna(num[".g_se"]):
        e1, t1, e2, t2 = (_int_or_none(v) for v in ev)
        block = {"effect_source": f"{why}events ({text_row.get('outcome_type') or 'dichotomous'}): the database's "
                                  "g converted from the odds ratio (columns .g, .g_se), the review pooling SMDs",
                 "generic": {"estimate": -float(num[".g"]), "se": float(num[".g_se"])}, "arms": sizes}
        if None not in (e1, t1, e2, t2) and min(t1, t2) >= 2:
            block["arms"] = {arm1: {"events": e1, "total": t1}, arm2: {"events": e2, "total": t2}}
        return block, None
    if not pd.isna(num["precalc_g"]) and not pd.isna(num["precalc_g_se"]) and num["precalc_g_se"] > 0:
        return {"effect_source": f"{why}precomputed g (columns precalc_g, precalc_g_se; "
                                 f"{text_row.get('other_stat') or 'statistic not stated'})",
                "generic": {"estimate": -float(num["precalc_g"]), "se": float(num["precalc_g_se"])}, "arms": sizes}, None
    if not pd.isna(num[".g"]) and not pd.isna(num[".g_se"]) and num[".g_se"] > 0:
        return {"effect_source": f"{why}only the database's computed g is given (columns .g, .g_se)",
                "generic": {"estimate": -float(num[".g"]), "se": float(num[".g_se"])}, "arms": sizes}, None
    return None, (why + "no usable effect data (means/SDs, change scores, events, precomputed g or .g)").strip()


def _impossible_counts(db: MetapsyRelease, path: Path) -> None:
    """Refuse a negative number of participants or events, or more events than participants,
    naming the data row and column: no database can report them (a typo or a shifted column)."""
    nums = db.numbers
    for col in COUNTS:
        bad = nums[col] < 0
        if bad.any():
            i = bad.to_numpy().nonzero()[0][0]
            _fail(path, f"data row {db.rows.row.iloc[i]}, column {col}",
                  f"{nums[col].iloc[i]:g} is impossible: a number of {'events' if 'event' in col else 'participants'} "
                  "cannot be negative")
    for arm in (1, 2):
        bad = nums[f"event_arm{arm}"] > nums[f"totaln_arm{arm}"]
        if bad.any():
            i = bad.to_numpy().nonzero()[0][0]
            _fail(path, f"data row {db.rows.row.iloc[i]}, column event_arm{arm}",
                  f"{nums[f'event_arm{arm}'].iloc[i]:g} events of {nums[f'totaln_arm{arm}'].iloc[i]:g} participants "
                  f"(totaln_arm{arm}): more events than participants is impossible")


def _effect_key(t: dict) -> str:
    """Which effect of a study a row is, from the standard's own columns (comparison, instrument,
    rating). Metapsy's ``.id`` is not used: it is missing on some rows and its layout changed
    between releases, which would make every study look corrected."""
    return f"{_comparison(t)}: {t.get('instrument') or 'instrument not stated'} ({t.get('rating') or 'rating NA'})"


def _comparison(t: dict) -> str:
    a1 = t.get("condition_arm1") or "?"
    a2 = t.get("condition_arm2") or "?"
    if t.get("multi_arm1"):
        a1 += f" ({t['multi_arm1']})"
    if t.get("multi_arm2"):
        a2 += f" ({t['multi_arm2']})"
    return f"{a1} vs {a2}"


def _duplicate_rows(text_rows: list[dict], path: Path) -> tuple[set, list[str]]:
    """Rows that repeat another row with the same Metapsy ``.id``: an exact copy (every column but
    the row number equal) is dropped with a warning naming both rows; the same ``.id`` on rows
    that differ is refused, naming the rows and the columns that differ (which one is right
    cannot be told). Returns the indices to drop and the warnings."""
    first: dict[str, int] = {}
    drop, warnings = set(), []
    for i, t in enumerate(text_rows):
        key = t.get(".id")
        if not key:
            continue
        if key not in first:
            first[key] = i
            continue
        j = first[key]
        differ = [c for c in t if c not in ("_rownames", "row") and t[c] != text_rows[j].get(c)]
        if differ:
            _fail(path, f"data rows {text_rows[j]['row']} and {t['row']}, column .id",
                  f"both rows are {key!r} but differ in {', '.join(differ[:6])}: one effect cannot have two sets of "
                  "data; correct or remove one of them")
        drop.add(i)
        warnings.append(f"data row {t['row']} ({t['study']}) repeats data row {text_rows[j]['row']} exactly (same .id "
                        f"{key!r}); the copy is left out")
    return drop, warnings


def _one_judgement(values: list[str], judge, col: str) -> dict:
    """A study's judgement in one column from its rows' values (NA = not assessed). Rows that
    disagree (comparison-level judgements) give the most severe, as metapsyTools' study-level
    overall judgement does, and the support says so."""
    judged = {v: judge(v) for v in values if v and v != "na"}
    if not judged:
        return {"judgement": "not_assessed", "support": None}
    kinds = sorted(set(judged.values()), key=lambda j: ROB2_SEVERITY.get(j, 3))
    if len(kinds) == 1:
        return {"judgement": kinds[0], "support": None}
    assessed = [j for j in kinds if j != "not_assessed"]
    if not assessed:
        return {"judgement": "not_assessed", "support": f"rows of this study disagree ({col} = {sorted(judged)})"}
    return {"judgement": assessed[-1], "support": f"rows of this study differ ({col} = {sorted(judged)}); the most "
                                                 "severe judgement is the study's"}


def _rob1(rows: list[dict], columns) -> dict:
    domains = {}
    for col, domain in ROB1_ITEMS.items():
        if col not in columns:
            continue
        values = sorted({r.get(col) or "NA" for r in rows})
        if len(values) > 1:
            domains[domain] = {"judgement": "not_assessed", "support": f"rows of this study disagree ({col} = {values})"}
        elif values[0] in ROB1_CODES:
            domains[domain] = {"judgement": ROB1_CODES[values[0]], "support": None}
        elif col == "ba" and values[0] == "sr":
            domains[domain] = {"judgement": "not_assessed",
                               "support": "self-reported outcome ('sr'): the database made no judgement on assessor "
                                          "blinding (its rob score counts 'sr' as low risk)"}
        else:
            domains[domain] = {"judgement": "not_assessed", "support": f"code {values[0]!r} of column {col} is not in "
                                                                      "the database's codebook (0 = high, 1 = low)"}
    return domains


@dataclass
class RiskOfBiasColumns:
    """Which risk-of-bias tool a database uses and the columns holding it: ``domains`` maps
    column -> RoB domain (the overall judgement included, for RoB 2)."""

    tool: str | None
    domains: dict


def rob_columns(db: MetapsyRelease, path) -> RiskOfBiasColumns:
    """RoB 1 (items sg, ac, ba, itt; ``rob`` is then their score, a moderator) or RoB 2 (domains
    rob_d1..rob_d5 and the overall judgement in the first of ROB2_OVERALL present; a database
    with only ``rob`` holding RoB 2 words is RoB 2 with the overall judgement only), else none."""
    cols = set(db.rows.columns)
    has1 = bool(cols & set(ROB1_ITEMS))
    domains2 = {c: d for c, d in ROB2_DOMAINS.items() if c in cols}
    overall = [c for c in ROB2_OVERALL if c in cols and not (c == ROB_SCORE and has1)]
    if overall == [ROB_SCORE] and not domains2:
        words = {v.strip().lower() for v in db.rows[ROB_SCORE].dropna()}
        if not words or not words <= set(ROB2_WORDS):
            overall = []  # a number per study without RoB 2 domains: which tool is not known
    if has1 and (domains2 or overall):
        _fail(path, "line 1", "both RoB 1 items and RoB 2 domains: one tool per database")
    if has1:
        return RiskOfBiasColumns("rob1", {c: d for c, d in ROB1_ITEMS.items() if c in cols})
    if domains2 or overall:
        return RiskOfBiasColumns("rob2", {**domains2, **({overall[0]: "overall"} if overall else {})})
    return RiskOfBiasColumns(None, {})


def _rob2(rows: list[dict], rob: RiskOfBiasColumns, codebook: dict, path, warnings: list) -> dict:
    domains = {}
    for col, domain in rob.domains.items():
        codes = codebook_levels(codebook.get(col))

        def judge(value, col=col, codes=codes):
            word = ROB2_WORDS.get(value) or ROB2_WORDS.get(codes.get(value, "").strip().lower())
            if word:
                return word
            if re.fullmatch(r"[0-9]+", value):
                note = (f"column {col}: code {value!r} is not explained in metadata/variable_description.json; "
                        "read as not assessed")
                if note not in warnings:
                    warnings.append(note)
                return "not_assessed"
            row = next(r["row"] for r in rows if (r.get(col) or "").strip().lower() == value)
            _fail(path, f"data row {row}, column {col}", f"{value!r} is not a RoB 2 judgement (low, some concerns, "
                                                         "high; low risk and high risk as metapsyTools writes them)")
        domains[domain] = _one_judgement([(r.get(col) or "").strip().lower() for r in rows], judge, col)
    return domains


def codebook_levels(description: str | None) -> dict:
    """'ind= individual; grp= group' -> {'ind': 'individual', 'grp': 'group'}."""
    out = {}
    for code, label in re.findall(r"([A-Za-z0-9][\w &+.-]*?)\s*=\s*([^;,=]+?)\s*(?=[;,]\s*[\w &+.-]+\s*=|[;,)]?\s*$)",
                                  description or ""):
        out.setdefault(code.strip(), label.strip())
    return out


def _moderator_value(rows: list[dict], nums, col, kind):
    if kind == "categorical":
        values = sorted({r.get(col) for r in rows if r.get(col)})
        if not values:
            return None, None
        return (values[0], None) if len(values) == 1 else (SEVERAL, f"{col} differs between rows: {values}")
    vals = sorted({float(x) for x in nums if not pd.isna(x)})
    if not vals:
        return None, None
    if len(vals) > 1:
        return None, f"{col} differs between rows ({vals}); not reported as one value"
    v = vals[0]
    return (int(v) if v.is_integer() else v), None


def _to_float_series(rows_df, col):
    return pd.to_numeric(rows_df[col].str.replace(",", ".", regex=False), errors="coerce") if col in rows_df else None


def arm_names(db: MetapsyRelease) -> tuple[str, str]:
    """The review's names of arm 1 and arm 2: the database's own words (metadata/comparisons.txt),
    else the generic roles."""
    words = arm_words(db)
    if not words or words[0].lower() == words[1].lower():
        return GENERIC_ARMS
    return words[0], words[1]


def unknown_columns(db: MetapsyRelease, mods, rob: RiskOfBiasColumns) -> list[str]:
    """Columns of data.csv that livingmeta neither maps nor knows from the Metapsy standard."""
    known = ROW_COLUMNS | set(NUMERIC) | {c for c, _, _ in mods} | set(rob.domains) | KNOWN_UNUSED | {"_rownames", "row"}
    return [c for c in db.rows.columns if c not in known]


def plan_import(db: MetapsyRelease, previous: dict | None = None) -> ImportPlan:
    """Map a release to a review definition and records. ``previous``: the existing records
    (id -> record) of the review being synced, whose ids are kept for the same studies."""
    path = db.folder / "data.csv"
    rob = rob_columns(db, path)
    _impossible_counts(db, path)
    columns = set(db.rows.columns)
    # the RoB 1 score is a moderator only in a RoB 1 database
    mods = [(c, k, l) for c, k, l in MODERATORS if c in columns and (c != ROB_SCORE or rob.tool == "rob1")]
    arms = arm_names(db)
    text_rows = db.rows.where(db.rows.notna(), None).to_dict(orient="records")
    nums = db.numbers.to_dict(orient="records")
    mod_numbers = {c: _to_float_series(db.rows, c) for c, k, _ in mods if k == "continuous"}
    plan = ImportPlan(definition={}, records={})
    plan.warnings += [f"column {c!r} of data.csv is not one livingmeta reads; not imported (its values stay in "
                      "provenance/metapsy-source/data.csv)" for c in unknown_columns(db, mods, rob)]
    duplicates, notes = _duplicate_rows(text_rows, path)
    plan.warnings += notes
    by_study: dict[str, list[int]] = {}
    for i, t in enumerate(text_rows):
        if not t.get("study"):
            _fail(path, f"data row {t['row']}, column study", "empty study label")
        if i in duplicates:
            plan.rows.append({"row": t["row"], "study": t["study"].strip(), "trial_id": None, "effect_id": None,
                              "metapsy_id": t.get(".id"), "used": "dropped", "reason": "exact copy of an earlier row"})
            continue
        by_study.setdefault(t["study"].strip(), []).append(i)
    ids = _assign_ids(by_study, text_rows, previous or {})
    levels: dict[str, set] = {c: set() for c, k, _ in mods if k == "categorical"}
    timepoints: list[str] = []
    for study, idx in by_study.items():
        rows = [text_rows[i] for i in idx]
        blocks, seen = [], {}
        for i in idx:
            t, num = text_rows[i], nums[i]
            block, reason = _effect_block(t, num, arms)
            key = _effect_key(t)
            seen[key] = seen.get(key, 0) + 1
            effect_id = key if seen[key] == 1 else f"{key} #{seen[key]}"
            tp = t.get("time") or "post"
            if block is None:
                plan.refused.append((t["row"], study, reason))
                plan.rows.append({"row": t["row"], "study": study, "trial_id": None, "effect_id": effect_id,
                                  "metapsy_id": t.get(".id"), "used": "refused", "reason": reason})
                continue
            if tp not in timepoints:
                timepoints.append(tp)
            out = {"timepoint": tp, "effect_id": effect_id,
                   "source": "the Metapsy database's data row of this comparison",  # the same in every release
                   "measure": t.get("instrument"),
                   "rating": t.get("rating"), "comparison": _comparison(t), **block}
            blocks.append(out)
            plan.rows.append({"row": t["row"], "study": study, "trial_id": ids[study], "effect_id": effect_id,
                              "metapsy_id": t.get(".id"), "used": block["effect_source"].split(" (")[0], "reason": ""})
        blocks.sort(key=lambda b: (timepoints.index(b["timepoint"]), b["effect_id"]))  # row order is not data
        if not blocks:
            plan.warnings.append(f"{study}: no row with usable effect data; study not imported")
            continue
        first = rows[0]
        year = _int_or_none(nums[idx[0]]["year"])
        year_source = "column year of data.csv"
        if year is None:
            m = re.search(r"(19|20)\d\d", study)
            year, year_source = (int(m.group(0)), "from the study label (column year is NA)") if m else (None, None)
        if year is None:
            _fail(path, f"data row {first['row']}, column year", f"no year for study {study!r} (column year is NA "
                                                                "and the label has none)")
        full_ref = first.get("full_ref") or db.references.get(study)
        record = {
            "id": ids[study], "label": study, "year": year, "year_source": year_source,
            # only the standard's columns (study, full_ref): optional ones (doi, title) come and go
            # between releases and would mark every study as corrected
            "citation": {"first_author": study.split(",")[0].strip() or study, "detail": full_ref},
            "arms": {arms[0]: {"role": "intervention",
                               "description": "; ".join(sorted({r.get("condition_arm1") or "?" for r in rows}))},
                     arms[1]: {"role": "control",
                               "description": "; ".join(sorted({r.get("condition_arm2") or "?" for r in rows}))}},
            "moderators": {}, "moderator_sources": {},
            "outcomes": {outcome_of(db)[0]: blocks},
            "import_source": {"database": "Metapsy", "study_label": study, "reference_key": reference_key(full_ref),
                              "rows_file": "provenance/metapsy-rows.csv"},
        }
        for col, kind, _ in mods:
            numbers = mod_numbers[col].iloc[idx].tolist() if kind == "continuous" else None
            value, note = _moderator_value(rows, numbers, col, kind)
            record["moderators"][col] = value
            if value is not None and kind == "categorical":
                levels[col].add(value)
            if note:
                record["moderator_sources"][col] = note
        if rob.tool:
            domains = (_rob1(rows, columns) if rob.tool == "rob1"
                       else _rob2(rows, rob, db.codebook, path, plan.warnings))
            record["risk_of_bias"] = {"tool": rob.tool, "source": "Metapsy data.csv, columns " + ", ".join(rob.domains),
                                      "domains": domains}
        plan.records[ids[study]] = record
    plan.rows.sort(key=lambda r: r["row"])
    plan.definition = review_definition(db, mods, levels, timepoints, arms)
    return plan


def _assign_ids(by_study: dict, text_rows: list, previous: dict) -> dict:
    """Study label -> trial id. A study keeps the id it had in the review being synced when its
    label matches; a study whose label is new keeps the id of a study that disappeared with the
    same full reference, compared as letters and digits only (a renamed label). Otherwise a new id from the label."""
    prev_by_label = {r["import_source"]["study_label"]: tid for tid, r in previous.items() if r.get("import_source")}
    gone = {tid: r for tid, r in previous.items() if r.get("import_source", {}).get("study_label") not in by_study}
    by_ref = {}
    for tid, r in gone.items():
        for key in (r["import_source"].get("reference_key"),):
            if key:
                by_ref.setdefault(key, []).append(tid)
    ids, used = {}, set()
    for study, idx in by_study.items():
        if study in prev_by_label:
            ids[study] = prev_by_label[study]
            used.add(ids[study])
    for study, idx in by_study.items():
        if study in ids:
            continue
        first = text_rows[idx[0]]
        for key in (reference_key(first.get("full_ref")),):
            cands = [t for t in by_ref.get(key, []) if t not in used] if key else []
            if len(cands) == 1:
                ids[study] = cands[0]
                used.add(cands[0])
                break
    taken = set(previous) | used
    for study in by_study:
        if study in ids:
            continue
        base, n = slug(study), 2
        tid = base
        while tid in taken:
            tid, n = f"{base}-{n}", n + 1
        ids[study] = tid
        taken.add(tid)
    return ids


def attribution(db: MetapsyRelease) -> str:
    readme = db.text.get("README", "")
    name = (re.search(r"`(data-[a-z0-9-]+)`", readme) or [None, f"data-{db.text.get('shorthand', 'metapsy')}"])[1]
    doi = DOI_PATTERN.search(readme)
    return (f"Metapsy: {db.text.get('comparisons') or db.text.get('shorthand', 'metapsy')} database ({name}), version "
            f"{db.release}, the Metapsy collaboration" + (f"; doi:10.5281/zenodo.{doi.group(1)}" if doi else "") + ".")


def search_flow_entry(db: MetapsyRelease, studies_new: int | None = None) -> dict | None:
    """metadata/search_flow.json as one PRISMA 2020 entry (workflow/schemas/review.schema.yaml). Counts are copied, never
    derived: 'database.hits.duplicates.removed' is the number of records left after removing
    duplicates (it equals records.screened), so duplicates_removed stays null (not reported)."""
    sf = db.search_flow
    if not sf:
        return None

    def count(key):
        v = sf.get(key)
        if v is None:
            return None
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            _fail(db.folder / "metadata" / "search_flow.json", key, f"{v!r} is not a non-negative whole number")
        return v
    reasons = sf.get("full.text.excluded.reasons") or {}
    if not isinstance(reasons, dict):
        _fail(db.folder / "metadata" / "search_flow.json", "full.text.excluded.reasons",
              f"expected an object of reasons and counts; found {json.dumps(reasons)[:40]}")
    return {"label": f"Metapsy release {db.release}", "date": db.text.get("last_search") or None,
            "source": f"the search flow published with the Metapsy database, release {db.release}",
            "identified": {"databases": count("database.hits"), "registers": None, "other": count("additional.records")},
            "duplicates_removed": None, "records_screened": count("records.screened"), "records_excluded": None,
            "reports_sought": None, "reports_not_retrieved": None,
            "reports_assessed": count("full.text.assessed.for.eligibility"),
            "reports_excluded": {str(k): v for k, v in reasons.items()},
            # A release's counts cover every search to date (PRISMA 2020 new-review form, never
            # added to the previous edition); studies new since the last release are listed by the
            # edition's "what changed", not invented as a PRISMA box.
            "scope": "cumulative", "studies_included_new": None, "studies_included_total": count("included"),
            "reports_included_total": None}


def outcome_of(db: MetapsyRelease) -> tuple[str, str]:
    """(id, label) of the outcome a Metapsy database measures. The standard does not name it; a
    database's shorthand does ("<condition>-<comparison>", e.g. <condition>-psyctr): its studies
    report the condition's symptom severity. A review may relabel it in review.yaml (kept by --sync)."""
    condition = re.split(r"[-_ ]", (db.text.get("shorthand") or "").strip().lower())[0] or "outcome"
    return condition, f"{condition.capitalize()} symptom severity"


def arm_words(db: MetapsyRelease) -> tuple[str, str] | None:
    """(intervention, comparator) as the database names them: metadata/comparisons.txt reads
    "<arm 1> vs <arm 2>" (e.g. "psychotherapy vs control"). None when it does not: the report then
    uses its generic words."""
    m = re.fullmatch(r"\s*(.+?)\s+(?:vs\.?|versus)\s+(.+?)\s*", db.text.get("comparisons") or "", flags=re.I)
    return (m.group(1), m.group(2)) if m else None


def review_definition(db: MetapsyRelease, mods, levels: dict, timepoints: list, arms: tuple[str, str]) -> dict:
    words = arm_words(db)
    comparison = db.text.get("comparisons") or "arm 1 vs arm 2"
    short = db.text.get("shorthand", "metapsy")
    tp_labels = {"post": "post-test", "fu1": "first follow-up", "fu2": "second follow-up"}
    moderators = []
    for col, kind, fallback in mods:
        desc = db.codebook.get(col) or db.codebook.get({"n_sessions_arm1": "n_sessions_ig"}.get(col, col))
        arm1, arm2 = words or ("arm 1", "arm 2")
        entry = {"name": col, "label": fallback.format(arm1=arm1, arm2=arm2), "type": kind}
        if kind == "categorical":
            book = codebook_levels(desc)
            entry["levels"] = {lv: book.get(lv, f"{lv} (code not in the codebook)") for lv in sorted(levels[col])}
            if SEVERAL in levels[col]:
                entry["levels"][SEVERAL] = "several values within the study"
        if desc:
            entry["description"] = desc
        moderators.append(entry)
    flow = search_flow_entry(db)
    return {
        "id": "", "title": f"Metapsy {short}: {comparison}",
        "question": f"How large is the effect of {comparison} on {outcome_of(db)[1].lower()} at post-test?",
        "population": "As included by the Metapsy database (see its inclusion criteria)",
        "intervention": f"{(words[0] if words else 'arm 1').capitalize()}, as classified by the database (condition_arm1)",
        "comparison": f"{(words[1] if words else 'arm 2').capitalize()} conditions, as classified by the database (condition_arm2)",
        "authors": [a["name"] for a in db.authors if isinstance(a, dict) and a.get("name")] or ["Metapsy collaboration"],
        "search_date": db.text.get("last_search") or "not reported",
        "data_source": (f"Metapsy database {short} ({comparison}), release {db.release}: the comparison data and "
                        f"metadata as published by the Metapsy collaboration (https://www.metapsy.org)."
                        + (f" Registration: {db.text['registration']}." if db.text.get("registration") else "")
                        + " Imported with livingmeta's Metapsy importer."),
        "licence": "Open Data Commons Attribution License (ODC-By) v1.0",
        "attribution": attribution(db),
        "primary_outcome": outcome_of(db)[0],
        "outcomes": [{"id": outcome_of(db)[0], "label": outcome_of(db)[1], "type": "continuous",
                      "effect_measure": "SMD", "direction": "lower_is_better",
                      "timepoints": [{"id": tp, "label": tp_labels.get(tp, tp)} for tp in timepoints]}],
        "arms": {"intervention": arms[0], "control": arms[1]},
        **({"labels": {"intervention": words[0], "comparator": words[1], "favours_intervention": f"Favours {words[0]}",
                       "favours_comparator": f"Favours {words[1]}"}} if words else {}),
        "dependent_effects": {"primary": "aggregate", "rho": 0.6,
                              "note": "metapsyTools' default: effects within a study aggregated with an assumed "
                                      "correlation of 0.6 (metafor aggregate, Borenstein 2009); the three-level "
                                      "model (CR2) and all effects treated as independent are sensitivity analyses"},
        "moderators": moderators,
        "search_flow": [flow] if flow else [],
    }


# ------------------------------------------------------------------------------------------------
# Writing (atomic; the whole review is validated before anything is replaced)
# ------------------------------------------------------------------------------------------------
# review.yaml keys an import writes from the source; every other key (title, question, labels, report,
# dependent_effects: the review team's analysis choice, written by the first import) is kept as it is.
# The arms are the source's: the records' arm names follow metadata/comparisons.txt.
IMPORTER_KEYS = ("data_source", "licence", "attribution", "search_date", "arms", "outcomes", "moderators")


@dataclass
class SyncReport:
    added: list
    removed: list
    changed: list
    unchanged: int
    refused: list
    warnings: list

    def lines(self) -> list[str]:
        out = [f"added: {lab} ({tid})" for tid, lab in self.added]
        out += [f"removed: {lab} ({tid})" for tid, lab in self.removed]
        out += [f"changed: {lab} ({tid}){' -- ' + why if why else ''}" for tid, lab, why in self.changed]
        out += [f"refused row {row} ({study}): {reason}" for row, study, reason in self.refused]
        out += [f"warning: {w}" for w in self.warnings]
        return out


def _existing(review_dir: Path) -> tuple[dict, dict]:
    from livingmeta.pipeline.records import load_yaml
    if not (review_dir / "review.yaml").is_file():
        return {}, {}
    definition, _ = load_yaml(review_dir / "review.yaml")
    records = {}
    for p in sorted((review_dir / "trials").glob("*.yaml")):
        data, _ = load_yaml(p)
        if isinstance(data, dict):
            records[p.stem] = data
    return (definition if isinstance(definition, dict) else {}), records


HEADER = ("Imported from a Metapsy database with `livingmeta import`; for a new release re-run it with --sync "
          "rather than editing by hand.\nA sync rewrites the records and review.yaml's " + ", ".join(IMPORTER_KEYS)
          + " and search_flow; other keys (title, question, report, ...) are kept.")


def plan_review(source, review_dir=None) -> tuple[ImportedReview, ImportPlan, dict]:
    """Read a Metapsy folder and build what would be written (nothing is written): the
    ImportedReview for review_writer, the plan (rows, refusals), and the previous records of the
    review at ``review_dir`` (if any), whose ids and hand-written review.yaml keys are kept."""
    db = read_metapsy(source)
    old_def, previous = _existing(Path(review_dir)) if review_dir else ({}, {})
    plan = plan_import(db, previous)
    definition = plan.definition
    if old_def:
        new_labels = {f["label"] for f in definition["search_flow"]}
        flow = [e for e in old_def.get("search_flow", []) if e.get("label") not in new_labels]
        definition = {**definition, **{k: v for k, v in old_def.items() if k not in IMPORTER_KEYS}}
        # what a review author set on an outcome (its label, clinically_important_difference, scales,
        # ...) survives a sync, as hand-written top-level keys do; the timepoints follow the release
        old_outcomes = {o.get("id"): o for o in old_def.get("outcomes", [])}
        definition["outcomes"] = [{**o, **{k: v for k, v in old_outcomes.get(o["id"], {}).items() if k != "timepoints"}}
                                  for o in definition["outcomes"]]
        definition["search_flow"] = flow + plan.definition["search_flow"]
    extra = {"provenance/metapsy-rows.csv": _rows_csv(plan.rows, db.release).encode("utf-8")}
    extra.update({f"provenance/metapsy-source/{rel}": data for rel, data in _source_files(db).items()})
    imported = ImportedReview(definition=definition, records=plan.records, source=str(source), header=HEADER,
                              extra_files=extra, warnings=list(plan.warnings))
    return imported, plan, previous


def read(path) -> ImportedReview:
    """The importers package's entry point (``read_whole_review``): a new review, ids from the
    study labels. ``import_metapsy`` is the same with identity matching against an existing
    review for ``--sync``."""
    return plan_review(path)[0]


def import_metapsy(review_dir, source, *, sync: bool = False) -> SyncReport:
    """Create (or with ``sync`` update) a review folder from a Metapsy database folder; studies
    keep their ids across releases (see _assign_ids). Written by review_writer.write_review:
    atomically, and only if the whole review validates. An import killed earlier is repaired
    first (review_writer.recover_interrupted_imports), so a review it had moved aside keeps its
    ids, hand-written keys and PRISMA history."""
    from livingmeta.pipeline.records import record_paths
    review_dir = Path(review_dir)
    with import_lock(review_dir):
        recovered = recover_interrupted_imports(review_dir)
        if (review_dir / "review.yaml").is_file() and not sync:
            if record_paths(review_dir / "trials"):
                raise ImportFormatError(f"{review_dir}: review exists; use --sync to make it equal to {source} "
                                        "(trials added, changed and removed are listed)")
            sync = True  # a folder that ships its settings without records: the import fills it, keeping them
        imported, plan, previous = plan_review(source, review_dir)
        write_review(review_dir, imported, sync=sync)
    report = _diff(previous, plan)
    report.warnings[:0] = recovered
    return report


def _rows_csv(rows: list, release: str) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["release", "row", "study", "trial_id", "effect_id", "metapsy_id", "used",
                                        "reason"], lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({"release": release, **r})
    return buf.getvalue()


def _source_files(db: MetapsyRelease) -> dict:
    """The source data with its licence and README beside it (ODC-By: attribution travels with
    the data): relative path -> bytes."""
    out = {"data.csv": (db.folder / "data.csv").read_bytes(), "RELEASE": (db.release + "\n").encode()}
    for p in sorted((db.folder / "metadata").glob("*")):
        if p.is_file():
            out[f"metadata/{p.name}"] = p.read_bytes()
    for name, src in (("README.md", db.folder / "README.md"), ("LICENSE.txt", db.folder / "LICENSE.txt"),
                      ("LICENSE.txt", db.folder.parent / "LICENSE.txt"),
                      ("DATABASE-README.md", db.folder.parent / "README.md")):
        if src.is_file() and name not in out:
            out[name] = src.read_bytes()
    return out


def _diff(previous: dict, plan: ImportPlan) -> SyncReport:
    new = plan.records
    added = sorted((tid, new[tid]["label"]) for tid in set(new) - set(previous))
    removed = sorted((tid, previous[tid].get("label", tid)) for tid in set(previous) - set(new))
    changed, same = [], 0
    for tid in sorted(set(new) & set(previous)):
        old, cur = previous[tid], new[tid]
        if old == cur:
            same += 1
            continue
        why = [f"renamed from {old.get('label')!r}"] if old.get("label") != cur["label"] else []
        why += [k for k in ("outcomes", "moderators", "risk_of_bias", "citation", "year", "arms")
                if old.get(k) != cur.get(k)]
        changed.append((tid, cur["label"], ", ".join(why)))
    return SyncReport(added, removed, changed, same, plan.refused, plan.warnings)
