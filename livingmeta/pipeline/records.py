"""Reading and checking a review: review.yaml plus one YAML record per trial.

Trial records are untrusted text. They are parsed with a safe YAML loader that also refuses
aliases (no 'billion laughs'), size-limited, validated against the JSON Schema in
workflow/schemas/, then checked for what a schema cannot say (SD > 0, n >= 2, events <= total,
known moderator levels, unique ids). Every problem is collected and reported together, each
naming the file, the field, the value and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import functools
import json
import math
import re
import stat
from pathlib import Path

import yaml
from livingmeta.errors import LivingmetaError
from livingmeta.formatting import plural
from livingmeta.pipeline.labels import control_character_problem, label_length_problem

from livingmeta.paths import SCHEMA_DIR
MAX_RECORD_BYTES = 1_000_000  # a trial record is a few kB; anything this large is not one
RECORD_SUFFIXES = (".yaml", ".yml")
MAX_COUNT = 1_000_000_000  # participants or events in one arm: more is a typo, not a trial
MAX_ABS_VALUE = 1e12  # means and SDs beyond this make g degenerate (1e308 gave g = 0)


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

    def __init__(self, problems: list[Problem], *, consequence: str = "in the review's records; nothing was built"):
        self.problems = problems
        lines = [f"{plural(len(problems), 'problem')} {consequence}:"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


class RecordWriteError(RecordError):
    """Problems found before writing records (an import, a new review, a draft): nothing was written."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems, consequence="found before writing; nothing was written")


# YAML 1.1 (PyYAML) reads 6.9e0 and 1e-12 as text; YAML 1.2 and every reviewer read a number.
# Unquoted, such a spelling is unambiguous, so the loaders add YAML 1.2's float rule; a quoted
# "6.9" stays text and is refused by the checks below.
_YAML12_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


def _with_yaml12_floats(loader):
    loader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML12_FLOAT, list("-+0123456789."))
    return loader


@_with_yaml12_floats
class _NoAliasLoader(yaml.SafeLoader):
    """Safe loader that rejects YAML aliases/anchors, which trial records never need."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed in records",
                                              event.start_mark)
        return super().compose_node(parent, index)


_FAST = getattr(yaml, "__with_libyaml__", False)
if _FAST:
    @_with_yaml12_floats
    class _FastLoader(yaml.CSafeLoader):
        """libyaml's safe loader with YAML 1.2 floats."""


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
    return yaml.load(text, Loader=_FastLoader)


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\x85"}


def _scalar(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else (".nan" if math.isnan(v) else ".inf" if v > 0 else "-.inf")
    # Text always double-quoted: JSON's escapes are YAML's, so no text can read back as a number
    # (6.9e0), a boolean (yes) or null, and control characters stay visible as escapes.
    text = json.dumps(str(v), ensure_ascii=False)
    for raw, esc in _LINE_BREAKS.items():
        text = text.replace(raw, esc)
    return text


@functools.lru_cache(maxsize=4096)  # records repeat the same few dozen keys
def _key(k) -> str:
    return k if isinstance(k, str) and _PLAIN_KEY.match(k) and k not in ("null", "true", "false", "yes", "no",
                                                                           "on", "off", "y", "n") else _scalar(k)


def _emit(obj, indent: int, out: list) -> None:
    pad = " " * indent
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{_key(k)}:")
                _emit(v, indent + 2, out)
            else:
                out.append(f"{pad}{_key(k)}: {'{}' if v == {} else '[]' if v == [] else _scalar(v)}")
    else:
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                sub: list = []
                _emit(v, indent + 2, sub)
                out.append(f"{pad}- {sub[0].lstrip()}")
                out.extend(sub[1:])
            else:
                out.append(f"{pad}- {'{}' if v == {} else '[]' if v == [] else _scalar(v)}")


def dump_yaml(obj: dict) -> str:
    """Block-style YAML for a record (a mapping of mappings, lists, text, numbers, booleans and
    nulls) that load_yaml reads back as ``obj``, keys in the given order. Written here rather
    than by PyYAML's representer, which takes milliseconds a record (100k-row imports)."""
    out: list = []
    _emit(obj, 0, out)
    return "\n".join(out) + "\n"


def load_yaml(path: Path) -> tuple[object, Problem | None]:
    """Parse one YAML file safely; return (data, None) or (None, Problem)."""
    path = Path(path)
    kind = not_a_regular_file(path)
    if kind:
        return None, Problem(str(path), "(file)", kind)
    size = path.stat().st_size
    if size > MAX_RECORD_BYTES:
        return None, Problem(str(path), "(file)", f"file is {size:,} bytes; a record must be under {MAX_RECORD_BYTES:,}")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_RECORD_BYTES + 1)  # st_size can lie (/proc, a file still growing)
    except OSError as e:
        return None, Problem(str(path), "(file)", f"cannot be read: {e.strerror}")
    if len(raw) > MAX_RECORD_BYTES:
        return None, Problem(str(path), "(file)", f"file is over {MAX_RECORD_BYTES:,} bytes; a record must be under that")
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


