"""Writing a whole imported review, atomically, and ``--sync`` against an existing one.

Shared by every whole-review importer (RevMan 5, RevMan Web data package, Metapsy). An importer
parses its source into an :class:`ImportedReview` (review.yaml content + one record per trial,
all plain dicts), then calls :func:`write_review`:

    from livingmeta.living.importers.review_writer import ImportedReview, write_review, trial_id_for
    imported = ImportedReview(definition={...}, records={"smith-2004": {...}, ...},
                              source="Fleiss1993.rm5", header="Imported from Fleiss1993.rm5 ...")
    changes = write_review(Path("data/reviews/fleiss-1993"), imported, sync=False)
    print(changes.describe())          # one line per trial added / changed / removed

Guarantees:
- Nothing is written unless the whole review validates (``records.load_review`` on a scratch
  copy built beside the target); the scratch copy then replaces the target in one atomic swap
  (Linux ``renameat2(RENAME_EXCHANGE)``), so a reader never sees half a review, a failed import
  leaves the previous one untouched and no moment exists without the review. Where the kernel
  or file system cannot swap, two renames are used; a kill between them leaves the previous
  review in the scratch folder, and the next import restores it before reading anything.
- Imports into one folder of reviews take turns (an exclusive ``flock`` on that folder, released
  by the kernel when the process dies), so a scratch folder (``.REVIEW.import-*``) present when
  an import starts belongs to an import that was killed: it is removed, after restoring a
  review it held (``recover_interrupted_imports``).
- A folder that already holds a review is refused unless ``sync=True``. With ``sync`` the review
  becomes equal to the source: trials added, changed and removed (their record files deleted,
  so the edition machinery's "what changed" lists them as removed), review.yaml replaced key by
  key (top-level keys the importer does not produce, e.g. ``report:`` written by hand, are kept; an
  importer that declares the keys its source owns keeps every other one: ``keep_hand_edits``).
  Files other than review.yaml and trials/*.yaml (provenance/, notes) are kept as they are.
- A trial counts as "changed" when its record differs in any value: keep the source's file name
  out of records (put it in review.yaml), or renaming the file marks every trial changed.
- ``extra_files`` (relative path -> bytes) are written too, e.g. a provenance copy of the source.
- ``warnings`` are for the caller to print (write_review does not print).

Errors are ``ImportFormatError`` (refusals about the target) or ``records.RecordError`` (the
imported review does not validate; every problem listed).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from livingmeta.errors import ImportFormatError
from livingmeta.formatting import plural

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass
class ImportedReview:
    """A review parsed from a whole-review source, ready to be written."""

    definition: dict                      # content of review.yaml (``id`` is set by write_review)
    records: dict[str, dict]              # trial id -> record (each with ``id`` equal to the key)
    source: str                           # the imported file, for messages and headers
    header: str = ""                      # comment written at the top of every file (one line)
    extra_files: dict[str, bytes] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)   # shown on the console (parts not imported, ...)
    # With ``--sync``: the keys of review.yaml the source owns (top level, and per outcome matched by id);
    # every other key keeps its value in the review being synced (hand edits: title, labels, an outcome's
    # label or clinically_important_difference). None: every key the importer writes replaces the old one.
    source_keys: tuple | None = None
    source_outcome_keys: tuple = ()


@dataclass
class SyncChanges:
    """What write_review did: trial ids added, changed, removed; whether review.yaml changed."""

    review_dir: Path
    created: bool
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    definition_changed: bool = False
    recovered: list[str] = field(default_factory=list)   # what was cleaned up after a killed import

    def describe(self) -> list[str]:
        """Console lines, one per trial touched (the issue asks each to be listed)."""
        if self.created:
            return self.recovered + [f"created review {self.review_dir} with {plural(len(self.added), 'trial record')}"] + \
                   [f"  added    {t}" for t in self.added]
        lines = self.recovered + [f"synced review {self.review_dir}: {len(self.added)} added, {len(self.changed)} changed, "
                 f"{len(self.removed)} removed, {len(self.unchanged)} unchanged"
                 + ("; review.yaml changed" if self.definition_changed else "")]
        lines += [f"  added    {t}" for t in self.added]
        lines += [f"  changed  {t}" for t in self.changed]
        lines += [f"  removed  {t} (its record was deleted; the next edition lists it as removed)" for t in self.removed]
        return lines


def trial_id_for(name: str, taken: set[str] | None = None) -> str:
    """A record id from a study name ("ISIS-2" -> "isis-2", "Müller 2004a" -> "muller-2004a"),
    unique within ``taken`` (a suffix -2, -3 ... is added); ``taken`` is updated."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii").lower()
    base = re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "study"
    if not base[0].isalnum():
        base = f"s-{base}"
    tid, n = base, 2
    taken = taken if taken is not None else set()
    while tid in taken:
        tid, n = f"{base}-{n}", n + 1
    taken.add(tid)
    return tid


