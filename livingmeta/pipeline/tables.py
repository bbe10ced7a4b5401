"""Tidy tables from validated trial records: the extract stage's outputs.

``arm_table``: one row per trial x outcome x timepoint x arm, with the source of its numbers.
``trial_table``: one row per trial, citation and moderators.
``published_table``: per-trial results as printed by the source review (for comparison only).
"""

from __future__ import annotations

import json

import pandas as pd

from livingmeta.pipeline.records import Review

ARM_COLUMNS = ["trial_id", "label", "year", "outcome", "outcome_type", "timepoint", "arm", "role",
               "n", "mean", "sd", "events", "total", "reversed", "source", "effect_id", "subgroup", "yi", "se"]


def arm_table(review: Review) -> pd.DataFrame:
    types = {o["id"]: o["type"] for o in review.definition["outcomes"]}
    rows = []
    for rec in review.trials:
        for oid, blocks in rec["outcomes"].items():
            for blk in blocks:
                for arm, vals in _block_arms(blk, review.definition["arms"]).items():
                    rows.append({
                        "trial_id": rec["id"], "label": rec["label"], "year": rec["year"], "outcome": oid,
                        "outcome_type": types[oid], "timepoint": blk["timepoint"], "arm": arm,
                        "role": rec["arms"][arm]["role"], "n": vals.get("n"), "mean": vals.get("mean"),
                        "sd": vals.get("sd"), "events": vals.get("events"), "total": vals.get("total"),
                        "reversed": bool(blk.get("reversed", False)),
                        "source": blk["source"], "effect_id": blk.get("effect_id"), "subgroup": blk.get("subgroup"),
                        "yi": blk.get("generic", {}).get("estimate"), "se": blk.get("generic", {}).get("se"),
                    })
    df = pd.DataFrame(rows, columns=ARM_COLUMNS)
    for col in ("n", "events", "total"):
        df[col] = df[col].astype("Int64")
    return df.sort_values(["outcome", "timepoint", "label", "role"], ignore_index=True)


def _block_arms(blk: dict, review_arms: dict) -> dict:
    """The arms of a block; a block given as a computed effect (generic: estimate, se) gets one
    row per compared arm (group size only, if known) so intervention and control line up as usual."""
    if "generic" not in blk:
        return blk["arms"]
    given = blk.get("arms", {})
    return {arm: {"n": given.get(arm, {}).get("n", given.get(arm, {}).get("total"))}
            for arm in (review_arms["intervention"], review_arms["control"])}


def trial_table(review: Review) -> pd.DataFrame:
    mods = [m["name"] for m in review.definition["moderators"] if m["name"] != "year"]
    rows = []
    for rec in review.trials:
        c = rec["citation"]
        row = {"trial_id": rec["id"], "label": rec["label"], "year": rec["year"],
               "first_author": c.get("first_author"), "title": c.get("title"), "journal": c.get("journal"),
               "detail": c.get("detail"), "identifier": c.get("identifier"),
               "source_urls": " ; ".join(c.get("source_urls", [])),
               "citation_json": json.dumps(c, sort_keys=True, ensure_ascii=False)}  # read by references.py
        for m in mods:
            row[m] = rec["moderators"].get(m)
        row["intervention_description"] = rec["arms"][review.definition["arms"]["intervention"]].get("description")
        row["outcome_measure"] = rec.get("moderator_sources", {}).get("outcome_measure")
        row["coding_note"] = rec.get("moderator_sources", {}).get("coding_note")
        rows.append(row)
    return pd.DataFrame(rows).sort_values("label", ignore_index=True)


def published_table(review: Review) -> pd.DataFrame:
    rows = []
    for rec in review.trials:
        for oid, blocks in rec["outcomes"].items():
            for blk in blocks:
                pub = blk.get("published")
                if pub:
                    rows.append({"trial_id": rec["id"], "label": rec["label"], "outcome": oid,
                                 "timepoint": blk["timepoint"], **{k: pub.get(k) for k in
                                                                   ("smd", "ci_lower", "ci_upper", "weight_pct", "source")}})
    return pd.DataFrame(rows, columns=["trial_id", "label", "outcome", "timepoint", "smd", "ci_lower",
                                       "ci_upper", "weight_pct", "source"])