def not_a_regular_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a record file (a FIFO would hang the reader, /dev/zero
    never ends, a folder or a dangling link cannot be read), or None for a regular file or a
    symbolic link to one."""
    try:
        mode = path.stat().st_mode  # follows symbolic links
    except FileNotFoundError:
        return ("a symbolic link that points to nothing; remove it or restore its target"
                if path.is_symlink() else "file not found")
    except OSError as e:
        return f"cannot be read: {e.strerror}"
    if stat.S_ISDIR(mode):
        return "is a folder, not a record file; move it out of the trials folder or rename it"
    if not stat.S_ISREG(mode):
        return ("is not a regular file (a FIFO, socket or device); a record must be an ordinary .yaml file: "
                "remove it from the trials folder")
    return None


def _record_candidates(trials_dir) -> list[Path]:
    """Every entry of the trials folder named *.yaml or *.yml, hidden files (editor backups) aside."""
    folder = Path(trials_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in RECORD_SUFFIXES and not p.name.startswith("."))


def record_paths(trials_dir) -> list[Path]:
    """The trial records of a review: regular files (or links to them) named *.yaml or *.yml in
    its trials folder, sorted by name. The one definition of "a trial record": the rules' inputs,
    the edition fingerprint and snapshot, the 'added' comparison and ``check`` all use it."""
    return [p for p in _record_candidates(trials_dir) if not_a_regular_file(p) is None]


def load_schema(name: str) -> dict:
    return yaml.safe_load((SCHEMA_DIR / f"{name}.schema.yaml").read_text())


@functools.lru_cache(maxsize=None)
def _fast_validator(name: str):
    """A compiled validator for the common case of a valid document (about six times faster than
    jsonschema's); only the schema, never a record, is compiled. None if fastjsonschema is absent."""
    try:
        import fastjsonschema
    except ImportError:
        return None
    return fastjsonschema.compile({k: v for k, v in load_schema(name).items() if k != "$schema"}, use_default=False)


@functools.lru_cache(maxsize=None)
def _validator(name: str):
    import jsonschema  # here, not at module level: most rules read records' YAML without validating
    return jsonschema.Draft202012Validator(load_schema(name))


def schema_problems(data, schema, path) -> list[Problem]:
    """Every schema violation of ``data`` as a Problem. ``schema``: a schema dict or the name of
    one in workflow/schemas (then validators are cached and valid documents checked fast)."""
    if isinstance(schema, str):
        fast = _fast_validator(schema)
        if fast is not None:
            import fastjsonschema
            try:
                fast(data)
                return []
            except fastjsonschema.JsonSchemaException:
                pass  # jsonschema names every problem below
        validator = _validator(schema)
    else:
        import jsonschema
        validator = jsonschema.Draft202012Validator(schema)
    out = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = _where(err.absolute_path)
        if err.validator == "oneOf":
            precise = arm_value_problems(err.instance, where, str(path))
            if precise:
                out += precise
                continue
            msg = "expected either n, mean and sd (continuous) or events and total (binary), all numbers"
        elif err.validator == "maxLength":
            msg = label_length_problem(err.instance) if where == "label" else err.message
        elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = list(err.schema.get("properties", {}))
            out += [Problem(str(path), _where([*err.absolute_path, k]), "unknown key (a typo?); valid keys here: "
                            f"{', '.join(known)}") for k in err.instance if k not in known]
            continue
        elif err.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            lo = err.schema.get("minimum", err.schema.get("exclusiveMinimum"))
            hi = err.schema.get("maximum", err.schema.get("exclusiveMaximum"))
            msg = (f"must be between {lo} and {hi}" if lo is not None and hi is not None
                   else f"must be at least {lo}" if lo is not None else f"must be at most {hi}")
        elif err.validator == "required":
            msg = err.message.replace("is a required property", "is missing (required)")
        elif err.validator == "type":
            msg = f"must be {err.validator_value} ({'null = not reported' if 'null' in str(err.validator_value) else 'no text or blanks'})"
        else:
            msg = err.message
        value = err.instance if not isinstance(err.instance, (dict, list)) else None
        out.append(Problem(str(path), where, msg, value))
    return out


def _where(parts) -> str:
    """A field's path as reviewers write it: outcomes.<outcome>[0].arms.<arm>.sd."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


ARM_FIELDS = {"continuous": ("n", "mean", "sd"), "binary": ("events", "total")}
COUNT_FIELDS = ("n", "events", "total")


def arm_value_problems(vals, where: str, file: str) -> list[Problem]:
    """Each wrong value of one arm (n, mean, sd or events, total), naming the field, the value
    and the fix; [] if the arm's values are well typed."""
    if not isinstance(vals, dict):
        return [Problem(file, where, "an arm's results are a mapping: n, mean and sd (continuous) or events and "
                                     "total (binary)", vals)]
    keys = set(vals)
    kind = "continuous" if keys & {"n", "mean", "sd"} else "binary" if keys & {"events", "total"} else None
    if kind is None:
        return [Problem(file, where, "expected n, mean and sd (continuous) or events and total (binary); found "
                                     f"{', '.join(map(str, vals)) or 'nothing'}")]
    wanted = ARM_FIELDS[kind]
    out = [Problem(file, f"{where}.{k}", f"unknown field; a {kind} arm has {', '.join(wanted)}")
           for k in vals if k not in wanted]
    for k in wanted:
        if k not in vals:
            out.append(Problem(file, f"{where}.{k}", f"{k} is missing; a {kind} arm needs {', '.join(wanted)} "
                                                     "(leave the whole outcome block out if the trial does not report it)"))
            continue
        v = vals[k]
        if k in COUNT_FIELDS:
            if isinstance(v, bool) or not isinstance(v, int):
                out.append(Problem(file, f"{where}.{k}", f"must be a whole number written without quotes or decimals, "
                                                         f"e.g. {k}: 55", v))
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            fix = ("write it without quotes, e.g. 6.9" if _is_decimal_text(v) else "write the number only, e.g. 6.9 "
                   "(units and notes belong in source)")
            out.append(Problem(file, f"{where}.{k}", f"is text, not a number; {fix}", v))
    return out


def _is_decimal_text(v) -> bool:
    try:
        return isinstance(v, str) and math.isfinite(float(v))
    except ValueError:
        return False


def _number_range_problems(vals: dict, where: str, file: str) -> list[Problem]:
    """Finite, plausible magnitudes (non-finite values are reported by _text_problems)."""
    out = []
    for k, v in vals.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            continue
        if k in COUNT_FIELDS and isinstance(v, float):
            out.append(Problem(file, f"{where}.{k}", f"must be a whole number written without decimals, e.g. {k}: 55", v))
        elif k in COUNT_FIELDS and v > MAX_COUNT:
            out.append(Problem(file, f"{where}.{k}", f"must be between {2 if k != 'events' else 0} and {MAX_COUNT:,}; "
                                                     "is this a typo?", v))
        elif k not in COUNT_FIELDS and abs(v) > MAX_ABS_VALUE:
            out.append(Problem(file, f"{where}.{k}", f"must be at most {MAX_ABS_VALUE:g} in absolute value; check the "
                                                     "units (a value this large makes the effect size meaningless)", v))
    return out


def _text_problems(obj, file: str) -> list[Problem]:
    """Values no report can print: non-finite numbers (.nan, .inf) anywhere, control characters
    in any text, and a label that is not one line of plain text."""
    out = []

    def walk(o, where):
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, f"{where}.{k}" if where else str(k))
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, f"{where}[{i}]")
        elif isinstance(o, float) and not math.isfinite(o):
            out.append(Problem(file, where, "must be a finite number (.nan and .inf are not values a trial reports); "
                                            "write the number as reported (for an outcome the trial does not report, "
                                            "leave its block out)", o))
        elif isinstance(o, str):
            msg = control_character_problem(o, single_line=where == "label")
            if msg:
                out.append(Problem(file, where, msg, o[:80]))
    walk(obj, "")
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
            # several effects at one timepoint (multi-arm, several instruments) need distinct effect_ids;
            # a trial may sit in several subgroups of one analysis (RevMan), once in each
            key = (tp, blk.get("effect_id"), blk.get("subgroup"))
            if "subgroup" in blk and blk["subgroup"] not in (spec.get("subgroups") or []):
                out.append(Problem(f, f"{base}.subgroup", f"not a subgroup of this outcome; review.yaml lists "
                                                          f"{spec.get('subgroups') or 'none'}", blk["subgroup"]))
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
                if spec["type"] == "continuous" and "events" in vals:
                    out.append(Problem(f, where, "this outcome is continuous: give n, mean and sd, not events/total"))
                elif spec["type"] != "continuous" and "mean" in vals:
                    out.append(Problem(f, where, "this outcome is binary: give events and total, not n/mean/sd"))
                else:
                    out += _arm_number_problems(vals, where, f)
    for oid in (rec.get("risk_of_bias") or {}).get("by_outcome") or {}:
        if oid not in outcomes:
            out.append(Problem(f, f"risk_of_bias.by_outcome.{oid}", f"unknown outcome; the review defines {sorted(outcomes)}"))
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


