"""The edition archive as a build sees it: which editions came before this one, which one "what
changed" compares with, and what this build's edition is called and dated.

The archive of a review (written by ``livingmeta update`` and ``livingmeta publish``,
livingmeta.living.editions)::

    results/<review>/editions/<date>-<hash8>/   published editions, each with manifest.json
    results/<review>/drafts/<date>-<hash8>/     candidate editions waiting for sign-off
    results/<review>/latest -> editions/...     the edition readers see as current

Published editions are ordered by their publication ``sequence`` (recorded in the manifest when
published), never by date: a clock set back cannot put an edition before the one it followed.
Editions from before the sequence was recorded come first, in the order they were published.

The build reads the archive in two steps, so that Snakemake sees every file it depends on:
``edition_plan`` (called by the rules' input functions when the DAG is built) decides which
editions count and what this build's edition is, from the manifests alone; the ``history``
rule then reads those editions' declared files and writes ``history.json`` (``build_history``),
which ``changes``, ``sequential`` and the report take as an input.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from livingmeta.report.fingerprint import data_files, fingerprint

EDITIONS, DRAFTS, LATEST = "editions", "drafts", "latest"
# Set by `livingmeta update` and `livingmeta publish` for the build they run:
DRAFT_ENV = "LIVINGMETA_DRAFT"            # "1": a draft for sign-off; "0": an edition to publish
SIGNED_OFF_ENV = "LIVINGMETA_SIGNED_OFF"  # {"by": NAME, "at": TIME} of the sign-off being published


def edition_date(epoch: int) -> str:
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).date().isoformat()


def edition_id(date: str, fp_all: str) -> str:
    return f"{date}-{fp_all[:8]}"


def read_manifest(edition_dir) -> dict:
    return json.loads((Path(edition_dir) / "manifest.json").read_text())


@dataclass
class ArchivedEdition:
    path: Path
    manifest: dict

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def fingerprint_all(self) -> str | None:
        return (self.manifest.get("fingerprint") or {}).get("all")

    @property
    def is_draft(self) -> bool:
        return self.path.parent.name == DRAFTS


@dataclass
class Archive:
    """A review's archive, read without trusting it: an edition whose manifest cannot be read is
    left out (with a note), and a ``latest`` link to a folder that is gone gives way to the newest
    remaining edition (with a note)."""
    published: list[ArchivedEdition]          # publication order, oldest first
    drafts: list[ArchivedEdition]
    latest: ArchivedEdition | None
    notes: list[str] = field(default_factory=list)

    def find(self, fp_all: str, *, drafts: bool = True) -> ArchivedEdition | None:
        """The edition made from inputs with this fingerprint: the latest such published one, else a draft."""
        same = [e for e in self.published if e.fingerprint_all == fp_all]
        if self.latest is not None and self.latest in same:
            return self.latest
        if same:
            return same[-1]
        return next((e for e in reversed(self.drafts) if e.fingerprint_all == fp_all), None) if drafts else None

    def before(self, edition: ArchivedEdition) -> list[ArchivedEdition]:
        return self.published[:self.published.index(edition)] if edition in self.published else list(self.published)

    def next_sequence(self) -> int:
        explicit = [e.manifest["sequence"] for e in self.published if isinstance(e.manifest.get("sequence"), int)]
        return max([len(self.published), *explicit]) + 1

    def by_name(self, name: str | None) -> ArchivedEdition | None:
        return next((e for e in self.published if e.name == name), None) if name else None


def _read_folder(folder: Path, notes: list[str]) -> list[ArchivedEdition]:
    out = []
    if not folder.is_dir():
        return out
    for path in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            manifest = read_manifest(path)
            if not isinstance(manifest, dict) or not isinstance(manifest.get("fingerprint"), dict):
                raise ValueError("not an edition manifest (no fingerprint)")
        except FileNotFoundError:
            notes.append(f"{folder.name}/{path.name} has no manifest.json; it is left out of the history")
        except (OSError, ValueError) as e:
            notes.append(f"{folder.name}/{path.name}/manifest.json cannot be read ({e.__class__.__name__}: {e}); "
                         f"that edition is left out of the history")
        else:
            out.append(ArchivedEdition(path, manifest))
    return out


def publication_order(editions: list[ArchivedEdition]) -> list[ArchivedEdition]:
    """Editions without a recorded sequence (published before it was recorded) first, by the time
    they were published; then the others by sequence."""
    def when(e):
        return (str(e.manifest.get("published_at") or e.manifest.get("date") or ""), e.name)
    legacy = sorted((e for e in editions if not isinstance(e.manifest.get("sequence"), int)), key=when)
    ordered = sorted((e for e in editions if isinstance(e.manifest.get("sequence"), int)),
                     key=lambda e: (e.manifest["sequence"], *when(e)))
    return legacy + ordered


def read_archive(results_dir) -> Archive:
    results_dir = Path(results_dir)
    notes: list[str] = []
    published = publication_order(_read_folder(results_dir / EDITIONS, notes))
    drafts = sorted(_read_folder(results_dir / DRAFTS, notes), key=lambda e: e.manifest.get("built_at") or e.name)
    link = results_dir / LATEST
    latest = None
    if link.is_symlink() or link.exists():
        target = link.resolve()
        latest = next((e for e in published if e.path.resolve() == target), None)
        if latest is None and link.is_symlink() and published:
            gone = "is missing" if not target.exists() else "cannot be read"
            notes.append(f"the latest edition's folder ({EDITIONS}/{target.name}) {gone}; the newest remaining "
                         f"edition, {published[-1].name}, is taken as the latest")
    if latest is None and published:
        latest = published[-1]
    return Archive(published, drafts, latest, notes)


# ------------------------------------------------------------------------------------------------
# This build's edition.
# ------------------------------------------------------------------------------------------------
def inputs_epoch(paths) -> int:
    """When the inputs last changed: the last git commit touching them when they are all committed
    unchanged (the same in every clone), else their newest modification time."""
    committed = _last_commit_epoch(paths)
    return committed if committed is not None else max(int(Path(p).stat().st_mtime) for p in paths)


def _last_commit_epoch(paths) -> int | None:
    """Commit time of the last git commit touching ``paths`` if they are all committed unchanged;
    None outside a git checkout, without git, or with uncommitted changes."""
    import shutil
    import subprocess
    if shutil.which("git") is None:
        return None
    paths = [str(Path(p).resolve()) for p in paths]
    cwd = Path(paths[0]).parent
    try:  # fixed arguments, no shell: file names are passed as data
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=cwd, capture_output=True,
                               text=True, timeout=30)
        if dirty.returncode != 0 or dirty.stdout.strip():
            return None
        out = subprocess.run(["git", "log", "-1", "--format=%ct", "--", *paths], cwd=cwd, capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = out.stdout.strip()
    return int(value) if out.returncode == 0 and value.isdigit() else None


@dataclass
class EditionPlan:
    """What the DAG needs to know before the ``history`` rule runs."""
    this_edition: dict                     # id, date, source_date_epoch, fingerprint, draft, signed_off
    earlier: list[ArchivedEdition]         # the published editions before this one, in publication order
    compare_with: ArchivedEdition | None   # the one of them "what changed" compares with
    notes: list[str]

    def history_inputs(self) -> list[str]:
        """Every archived file the history rule reads."""
        files = []
        for e in self.earlier:
            files += [str(e.path / name) for name in ("manifest.json", "pooled.json", "sequential.json", "bayes.json")
                      if (e.path / name).is_file()]
        return files

    def previous_records(self) -> list[str]:
        """The trial records of the edition compared with (its input snapshot)."""
        from livingmeta.pipeline.records import record_paths
        return [str(p) for p in record_paths(self.compare_with.path / "inputs" / "trials")] if self.compare_with else []

    def params(self) -> dict:
        """The plan as the history rule's parameters (Snakemake reruns the rule when they change)."""
        return {"this_edition": self.this_edition, "editions": [str(e.path) for e in self.earlier],
                "compare_with": str(self.compare_with.path) if self.compare_with else None, "notes": self.notes}


