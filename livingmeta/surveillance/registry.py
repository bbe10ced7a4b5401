"""Registry watch: what changed in the registrations a review follows, and draft trial records
from results posted on ClinicalTrials.gov.

Every registration named by a trial record (``registration:``) or by a candidate is watched. A
watch compares each study's state (status, completion date, results posted, enrolment) with the
last state seen (registry.csv) and reports: a new registration, a status change, a completion
date passed without results, results newly posted.

For newly posted results the watch writes a **draft** trial record (surveillance/drafts/) when
the registry gives, for the two arms of a two-group randomised comparison, either means with
standard deviations (a continuous outcome of the review) or counts of participants with the
number analysed (a binary outcome). The draft names its source (registry id, outcome measure,
time frame, results posting date, data timestamp) and must be confirmed by a person
(``livingmeta surveil confirm``), who checks the outcome, the time point and the direction of the
scale; nothing from a registry reaches the analysis before that. Standard errors or confidence
intervals are never converted: such results are reported as posted, without a draft.
"""

from __future__ import annotations

from datetime import date

from livingmeta.surveillance.sources import _get, _nct, registry_state

INTERVENTION_TYPES = {"EXPERIMENTAL"}
CONTROL_TYPES = {"PLACEBO_COMPARATOR", "NO_INTERVENTION", "SHAM_COMPARATOR", "ACTIVE_COMPARATOR"}
ONGOING = {"RECRUITING", "NOT_YET_RECRUITING", "ACTIVE_NOT_RECRUITING", "ENROLLING_BY_INVITATION"}
FINISHED = {"COMPLETED", "TERMINATED"}


def changes(previous: dict | None, current: dict, checked: date) -> list[str]:
    """What is new about one registration since the last watch, in words."""
    out = []
    if previous is None:
        out.append("new registration")
    elif previous.get("status") != current["status"]:
        out.append(f"status changed from {previous.get('status') or 'unknown'} to {current['status']}")
    done = current["completion_date"]
    overdue = bool(done) and done[:10] <= checked.isoformat() and not current["results_posted"]
    was_overdue = previous is not None and bool(previous.get("completion_date")) and \
        previous["completion_date"][:10] <= (previous.get("checked") or "")[:10] and not previous.get("results_posted")
    if overdue and not was_overdue:
        out.append(f"completion date {done} passed without results posted")
    if current["results_posted"] and not (previous or {}).get("results_posted"):
        out.append(f"results posted {current['results_posted']}")
    return out


def watch(history: list[dict], studies: list[dict], checked: date) -> tuple[list[dict], list[dict]]:
    """The registry history (registry.csv rows, one per registration and date its state changed)
    with this watch's states added, and the changes (one entry per registration that changed).
    The states are compared with the last ones seen *before* ``checked``, so watching the same
    day again gives the same rows and the same changes."""
    day = checked.isoformat()
    previous: dict[str, dict] = {}
    for row in sorted(history, key=lambda r: r["checked"]):
        if row["checked"] < day:
            previous[row["registration"]] = row
    watched = set()
    rows, events = [], []
    for study in sorted(studies, key=_nct):
        state = {**registry_state(study), "checked": day}
        reg = state["registration"]
        watched.add(reg)
        before = previous.get(reg)
        what = changes(before, state, checked)
        if what:
            events.append({"registration": reg, "changes": what})
        if before is None or any(before.get(k) != v for k, v in state.items() if k != "checked"):
            rows.append(state)
    kept = [r for r in history if not (r["checked"] == day and r["registration"] in watched)]
    return sorted(kept + rows, key=lambda r: (r["registration"], r["checked"])), events


def latest_states(history: list[dict]) -> dict[str, dict]:
    """The last state seen of every registration."""
    out: dict[str, dict] = {}
    for row in sorted(history, key=lambda r: r["checked"]):
        out[row["registration"]] = row
    return out


def _arm_roles(study: dict) -> dict[str, str]:
    """Arm group label -> intervention / control, from the registry's arm types."""
    roles = {}
    for g in _get(study, "protocolSection", "armsInterventionsModule", "armGroups", default=[]):
        kind = str(g.get("type", ""))
        roles[str(g.get("label", "")).strip().casefold()] = (
            "intervention" if kind in INTERVENTION_TYPES else "control" if kind in CONTROL_TYPES else "")
    return roles


def _number(value):
    try:
        x = float(str(value).replace(",", ""))
    except (TypeError, ValueError):
        return None
    return x


def _whole(value):
    x = _number(value)
    return int(x) if x is not None and x == int(x) else None