def _arm_number_problems(vals: dict, where: str, file: str) -> list[Problem]:
    """What one arm's numbers must satisfy, in any block (arm data, or the group sizes and events
    beside a computed effect): plausible magnitudes, n at least 2, SD above 0, events between 0
    and the total, a total of at least 2. A null (not reported) is never a problem."""
    out = _number_range_problems(vals, where, file)
    n, sd, ev, tot = vals.get("n"), vals.get("sd"), vals.get("events"), vals.get("total")
    if isinstance(sd, (int, float)) and not isinstance(sd, bool) and sd <= 0:
        out.append(Problem(file, f"{where}.sd", "standard deviation must be greater than 0", sd))
    if isinstance(n, int) and not isinstance(n, bool) and n < 2:
        out.append(Problem(file, f"{where}.n", "sample size must be at least 2", n))
    if isinstance(tot, int) and not isinstance(tot, bool) and tot < 2:
        out.append(Problem(file, f"{where}.total", "total must be at least 2", tot))
    if isinstance(ev, int) and not isinstance(ev, bool) and ev < 0:
        out.append(Problem(file, f"{where}.events", "events cannot be negative", ev))
    if isinstance(ev, int) and isinstance(tot, int) and ev > tot:
        out.append(Problem(file, f"{where}.events", f"more events than participants (total {tot})", ev))
    return out