class _NoAliasDumper(yaml.SafeDumper):
    """Records refuse YAML aliases (records.py), so an object used twice is written out twice."""

    def ignore_aliases(self, data):
        return True


def _dump(data: dict, header: str) -> bytes:
    head = "".join(f"# {line}\n" for line in header.splitlines() if line.strip())
    body = yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, width=100)
    return (head + body).encode("utf-8")


def _read_existing(review_dir: Path) -> tuple[dict, dict[str, dict], dict[str, Path]]:
    """review.yaml, the records by id and their files (``*.yaml`` and ``*.yml``, as records.record_paths)."""
    from livingmeta.pipeline.records import RecordWriteError, load_yaml, record_paths
    definition, prob = load_yaml(review_dir / "review.yaml")
    if prob:
        raise RecordWriteError([prob])
    records, files = {}, {}
    for path in record_paths(review_dir / "trials"):
        rec, prob = load_yaml(path)
        records[path.stem] = rec if prob is None else None
        files[path.stem] = path
    return definition or {}, records, files


def keep_hand_edits(new: dict, old: dict, imported: "ImportedReview") -> dict:
    """review.yaml after a sync: the source's keys (``imported.source_keys``; per outcome
    ``source_outcome_keys``) from the source, every other key as the review had it."""
    if imported.source_keys is None:
        return {**old, **new}
    merged = {**new, **{k: v for k, v in old.items() if k not in imported.source_keys}}
    old_outcomes = {o.get("id"): o for o in old.get("outcomes", []) if isinstance(o, dict)}
    merged["outcomes"] = [{**o, **{k: v for k, v in old_outcomes.get(o["id"], {}).items()
                                   if k not in imported.source_outcome_keys}} for o in new.get("outcomes", [])]
    if merged.get("primary_outcome") not in {o["id"] for o in merged["outcomes"]}:
        merged["primary_outcome"] = new["primary_outcome"]   # the review's choice is gone from the source
    return merged


SCRATCH = re.compile(r"^\.([a-z0-9][a-z0-9-]*)\.import-")  # .REVIEW.import-XXXXXXXX (tempfile.mkdtemp)
_HELD: dict[Path, int] = {}  # folders whose import lock this process holds, and how often


@contextlib.contextmanager
def import_lock(review_dir: Path | str):
    """Hold the import lock of the folder of reviews ``review_dir`` lies in, for the life of the
    block (re-entrant within a process): an exclusive ``flock`` on that folder, which the kernel
    releases when the process ends, however it ends. Imports wait for each other."""
    folder = Path(review_dir).absolute().parent
    folder.mkdir(parents=True, exist_ok=True)
    if _HELD.get(folder):
        _HELD[folder] += 1
        try:
            yield
        finally:
            _HELD[folder] -= 1
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD[folder] = 1
        try:
            yield
        finally:
            _HELD.pop(folder, None)
    finally:
        os.close(fd)  # releases the lock


def recover_interrupted_imports(review_dir: Path | str) -> list[str]:
    """Clean up after imports that were killed, in the folder of reviews ``review_dir`` lies in
    (call with the import lock held: every scratch folder then belongs to a dead import). A
    review moved aside into its scratch folder and not replaced (killed between the two renames
    where no atomic swap exists) is put back; then each scratch folder is removed. Returns one
    line per action, for the console."""
    folder = Path(review_dir).absolute().parent
    notes = []
    for scratch in sorted(folder.glob(".*.import-*")):
        match = SCRATCH.match(scratch.name)
        if not match or not scratch.is_dir() or scratch.is_symlink():
            continue
        review, previous = folder / match.group(1), scratch / f"{match.group(1)}.previous"
        if previous.is_dir() and not os.path.lexists(review):
            os.rename(previous, review)
            notes.append(f"restored {review}: an import killed while replacing it had left it in {scratch.name}")
        shutil.rmtree(scratch)
        notes.append(f"removed {scratch}, left by an import that did not finish")
    return notes