def edition_plan(review_dir, results_dir, config, config_path, project_root, environ=os.environ) -> EditionPlan:
    """Which editions came before this build's and which one it is compared with, and this build's
    edition: its fingerprint, date and status.

    The date (SOURCE_DATE_EPOCH, which also stamps the PDF) is: the SOURCE_DATE_EPOCH variable
    when set (``livingmeta update`` sets it to the moment it publishes); else the date of the
    archived edition made from the same inputs (a rebuild of an edition is that edition's report,
    byte for byte); else when the inputs last changed (``inputs_epoch``). An edition made from the
    same inputs is this build's own: the history is what was published before it, and it is
    compared with the edition it was compared with when published."""
    archive = read_archive(results_dir)
    fp = fingerprint(review_dir, config, project_root)
    match = archive.find(fp["all"])
    env_epoch = str(environ.get("SOURCE_DATE_EPOCH") or "").strip()
    if env_epoch.isdigit():
        epoch = int(env_epoch)
    elif match is not None and match.manifest.get("source_date_epoch") is not None:
        epoch = int(match.manifest["source_date_epoch"])
    else:
        epoch = inputs_epoch([*data_files(review_dir), Path(config_path)])
    draft_env = environ.get(DRAFT_ENV)
    signed_off = (json.loads(environ[SIGNED_OFF_ENV]) if environ.get(SIGNED_OFF_ENV)
                  else match.manifest.get("signed_off") if match is not None else None)
    draft = draft_env == "1" if draft_env in ("0", "1") else bool(match and match.is_draft and not signed_off)
    date = edition_date(epoch)
    this = {"id": edition_id(date, fp["all"]), "date": date, "source_date_epoch": epoch, "fingerprint": fp,
            "draft": draft, "signed_off": signed_off}
    if match is not None and not match.is_draft:
        earlier = archive.before(match)
        previous = match.manifest.get("previous_edition")
        compare = next((e for e in earlier if e.name == previous), earlier[-1] if earlier else None)
    else:
        earlier, compare = list(archive.published), archive.latest
    return EditionPlan(this, earlier, compare, archive.notes)