def _generic_block_problems(f, base, blk, arm_names, spec) -> list[Problem]:
    """A block with a computed effect (generic: estimate, se): its arms only say who took part,
    and what they say is checked as arm data is (issue 23 F10: n -100000 passed to pool)."""
    from livingmeta.stats.effects import RATIO_MEASURES  # here: the record checks otherwise run without numpy
    out = []
    for arm, vals in blk.get("arms", {}).items():
        if arm not in arm_names:
            out.append(Problem(f, f"{base}.arms.{arm}", f"arm is not declared under 'arms' ({sorted(arm_names)})"))
        if isinstance(vals, dict):
            out += _arm_number_problems(vals, f"{base}.arms.{arm}", f)
    if spec.get("effect_measure") in RATIO_MEASURES and not blk["generic"].get("log_scale", False):
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


def record_problems(rec, path: Path, definition: dict) -> list[Problem]:
    """Everything wrong with one trial record: its shape and types (the JSON Schema, with a
    precise message per value), text no report can print, then what a schema cannot say. The
    checks `livingmeta check`, the build and `livingmeta import` share."""
    if not isinstance(rec, dict):
        return [Problem(str(path), "(top level)", "a trial record must be a mapping of fields")]
    problems = schema_problems(rec, "trial", path) + _text_problems(rec, str(path))
    return problems or _semantic_problems(rec, Path(path), definition)


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
    problems += schema_problems(definition, "review", def_path)
    problems += _text_problems(definition, str(def_path))
    if not problems:  # PRISMA counts must add up (livingmeta/pipeline/prisma.py)
        from livingmeta.pipeline.prisma import flow_problems
        problems += [Problem(str(def_path), "search_flow", p) for p in flow_problems(definition.get("search_flow") or [], None)]
        from livingmeta.pipeline.declared_analysis import analysis_problems  # the analysis the review declares
        problems += [Problem(str(def_path), f, msg, value) for f, msg, value in analysis_problems(definition)]
    if problems:
        raise RecordError(problems)
    review = Review(root, definition)
    candidates = _record_candidates(root / "trials")
    files = record_paths(root / "trials")
    problems += [Problem(str(p), "(file)", not_a_regular_file(p)) for p in candidates if p not in files]
    if not files:
        raise RecordError(problems + [Problem(str(root / "trials"), "(folder)", "no trial records (*.yaml) found")])
    ids: dict[str, Path] = {}
    for path in files:
        rec, prob = load_yaml(path)
        if prob:
            problems.append(prob)
            continue
        problems += record_problems(rec, path, definition)
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
            continue
        if rec["id"] in ids:
            problems.append(Problem(str(path), "id", f"duplicate trial id, also used by {ids[rec['id']]}", rec["id"]))
        ids[rec["id"]] = path
        review.trials.append(rec)
        review.files.append(path)
        review.warnings += markup_warnings(rec, path)
    # the flow may not include fewer studies than the review holds; with a surveillance ledger the
    # latest counts are the ledger's, checked by `check` and the prisma rule (livingmeta.surveillance)
    if not (root / "surveillance" / "searches.yaml").is_file():
        from livingmeta.pipeline.prisma import held_problems
        problems += [Problem(str(def_path), "search_flow", p)
                     for p in held_problems(definition.get("search_flow") or [], len(files), None)]
    if problems:
        raise RecordError(problems)
    return review
