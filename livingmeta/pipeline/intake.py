"""Getting trials in: a commented template for a new record, and import from the data-extraction
spreadsheet (CSV or XLSX) reviewers work in. Both write files only after every row checks out,
through ``record_writer`` (validated, atomic). Importing into records that exist merges: what the
sheet carries is updated, every other field is kept, and each change is listed."""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from livingmeta.errors import ImportFormatError
from livingmeta.formatting import plural
from livingmeta.files import is_formula_like
from livingmeta.pipeline.record_writer import (FieldChange, change_lines, check_records, field_changes, merge_record,
                                               normalise_doi, record_header, write_files, write_records)
from livingmeta.pipeline.records import (Problem, RecordWriteError, load_schema, load_yaml, record_paths,
                                         record_problems, schema_problems)

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")

TEMPLATE = """\
# Trial record for the review "{title}".
# Fill in every field you can; write null for anything the trial does not report (never guess).
# Check it with:  livingmeta check {review_dir}
id: {trial_id}                    # must equal the file name
label: "{label}"                  # as it should appear in tables, e.g. "Smith 2024"
year: {year}                      # publication year
citation:
  first_author: null              # e.g. "Smith J"
  title: null
  journal: null
  detail: null                    # volume, issue, pages
  identifier: null                # doi:... or PMID:...
  source_urls: []
arms:
  {intervention}:
    role: intervention
    description: null             # what the intervention arm received
  {control}:
    role: control
    description: null
moderators:
{moderators}
moderator_sources: {{}}            # where each moderator value was read (quote the text)
outcomes:
{outcomes}
"""

# What a sheet or a template needs from review.yaml, and how to add it when it is missing.
DEFINITION_FIXES = {
    "arms": "add the names the trial records give the two arms, e.g. 'arms: {intervention: intervention, "
            "control: control}'",
    "outcomes": "add the review's outcomes (id, label, type, effect_measure, direction, timepoints); "
                "`livingmeta new-review` writes a review.yaml to start from",
    "moderators": "add 'moderators: []' (or the moderators the review codes)",
}
_MISSING_KEY = re.compile(r"^'([^']+)' is missing")


def load_definition(review_dir: Path) -> dict:
    """review.yaml, checked against the review schema: a definition without ``arms`` (or with any
    other problem) is a RecordWriteError naming the file, the field and the fix, never a KeyError."""
    path = Path(review_dir) / "review.yaml"
    definition, prob = load_yaml(path)
    if prob:
        raise RecordWriteError([prob])
    problems = []
    for p in schema_problems(definition, "review", path):
        m = _MISSING_KEY.match(p.message) if p.field == "(top level)" else None
        key = m.group(1) if m else None
        problems.append(Problem(p.file, key, f"is missing; {DEFINITION_FIXES.get(key, 'add it (see the README)')}")
                        if key else p)
    if problems:
        raise RecordWriteError(problems)
    return definition


