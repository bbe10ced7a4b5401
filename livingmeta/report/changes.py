"""What changed since the previous edition (rule ``changes``, ``changes.json``): trial records
added, removed or corrected, each correction field by field ("Diaz 2018: mean (intervention)
9.9 → 11.9 (source: Table 2)"), how the primary pooled estimate and its CI moved, and whether the
conclusion in words changed.

The previous edition's records are its input snapshot (``editions/<id>/inputs/trials``) and its
primary result comes from ``history.json``, both declared inputs of the rule.
"""

from __future__ import annotations

from pathlib import Path

from livingmeta.report.fingerprint import sha256_file

ARROW = "\u2192"
MAX_FIELDS_IN_TEXT = 6   # a trial's sentence names this many changed fields; changes.json has all
MAX_VALUE_CHARS = 80


def read_records(paths) -> dict:
    """trial id (file stem) -> {"label", "sha256", "data"} for the record files ``paths``. A record
    that cannot be parsed still counts, by its id, with no data."""
    from livingmeta.pipeline.records import load_yaml
    out = {}
    for p in map(Path, paths):
        data, problem = load_yaml(p)  # the safe loader
        data = data if not problem and isinstance(data, dict) else None
        out[p.stem] = {"label": str((data or {}).get("label") or p.stem), "sha256": sha256_file(p), "data": data}
    return out


def _conclusion(primary: dict, direction: str, measure: str) -> str:
    from livingmeta.report.wording import benefit, ci_excludes_null, size_words
    if not ci_excludes_null(primary["ci_lower"], primary["ci_upper"]):
        return "no clear evidence of a difference"
    side = "benefit" if benefit(primary["estimate"], direction) > 0 else "harm"
    return f"{size_words(primary['estimate'], measure)} {side}".strip()


def _model_primary(pooled: dict, outcome: str, timepoint: str) -> dict | None:
    for a in pooled.get("analyses", []):
        if a["outcome"] == outcome and a["timepoint"] == timepoint and "model" in a:
            return {**{k: a["model"][k] for k in ("estimate", "ci_lower", "ci_upper")}, "k": a["k"],
                    "measure": a.get("measure", "SMD")}
    return None


# ------------------------------------------------------------------------------------------------
# Field-by-field differences between two versions of a record.
# ------------------------------------------------------------------------------------------------
def _show(value) -> object:
    """A value as changes.json keeps it: numbers, text, true/false and null as they are; a list or
    mapping as one line of text; long text shortened."""
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(_show(v)) for v in value)
    elif isinstance(value, dict):
        value = "; ".join(f"{k}: {_show(v)}" for k, v in value.items())
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        value = value[:MAX_VALUE_CHARS - 1].rstrip() + "\u2026"
    return value


def _words(key) -> str:
    return str(key).replace("_", " ")


def _flatten(value, path=()) -> dict:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flatten(v, (*path, str(k))))
        return out or {path: {}}
    return {path: value}


def _diff(old, new) -> list[tuple[tuple, object, object]]:
    a, b = _flatten(old if old is not None else {}), _flatten(new if new is not None else {})
    return [(p, a.get(p), b.get(p)) for p in sorted(set(a) | set(b), key=lambda p: [str(x) for x in p])
            if a.get(p) != b.get(p)]


def _field_name(path: tuple, review_def: dict) -> str:
    """A record field in the review's own words: "mean (intervention)", "moderator Setting",
    "risk of bias, allocation concealment"."""
    labels = {m.get("name"): m.get("label") for m in review_def.get("moderators") or [] if isinstance(m, dict)}
    if len(path) >= 3 and path[0] == "arms":  # within an outcome block: arms.<arm>.<value>
        return f"{_words(path[2])} ({_words(path[1])})" + "".join(f" {_words(p)}" for p in path[3:])
    if path and path[0] == "moderators" and len(path) == 2:
        return f"moderator {labels.get(path[1]) or _words(path[1])}"
    if path[:2] == ("risk_of_bias", "domains") and len(path) >= 3:
        return f"risk of bias, {_words(path[2])}" + ("" if path[3:] == ("judgement",) else
                                                      "".join(f" {_words(p)}" for p in path[3:]))
    return " ".join(_words(p) for p in path)


def _blocks(record: dict | None) -> dict:
    """(outcome, timepoint) -> outcome block."""
    out = {}
    for outcome, blocks in ((record or {}).get("outcomes") or {}).items():
        for i, block in enumerate(blocks or []):
            if isinstance(block, dict):
                out[(outcome, str(block.get("timepoint", i)))] = block
    return out


def _where(review_def: dict, outcome: str, timepoint: str) -> str | None:
    """The outcome and time point in words, when the review has more than one of them."""
    pairs = [(o["id"], t["id"], o.get("label", o["id"]), t.get("label", t["id"]))
             for o in review_def.get("outcomes", []) for t in o.get("timepoints", [])]
    if len(pairs) < 2:
        return None
    found = next((p for p in pairs if p[:2] == (outcome, timepoint)), None)
    return f"{found[2]}, {found[3]}" if found else f"{_words(outcome)}, {_words(timepoint)}"