def measure_arms(measure: dict, roles: dict[str, str], kind: str):
    """(intervention, control) data of one outcome measure, or (None, why)."""
    groups = measure.get("groups") or []
    if len(groups) != 2:
        return None, f"{len(groups)} groups (a draft needs a two-group comparison)"
    role = {g["id"]: roles.get(str(g.get("title", "")).strip().casefold(), "") for g in groups}
    if sorted(role.values()) != ["control", "intervention"]:
        return None, "the arms' roles (experimental / comparator) could not be read from the registration"
    denoms = {}
    for d in measure.get("denoms") or []:
        for c in d.get("counts") or []:
            denoms[c.get("groupId")] = _whole(c.get("value"))
    classes = measure.get("classes") or []
    cats = classes[0].get("categories") or [] if len(classes) == 1 else []
    if len(classes) != 1 or len(cats) != 1:
        return None, "results are split by class or category"
    values = {m.get("groupId"): m for m in cats[0].get("measurements") or []}
    data = {}
    for gid, r in role.items():
        n, m = denoms.get(gid), values.get(gid) or {}
        if n is None:
            return None, "the number analysed is not posted for every group"
        if kind == "continuous":
            mean, sd = _number(m.get("value")), _number(m.get("spread"))
            if mean is None or sd is None or sd <= 0:
                return None, "a mean or its standard deviation is missing"
            data[r] = {"n": n, "mean": mean, "sd": sd}
        else:
            events = _whole(m.get("value"))
            if events is None:
                return None, "a count of participants is missing"
            data[r] = {"events": events, "total": n}
    return data, ""


def _kind_of(measure: dict) -> str | None:
    if measure.get("paramType") == "MEAN" and measure.get("dispersionType") == "STANDARD_DEVIATION":
        return "continuous"
    if measure.get("paramType") in ("COUNT_OF_PARTICIPANTS", "NUMBER") and \
            str(_get(measure, "denoms", default=[{}])[0].get("units", "Participants")).lower() == "participants":
        return "binary"
    return None


def draft_record(study: dict, definition: dict, data_timestamp: str | None) -> tuple[dict | None, str]:
    """A draft trial record from a study's posted results, or (None, why not)."""
    measures = _get(study, "resultsSection", "outcomeMeasuresModule", "outcomeMeasures", default=[])
    if not measures:
        return None, "no outcome measures posted"
    roles = _arm_roles(study)
    arm_names = definition.get("arms") or {"intervention": "intervention", "control": "control"}
    why = "no posted outcome measure with means and standard deviations or counts of participants"
    ordered = sorted(measures, key=lambda m: (m.get("type") != "PRIMARY",))
    for outcome in definition.get("outcomes") or []:
        for m in ordered:
            kind = _kind_of(m)
            if kind != outcome.get("type"):
                continue
            data, reason = measure_arms(m, roles, kind)
            if data is None:
                why = f"outcome measure {m.get('title')!r}: {reason}"
                continue
            return _record(study, definition, outcome, m, data, arm_names, data_timestamp), ""
    return None, why


def _record(study, definition, outcome, measure, data, arm_names, data_timestamp) -> dict:
    ps = study.get("protocolSection") or {}
    nct = _nct(study)
    posted = _get(ps, "statusModule", "resultsFirstPostDateStruct", "date")
    sponsor = _get(ps, "sponsorCollaboratorsModule", "leadSponsor", "name") or "ClinicalTrials.gov registrant"
    title = _get(ps, "identificationModule", "officialTitle") or _get(ps, "identificationModule", "briefTitle")
    year = int((posted or _get(ps, "statusModule", "completionDateStruct", "date") or "2000")[:4])
    source = (f"ClinicalTrials.gov {nct}, results first posted {posted or 'date not given'}: "
              f"{measure.get('type', '').lower()} outcome measure {measure.get('title')!r}"
              f" (time frame: {measure.get('timeFrame') or 'not given'}; unit: {measure.get('unitOfMeasure') or 'not given'});"
              f" retrieved with the registry's API v2 (data timestamp {data_timestamp or 'not given'}). DRAFT: a person "
              "must confirm the outcome, the time point and the direction of the scale")
    tp = (outcome.get("timepoints") or [{"id": "post_treatment"}])[0]["id"]
    return {
        "id": nct.lower(),
        "label": f"{nct} (registry results)",
        "year": year,
        "year_source": f"year the results were first posted on ClinicalTrials.gov ({posted or 'not given'})",
        "registration": nct,
        "citation": {"first_author": sponsor, "title": title or None, "journal": "ClinicalTrials.gov results database",
                     "identifier": nct, "notes": ["draft written by livingmeta surveil from posted registry results"]},
        "arms": {arm_names["intervention"]: {"role": "intervention", "description": _group_title(measure, "intervention", study)},
                 arm_names["control"]: {"role": "control", "description": _group_title(measure, "control", study)}},
        "moderators": {m["name"]: None for m in definition.get("moderators") or []},
        "outcomes": {outcome["id"]: [{"timepoint": tp, "source": source,
                                      "measure": measure.get("title"),
                                      "arms": {arm_names["intervention"]: data["intervention"],
                                               arm_names["control"]: data["control"]}}]},
    }


def _group_title(measure: dict, role: str, study: dict) -> str:
    roles = _arm_roles(study)
    for g in measure.get("groups") or []:
        if roles.get(str(g.get("title", "")).strip().casefold()) == role:
            return str(g.get("title"))
    return ""
