"""Getting trials in: a commented template for a new record, and import from the data-extraction
spreadsheet (CSV or XLSX) reviewers work in. Both write files only after every row checks out."""

from __future__ import annotations

import re
from pathlib import Path

from .files import atomic_write_bytes
from .records import Problem, RecordError, load_review, load_yaml, record_paths

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
    import pandas as pd
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return pd.read_excel(path, dtype=object)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, dtype=object, keep_default_na=True)
    raise RecordError([Problem(str(path), "(file)", "use a .csv or .xlsx data-extraction sheet")])


def import_sheet(review_dir: Path, sheet: Path, *, overwrite: bool = False) -> list[Path]:
    """Turn a data-extraction sheet (one row per trial x outcome x timepoint; columns in
    ``SHEET_COLUMNS`` plus one per moderator) into trial records. Rows that cannot be mapped are
    refused with their row number; nothing is written unless every row maps and the resulting
    review validates."""
    import math
    import shutil
    import tempfile

    import pandas as pd
    import yaml
    definition, prob = load_yaml(review_dir / "review.yaml")
    if prob:
        raise RecordError([prob])
    df = _read_sheet(sheet)
    df.columns = [str(c).strip() for c in df.columns]
    problems: list[Problem] = []
    missing = [c for c in SHEET_COLUMNS["required"] if c not in df.columns]
    if missing:
        raise RecordError([Problem(str(sheet), "(columns)", f"missing column(s) {', '.join(missing)}; expected at "
                                                           f"least {', '.join(SHEET_COLUMNS['required'])}")])
    outcomes = {o["id"]: o for o in definition["outcomes"]}
    mods = [m for m in definition["moderators"] if m["name"] != "year"]
    arms = definition["arms"]

    def val(row, col):
        v = row.get(col)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip()) else v

    def num(row, col, kind, where):
        v = val(row, col)
        if v is None:
            problems.append(Problem(str(sheet), where, f"{col} is empty"))
            return None
        try:
            f = float(v)
        except (TypeError, ValueError):
            problems.append(Problem(str(sheet), where, f"{col} is not a number", v))
            return None
        if kind is int:
            if f != int(f):
                problems.append(Problem(str(sheet), where, f"{col} must be a whole number", v))
                return None
            return int(f)
        return f

    records: dict[str, dict] = {}
    for i, row in df.iterrows():
        where = f"row {i + 2}"  # spreadsheet row number (header is row 1)
        row = row.to_dict()
        tid = str(val(row, "trial_id") or "").strip()
        if not ID_PATTERN.match(tid):
            problems.append(Problem(str(sheet), where, "trial_id must be lower-case letters, digits and hyphens", tid))
            continue
        oid = str(val(row, "outcome") or "")
        if oid not in outcomes:
            problems.append(Problem(str(sheet), where, f"outcome must be one of {sorted(outcomes)}", oid))
            continue
        spec = outcomes[oid]
        year = num(row, "year", int, where)
        block = {"timepoint": str(val(row, "timepoint") or ""), "source": str(val(row, "source") or "")}
        if not block["source"]:
            problems.append(Problem(str(sheet), where, "source is empty: say where the numbers were read"))
        if spec["type"] == "continuous":
            n1, m1, s1 = num(row, "n_int", int, where), num(row, "mean_int", float, where), num(row, "sd_int", float, where)
            n2, m2, s2 = num(row, "n_ctl", int, where), num(row, "mean_ctl", float, where), num(row, "sd_ctl", float, where)
            block["arms"] = {arms["intervention"]: {"n": n1, "mean": m1, "sd": s1},
                             arms["control"]: {"n": n2, "mean": m2, "sd": s2}}
        else:
            block["arms"] = {arms["intervention"]: {"events": num(row, "events_int", int, where), "total": num(row, "total_int", int, where)},
                             arms["control"]: {"events": num(row, "events_ctl", int, where), "total": num(row, "total_ctl", int, where)}}
        rec = records.setdefault(tid, {
            "id": tid, "label": str(val(row, "label") or tid), "year": year,
            "citation": {c: (None if val(row, c) is None else str(val(row, c))) for c in SHEET_COLUMNS["citation"]}
            | {"first_author": str(val(row, "first_author") or str(val(row, "label") or tid).split()[0]), "source_urls": []},
            "arms": {arms["intervention"]: {"role": "intervention", "description": None},
                     arms["control"]: {"role": "control", "description": None}},
            "moderators": {}, "moderator_sources": {"imported_from": f"{sheet.name} (livingmeta import)"},
            "outcomes": {}})
        for m in mods:
            v = val(row, m["name"])
            if v is not None and m["type"] == "continuous":
                try:
                    v = float(v)
                except (TypeError, ValueError):
                    problems.append(Problem(str(sheet), where, f"moderator {m['name']} must be a number", v))
            rec["moderators"][m["name"]] = v if v is None or m["type"] == "continuous" else str(v)
        rec["outcomes"].setdefault(oid, []).append(block)
    existing = {p.stem for p in record_paths(review_dir / "trials")}
    clash = sorted(set(records) & existing)
    if clash and not overwrite:
        problems.append(Problem(str(sheet), "trial_id", f"records already exist for {', '.join(clash)}; "
                                                      "use --overwrite to replace them"))
    if problems:
        raise RecordError(problems)
    # Validate the whole review with the new records in a scratch copy before writing anything.
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / review_dir.name
        shutil.copytree(review_dir, copy)
        for tid, rec in records.items():
            (copy / "trials" / f"{tid}.yaml").write_text(yaml.safe_dump(rec, sort_keys=False, allow_unicode=True))
        load_review(copy)  # raises RecordError listing every problem
    written = []
    for tid, rec in records.items():
        path = review_dir / "trials" / f"{tid}.yaml"
        header = f"# Imported from {sheet.name} by livingmeta import; check and complete by hand.\n"
        atomic_write_bytes(path, (header + yaml.safe_dump(rec, sort_keys=False, allow_unicode=True)).encode("utf-8"))
        written.append(path)
    return written
