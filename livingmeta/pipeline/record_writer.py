"""Writing trial records: the one way new-trial, import and references change a record file.

A record is written only after it passes the checks of ``livingmeta check``
(``records.record_problems``), as YAML that reads back as the same values (``records.dump_yaml``
quotes all text, so a title "1e5" stays text), keeping the comment lines at the top of the
file. All the records of one command are written to temporary files first and renamed into
place only when every one is written (``files.atomic_write_many``): a full disk or a read-only
folder changes no record, and the error says so. Writers of one folder take turns, and the next
write removes the temporary files of a writer that was killed before its renames
(``files.writers_take_turns``).

Updating a record merges: ``merge_record`` sets the fields a source carries and keeps every other
field, and ``field_changes`` lists what changed as ``field: old -> new``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from livingmeta.files import atomic_write_many, writers_take_turns
from livingmeta.pipeline.records import RecordWriteError, dump_yaml, record_problems


def record_header(path: Path) -> str:
    """The comment lines at the top of an existing record (what a reviewer wrote about it), or ""."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    return "".join(itertools.takewhile(lambda line: line.startswith("#"), text.splitlines(keepends=True)))


def write_files(contents: dict[Path, bytes], check=None) -> None:
    """Write record files all or nothing (``files.atomic_write_many``); a write that fails is an
    OSError naming the file and saying that no record was changed. ``check(temporary files)``
    sees what was written before anything is renamed into place and may raise to stop it."""
    try:
        with contextlib.ExitStack() as turns:  # record writers of one folder take turns (and tidy up)
            for folder in sorted({Path(path).parent for path in contents}):
                turns.enter_context(writers_take_turns(folder))
            atomic_write_many(contents, check=check)
    except OSError as e:
        what = "the record is" if len(contents) == 1 else f"none of the {len(contents)} records was written; all are"
        raise OSError(e.errno, f"{e.strerror}; {what} as before this command", e.filename) from None


def check_records(records: dict[Path, dict], definition: dict, explain=None) -> None:
    """Raise RecordWriteError listing every problem the record checks find in ``records`` (path ->
    record). ``explain(problems)`` may instead raise an error that points at where the values
    came from (a sheet's rows)."""
    problems = [p for path, rec in records.items() for p in record_problems(rec, Path(path), definition)]
    if problems:
        if explain is not None:
            explain(problems)
        raise RecordWriteError(problems)


def write_records(records: dict[Path, dict], definition: dict, headers: dict[Path, str] | None = None,
                  explain=None) -> None:
    """Write ``records`` (path -> record, each after its ``headers`` comment lines) if every one
    passes the record checks (``check_records``), else write nothing."""
    check_records(records, definition, explain)
    headers = headers or {}
    write_files({Path(path): (headers.get(path, "") + dump_yaml(rec)).encode("utf-8")
                 for path, rec in records.items()})


# --- Merging ------------------------------------------------------------------------------------

def merge_fields(old, new):
    """``new`` laid over ``old``: mappings are merged key by key, None in ``new`` (not given)
    keeps the old value, any other value replaces it. Nothing in ``old`` is removed."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = dict(old)
        for key, value in new.items():
            out[key] = merge_fields(old[key], value) if key in old else value
        return out
    return old if new is None else new


def block_key(block: dict) -> tuple:
    """What identifies an outcome block within its outcome: its timepoint and effect id."""
    return block.get("timepoint"), block.get("effect_id")


def merge_record(old: dict, new: dict) -> dict:
    """A record updated with what ``new`` carries, keeping every field it does not carry. Outcome
    blocks are matched by timepoint (and effect_id): a matched block is merged field by field, a
    new one is added, and blocks ``new`` does not mention are kept."""
    merged = merge_fields({k: v for k, v in old.items() if k != "outcomes"},
                          {k: v for k, v in new.items() if k != "outcomes"})
    outcomes = {oid: list(blocks) for oid, blocks in (old.get("outcomes") or {}).items()}
    for oid, blocks in (new.get("outcomes") or {}).items():
        kept = outcomes.setdefault(oid, [])
        index = {block_key(b): i for i, b in enumerate(kept) if isinstance(b, dict)}
        for block in blocks:
            i = index.get(block_key(block))
            if i is None:
                kept.append(block)
            else:
                kept[i] = merge_fields(kept[i], block)
    merged["outcomes"] = outcomes
    return merged


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: object
    new: object

    def __str__(self) -> str:
        return f"{self.field}: {_shown(self.old)} -> {_shown(self.new)}"


def _shown(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def change_lines(changed: dict[str, list[FieldChange]]) -> list[str]:
    """Per record, how many fields changed, then one indented ``field: old -> new`` line each."""
    out = []
    for tid, changes in changed.items():
        out.append(f"{tid}: {len(changes)} field{'s' if len(changes) != 1 else ''} changed")
        out += [f"  {c}" for c in changes]
    return out


_MISSING = object()


def field_changes(old, new, where: str = "") -> list[FieldChange]:
    """Every value that differs between two records, as ``field: old -> new``, fields named as
    ``livingmeta check`` names them (outcomes.<outcome>[0].arms.<arm>.mean). Lists of plain
    values (authors) are one field."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in [*old, *(k for k in new if k not in old)]:
            sub = f"{where}.{key}" if where else str(key)
            out += field_changes(old.get(key, _MISSING), new.get(key, _MISSING), sub)
        return out
    if (isinstance(old, list) and isinstance(new, list) and (old + new)
            and all(isinstance(v, dict) for v in old + new)):
        out = []
        for i in range(max(len(old), len(new))):
            out += field_changes(old[i] if i < len(old) else _MISSING, new[i] if i < len(new) else _MISSING,
                                 f"{where}[{i}]")
        return out
    if old is _MISSING and new is _MISSING:
        return []
    if old is _MISSING or new is _MISSING or type(old) is not type(new) or old != new:
        return [FieldChange(where, None if old is _MISSING else old, None if new is _MISSING else new)]
    return []


_DOI_PREFIX = re.compile(r"^\s*(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)


def normalise_doi(value: str) -> str:
    """'https://doi.org/10.1/x' or 'doi:10.1/x' -> '10.1/x' (records keep the bare DOI)."""
    return _DOI_PREFIX.sub("", str(value)).strip()
