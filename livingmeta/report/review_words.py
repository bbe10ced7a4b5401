"""The words a review uses for itself, read from its review.yaml, with generic wording when a key
is absent. Code, templates and figure defaults never name an intervention, a comparator, an
outcome or a moderator: they ask here.

review.yaml keys (all optional; see workflow/schemas/review.schema.yaml):

    labels:
      intervention: <noun phrase used in sentences>
      comparator: <noun phrase>
      intervention_short: <column heading of narrow tables>
      comparator_short: <column heading>
      favours_intervention: <forest plot axis label>
      favours_comparator: <forest plot axis label>
    outcomes: [{id: ..., labels: {<the same keys, for this outcome only>}}]
    moderators: [{name: ..., label: ..., unit: <singular unit; slopes are "per unit">, type: continuous}]
"""

from __future__ import annotations

GENERIC = {"intervention": "the intervention", "comparator": "the comparator",
           "intervention_short": "I", "comparator_short": "C"}


def review_words(review_def: dict, outcome: dict | None = None) -> dict:
    """Every review-specific phrase the report and the figures print, as plain strings; for one
    ``outcome``, its own labels (review.yaml outcomes[].labels, e.g. one RevMan analysis' group
    labels) over the review's."""
    labels = {**(review_def.get("labels") or {}), **((outcome or {}).get("labels") or {})}
    noun_i, noun_c = labels.get("intervention"), labels.get("comparator")
    intervention = noun_i or GENERIC["intervention"]
    comparator = noun_c or GENERIC["comparator"]
    return {
        "intervention": intervention, "comparator": comparator,
        "intervention_heading": _heading(noun_i or "intervention"),
        "comparator_heading": _heading(noun_c or "comparator"),
        "intervention_short": labels.get("intervention_short") or GENERIC["intervention_short"],
        "comparator_short": labels.get("comparator_short") or GENERIC["comparator_short"],
        "favours_intervention": labels.get("favours_intervention") or f"Favours {noun_i or 'intervention'}",
        "favours_comparator": labels.get("favours_comparator") or f"Favours {noun_c or 'comparator'}",
        "contrast": f"{noun_i or 'intervention'} minus {noun_c or 'comparator'}",
    }


def _heading(noun: str) -> str:
    """A noun as a column heading: its first letter upper case, the rest as written ("Drug A", not "Drug a")."""
    return noun[:1].upper() + noun[1:]


def favours_pair(words: dict, direction: str) -> tuple[str, str]:
    """(left, right) axis labels of an effect axis: for an outcome where lower is better, effects
    below zero favour the intervention."""
    pair = (words["favours_intervention"], words["favours_comparator"])
    return pair if direction == "lower_is_better" else pair[::-1]


def figure_style(review_def: dict, direction: str, outcome: dict | None = None) -> dict:
    """Keyword arguments for the figures: arm headings, favours labels and the contrast (of one
    ``outcome`` when given: its own labels first)."""
    words = review_words(review_def, outcome)
    return {"arm_labels": (words["intervention_heading"], words["comparator_heading"]),
            "favours": favours_pair(words, direction), "contrast": words["contrast"]}


def analysis_name(review_def: dict, entry: dict) -> str:
    """An analysis as readers name it: the outcome's label, its time point when the outcome has
    several, its comparison when the review has several ("Mortality (Drug A versus drug B)")."""
    outcome = next((o for o in review_def["outcomes"] if o["id"] == entry["outcome"]), {})
    name = entry["outcome_label"]
    if len(outcome.get("timepoints", [])) > 1:
        name += f", {entry['timepoint_label']}"
    comparisons = {o.get("comparison") for o in review_def["outcomes"] if o.get("comparison")}
    if len(comparisons) > 1 and outcome.get("comparison"):
        name += f" ({outcome['comparison']})"
    return name


def moderator_unit(review_def: dict, name: str) -> str | None:
    """The unit a continuous moderator is counted in (review.yaml moderators[].unit), or None."""
    mod = next((m for m in review_def.get("moderators", []) if m["name"] == name), None)
    return (mod or {}).get("unit")