def field_changes(old: dict | None, new: dict | None, review_def: dict) -> list[dict]:
    """Each field that differs between two versions of a trial record: {"field", "where", "old",
    "new", "source"} (where: the outcome and time point, source: where the block's numbers were read)."""
    out = []
    old_blocks, new_blocks = _blocks(old), _blocks(new)
    for key in sorted(set(old_blocks) | set(new_blocks)):
        a, b = old_blocks.get(key), new_blocks.get(key)
        where = _where(review_def, *key)
        source = (b or a or {}).get("source")
        if a is None or b is None:
            out.append({"field": "outcome data", "where": where or f"{_words(key[0])}, {_words(key[1])}",
                        "old": None if a is None else "reported", "new": None if b is None else "reported",
                        "source": source})
            continue
        for path, x, y in _diff({k: v for k, v in a.items() if k != "timepoint"},
                                {k: v for k, v in b.items() if k != "timepoint"}):
            out.append({"field": _field_name(path, review_def), "where": where, "old": _show(x), "new": _show(y),
                        "source": source if path != ("source",) else None})
    rest = [(p, x, y) for p, x, y in _diff({k: v for k, v in (old or {}).items() if k != "outcomes"},
                                           {k: v for k, v in (new or {}).items() if k != "outcomes"})]
    for path, x, y in rest:
        out.append({"field": _field_name(path, review_def), "where": None, "old": _show(x), "new": _show(y),
                    "source": None})
    return out


def _value_text(value) -> str:
    if value is None:
        return "not reported"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) if value != {} else "empty"


def correction_text(label: str, fields: list[dict]) -> str:
    """One sentence per corrected trial: "Diaz 2018: mean (intervention) 9.9 → 11.9 (source: Table 2)"."""
    if not fields:
        return f"{label}: the record's text changed (layout or comments), no value in it"
    parts = []
    for f in fields[:MAX_FIELDS_IN_TEXT]:
        where = f"{f['where']}: " if f.get("where") else ""
        source = f" (source: {f['source']})" if f.get("source") else ""
        parts.append(f"{where}{f['field']} {_value_text(f['old'])} {ARROW} {_value_text(f['new'])}{source}")
    more = len(fields) - MAX_FIELDS_IN_TEXT
    tail = f"; and {more} other field{'s' if more != 1 else ''}" if more > 0 else ""
    return f"{label}: " + "; ".join(parts) + tail


def compare_editions(previous: dict | None, current_records: dict, current_pooled: dict, review_def: dict,
                     fingerprint: dict | None = None) -> dict:
    """changes.json. ``previous``: None for the first edition, else {"edition", "records"
    (``read_records``), "primary" (the history entry's primary result, or None), "fingerprint"};
    ``current_records``: ``read_records`` of this build's records; ``fingerprint``: this build's
    (history.json), to say which of data, analysis settings and code changed."""
    outcome = next(o for o in review_def["outcomes"] if o["id"] == review_def["primary_outcome"])
    tp = outcome["timepoints"][0]["id"]
    cur = _model_primary(current_pooled, outcome["id"], tp)
    out = {"first_edition": previous is None, "previous_edition": None, "added": [], "removed": [], "corrected": [],
           "corrections": []}
    if cur:
        out["current"] = {k: cur[k] for k in ("estimate", "ci_lower", "ci_upper", "k")} | {
            "conclusion": _conclusion(cur, outcome["direction"], cur["measure"])}
    if previous is None:
        return out
    old = previous["records"]
    out["previous_edition"] = previous["edition"]
    before = previous.get("fingerprint") or {}
    out["inputs_changed"] = [part for part in ("data", "config", "code")
                             if fingerprint and before.get(part) != fingerprint.get(part)]
    out["added"] = sorted(current_records[i]["label"] for i in set(current_records) - set(old))
    out["removed"] = sorted(old[i]["label"] for i in set(old) - set(current_records))
    corrected = sorted((i for i in set(old) & set(current_records) if old[i]["sha256"] != current_records[i]["sha256"]),
                       key=lambda i: current_records[i]["label"])
    out["corrected"] = [current_records[i]["label"] for i in corrected]
    for i in corrected:
        fields = field_changes(old[i]["data"], current_records[i]["data"], review_def)
        label = current_records[i]["label"]
        out["corrections"].append({"trial": i, "label": label, "fields": fields,
                                   "text": correction_text(label, fields)})
    prev = previous.get("primary")
    if prev and cur:
        measure = prev.get("measure") or cur["measure"]
        out["previous"] = {k: prev[k] for k in ("estimate", "ci_lower", "ci_upper", "k")} | {
            "conclusion": _conclusion(prev, outcome["direction"], measure)}
        out["estimate_change"] = cur["estimate"] - prev["estimate"]
        out["conclusion_changed"] = out["previous"]["conclusion"] != out["current"]["conclusion"]
    return out
