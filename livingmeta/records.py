"""Reading and checking a review: review.yaml plus one YAML record per trial.

Trial records are untrusted text. They are parsed with a safe YAML loader that also refuses
aliases (no 'billion laughs'), size-limited, validated against the JSON Schema in
workflow/schemas/, then checked for what a schema cannot say (SD > 0, n >= 2, events <= total,
known moderator levels, unique ids). Every problem is collected and reported together, each
naming the file, the field, the value and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from pathlib import Path

import jsonschema
import yaml
from livingmeta.errors import LivingmetaError

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "workflow" / "schemas"
MAX_RECORD_BYTES = 1_000_000  # a trial record is a few kB; anything this large is not one


@dataclass(frozen=True)
class Problem:
    file: str
    field: str
    message: str
    value: object = None

    def __str__(self) -> str:
        shown = "" if self.value is None else f" (found: {self.value!r})"
        return f"{self.file}: {self.field}: {self.message}{shown}"


class RecordError(LivingmetaError):
    """One or more trial records or the review definition are invalid."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [f"{len(problems)} problem(s) in the review's records; nothing was built:"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


class _NoAliasLoader(yaml.SafeLoader):
    """Safe loader that rejects YAML aliases/anchors, which trial records never need."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed in records",
                                              event.start_mark)
        return super().compose_node(parent, index)


_FAST = getattr(yaml, "__with_libyaml__", False)


def _safe_load_no_alias(text: str):
    """yaml.safe_load that refuses aliases. With libyaml (PyYAML's usual wheels) the events are
    scanned for aliases by the C parser, then loaded by the C loader: about ten times faster
    than the pure-Python loader, which is the fallback."""
    if not _FAST:
        return yaml.load(text, Loader=_NoAliasLoader)
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed in records",
                                              event.start_mark)
    return yaml.load(text, Loader=yaml.CSafeLoader)


def load_yaml(path: Path) -> tuple[object, Problem | None]:
    """Parse one YAML file safely; return (data, None) or (None, Problem)."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_RECORD_BYTES:
        return None, Problem(str(path), "(file)", f"file is {size:,} bytes; a record must be under {MAX_RECORD_BYTES:,}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, Problem(str(path), "(file)", f"not UTF-8 text (byte {e.start}); save the file as UTF-8")
    try:
        return _safe_load_no_alias(text), None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        return None, Problem(str(path), where, f"malformed YAML: {getattr(e, 'problem', None) or e}")


def load_schema(name: str) -> dict:
    return yaml.safe_load((SCHEMA_DIR / f"{name}.schema.yaml").read_text())


def _schema_problems(data, schema, path) -> list[Problem]:
    validator = jsonschema.Draft202012Validator(schema)
    out = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        if err.validator == "oneOf":
            msg = "expected either n, mean and sd (continuous) or events and total (binary), all numbers"
        elif err.validator == "required":
            msg = err.message.replace("is a required property", "is missing (required)")
        elif err.validator == "type":
            msg = f"must be {err.validator_value} ({'null = not reported' if 'null' in str(err.validator_value) else 'no text or blanks'})"
        else:
            msg = err.message
        value = err.instance if not isinstance(err.instance, (dict, list)) else None
        out.append(Problem(str(path), where, msg, value))
    return out


@dataclass
class Review:
    """A review definition and its validated trial records."""

    root: Path
    definition: dict
    trials: list[dict] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.definition["id"]

    def outcome(self, outcome_id: str) -> dict:
        for o in self.definition["outcomes"]:
            if o["id"] == outcome_id:
                return o
        raise KeyError(outcome_id)

    def moderator(self, name: str) -> dict:
        for m in self.definition["moderators"]:
            if m["name"] == name:
                return m
        raise KeyError(name)


def _semantic_problems(rec: dict, path: Path, definition: dict) -> list[Problem]:
    out = []
    f = str(path)
    if rec.get("id") != path.stem:
        out.append(Problem(f, "id", f"must equal the file name without .yaml ({path.stem!r})", rec.get("id")))
    arm_names = set(rec.get("arms", {}))
    roles = {a: v.get("role") for a, v in rec.get("arms", {}).items()}
    want = definition.get("arms", {})
    for role, arm in (("intervention", want.get("intervention")), ("control", want.get("control"))):
        if arm and arm not in arm_names:
            out.append(Problem(f, f"arms.{arm}", f"the review compares arms named {want.get('intervention')!r} and "
                                                 f"{want.get('control')!r}; add an arm {arm!r} with role {role}"))
        elif arm and roles.get(arm) != role:
            out.append(Problem(f, f"arms.{arm}.role", f"must be {role!r}", roles.get(arm)))
    outcomes = {o["id"]: o for o in definition.get("outcomes", [])}
    for oid, blocks in rec.get("outcomes", {}).items():
        if oid not in outcomes:
            out.append(Problem(f, f"outcomes.{oid}", f"unknown outcome; the review defines {sorted(outcomes)}"))
            continue
        spec = outcomes[oid]
        tps = {t["id"] for t in spec["timepoints"]}
        seen = set()
        for i, blk in enumerate(blocks):
            base = f"outcomes.{oid}[{i}]"
            tp = blk.get("timepoint")
            if tp not in tps:
                out.append(Problem(f, f"{base}.timepoint", f"unknown timepoint; expected one of {sorted(tps)}", tp))
            # several effects at one timepoint (multi-arm, several instruments) need distinct effect_ids
            key = (tp, blk.get("effect_id"))
            if key in seen:
                out.append(Problem(f, f"{base}.timepoint", "the same timepoint appears twice for this outcome; give "
                                                           "each block a distinct effect_id if both are wanted", tp))
            seen.add(key)
            if "generic" in blk:
                out += _generic_block_problems(f, base, blk, arm_names, spec)
                continue
            scale = (spec.get("scales") or {}).get(blk.get("measure") or "")
            if scale and spec["type"] == "continuous":
                out += _scale_problems(f, base, blk, scale, spec)
            for arm, vals in blk.get("arms", {}).items():
                where = f"{base}.arms.{arm}"
                if arm not in arm_names:
                    out.append(Problem(f, where, f"arm is not declared under 'arms' ({sorted(arm_names)})"))
                if set(vals) == {"n"}:
                    out.append(Problem(f, where, "a group size alone gives no effect: add mean and sd (or events and "
                                                 "total), or give the block's effect under generic (estimate, se)"))
                    continue
                if spec["type"] == "continuous":
                    if "events" in vals:
                        out.append(Problem(f, where, "this outcome is continuous: give n, mean and sd, not events/total"))
                        continue
                    if isinstance(vals.get("sd"), (int, float)) and vals["sd"] <= 0:
                        out.append(Problem(f, f"{where}.sd", "standard deviation must be greater than 0", vals["sd"]))
                    if isinstance(vals.get("n"), int) and vals["n"] < 2:
                        out.append(Problem(f, f"{where}.n", "sample size must be at least 2", vals["n"]))
                else:
                    if "mean" in vals:
                        out.append(Problem(f, where, "this outcome is binary: give events and total, not n/mean/sd"))
                        continue
                    ev, tot = vals.get("events"), vals.get("total")
                    if isinstance(tot, int) and tot < 2:
                        out.append(Problem(f, f"{where}.total", "total must be at least 2", tot))
                    if isinstance(ev, int) and ev < 0:
                        out.append(Problem(f, f"{where}.events", "events cannot be negative", ev))
                    if isinstance(ev, int) and isinstance(tot, int) and ev > tot:
                        out.append(Problem(f, f"{where}.events", f"more events than participants (total {tot})", ev))
    for mod in definition.get("moderators", []):
        name = mod["name"]
        if name == "year":
            continue
        value = rec.get("moderators", {}).get(name)
        if value is None:
            continue
        if mod["type"] == "categorical" and str(value) not in mod["levels"]:
            out.append(Problem(f, f"moderators.{name}", f"unknown level; expected one of {sorted(mod['levels'])} "
                                                        "or null (not reported)", value))
        if mod["type"] == "continuous" and not isinstance(value, (int, float)):
            out.append(Problem(f, f"moderators.{name}", "must be a number or null (not reported)", value))
    for name in rec.get("moderators", {}):
        if name not in {m["name"] for m in definition.get("moderators", [])}:
            out.append(Problem(f, f"moderators.{name}", "not a moderator of this review (see review.yaml)"))
    return out


def _generic_block_problems(f, base, blk, arm_names, spec) -> list[Problem]:
    """A block with a computed effect (generic: estimate, se): its arms only say who took part."""
    out = []
    for arm in blk.get("arms", {}):
        if arm not in arm_names:
            out.append(Problem(f, f"{base}.arms.{arm}", f"arm is not declared under 'arms' ({sorted(arm_names)})"))
    if spec.get("effect_measure") in ("RR", "OR") and not blk["generic"].get("log_scale", False):
        out.append(Problem(f, f"{base}.generic.log_scale", f"a {spec['effect_measure']} is pooled on the log scale: give "
                                                           "the log estimate and its SE with log_scale: true"))
    return out


def _scale_problems(f, base, blk, scale, spec) -> list[Problem]:
    """Means outside the scale's range (wrong units?) and a scale whose direction is opposite to
    the review's outcome without ``reversed: true``."""
    out = []
    name = blk["measure"]
    for arm, vals in blk.get("arms", {}).items():
        m = vals.get("mean")
        if isinstance(m, (int, float)) and not (scale["min"] <= m <= scale["max"]):
            out.append(Problem(f, f"{base}.arms.{arm}.mean", f"outside the {name} range {scale['min']}-{scale['max']} "
                                                            "declared in review.yaml: wrong units or wrong scale?", m))
    review_reads_higher_worse = spec["direction"] == "lower_is_better"
    if scale["higher_is_worse"] != review_reads_higher_worse and not blk.get("reversed", False):
        out.append(Problem(f, f"{base}.measure", f"on {name} higher scores are {'worse' if scale['higher_is_worse'] else 'better'}, "
                                                 f"the opposite of this outcome's direction ({spec['direction']}); add "
                                                 "'reversed: true' to this block so the effect's sign is flipped", name))
    if blk.get("reversed") and scale["higher_is_worse"] == review_reads_higher_worse:
        out.append(Problem(f, f"{base}.reversed", f"{name} already runs in the outcome's direction; remove 'reversed: true'", True))
    return out


MARKUP = re.compile(r"<\s*[a-zA-Z!/?]|javascript:|\{\{|\{%", re.IGNORECASE)


def markup_warnings(rec: dict, path: Path) -> list[str]:
    """Text fields that look like HTML or template code. They are shown as plain text (the report
    escapes everything), but a reviewer should know the record carries them."""
    found = []

    def walk(obj, where):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k != "source_urls":
                    walk(v, f"{where}.{k}" if where else str(k))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, f"{where}[{i}]")
        elif isinstance(obj, str) and MARKUP.search(obj):
            found.append(f"{path}: {where}: contains markup-like text ({obj[:60]!r}); it will be printed as plain "
                         "text, never interpreted")
    walk(rec, "")
    return found


def load_review(review_dir: Path | str) -> Review:
    """Load and check review.yaml and every trials/*.yaml; raise RecordError listing all problems."""
    root = Path(review_dir)
    problems: list[Problem] = []
    def_path = root / "review.yaml"
    if not def_path.exists():
        raise RecordError([Problem(str(def_path), "(file)", "review definition not found")])
    definition, prob = load_yaml(def_path)
    if prob:
        raise RecordError([prob])
    problems += _schema_problems(definition, load_schema("review"), def_path)
    if problems:
        raise RecordError(problems)
    trial_schema = load_schema("trial")
    review = Review(root, definition)
    files = sorted((root / "trials").glob("*.yaml")) + sorted((root / "trials").glob("*.yml"))
    if not files:
        raise RecordError([Problem(str(root / "trials"), "(folder)", "no trial records (*.yaml) found")])
    ids: dict[str, Path] = {}
    for path in files:
        rec, prob = load_yaml(path)
        if prob:
            problems.append(prob)
            continue
        if not isinstance(rec, dict):
            problems.append(Problem(str(path), "(top level)", "a trial record must be a mapping of fields"))
            continue
        schema_probs = _schema_problems(rec, trial_schema, path)
        problems += schema_probs
        if schema_probs:
            continue
        problems += _semantic_problems(rec, path, definition)
        if rec["id"] in ids:
            problems.append(Problem(str(path), "id", f"duplicate trial id, also used by {ids[rec['id']]}", rec["id"]))
        ids[rec["id"]] = path
        review.trials.append(rec)
        review.files.append(path)
        review.warnings += markup_warnings(rec, path)
    if problems:
        raise RecordError(problems)
    return review