def new_trial_template(review_dir: Path, trial_id: str, *, label: str | None = None, year: int | None = None) -> Path:
    """Write trials/<trial_id>.yaml with every field of the review, commented; refuse to overwrite."""
    if not ID_PATTERN.match(trial_id):
        raise RecordWriteError([Problem(trial_id, "id", "use lower-case letters, digits and hyphens, e.g. smith-2024")])
    definition = load_definition(review_dir)
    path = review_dir / "trials" / f"{trial_id}.yaml"
    if path.exists() or path.with_suffix(".yml").exists():
        raise RecordWriteError([Problem(str(path), "(file)", "a record with this id exists; edit it instead")])
    mods = "\n".join(
        f"  {m['name']}: null              # "
        + (f"one of: {', '.join(repr(str(x)).replace(chr(39), chr(34)) for x in m['levels'])} (keep the quotes)" if m["type"] == "categorical" else "a number")
        for m in definition["moderators"] if m["name"] != "year") or "  {}"
    outs = []
    arms = definition["arms"]
    for o in definition["outcomes"]:
        tp = o["timepoints"][0]["id"]
        if o["type"] == "continuous":
            arm_lines = "\n".join(f"          {a}: {{n: null, mean: null, sd: null}}" for a in (arms["intervention"], arms["control"]))
        else:
            arm_lines = "\n".join(f"          {a}: {{events: null, total: null}}" for a in (arms["intervention"], arms["control"]))
        outs.append(f"  {o['id']}:                        # {o['label']}; delete this block if not reported\n"
                    f"    - timepoint: {tp}             # one of: {', '.join(t['id'] for t in o['timepoints'])}\n"
                    f"      source: null                # where these numbers were read: publication, table, page\n"
                    f"      arms:\n{arm_lines}")
    guess_year = year or (int(m.group(1)) if (m := re.search(r"(\d{4})", trial_id)) else 2000)
    text = TEMPLATE.format(title=definition.get("title", review_dir.name), review_dir=review_dir, trial_id=trial_id,
                           label=label or trial_id.replace("-", " ").title(), year=guess_year,
                           intervention=arms["intervention"], control=arms["control"], moderators=mods,
                           outcomes="\n".join(outs))

    def is_a_template_of_this_trial(written: dict) -> None:
        # the template is meant to fail `check` until filled in; it must still read as this trial's record
        rec, prob = load_yaml(written[path])
        if prob or not isinstance(rec, dict) or rec.get("id") != trial_id:
            raise RecordWriteError([prob or Problem(str(path), "id", "the template did not read back as this trial's "
                                                                     "record; a bug in livingmeta", trial_id)])
    write_files({path: text.encode("utf-8")}, check=is_a_template_of_this_trial)
    return path


SHEET_COLUMNS = {
    "required": ["trial_id", "label", "year", "outcome", "timepoint", "source"],
    "continuous": ["n_int", "mean_int", "sd_int", "n_ctl", "mean_ctl", "sd_ctl"],
    "binary": ["events_int", "total_int", "events_ctl", "total_ctl"],
    # the record's citation block; authors as Vancouver names separated by ";" (or ",")
    "citation": ["authors", "title", "journal", "volume", "issue", "pages", "doi", "pmid", "first_author",
                 "detail", "identifier"],
    "block": ["measure", "effect_id"],               # per row: the scale used, which effect of the trial
    "arms": ["description_int", "description_ctl"],  # what each arm received
}
ARM_SUFFIX = {"intervention": "_int", "control": "_ctl"}
ARM_FIELDS_BY_TYPE = {"continuous": ("n", "mean", "sd"), "binary": ("events", "total")}
ROB_SOURCE = "rob_source"
ROB_PREFIX = "rob_"
SUPPORT_SUFFIX = "_support"
TOOL_WORDS = {"rob1": "RoB 1", "rob2": "RoB 2"}


@functools.lru_cache(maxsize=None)
def rob_domains() -> dict[str, tuple[str, ...]]:
    """The risk-of-bias tools and their domains, as the trial record schema names them."""
    defs = load_schema("trial")["$defs"]
    return {tool: tuple(defs[f"{tool}_domains"]["propertyNames"]["enum"]) for tool in ("rob1", "rob2")}


@functools.lru_cache(maxsize=None)
def rob_judgements() -> dict[str, tuple[str, ...]]:
    defs = load_schema("trial")["$defs"]
    return {tool: tuple(defs[f"{tool}_domains"]["additionalProperties"]["properties"]["judgement"]["enum"])
            for tool in ("rob1", "rob2")}


def rob_columns(tool: str) -> list[str]:
    """The sheet columns of one risk-of-bias tool: where the judgements were read, then per domain
    the judgement and its support text."""
    return [ROB_SOURCE, *(c for d in rob_domains()[tool] for c in (ROB_PREFIX + d, ROB_PREFIX + d + SUPPORT_SUFFIX))]


