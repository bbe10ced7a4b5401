"""What a RevMan 5 file and a RevMan Web data package have in common, and how it becomes a
livingmeta review.

Both parsers (``rm5.py``, ``revman_web.py``) produce a :class:`RevManReview`; :func:`to_imported`
maps it to review.yaml + one record per included study:

- one review.yaml outcome per RevMan analysis (comparison x outcome), id ``analysis-<c>-<o>``,
  carrying RevMan's settings (data type, statistical method, effect measure, fixed or random,
  swapped events, CI levels) and its stored totals as ``revman.published`` (kept as the text
  RevMan printed, so the reproduction check knows the printed precision);
- one timepoint per analysis (``as-analysed``), or one per subgroup when the analysis has
  subgroups (a study may sit in several subgroups of one analysis, never twice in one);
- arms ``experimental`` and ``control`` (RevMan's group 1 and group 2); the group labels of each
  analysis are kept on the outcome;
- record sources name the format and the location in it, not the file name (review.yaml has it),
  so a renamed source file does not make every trial "changed" under ``--sync``;
- per study: year, references with identifiers, characteristics of included studies, and the
  risk-of-bias judgements in the shape of workflow/schemas/trial.schema.yaml.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from dataclasses import dataclass, field

from livingmeta.errors import ImportFormatError

from livingmeta.living.importers.review_writer import ImportedReview, trial_id_for
from livingmeta.pipeline.declared_analysis import REVMAN_ZERO_CELL_ADD, method_words
from livingmeta.pipeline.labels import names_word

ARMS = {"intervention": "experimental", "control": "control"}
# review.schema effect_measure for each RevMan measure; anything else (generic inverse variance
# with a custom name) is "generic" and keeps RevMan's name in revman.effect_measure.
SCHEMA_MEASURE = {"OR": "OR", "PETO_OR": "OR", "RR": "RR", "RD": "RD", "MD": "MD", "SMD": "SMD"}


@dataclass
class StudyRow:
    """One study's data in one analysis (RevMan's DICH_DATA / CONT_DATA / IV_DATA, or a data row)."""

    study: str                       # key of the study in RevManReview.studies
    subgroup: str | None
    values: dict                     # see ROW_VALUES
    published: dict                  # effect, ci_lower, ci_upper, weight: text as printed (or absent)
    where: str                       # location in the source, for messages and record sources


ROW_VALUES = {"dichotomous": ("events_1", "total_1", "events_2", "total_2"),
              "continuous": ("mean_1", "sd_1", "total_1", "mean_2", "sd_2", "total_2"),
              "generic": ("estimate", "se")}


@dataclass
class Analysis:
    number: str                      # "1.2" = comparison 1, outcome 2
    comparison: str
    name: str
    data_type: str
    method: str
    measure: str
    random: bool
    where: str
    log_data: bool = False           # generic inverse variance entered on the log scale
    swap_events: bool = False
    ci_study: float = 95.0
    ci_total: float = 95.0
    group_labels: tuple = ("", "")
    graph_labels: tuple = ("", "")
    totals: str = "YES"              # YES | SUB (subtotals only) | NO
    overall: dict | None = None      # stored totals as printed: effect, ci_lower, ci_upper, chi2, df,
                                     # p_chi2, i2, tau2, z, p_z, events_1, total_1, events_2, total_2
    subgroups: list = field(default_factory=list)   # [{"name": ..., "published": {...}}]
    subgroup_test: dict | None = None                # {"chi2", "df", "p", "i2"} text
    rows: list = field(default_factory=list)


@dataclass
class Study:
    key: str
    name: str
    year: str | None
    data_source: str | None = None
    references: list = field(default_factory=list)   # [{"type", "primary", "authors", "title", ...}]
    identifiers: list = field(default_factory=list)  # ["DOI: ...", ...]
    characteristics: dict = field(default_factory=dict)
    risk_of_bias: dict = field(default_factory=dict)  # domain -> {"judgement", "support", "item"}
    other_bias_items: list = field(default_factory=list)


@dataclass
class RevManReview:
    title: str
    source: str                      # file name
    fmt: str                         # "RevMan 5 file" | "RevMan Web data package"
    studies: dict                    # key -> Study
    analyses: list
    objectives: str | None = None
    printed_decimals: int | None = None   # None: full precision (rm5); 6 in the web CSVs
    rob_source: str | None = None


# --- risk of bias: RevMan item names -> RoB 1 keys of trial.schema.yaml ---------------------------------
ROB1_ITEMS = [  # (pattern on the lower-cased item name, domain keys); first match wins
    (r"sequence generation", ["sequence_generation"]),
    (r"allocation concealment", ["allocation_concealment"]),
    (r"blinding of participants and personnel|performance bias", ["blinding_participants", "blinding_personnel"]),
    (r"blinding of participants", ["blinding_participants"]),
    (r"blinding of personnel", ["blinding_personnel"]),
    (r"blinding of outcome assess|detection bias", ["blinding_outcome_assessment"]),
    (r"^blinding\??$", ["blinding_participants", "blinding_personnel", "blinding_outcome_assessment"]),
    (r"incomplete outcome data|attrition bias", ["incomplete_outcome_data"]),
    (r"selective (outcome )?reporting|reporting bias", ["selective_reporting"]),
    (r"other (sources of )?bias|free of other bias", ["other_bias"]),
]
JUDGEMENTS = {"yes": "low", "low risk": "low", "low": "low", "no": "high", "high risk": "high", "high": "high",
              "unknown": "unclear", "unclear risk": "unclear", "unclear": "unclear",
              "not applicable": "not_assessed", "": "not_assessed"}


def rob1_domains(item_name: str) -> list[str]:
    """trial.schema.yaml RoB 1 domain keys for a RevMan risk-of-bias item name ([] = no standard domain)."""
    name = item_name.strip().lower()
    for pattern, keys in ROB1_ITEMS:
        if re.search(pattern, name):
            return keys
    return []


def judgement(result: str, where: str) -> str:
    j = JUDGEMENTS.get((result or "").strip().lower())
    if j is None:
        raise ImportFormatError(f"{where}: unknown risk-of-bias judgement {result!r}; expected one of "
                                "YES/NO/UNKNOWN (RevMan 5) or Low/High/Unclear risk (RevMan Web)")
    return j


def add_rob(study: Study, item: str, result: str, support: str | None, where: str, group: str | None = None) -> None:
    """Record one risk-of-bias judgement on ``study`` (RoB 1 domain when the item maps, else in
    ``other_bias_items`` with RevMan's own item name)."""
    entry = {"judgement": judgement(result, where), "support": (support or "").strip() or None}
    keys = rob1_domains(item)
    if keys and group is None:
        for k in keys:
            study.risk_of_bias[k] = dict(entry)
    else:
        study.other_bias_items.append({"item": item.strip(), **({"group": group} if group else {}), **entry,
                                       **({"domains": keys} if keys else {})})


# --- numbers --------------------------------------------------------------------------------------
# A number as RevMan writes one: ASCII digits, a point, an exponent. Python's float() also takes
# "6_15" (as 615), "٣" (Arabic-Indic digits) and "３" (full-width): refused, as the Metapsy importer does.
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def number(text, where: str, *, integer: bool = False, required: bool = True):
    """A number from RevMan's text; None when empty and not required; refusal otherwise."""
    s = (text or "").strip()
    if not s:
        if required:
            raise ImportFormatError(f"{where}: value is missing")
        return None
    if not NUMBER.fullmatch(s):
        raise ImportFormatError(f"{where}: {s!r} is not a number (digits 0-9 with a decimal point, as RevMan writes them)")
    v = float(s)
    if not math.isfinite(v):
        raise ImportFormatError(f"{where}: {s!r} is not a finite number")
    if integer:
        if v != int(v):
            raise ImportFormatError(f"{where}: {s!r} must be a whole number")
        return int(v)
    return v


def ci_level(text, where: str) -> float:
    """A confidence level in percent (RevMan's CI_STUDY, CI_TOTAL, "Study CI", "Estimate CI": 95 when
    not given), within the 50 to 99.9 the analyses accept."""
    level = number(text or "95", where)
    if not 50 <= level <= 99.9:
        raise ImportFormatError(f"{where}: a confidence level of {level:g}% is not usable; it must be between 50 and "
                                "99.9 (percent), e.g. 95")
    return level


def study_key(studies: dict, key: str, name: str, where: str, first_where: dict) -> None:
    """Refuse a study ID (RevMan 5) or name (RevMan Web) that is already taken: the second study
    would silently take the first one's data."""
    if key in studies:
        raise ImportFormatError(f"{where}: study {name!r} has the ID {key!r}, already used by study "
                                f"{studies[key].name!r} ({first_where[key]}); each included study needs its own ID: "
                                "fix the file in RevMan and export it again")


def year_of(study: Study, where: str) -> int:
    for text in (study.year, study.name):
        m = re.search(r"(1[89]\d\d|20\d\d|2100)", text or "")
        if m:
            return int(m.group(1))
    raise ImportFormatError(f"{where}: study {study.name!r} has no year (neither YEAR nor a year in its name); "
                            "add it in RevMan and export again")


# --- mapping to livingmeta records ------------------------------------------------------------------
def outcome_id(a: Analysis) -> str:
    return "analysis-" + a.number.replace(".", "-")


TIMEPOINT = {"id": "as-analysed", "label": "as analysed in the review"}
TOTALS = {"YES": "overall", "SUB": "subtotals_only", "NO": "none"}


def _subgroups(a: Analysis) -> list[str]:
    """The analysis' subgroups in RevMan's order (those with data)."""
    return [s for s in dict.fromkeys(r.subgroup for r in a.rows) if s]


def declared_method(a: Analysis) -> str:
    """RevMan's statistical method and model as a livingmeta analysis method
    (livingmeta.pipeline.declared_analysis): MH, MH+DL, Peto, FE or DL."""
    if a.method == "MH":
        return "MH+DL" if a.random else "MH"
    if a.method == "PETO":
        return "Peto"
    return "DL" if a.random else "FE"


def _analysis(a: Analysis, rev: RevManReview) -> dict:
    """What the source declares for this analysis, as review.yaml's outcomes[].analysis."""
    method = declared_method(a)
    out = {"method": method, "test": "z", "level": a.ci_total / 100,
           "declared_by": f"the review's {rev.fmt} ({method_words(method)})"}
    if a.data_type == "dichotomous":
        out.update(zero_cell_add=REVMAN_ZERO_CELL_ADD, swap_events=a.swap_events)
    if a.measure == "SMD":  # RevMan's "Hedges' adjusted g" (Deeks & Higgins 2010)
        out.update(smd_correction="approx", smd_variance="revman")
    return out


def _labels(a: Analysis) -> dict:
    """The analysis' own words: RevMan's group labels, and its graph labels (RevMan's defaults
    "Favours experimental" / "Favours control" name the groups by their labels instead)."""
    g1, g2 = a.group_labels
    labels = {k: v for k, v in (("intervention", g1), ("comparator", g2)) if v}
    left, right = a.graph_labels
    defaults = {"favours experimental": g1, "favours control": g2, "favours intervention": g1,
                "favours [experimental]": g1, "favours [control]": g2}
    left = f"Favours {defaults[left.lower()]}" if left.lower() in defaults and defaults[left.lower()] else left
    right = f"Favours {defaults[right.lower()]}" if right.lower() in defaults and defaults[right.lower()] else right
    if left and right:
        direction, _ = _direction(a)
        labels.update(favours_intervention=left if direction == "lower_is_better" else right,
                      favours_comparator=right if direction == "lower_is_better" else left)
    return labels


def _direction(a: Analysis) -> tuple[str, str]:
    """RevMan draws group 1 ("experimental") on the left of its forest plots by default: lower
    values favour group 1 unless the left graph label names the control group."""
    if not any(a.graph_labels):
        return "lower_is_better", ("graph labels not in the source; RevMan's default layout assumed (group 1, "
                                   "experimental, favoured on the left)")
    left = (a.graph_labels[0] or "").lower()
    favours_control = "control" in left or (a.group_labels[1] and a.group_labels[1].lower() in left
                                            and a.group_labels[0].lower() not in left)
    direction = "higher_is_better" if favours_control else "lower_is_better"
    return direction, f"RevMan graph labels: left {a.graph_labels[0]!r}, right {a.graph_labels[1]!r}"


def _outcome(a: Analysis, rev: RevManReview) -> dict:
    direction, why = _direction(a)
    settings = {
        "analysis": a.number, "comparison": a.comparison, "data_type": a.data_type, "method": a.method,
        "effect_measure": a.measure, "model": "random" if a.random else "fixed",
        "swap_events": a.swap_events, "log_data": a.log_data, "ci_study": a.ci_study, "ci_total": a.ci_total,
        "group_labels": list(a.group_labels), "graph_labels": list(a.graph_labels), "totals": a.totals,
        "direction_source": why, "source": f"{rev.source}, {a.where}",
        "printed_decimals": rev.printed_decimals,
        "published": a.overall, "subgroups": a.subgroups or [], "subgroup_test": a.subgroup_test,
    }
    out = {"id": outcome_id(a), "label": a.name, "type": {"dichotomous": "binary"}.get(a.data_type, a.data_type),
           "effect_measure": SCHEMA_MEASURE.get(a.measure, "generic"), "direction": direction,
           "timepoints": [dict(TIMEPOINT, published_result=f"revman {a.number}")], "analysis": _analysis(a, rev)}
    if a.comparison:
        out["comparison"] = a.comparison
    labels = _labels(a)
    if labels:
        out["labels"] = labels
    if _subgroups(a):
        out["subgroups"] = _subgroups(a)
    if a.totals != "YES":
        out["totals"] = TOTALS.get(a.totals, "overall")
    out["revman"] = settings
    return out


def _block(a: Analysis, row: StudyRow, tp: str, source: str) -> dict:
    v = row.values
    e, c = ARMS["intervention"], ARMS["control"]
    if a.data_type == "dichotomous":
        arms = {e: {"events": v["events_1"], "total": v["total_1"]}, c: {"events": v["events_2"], "total": v["total_2"]}}
    elif a.data_type == "continuous":
        arms = {e: {"n": v["total_1"], "mean": v["mean_1"], "sd": v["sd_1"]},
                c: {"n": v["total_2"], "mean": v["mean_2"], "sd": v["sd_2"]}}
    else:
        arms = {e: {"n": v.get("total_1")}, c: {"n": v.get("total_2")}}
    block = {"timepoint": tp, "source": f"{source}, {row.where}", "arms": arms}
    if a.data_type == "generic":
        block["generic"] = {"estimate": v["estimate"], "se": v["se"], "log_scale": a.log_data}
    if row.subgroup:
        block["subgroup"] = row.subgroup
    pub = {k: row.published[k] for k in ("effect", "ci_lower", "ci_upper", "weight") if row.published.get(k) not in (None, "")}
    if pub:
        block["published"] = {"revman": pub, "source": f"{source}, {row.where} (RevMan's stored study result)"}
    return block


def _record(study: Study, tid: str, rev: RevManReview) -> dict:
    primary = next((r for r in study.references if r.get("primary")), study.references[0] if study.references else {})
    authors = primary.get("authors") or ""
    first_author = authors.split(",")[0].strip() or study.name.split()[0]
    ids = study.identifiers or primary.get("identifiers") or []
    rec = {
        "id": tid, "label": study.name, "year": year_of(study, f"{rev.source}: study {study.name}"),
        "year_source": f"{rev.fmt} (study year)",
        "citation": {"first_author": first_author, "title": primary.get("title"), "journal": primary.get("journal"),
                     "detail": primary.get("detail"), "identifier": ids[0] if ids else None, "source_urls": []},
        "arms": {ARMS["intervention"]: {"role": "intervention", "description": None},
                 ARMS["control"]: {"role": "control", "description": None}},
        "moderators": {}, "moderator_sources": {"imported_from": f"{rev.fmt} named in review.yaml (revman.file), livingmeta import"},
        "outcomes": {},
        "revman": {"study_id": study.key, "data_source": study.data_source, "identifiers": ids,
                   "references": study.references, "characteristics": study.characteristics},
    }
    if study.risk_of_bias or study.other_bias_items:
        rob = {"tool": "rob1", "source": rev.rob_source or f"{rev.fmt}, risk-of-bias table",
               "domains": study.risk_of_bias}
        if study.other_bias_items:
            rob["other_items"] = study.other_bias_items
        rec["risk_of_bias"] = rob
    return rec


def to_imported(rev: RevManReview) -> ImportedReview:
    """Map a parsed RevMan review to review.yaml + records (refusing what cannot be mapped)."""
    if not rev.analyses:
        raise ImportFormatError(f"{rev.source}: no analyses with data found; nothing to import")
    taken: set[str] = set()
    ids = {}
    used = {r.study for a in rev.analyses for r in a.rows}
    for key, study in rev.studies.items():
        ids[key] = trial_id_for(study.name, taken)
    unknown = sorted(used - set(rev.studies))
    if unknown:
        raise ImportFormatError(f"{rev.source}: analysis data refer to studies that are not among the included "
                                f"studies: {', '.join(unknown)}")
    records = {ids[k]: _record(s, ids[k], rev) for k, s in rev.studies.items()}
    outcomes = []
    for a in rev.analyses:
        outcomes.append(_outcome(a, rev))
        oid = outcome_id(a)
        for row in a.rows:
            rec = records[ids[row.study]]
            blocks = rec["outcomes"].setdefault(oid, [])
            if any(b.get("subgroup") == row.subgroup for b in blocks):
                raise ImportFormatError(f"{rev.source}: {row.where}: study {rev.studies[row.study].name!r} appears "
                                        f"twice in analysis {a.number}{' subgroup ' + repr(row.subgroup) if row.subgroup else ''}; "
                                        "livingmeta keeps one result per study, subgroup and analysis")
            blocks.append(_block(a, row, TIMEPOINT["id"], rev.fmt))
    # Studies included but in no analysis have no outcome: RevMan allows it, a record does not.
    no_data = [k for k, s in rev.studies.items() if not records[ids[k]]["outcomes"]]
    for k in no_data:
        records.pop(ids[k])
    definition = {
        "title": rev.title or rev.source,
        **({"question": rev.objectives} if rev.objectives else {}),  # no objectives: the report leaves it out
        "data_source": f"{rev.fmt} {rev.source}, imported by livingmeta",
        "primary_outcome": outcomes[0]["id"],
        "outcomes": outcomes,
        "arms": dict(ARMS),
        "moderators": [],
        "revman": {"format": rev.fmt, "file": rev.source, "printed_decimals": rev.printed_decimals,
                   "studies_without_data": [rev.studies[k].name for k in no_data]},
    }
    if outcomes[0].get("labels"):  # the review's words: those of its first analysis (each outcome keeps its own)
        definition["labels"] = dict(outcomes[0]["labels"])
    header = (f"Imported from {rev.source} ({rev.fmt}) by livingmeta import; `livingmeta import --sync` "
              "replaces its data from the source and keeps what was written here by hand (title, labels, an "
              "outcome's label, clinically_important_difference, ...).")
    return ImportedReview(definition=definition, records=records, source=rev.source, header=header,
                          source_keys=SOURCE_KEYS, source_outcome_keys=SOURCE_OUTCOME_KEYS,
                          warnings=[w for a in rev.analyses if (w := _outcome_name_warning(a))]
                          + ([] if "labels" in definition else [NO_GROUP_LABELS]))


NO_GROUP_LABELS = ("the source names neither group of any analysis, so the report calls them 'the intervention' "
                   "and 'the comparator'; set labels (intervention, comparator) in review.yaml, which --sync keeps")


def _outcome_name_warning(a: Analysis) -> str | None:
    """An outcome named after the intervention ('Aspirin for Preventing Death after Myocardial
    Infarction', in R meta's Fleiss 1993 file) cannot be the Y of 'X reduces Y': the report quotes
    it, and this says how to give the outcome a name of what was measured."""
    g1 = a.group_labels[0]
    if not names_word(a.name, g1):
        return None
    return (f"analysis {a.number}: its outcome name {a.name!r} names the intervention ({g1!r}), so the report "
            f"quotes it ('{g1} reduces the outcome \u2018{a.name}\u2019'); to have it read as what was measured, "
            f"set that outcome's label in review.yaml (outcomes, id {outcome_id(a)}); --sync keeps it")


# What a RevMan file owns in review.yaml (a sync replaces these); every other key keeps a hand edit.
SOURCE_KEYS = ("outcomes", "arms", "data_source", "revman")
SOURCE_OUTCOME_KEYS = ("id", "type", "effect_measure", "timepoints", "subgroups", "totals", "analysis", "revman")


def read_revman_file(path, parse, *, limit: int, what: str, skipped_note=lambda s: s):
    """ImportedReview from the RevMan file at ``path`` (``what``: a .rm5 file, a data package):
    refused above ``limit`` bytes before it is read, parsed by ``parse(bytes, name)``, mapped; each
    analysis the parser skipped becomes a warning."""
    path = Path(path)
    size = path.stat().st_size
    if size > limit:
        raise ImportFormatError(f"{path.name}: file is {size:,} bytes; the limit for {what} is {limit:,}")
    rev = parse(path.read_bytes(), path.name)
    imported = to_imported(rev)
    imported.warnings += [f"{path.name}: {skipped_note(s)}" for s in rev.skipped]
    return imported
