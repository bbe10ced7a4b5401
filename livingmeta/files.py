"""File helpers shared by the rule scripts: atomic writes and one progress line per stage."""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return None if math.isnan(f) else (("Infinity" if f > 0 else "-Infinity") if math.isinf(f) else f)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def umask_mode(base: int = 0o666) -> int:
    """``base`` as the process's umask would leave it (what ``open()`` gives a new file)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return base & ~mask


def atomic_write_bytes(path, data: bytes, mode: int | None = None) -> None:
    """Write to a temporary file beside ``path``, then rename: readers never see half a file,
    and a crash leaves the previous version in place. The file gets ``mode``, by default what
    the umask gives any new file (mkstemp alone would leave it readable by its owner only)."""
    atomic_write_many({path: data}, mode=mode)


def atomic_write_many(contents: dict, mode: int | None = None, check=None) -> None:
    """Write several files all or nothing as far as the disk is concerned: every file is first
    written in full to a temporary file beside it, and only when all are written are they renamed
    into place. A full disk, a quota or a read-only folder therefore changes no file (the error
    names the file that could not be written); renames need no space, so once they start each
    file is either its old or its new version, never a fragment. ``check({path: temporary
    file})`` may read what was written and raise to keep every file as it was."""
    written: list[tuple[str, Path]] = []
    try:
        for path, data in contents.items():
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
                written.append((tmp, path))
                with os.fdopen(fd, "wb") as fh:
                    os.fchmod(fh.fileno(), umask_mode() if mode is None else mode)
                    fh.write(data)
            except OSError as e:  # the temporary file's name means nothing to a reader: name the target
                raise OSError(e.errno, e.strerror, str(path)) from None
        if check is not None:
            check({path: Path(tmp) for tmp, path in written})
        for tmp, path in written:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in written:
            Path(tmp).unlink(missing_ok=True)
        raise


# The temporary file atomic_write_many writes beside ``name``: ".name." + mkstemp's 8 characters + ".tmp".
ATOMIC_SCRATCH = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


@contextlib.contextmanager
def writers_take_turns(folder: Path):
    """Hold an exclusive ``flock`` on ``folder`` for the block, then remove what a writer killed
    before its renames (SIGKILL runs no cleanup) left there: while the lock is held, every
    temporary file of atomic_write_many in the folder belongs to a dead writer. The kernel
    releases the lock when the process ends, however it ends."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        for scratch in folder.iterdir():
            if ATOMIC_SCRATCH.match(scratch.name) and scratch.is_file() and not scratch.is_symlink():
                scratch.unlink(missing_ok=True)
        yield
    finally:
        os.close(fd)  # releases the lock


def write_json(path, obj, check=None) -> None:
    """Write ``obj`` as JSON: numpy values as plain numbers, NaN as null (missing stays missing;
    json.dumps refuses any NaN left). ``check(data, path)`` sees exactly what will be written and
    may raise to keep the file from being written (livingmeta.pipeline.contracts)."""
    data = _jsonable(obj)
    if check is not None:
        check(data, path)
    text = json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs such a cell as a formula


def is_formula_like(value) -> bool:
    """Text a spreadsheet would execute (``=cmd|' /C calc'!A0``); numbers written as text
    ("-0.5", "+3") are data, not formulas."""
    if not isinstance(value, str) or not value.startswith(FORMULA_LEAD):
        return False
    try:
        float(value)
        return False
    except ValueError:
        return True


def neutralise_formulas(frame):
    """A copy of ``frame`` whose formula-like text cells start with a single quote (OWASP's
    advice for CSV injection): the CSVs attached to the PDF and kept in each edition open as
    text in any spreadsheet."""
    from pandas.api.types import is_object_dtype, is_string_dtype
    out = frame
    for col in frame.columns:
        if is_object_dtype(frame[col]) or is_string_dtype(frame[col]):
            bad = frame[col].map(is_formula_like)
            if bad.any():
                out = out.copy() if out is frame else out
                out.loc[bad, col] = "'" + frame.loc[bad, col].astype(str)
    return out


def write_csv(path, frame) -> None:
    atomic_write_bytes(path, neutralise_formulas(frame).to_csv(index=False, lineterminator="\n").encode("utf-8"))


def stage_line(stage: str, message: str, log=None, console=None) -> None:
    """Print the one line a stage reports about what it produced (and append it to its log).
    ``console``: where to print it, by default sys.stderr (a rule script's sys.stderr is its log,
    see livingmeta.pipeline.rule, so it passes the terminal's stream)."""
    line = f"[livingmeta:{stage}] {message}"
    print(line, file=console or sys.stderr, flush=True)
    if log:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
