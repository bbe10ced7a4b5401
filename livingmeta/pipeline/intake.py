"""Getting trials in: a commented template for a new record, and import from the data-extraction
spreadsheet (CSV or XLSX) reviewers work in. Both write files only after every row checks out."""

from __future__ import annotations

import math
import re
from pathlib import Path

from livingmeta.errors import ImportFormatError
from livingmeta.files import atomic_write_bytes, is_formula_like
from livingmeta.pipeline.records import Problem, RecordError, dump_yaml, load_yaml, record_paths, record_problems

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


def _review_paths(review: str, data_dir: Path) -> Path:
    p = Path(review)
    return p if (p / "review.yaml").is_file() else data_dir / review


def new_trial_template(review_dir: Path, trial_id: str, *, label: str | None = None, year: int | None = None) -> Path:
    """Write trials/<trial_id>.yaml with every field of the review, commented; refuse to overwrite."""
    if not ID_PATTERN.match(trial_id):
        raise RecordError([Problem(trial_id, "id", "use lower-case letters, digits and hyphens, e.g. smith-2024")])
    definition, prob = load_yaml(review_dir / "review.yaml")
    if prob:
        raise RecordError([prob])
    path = review_dir / "trials" / f"{trial_id}.yaml"
    if path.exists() or path.with_suffix(".yml").exists():
        raise RecordError([Problem(str(path), "(file)", "a record with this id exists; edit it instead")])
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
    atomic_write_bytes(path, text.encode("utf-8"))
    return path


SHEET_COLUMNS = {
    "required": ["trial_id", "label", "year", "outcome", "timepoint", "source"],
    "continuous": ["n_int", "mean_int", "sd_int", "n_ctl", "mean_ctl", "sd_ctl"],
    "binary": ["events_int", "total_int", "events_ctl", "total_ctl"],
    "citation": ["first_author", "title", "journal", "detail", "identifier"],
}


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


ARM_SUFFIX = {"intervention": "_int", "control": "_ctl"}
TRIAL_FIELDS = ["label", "year", *SHEET_COLUMNS["citation"]]  # one value per trial, whatever the row


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