RENAME_EXCHANGE = 2  # linux/fs.h
AT_FDCWD = -100


def exchange_paths(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux renameat2 with RENAME_EXCHANGE, kernel
    3.15+, glibc 2.28+). False where the C library, kernel or file system cannot; other errors
    are raised as OSError."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _replace(staged: Path, review_dir: Path, scratch: Path) -> None:
    """Put ``staged`` in the place of the existing ``review_dir``: one atomic swap, else two
    renames (recover_interrupted_imports repairs a kill between them)."""
    if exchange_paths(staged, review_dir):
        return  # staged now holds the previous review, removed with the scratch folder
    retired = scratch / f"{review_dir.name}.previous"
    os.rename(review_dir, retired)
    try:
        os.rename(staged, review_dir)
    except BaseException:
        os.rename(retired, review_dir)
        raise


def write_review(review_dir: Path | str, imported: ImportedReview, *, sync: bool = False) -> SyncChanges:
    """Write ``imported`` as the review folder ``review_dir`` (see the module docstring)."""
    review_dir = Path(review_dir)
    if not ID_PATTERN.match(review_dir.name):
        raise ImportFormatError(f"{review_dir}: a review folder name must be lower-case letters, digits and hyphens "
                                f"(it becomes the review id), e.g. {trial_id_for(review_dir.name)}")
    for tid, rec in imported.records.items():
        if not ID_PATTERN.match(tid) or rec.get("id") != tid:
            raise ImportFormatError(f"{imported.source}: trial id {tid!r} is not a valid record id (importer bug)")
    with import_lock(review_dir):
        recovered = recover_interrupted_imports(review_dir)
        changes = _write_locked(review_dir, imported, sync)
    changes.recovered = recovered
    return changes


def _write_locked(review_dir: Path, imported: ImportedReview, sync: bool) -> SyncChanges:
    from livingmeta.pipeline.records import load_review
    exists = (review_dir / "review.yaml").is_file()
    if review_dir.exists() and not exists and any(review_dir.iterdir()):
        raise ImportFormatError(f"{review_dir}: folder exists and is not a review (no review.yaml); "
                                "choose a new folder name")
    if exists and not sync:
        raise ImportFormatError(f"{review_dir}: a review already exists here; use --sync to make it equal to "
                                f"{imported.source} (trials added, changed and removed are listed), or choose a new "
                                "review name")
    definition = dict(imported.definition)
    changes = SyncChanges(review_dir, created=not exists)
    old_def, old_records, old_files = ({}, {}, {}) if not exists else _read_existing(review_dir)
    if exists:
        definition = keep_hand_edits(definition, old_def, imported)
        changes.definition_changed = definition != old_def
    definition = {"id": review_dir.name, **{k: v for k, v in definition.items() if k != "id"}}
    for tid in imported.records:
        if tid not in old_records:
            changes.added.append(tid)
        elif old_records[tid] != imported.records[tid]:
            changes.changed.append(tid)
        else:
            changes.unchanged.append(tid)
    changes.removed = sorted(set(old_records) - set(imported.records))

    review_dir.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=review_dir.parent, prefix=f".{review_dir.name}.import-"))
    try:
        staged = scratch / review_dir.name
        if exists:
            shutil.copytree(review_dir, staged, symlinks=True)
            for tid in changes.removed:
                (staged / "trials" / old_files[tid].name).unlink()
        (staged / "trials").mkdir(parents=True, exist_ok=True)
        (staged / "review.yaml").write_bytes(_dump(definition, imported.header))
        for tid in changes.added + changes.changed:  # a record keeps its file name (.yml stays .yml)
            name = old_files[tid].name if tid in old_files else f"{tid}.yaml"
            (staged / "trials" / name).write_bytes(_dump(imported.records[tid], imported.header))
        for rel, data in imported.extra_files.items():
            target = (staged / rel).resolve()
            if staged.resolve() not in target.parents:
                raise ImportFormatError(f"{imported.source}: extra file {rel!r} would be written outside the review")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        load_review(staged)  # raises RecordError listing every problem; nothing is written then
        if exists:
            _replace(staged, review_dir, scratch)
        else:
            os.rename(staged, review_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return changes