# ------------------------------------------------------------------------------------------------
# history.json (the history rule).
# ------------------------------------------------------------------------------------------------
def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _primary(pooled: dict | None, outcome: str, timepoint: str) -> dict | None:
    for a in (pooled or {}).get("analyses", []):
        if a.get("outcome") == outcome and a.get("timepoint") == timepoint and "model" in a:
            m = a["model"]
            return {"outcome": outcome, "timepoint": timepoint, "measure": a.get("measure"), "k": a.get("k"),
                    "participants": a.get("participants"), "estimate": m["estimate"], "ci_lower": m["ci_lower"],
                    "ci_upper": m["ci_upper"], "se": m.get("se"), "test": m.get("test", "z")}
    return None


def _look(edition: Path, primary: dict | None, direction: str) -> dict | None:
    """The edition as a point of the sequential analysis (participants, z): from its
    sequential.json when it has one, else the Wald z of its pooled primary analysis."""
    seq = _read_json(edition / "sequential.json")
    cur = (seq or {}).get("current")
    if cur:
        return {"participants": cur["participants"], "z": cur["z"], "z_source": "sequential.json"}
    if primary and primary.get("se") and primary.get("participants") is not None:
        from livingmeta.stats import sequential
        return {"participants": primary["participants"],
                "z": sequential.controlled_z(primary["estimate"], primary["se"], direction),
                "z_source": f"pooled.json ({primary['test']} standard error)"}
    return None


def history_entry(edition_dir, review_def: dict) -> dict:
    """What the build needs to know about one archived edition."""
    edition_dir = Path(edition_dir)
    manifest = read_manifest(edition_dir)
    outcome = next(o for o in review_def["outcomes"] if o["id"] == review_def["primary_outcome"])
    tp = outcome["timepoints"][0]["id"]
    primary = _primary(_read_json(edition_dir / "pooled.json"), outcome["id"], tp)
    bayes = _read_json(edition_dir / "bayes.json") or {}
    seq = _read_json(edition_dir / "sequential.json") or {}
    return {"edition": manifest.get("edition", edition_dir.name), "date": manifest.get("date"),
            "published_at": manifest.get("published_at"), "sequence": manifest.get("sequence"),
            "fingerprint": manifest["fingerprint"], "trials": manifest.get("trials"),
            "signed_off": manifest.get("signed_off"), "primary": primary,
            "look": _look(edition_dir, primary, outcome["direction"]),
            "probabilities": bayes.get("probabilities"), "percent_of_ris": seq.get("percent_of_ris")}


def build_history(plan: dict, review_def: dict) -> dict:
    """history.json from the plan (``EditionPlan.params``) and the archived files it names."""
    compare = plan["compare_with"]
    return {"review": review_def["id"], "this_edition": plan["this_edition"],
            "editions": [history_entry(p, review_def) for p in plan["editions"]],
            "compare_with": Path(compare).name if compare else None, "notes": list(plan["notes"])}


def compared_entry(history: dict) -> dict | None:
    """The history entry of the edition this build is compared with (one of its earlier editions)."""
    return next((e for e in history["editions"] if e["edition"] == history.get("compare_with")), None)


def sequential_looks(history: dict) -> list[dict]:
    """One look per earlier edition for the sequential analysis, in publication order."""
    return [{"label": e["date"], "edition": e["edition"], **e["look"]} for e in history["editions"] if e.get("look")]
