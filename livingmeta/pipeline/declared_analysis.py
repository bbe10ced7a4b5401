"""The analysis a review declares for itself, and which one applies to each outcome.

A review may say how it is analysed (review.yaml ``analysis``, and ``outcomes[].analysis`` for one
outcome): the method (an inverse-variance tau² estimator, FE for a common effect; or for binary
outcomes Mantel-Haenszel, RevMan's Mantel-Haenszel random effects, Peto), the test, the level, the
zero-cell correction, the SMD's correction and variance, swapped events, and ``declared_by``, the
reader's words for where it comes from ("the review's RevMan file (Mantel-Haenszel, fixed
effect)"). Importers write what their source declares.

Precedence, most specific first: ``outcomes[].analysis`` > review.yaml ``analysis`` >
config/config.yaml (``pooling``, ``effect_size``) > the config schema's defaults. The headline,
key findings, forest plots and summary of findings use the outcome's analysis; the
configuration's models are sensitivity rows beside it.

Pure functions over plain dicts, no imports from the rest of the pipeline: the record checks
(``records.load_review``, so ``livingmeta check``) call :func:`analysis_problems`.
"""

from __future__ import annotations

# The inverse-variance methods (livingmeta.stats.estimators.METHODS) and RevMan's methods for 2x2
# data (livingmeta.stats.revman.REVMAN_METHODS); a test holds these names to the registries.
INVERSE_VARIANCE = ("FE", "DL", "REML", "ML", "PM", "HE", "HS", "SJ", "EB")
COUNT_METHODS = ("MH", "MH+DL", "Peto")
METHOD_MEASURES = {"MH": ("OR", "RR", "RD"), "MH+DL": ("OR", "RR", "RD"), "Peto": ("OR",)}
REVMAN_ZERO_CELL_ADD = 0.5   # RevMan's Mantel-Haenszel and inverse-variance 2x2 correction
# analysis key -> (config section, config key); the other keys have no config default
CONFIG_KEYS = {"method": ("pooling", "method"), "test": ("pooling", "test"), "level": ("pooling", "level"),
               "zero_cell_add": ("effect_size", "zero_cell_add"), "smd_correction": ("effect_size", "correction"),
               "smd_variance": ("effect_size", "variance")}


def resolve(review_def: dict, outcome: dict, pooling: dict, effect_size: dict) -> dict:
    """The analysis of ``outcome``: each key from the most specific place that sets it (see the
    module docstring). ``pooling`` and ``effect_size`` are the configuration's sections with their
    defaults filled (``config_check.section``). The result also says whether the review declared
    the method (``declared``) and in whose words (``declared_by``)."""
    review_level, outcome_level = review_def.get("analysis") or {}, outcome.get("analysis") or {}
    config = {"pooling": pooling, "effect_size": effect_size}
    out = {}
    for key, (sec, cfg_key) in CONFIG_KEYS.items():
        out[key] = outcome_level.get(key, review_level.get(key, config[sec][cfg_key]))
    out["swap_events"] = bool(outcome_level.get("swap_events", review_level.get("swap_events", False)))
    declared = "method" in outcome_level or "method" in review_level
    out["declared"] = declared
    out["declared_by"] = (outcome_level.get("declared_by") or review_level.get("declared_by")
                          or ("the review" if declared else None))
    return out


def method_words(method: str) -> str:
    """'Mantel-Haenszel, fixed effect', 'inverse variance, random effects (REML)', ...: how a
    reader names the model."""
    if method == "MH":
        return "Mantel-Haenszel, fixed effect"
    if method == "MH+DL":
        return "Mantel-Haenszel, random effects (DerSimonian-Laird)"
    if method == "Peto":
        return "Peto odds ratio, fixed effect"
    if method == "FE":
        return "inverse variance, fixed effect"
    return f"inverse variance, random effects ({method})"


def inverse_variance_model(settings: dict) -> dict:
    """The inverse-variance model the stages that refit subsets use (subgroups by moderator,
    small-study effects, cumulative, low risk of bias): the declared method when it is one, else
    its counterpart (Mantel-Haenszel and Peto: common effect; MH+DL: DerSimonian-Laird)."""
    method = {"MH": "FE", "Peto": "FE", "MH+DL": "DL"}.get(settings["method"], settings["method"])
    return {"method": method, "test": settings["test"], "level": settings["level"]}


def _block_problems(block: dict, where: str, outcomes: list[dict], *, method_here: bool = True) -> list[tuple[str, str, object]]:
    """Bad combinations in one analysis block, for each outcome it applies to. ``method_here``
    False: the method is inherited from the review-wide block, which is checked on its own."""
    out = []
    method = block.get("method")
    if method in COUNT_METHODS:
        if block.get("test") == "knha":
            out.append((f"{where}.test", f"{method} gives a Wald (z) interval; Hartung-Knapp applies to "
                                         "inverse-variance models: set test: z or choose an inverse-variance method",
                        "knha"))
        add = block.get("zero_cell_add")
        if add is not None and add != REVMAN_ZERO_CELL_ADD:
            out.append((f"{where}.zero_cell_add", f"{method} follows RevMan, which adds {REVMAN_ZERO_CELL_ADD} to "
                                                  "every cell of a trial with a zero cell: remove this key or choose an "
                                                  "inverse-variance method", add))
        for o in outcomes if method_here else []:
            name = f"outcome {o.get('id')!r}"
            if o.get("type") != "binary":
                out.append((f"{where}.method", f"{method} pools 2x2 counts, and {name} is {o.get('type')} "
                                               f"(effect measure {o.get('effect_measure')}): choose an inverse-variance "
                                               f"method ({', '.join(INVERSE_VARIANCE)})", method))
            elif o.get("effect_measure") not in METHOD_MEASURES[method]:
                fix = ("use MH or an inverse-variance method, or set effect_measure: OR" if method == "Peto"
                       else f"use an effect measure of {', '.join(METHOD_MEASURES[method])}")
                out.append((f"{where}.method", f"{method} does not estimate a {o.get('effect_measure')} ({name}): {fix}",
                            method))
    if block.get("swap_events"):
        for o in outcomes:
            if o.get("type") != "binary":
                out.append((f"{where}.swap_events", f"outcome {o.get('id')!r} is {o.get('type')}: only events of a "
                                                    "binary outcome can be swapped; remove this key", True))
    return out


def analysis_problems(definition: dict) -> list[tuple[str, str, object]]:
    """Every bad combination in review.yaml's analysis blocks as (field, message, value): a method
    that cannot pool an outcome's data or measure (MH with an SMD, Peto with an RR), a test the
    method does not have (knha with MH), ... The review-wide block is checked against every
    outcome that does not set its own method."""
    outcomes = [o for o in definition.get("outcomes") or [] if isinstance(o, dict)]
    review_block = definition.get("analysis") if isinstance(definition.get("analysis"), dict) else {}
    out = _block_problems(review_block, "analysis",
                          [o for o in outcomes if "method" not in (o.get("analysis") or {})])
    for i, o in enumerate(outcomes):
        block = o.get("analysis")
        if not isinstance(block, dict) or not block:
            continue
        own = {k: v for k, v in block.items() if k != "declared_by"}
        merged = {"method": block.get("method", review_block.get("method")), **own}
        out += _block_problems(merged, f"outcomes[{i}].analysis", [o], method_here="method" in block)
    return out