def import_sheet(review_dir: Path, sheet: Path, *, overwrite: bool = False, notes: list | None = None) -> list[Path]:
    """Turn a data-extraction sheet (one row per trial x outcome x timepoint; columns in
    ``SHEET_COLUMNS`` plus one per moderator) into trial records. Every problem is reported
    against the sheet and its row; nothing is written unless every row maps and every new
    record passes the checks of ``livingmeta check``. Blank rows are skipped and cells a
    spreadsheet would run as formulas are kept as text; both are told in ``notes``."""
    import pandas as pd
    notes = [] if notes is None else notes
    review_dir, sheet = Path(review_dir), Path(sheet)
    definition, prob = load_yaml(review_dir / "review.yaml")
    if prob:
        raise RecordError([prob])
    df, src = _read_sheet(sheet)
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in SHEET_COLUMNS["required"] if c not in df.columns]
    if missing:
        raise RecordError([Problem(src, "(columns)", f"missing column(s) {', '.join(missing)}; expected at "
                                                    f"least {', '.join(SHEET_COLUMNS['required'])}")])
    outcomes = {o["id"]: o for o in definition["outcomes"]}
    mods = [m for m in definition["moderators"] if m["name"] != "year"]
    arms = definition["arms"]
    problems: list[Problem] = []

    # Cells as Python values, None for empty; text stripped. Column-wise, not row by row.
    cells = {}
    for col in df.columns:
        values = df[col].tolist()
        cells[col] = [None if v is None or (isinstance(v, float) and math.isnan(v))
                      or (isinstance(v, str) and not v.strip()) else (v.strip() if isinstance(v, str) else v)
                      for v in values]
    n_rows = len(df)
    blank = [all(cells[c][i] is None for c in df.columns) for i in range(n_rows)]
    if any(blank):
        rows = [f"row {i + 2}" for i in range(n_rows) if blank[i]]
        notes.append(f"{src}: {len(rows)} blank row(s) skipped: {', '.join(rows[:10])}{' ...' if len(rows) > 10 else ''}")
    number_cols = {c: int if c.startswith(("n_", "events_", "total_")) or c == "year" else float
                   for c in ["year", *SHEET_COLUMNS["continuous"], *SHEET_COLUMNS["binary"]] if c in df.columns}
    numbers = {c: _numbers(cells[c], kind) for c, kind in number_cols.items()}
    for m in mods:
        if m["type"] == "continuous" and m["name"] in df.columns:
            numbers[m["name"]] = _numbers(cells[m["name"]], float)
    text_cols = [c for c in df.columns if c not in numbers]
    for col in text_cols:
        for i, v in enumerate(cells[col]):
            if is_formula_like(v):
                notes.append(f"{src}: row {i + 2}, {col}: starts with {v[0]!r}, which a spreadsheet runs as a "
                             f"formula ({v[:40]!r}); kept as text and written with a leading ' in the report's CSV files")

    def cell(col, i):
        return cells[col][i] if col in cells else None

    def number(col, i, where):
        if col not in numbers:
            problems.append(Problem(src, f"{where}, {col}", "is empty (no such column)"))
            return None
        value, why = numbers[col][0][i], numbers[col][1][i]
        if why:
            problems.append(Problem(src, f"{where}, {col}", why, cells[col][i]))
        elif value is None:
            problems.append(Problem(src, f"{where}, {col}", "is empty"))
        return value

    records: dict[str, dict] = {}
    first_row: dict[str, int] = {}
    origin: dict[tuple, int] = {}  # (trial id, outcome, block index) -> sheet row
    for i in range(n_rows):
        if blank[i]:
            continue
        r = i + 2  # spreadsheet row number (header is row 1)
        where = f"row {r}"
        tid = str(cell("trial_id", i) or "")
        if not ID_PATTERN.match(tid):
            problems.append(Problem(src, f"{where}, trial_id", "must be lower-case letters, digits and hyphens, "
                                                               "e.g. smith-2024", tid))
            continue
        oid = str(cell("outcome", i) or "")
        if oid not in outcomes:
            problems.append(Problem(src, f"{where}, outcome", f"must be one of {sorted(outcomes)}", oid))
            continue
        spec = outcomes[oid]
        year = number("year", i, where)
        block = {"timepoint": str(cell("timepoint", i) or ""), "source": str(cell("source", i) or "")}
        if not block["source"]:
            problems.append(Problem(src, f"{where}, source", "is empty: say where the numbers were read"))
        fields = ARM_FIELDS_BY_TYPE[spec["type"]]
        block["arms"] = {arms[role]: {f: number(f + sfx, i, where) for f in fields} for role, sfx in ARM_SUFFIX.items()}
        label = str(cell("label", i) or tid)
        if tid in records:
            first = first_row[tid]
            for col in TRIAL_FIELDS + [m["name"] for m in mods]:
                a, b = cell(col, first - 2), cell(col, i)
                if a is not None and b is not None and str(a) != str(b):
                    problems.append(Problem(src, f"{where}, {col}", f"trial {tid} has {col} {a!r} in row {first}; "
                                                                    "one trial has one value: make the rows agree", b))
        else:
            first_row[tid] = r
            records[tid] = {
                "id": tid, "label": label, "year": year,
                "citation": {c: (None if cell(c, i) is None else str(cell(c, i))) for c in SHEET_COLUMNS["citation"]}
                | {"first_author": str(cell("first_author", i) or label.split()[0]), "source_urls": []},
                "arms": {arms["intervention"]: {"role": "intervention", "description": None},
                         arms["control"]: {"role": "control", "description": None}},
                "moderators": {}, "moderator_sources": {"imported_from": f"{sheet.name} (livingmeta import)"},
                "outcomes": {}}
        rec = records[tid]
        for m in mods:
            name = m["name"]
            if m["type"] == "continuous" and name in numbers:
                value, why = numbers[name][0][i], numbers[name][1][i]
                if why:
                    problems.append(Problem(src, f"{where}, {name}", f"moderator {name}: {why}", cell(name, i)))
            else:
                value = None if cell(name, i) is None else str(cell(name, i))
            rec["moderators"].setdefault(name, value)
        origin[(tid, oid, len(rec["outcomes"].get(oid, [])))] = r
        rec["outcomes"].setdefault(oid, []).append(block)
    existing = {p.stem for p in record_paths(review_dir / "trials")}
    clash = sorted(set(records) & existing)
    if clash and not overwrite:
        problems.append(Problem(src, "trial_id", f"records already exist for {', '.join(clash)}; "
                                                "use --overwrite to replace them"))
    if problems:
        raise RecordError(problems)
    # The checks of `livingmeta check`, on the new records in memory, reported against the sheet.
    for tid, rec in records.items():
        for p in record_problems(rec, Path(f"{tid}.yaml"), definition):
            row, col = _sheet_cell(p.field, tid, first_row[tid], origin, arms)
            problems.append(Problem(src, f"row {row}, {col}", f"trial {tid}: {p.message}", p.value))
    if problems:
        raise RecordError(problems)
    written = []
    header = f"# Imported from {sheet.name} by livingmeta import; check and complete by hand.\n"
    try:
        for tid, rec in records.items():
            path = review_dir / "trials" / f"{tid}.yaml"
            atomic_write_bytes(path, (header + dump_yaml(rec)).encode("utf-8"))
            written.append(path)
    except BaseException:  # e.g. a full disk half-way: remove the new records, so a rerun starts clean
        for path in written:
            if path.stem not in existing:
                path.unlink(missing_ok=True)
        raise
    return written


ARM_FIELDS_BY_TYPE = {"continuous": ("n", "mean", "sd"), "binary": ("events", "total")}
_BLOCK_FIELD = re.compile(r"^outcomes\.([^.\[]+)\[(\d+)\](?:\.arms\.([^.]+)(?:\.(\w+))?|\.(\w+))?")


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
    top = field.split(".")[-1] if field.startswith(("citation.", "moderators.")) else field
    return first, top