def sheet_template_columns(definition: dict, rob_tool: str | None = "rob2") -> list[str]:
    """The header of an import sheet for this review: the required columns, the numbers of every
    outcome type the review has, citation and risk-of-bias columns, and one per moderator."""
    types = {o["type"] for o in definition["outcomes"]}
    cols = [*SHEET_COLUMNS["required"]]
    cols += [c for kind in ("continuous", "binary") if kind in types for c in SHEET_COLUMNS[kind]]
    cols += ["authors", "title", "journal", "doi", "pmid"]
    cols += rob_columns(rob_tool) if rob_tool else []
    cols += [m["name"] for m in definition["moderators"] if m["name"] != "year"]
    return cols


def _read_sheet(path: Path):
    """The sheet as a table of text/number cells (row i is spreadsheet row i + 2) and the name
    problems are reported against: the file, plus the worksheet's name for a workbook."""
    import io

    import pandas as pd
    suffix = path.suffix.lower()
    if not path.exists():
        raise ImportFormatError(f"{path}: file not found; give the path of a .csv or .xlsx data-extraction sheet")
    if not path.is_file():
        raise ImportFormatError(f"{path}: not a file (a folder?); give the path of a .csv or .xlsx sheet")
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise ImportFormatError(f"{path}: use a .csv or .xlsx data-extraction sheet (found {suffix or 'no extension'})")
    if path.stat().st_size == 0:
        raise ImportFormatError(f"{path}: the file is empty; export the sheet again, with its header row")
    if suffix == ".csv":
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ImportFormatError(f"{path}: not UTF-8 text (byte {e.start}); save the sheet as 'CSV UTF-8'") from None
        try:
            # blank lines are kept (and skipped below with a note) so row numbers match the sheet's
            return pd.read_csv(io.StringIO(text), dtype=object, skip_blank_lines=False, keep_default_na=False), str(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
            reason = str(e).strip().splitlines()[-1] if str(e).strip() else e.__class__.__name__
            raise ImportFormatError(f"{path}: malformed CSV ({reason}); look for an unbalanced quote (\") and "
                                    "export the sheet again") from None
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
        name = book.sheet_names[0]
        return pd.read_excel(book, sheet_name=name, dtype=object), f"{path} [{name}]"
    except Exception as e:  # zipfile, openpyxl and XML parsers raise many kinds for a damaged workbook
        raise ImportFormatError(f"{path}: not a readable .xlsx workbook ({e.__class__.__name__}); open it in the "
                                "spreadsheet program and save it again as .xlsx") from None


def _numbers(values: list, kind) -> tuple[list, list]:
    """Each cell as a number (None if empty) and what is wrong with it (None if nothing)."""
    nums, why = [], []
    for v in values:
        if v is None:
            nums.append(None)
            why.append(None)
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            nums.append(None)
            why.append("not a number; write digits only, e.g. 4.1")
            continue
        if not math.isfinite(f):
            nums.append(None)
            why.append("must be a finite number")
        elif kind is int and f != int(f):
            nums.append(None)
            why.append("must be a whole number")
        else:
            nums.append(int(f) if kind is int else f)
            why.append(None)
    return nums, why


def _text(value) -> str | None:
    """A cell as text: a whole number a spreadsheet stored as 12345678.0 (a PMID, a level "1") is
    written as it was typed."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _authors(text: str) -> tuple[list[str], bool]:
    """'Dunn AL; Trivedi MH; et al' -> (['Dunn AL', 'Trivedi MH'], False): names separated by
    ';' (or ',' when there is no ';'), a final 'et al' meaning the list is incomplete."""
    parts = [a.strip() for a in re.split(";" if ";" in text else ",", text)]
    parts = [a for a in parts if a]
    complete = not (parts and re.fullmatch(r"et\.? al\.?", parts[-1], re.IGNORECASE))
    return (parts if complete else parts[:-1]), complete


def _judgement(value: str) -> str:
    """'Some concerns' -> 'some_concerns', 'Low' -> 'low' (as the record schema spells them)."""
    return re.sub(r"[\s-]+", "_", value.strip().lower())


@dataclass
class SheetImport:
    """What an import did (or, with dry_run, would do): records added, records changed with each
    field's old and new value, records the sheet left as they were, and the files written."""

    added: list[str] = field(default_factory=list)
    changed: dict[str, list[FieldChange]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    dry_run: bool = False

    def lines(self) -> list[str]:
        out = [f"{tid}: new record" for tid in self.added[:20]]
        if len(self.added) > 20:
            out.append(f"... and {len(self.added) - 20} more new records")
        out += change_lines(self.changed)
        out.append(f"{len(self.added)} added, {len(self.changed)} updated, {len(self.unchanged)} unchanged"
                   + (" (dry run: nothing written)" if self.dry_run else ""))
        return out


class _Sheet:
    """The cells of a sheet, as text or numbers, and the problems found reading them."""

    def __init__(self, df, src: str, number_cols: dict):
        self.src, self.n_rows = src, len(df)
        self.problems: list[Problem] = []
        # Cells as Python values, None for empty; text stripped. Column-wise, not row by row.
        self.cells = {}
        for col in df.columns:
            self.cells[col] = [None if v is None or (isinstance(v, float) and math.isnan(v))
                               or (isinstance(v, str) and not v.strip()) else (v.strip() if isinstance(v, str) else v)
                               for v in df[col].tolist()]
        self.numbers = {c: _numbers(self.cells[c], kind) for c, kind in number_cols.items() if c in self.cells}

    def cell(self, col, i):
        return self.cells[col][i] if col in self.cells else None

    def text(self, col, i):
        return _text(self.cell(col, i))

    def first_given(self, col, rows: list[int]) -> int:
        """The first of ``rows`` whose ``col`` is not empty (else the first row)."""
        return next((i for i in rows if self.cell(col, i) is not None), rows[0])

    def number(self, col, i, where):
        """A required number; a missing or wrong one is a problem naming the row and column."""
        if col not in self.numbers:
            self.problems.append(Problem(self.src, f"{where}, {col}", "is empty (no such column)"))
            return None
        value, why = self.numbers[col][0][i], self.numbers[col][1][i]
        if why:
            self.problems.append(Problem(self.src, f"{where}, {col}", why, self.cells[col][i]))
        elif value is None:
            self.problems.append(Problem(self.src, f"{where}, {col}", "is empty"))
        return value


def import_sheet(review_dir: Path, sheet: Path, *, update: bool = False, dry_run: bool = False,
                 notes: list | None = None) -> SheetImport:
    """Turn a data-extraction sheet (one row per trial x outcome x timepoint; columns in
    ``SHEET_COLUMNS``, risk-of-bias columns ``rob_columns(tool)`` and one per moderator) into
    trial records. With ``update``, a trial that has a record already gets the values the sheet
    carries and keeps every other field (a hand-added risk-of-bias block, a citation); without it,
    such a trial is refused. Every problem is reported against the sheet and its row; nothing is
    written unless every row maps and every record passes the checks of ``livingmeta check``,
    and nothing at all with ``dry_run``. Blank rows are skipped, columns livingmeta does not know
    are left out, and cells a spreadsheet would run as formulas are kept as text; all three are
    told in ``notes``."""
    notes = [] if notes is None else notes
    review_dir, sheet = Path(review_dir), Path(sheet)
    definition = load_definition(review_dir)
    df, src = _read_sheet(sheet)
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in SHEET_COLUMNS["required"] if c not in df.columns]
    if missing:
        raise RecordWriteError([Problem(src, "(columns)", f"missing {plural(len(missing), 'column')}: "
                                                         f"{', '.join(missing)}; expected at least "
                                                         f"{', '.join(SHEET_COLUMNS['required'])}")])
    outcomes = {o["id"]: o for o in definition["outcomes"]}
    mods = [m for m in definition["moderators"] if m["name"] != "year"]
    arms = definition["arms"]
    number_cols = {c: int if c.startswith(("n_", "events_", "total_")) or c == "year" else float
                   for c in ["year", *SHEET_COLUMNS["continuous"], *SHEET_COLUMNS["binary"]]}
    number_cols |= {m["name"]: float for m in mods if m["type"] == "continuous"}
    cells = _Sheet(df, src, number_cols)
    problems = cells.problems
    rob_cols = {tool: [c for c in rob_columns(tool) if c != ROB_SOURCE] for tool in ("rob1", "rob2")}
    known = {c for cols in SHEET_COLUMNS.values() for c in cols} | {m["name"] for m in mods}
    known |= {ROB_SOURCE, *rob_cols["rob1"], *rob_cols["rob2"]}
    blank = [all(cells.cells[c][i] is None for c in df.columns) for i in range(cells.n_rows)]
    notes += _sheet_notes(cells, known, blank, review_dir / "review.yaml")

    # One value per trial, whatever its row: the trial's fields are compared across its rows.
    trial_cols = ["label", "year", *SHEET_COLUMNS["citation"], *SHEET_COLUMNS["arms"], ROB_SOURCE,
                  *rob_cols["rob1"], *rob_cols["rob2"], *(m["name"] for m in mods)]
    trial_cols = [c for c in trial_cols if c in cells.cells]
    if all(blank):
        raise RecordWriteError([Problem(src, "(rows)", "no data rows below the header: fill one row per trial and "
                                                       "outcome (see the README, 'Import sheet columns')")])
    rows_of, blocks_of, year_of, origin = _rows_by_trial(cells, blank, outcomes, arms)
    carried: dict[str, dict] = {}
    first_row = {tid: rows[0] + 2 for tid, rows in rows_of.items()}
    for tid, rows in rows_of.items():
        for col in trial_cols:  # one value per trial: rows that give it must agree
            given = [(i, cells.cell(col, i)) for i in rows if cells.cell(col, i) is not None]
            for i, value in given[1:]:
                if str(value) != str(given[0][1]):
                    problems.append(Problem(src, f"row {i + 2}, {col}", f"trial {tid} has {col} {given[0][1]!r} in row "
                                                                        f"{given[0][0] + 2}; one trial has one value: "
                                                                        "make the rows agree", value))
        carried[tid] = _trial_fields(cells, rows, tid, year_of[tid], arms, mods, rob_cols) | {"outcomes": blocks_of[tid]}

    existing = {p.stem: p for p in record_paths(review_dir / "trials")}
    clash = sorted(set(carried) & set(existing))
    if clash and not update:
        problems.append(Problem(src, "trial_id", f"records already exist for {', '.join(clash)}; use --update to "
                                                f"merge the sheet into them (fields the sheet does not carry are kept)"))
    if problems:
        raise RecordWriteError(problems)

    result = SheetImport(dry_run=dry_run)
    records, headers, old_records = {}, {}, {}
    for tid, partial in carried.items():
        old = None
        if tid in existing:
            old, prob = load_yaml(existing[tid])
            if prob or not isinstance(old, dict):
                problems.append(prob or Problem(str(existing[tid]), "(top level)", "a trial record must be a mapping "
                                                                                  "of fields"))
                continue
        if "tool" not in partial.get("risk_of_bias", {"tool": None}) and not (old or {}).get("risk_of_bias"):
            notes.append(f"{src}: row {first_row[tid]}, {ROB_SOURCE}: trial {tid} says where risk-of-bias judgements "
                         "were read but gives none; no risk-of-bias block was written")
            del partial["risk_of_bias"]
        if old is not None:
            path = existing[tid]
            new = merge_record(old, partial)
            problems += _rob_problems(old, new, src, first_row[tid])
            changes = field_changes(old, new)
            if not changes:
                result.unchanged.append(tid)
                continue
            result.changed[tid] = changes
            records[path], headers[path], old_records[tid] = new, record_header(path), old
        else:
            path = review_dir / "trials" / f"{tid}.yaml"
            records[path] = _complete_new_record(partial, mods, sheet.name)
            problems += _rob_problems(None, records[path], src, first_row[tid])
            headers[path] = f"# Imported from {sheet.name} by livingmeta import; check and complete by hand.\n"
            result.added.append(tid)
    if problems:
        raise RecordWriteError(problems)

    def explain(record_problems_found: list[Problem]) -> None:
        """The record checks' problems, pointed at the sheet row and column the value came from
        (or at the record file, for a problem in a field the sheet does not carry)."""
        out = []
        for p in record_problems_found:
            tid = Path(p.file).stem
            old = old_records.get(tid)
            if old is not None and any(q.field == p.field and q.message == p.message
                                       for q in record_problems(old, Path(p.file), definition)):
                out.append(Problem(p.file, p.field, f"{p.message} (already so before this import; fix it in the "
                                                    "record)", p.value))
                continue
            row, col = _sheet_cell(p.field, tid, first_row[tid], origin, arms)
            out.append(Problem(src, f"row {row}, {col}", f"trial {tid}: {p.message}", p.value))
        raise RecordWriteError(out)

    if dry_run:
        check_records(records, definition, explain=explain)
    else:
        write_records(records, definition, headers=headers, explain=explain)
        result.written = list(records)
    return result


def _rows_by_trial(cells: _Sheet, blank: list, outcomes: dict, arms: dict):
    """Each trial's rows, outcome blocks (one per row), year (its first row's) and where each block
    came from ((trial, outcome, index) -> sheet row); a row that cannot be mapped is a problem."""
    rows_of: dict[str, list[int]] = {}
    blocks_of: dict[str, dict[str, list]] = {}
    year_of: dict[str, int | None] = {}
    origin: dict[tuple, int] = {}  # (trial id, outcome, index among the sheet's blocks) -> sheet row
    for i in range(cells.n_rows):
        if blank[i]:
            continue
        where = f"row {i + 2}"  # spreadsheet row number (header is row 1)
        tid = str(cells.cell("trial_id", i) or "")
        if not ID_PATTERN.match(tid):
            cells.problems.append(Problem(cells.src, f"{where}, trial_id", "must be lower-case letters, digits and "
                                                                         "hyphens, e.g. smith-2024", tid))
            continue
        oid = str(cells.cell("outcome", i) or "")
        if oid not in outcomes:
            cells.problems.append(Problem(cells.src, f"{where}, outcome", f"must be one of {sorted(outcomes)}", oid))
            continue
        year = cells.number("year", i, where)
        block = {"timepoint": str(cells.cell("timepoint", i) or ""), "source": str(cells.cell("source", i) or "")}
        if not block["source"]:
            cells.problems.append(Problem(cells.src, f"{where}, source", "is empty: say where the numbers were read"))
        for col in SHEET_COLUMNS["block"]:
            if cells.text(col, i) is not None:
                block[col] = cells.text(col, i)
        fields = ARM_FIELDS_BY_TYPE[outcomes[oid]["type"]]
        block["arms"] = {arms[role]: {f: cells.number(f + sfx, i, where) for f in fields}
                         for role, sfx in ARM_SUFFIX.items()}
        rows_of.setdefault(tid, []).append(i)
        year_of.setdefault(tid, year)
        blocks = blocks_of.setdefault(tid, {})
        origin[(tid, oid, len(blocks.get(oid, [])))] = i + 2
        blocks.setdefault(oid, []).append(block)
    return rows_of, blocks_of, year_of, origin


def _sheet_notes(cells: _Sheet, known: set, blank: list, review_yaml: Path) -> list[str]:
    """What the import leaves out or changes, to tell the user: columns it does not import (a
    column without a header and without values aside), blank rows, formula-like text."""
    src, notes = cells.src, []
    for col, values in cells.cells.items():
        if col in known or (all(v is None for v in values) and (not col or col.startswith("Unnamed:"))):
            continue
        notes.append(f"{src}: column {col!r} is not a column livingmeta imports (see the README, 'Import sheet "
                     f"columns') nor a moderator of this review; its values were NOT imported. To import them, "
                     f"declare a moderator named {col!r} in {review_yaml} and import again")
    if any(blank):
        rows = [f"row {i + 2}" for i in range(cells.n_rows) if blank[i]]
        notes.append(f"{src}: {plural(len(rows), 'blank row')} skipped: {', '.join(rows[:10])}{' ...' if len(rows) > 10 else ''}")
    for col in (c for c in cells.cells if c not in cells.numbers):
        for i, v in enumerate(cells.cells[col]):
            if is_formula_like(v):
                notes.append(f"{src}: row {i + 2}, {col}: starts with {v[0]!r}, which a spreadsheet runs as a "
                             f"formula ({v[:40]!r}); kept as text and written with a leading ' in the report's CSV files")
    return notes


def _trial_fields(cells: _Sheet, rows: list[int], tid: str, year, arms: dict, mods: list, rob_cols: dict) -> dict:
    """The trial-level fields a trial's rows carry, each from the first row that gives it (None:
    no row does, so a record that exists keeps its value)."""
    def text(col):
        return cells.text(col, cells.first_given(col, rows))

    citation = {}
    for col in SHEET_COLUMNS["citation"]:
        value = text(col)
        if value is None:
            continue
        if col == "authors":
            citation["authors"], complete = _authors(value)
            if not complete:
                citation["authors_complete"] = False
        else:
            citation[col] = normalise_doi(value) if col == "doi" else value
    rec = {"id": tid, "label": text("label"), "year": year, "citation": citation,
           "arms": {arms[role]: {"role": role, "description": text("description" + sfx)}
                    for role, sfx in ARM_SUFFIX.items()},
           "moderators": {}}
    for m in mods:
        name = m["name"]
        if name not in cells.cells:
            continue
        i = cells.first_given(name, rows)
        if m["type"] == "continuous":
            value, why = cells.numbers[name][0][i], cells.numbers[name][1][i]
            if why:
                cells.problems.append(Problem(cells.src, f"row {i + 2}, {name}", f"moderator {name}: {why}",
                                              cells.cell(name, i)))
        else:
            value = cells.text(name, i)
        rec["moderators"][name] = value
    rob = _risk_of_bias(cells, rows, tid, rob_cols)
    if rob:
        rec["risk_of_bias"] = rob
    return rec


def _risk_of_bias(cells: _Sheet, rows: list[int], tid: str, rob_cols: dict) -> dict | None:
    """The risk-of-bias block a trial's rows carry (the tool follows from the domains named), or None."""
    row_of = functools.partial(cells.first_given, rows=rows)
    given = {tool: [c for c in cols if cells.cell(c, row_of(c)) is not None] for tool, cols in rob_cols.items()}
    tools = [tool for tool, cols in given.items() if cols]
    source = cells.text(ROB_SOURCE, row_of(ROB_SOURCE))
    if len(tools) > 1:
        cells.problems.append(Problem(cells.src, f"row {rows[0] + 2}, {given['rob1'][0]}", f"trial {tid} has RoB 1 "
                                      f"columns ({', '.join(given['rob1'])}) and RoB 2 columns "
                                      f"({', '.join(given['rob2'])}); a record uses one tool: empty the other's"))
        return None
    if not tools:
        return None if source is None else {"source": source}
    tool = tools[0]
    domains = {}
    for d in rob_domains()[tool]:
        col, support_col = ROB_PREFIX + d, ROB_PREFIX + d + SUPPORT_SUFFIX
        judgement, support = cells.text(col, row_of(col)), cells.text(support_col, row_of(support_col))
        if judgement is None:
            if support is not None:
                cells.problems.append(Problem(cells.src, f"row {row_of(support_col) + 2}, {support_col}",
                                              f"support text without a judgement: fill {col} too"))
            continue
        word = _judgement(judgement)
        if word not in rob_judgements()[tool]:
            cells.problems.append(Problem(cells.src, f"row {row_of(col) + 2}, {col}", f"must be one of "
                                          f"{', '.join(rob_judgements()[tool])} ({TOOL_WORDS[tool]})", judgement))
            continue
        domains[d] = {"judgement": word, "support": support}
    return {"tool": tool, "source": source, "domains": domains}


def _rob_problems(old: dict | None, new: dict, src: str, row: int) -> list[Problem]:
    """What the record checks would say less clearly about a sheet's risk of bias: a tool other
    than the record's (RoB 1 and RoB 2 domains differ, so merging would mix them), and judgements
    without where they were read."""
    rob = new.get("risk_of_bias")
    if not rob:
        return []
    tid, where = new["id"], f"row {row}"
    old_tool = ((old or {}).get("risk_of_bias") or {}).get("tool")
    if old_tool and rob.get("tool") != old_tool:
        return [Problem(src, f"{where}, {ROB_PREFIX}...", f"trial {tid}: the record's risk of bias is assessed with "
                                                          f"{TOOL_WORDS[old_tool]}, the sheet gives {TOOL_WORDS[rob['tool']]} "
                                                          "domains; use the record's tool's columns, or change its "
                                                          "risk_of_bias block by hand")]
    if not rob.get("source"):
        return [Problem(src, f"{where}, {ROB_SOURCE}", f"trial {tid}: is empty: say where the risk-of-bias "
                                                        "judgements were read or who made them (e.g. 'our "
                                                        "assessment, two reviewers independently')")]
    return []


def _complete_new_record(partial: dict, mods: list, sheet_name: str) -> dict:
    """A new record from what the sheet carries: the label defaults to the id, the first author
    to the first author listed (else the label's first word), every moderator of the review is
    present (null = not reported)."""
    label = partial["label"] or partial["id"]
    citation = {k: v for k, v in partial["citation"].items() if v is not None}
    first = citation.pop("first_author", None) or (citation.get("authors") or [label])[0].split()[0]
    rec = {"id": partial["id"], "label": label, "year": partial["year"],
           "citation": {"first_author": first, **citation, "source_urls": []},
           "arms": partial["arms"],
           "moderators": {m["name"]: partial["moderators"].get(m["name"]) for m in mods},
           "moderator_sources": {"imported_from": f"{sheet_name} (livingmeta import)"},
           "outcomes": partial["outcomes"]}
    if "risk_of_bias" in partial:
        rec["risk_of_bias"] = partial["risk_of_bias"]
    return rec


_BLOCK_FIELD = re.compile(r"^outcomes\.([^.\[]+)\[(\d+)\](?:\.arms\.([^.]+)(?:\.(\w+))?|\.(\w+))?")
_ROB_FIELD = re.compile(r"^risk_of_bias\.(?:domains\.(\w+)(?:\.(support))?|(\w+))")


def _sheet_cell(field: str, tid: str, first: int, origin: dict, arms: dict) -> tuple[int, str]:
    """The sheet row and column a record field came from (outcomes.<outcome>[0].arms.<arm>.sd
    -> the row of that block, sd_int); trial-level fields come from the trial's first row."""
    m = _BLOCK_FIELD.match(field)
    if m:
        oid, idx, arm, arm_field, block_field = m.groups()
        row = origin.get((tid, oid, int(idx)), first)
        if arm and arm_field:
            role = "intervention" if arm == arms["intervention"] else "control"
            return row, arm_field + ARM_SUFFIX[role]
        return row, block_field or arm or "outcome"
    m = _ROB_FIELD.match(field)
    if m:
        domain, support, top = m.groups()
        return first, (ROB_PREFIX + domain + (SUPPORT_SUFFIX if support else "")) if domain else ROB_SOURCE
    if field.startswith("arms."):
        arm = field.split(".")[1]
        return first, "description" + ARM_SUFFIX["intervention" if arm == arms["intervention"] else "control"]
    top = field.split(".")[-1] if field.startswith(("citation.", "moderators.")) else field
    return first, top
