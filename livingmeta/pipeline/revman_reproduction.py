"""Does livingmeta reproduce RevMan? Each imported analysis recomputed with its file's settings
(livingmeta.stats.revman) and set beside the totals RevMan stored (review.yaml, ``revman.published``).

The tolerance comes from the printed precision: half a unit in the last printed decimal for the
RevMan Web CSVs (6 decimals); for RevMan 5 files, which store full doubles, 1e-8 relative, except
p-values, which RevMan's chi-squared tail gives to about 1e-7 (absolute tolerance 1e-6).
Used by ``livingmeta import`` (a loud warning on any disagreement) and by the report's appendix
(:func:`section_context`, template ``templates/sections/revman_reproduction.html.j2``).
"""

from __future__ import annotations

import math

import numpy as np

from livingmeta.stats import revman

STAT_LABELS = {"effect": "pooled estimate", "ci_lower": "CI lower", "ci_upper": "CI upper", "chi2": "Chi² (Q)",
               "df": "df", "p_chi2": "P (heterogeneity)", "i2": "I² (%)", "tau2": "Tau²", "z": "Z", "p_z": "P (effect)",
               "events_1": "events, group 1", "total_1": "participants, group 1", "events_2": "events, group 2",
               "total_2": "participants, group 2", "weight": "weight (%)"}
P_KEYS = ("p_chi2", "p_z", "p")


def tolerance(key: str, printed: str, decimals: int | None) -> float:
    if decimals is not None:
        return 0.5 * 10.0 ** (-decimals) * (1 + 1e-9) + 1e-12
    if key in P_KEYS:
        return 1e-6
    return 1e-8 * max(1.0, abs(float(printed)))


def _ours(res: revman.RevManResult, ratio: bool) -> dict:
    back = math.exp if ratio else (lambda x: x)
    out = {"effect": back(res.estimate), "ci_lower": back(res.ci_lower), "ci_upper": back(res.ci_upper),
           "chi2": res.QE, "df": res.df, "p_chi2": res.QEp, "i2": res.I2, "tau2": res.tau2, "z": abs(res.zval),
           "p_z": res.pval}
    out.update(res.totals)
    return out


def _analyse(spec: dict, blocks: list[dict]) -> revman.RevManResult:
    rv = spec["revman"]
    level = float(rv.get("ci_total") or 95) / 100
    arms = ("experimental", "control")
    if rv["data_type"] == "dichotomous":
        cols = [[b["arms"][arm][k] for b in blocks] for arm in arms for k in ("events", "total")]
        return revman.dichotomous(cols[0], cols[1], cols[2], cols[3], measure=rv["effect_measure"], method=rv["method"],
                                  random=rv["model"] == "random", level=level, swap_events=rv.get("swap_events", False))
    if rv["data_type"] == "continuous":
        c = {f"{k}{i}": [b["arms"][arm][k] for b in blocks] for i, arm in enumerate(arms, 1) for k in ("mean", "sd", "n")}
        return revman.continuous(c["mean1"], c["sd1"], c["n1"], c["mean2"], c["sd2"], c["n2"],
                                 measure=rv["effect_measure"], random=rv["model"] == "random", level=level)
    return revman.generic([b["generic"]["estimate"] for b in blocks], [b["generic"]["se"] for b in blocks],
                          measure=rv["effect_measure"], random=rv["model"] == "random", level=level,
                          log_scale=bool(rv.get("log_data", True)) if rv["effect_measure"] in revman.RATIO else True)


def stored_as_not_estimable(stored: dict | None) -> bool:
    """RevMan stores a total or study result it could not estimate as zeros (estimate and both
    confidence limits 0; RevMan 5 also marks ESTIMABLE="NO"): no estimate, never a number."""
    if not stored:
        return True
    try:
        return all(float(stored.get(k, "nan")) == 0 for k in ("effect", "ci_lower", "ci_upper"))
    except ValueError:
        return False


NOT_ESTIMABLE_ROW = {"statistic": "estimate", "key": "effect", "ours": None, "revman": "not estimable (stored as 0)",
                     "difference": None, "tolerance": 0.0, "agree": True, "not_estimable": True}


def _compare(label: str, ours: dict, stored: dict | None, decimals, ratio_random: bool, estimable: bool = True,
             has_estimate: bool = True) -> list[dict]:
    """The comparison rows of one total (or study result). RevMan's zeros for an estimate it could
    not make agree with ours when ours is not estimable either (one row says so); when ours is,
    RevMan stored no estimate to compare with (no rows). ``has_estimate`` False: the stored values
    carry no estimate (the test for subgroup differences, a generic study's weight)."""
    if has_estimate and stored_as_not_estimable(stored):
        return [] if estimable or not stored else [{"part": label, **NOT_ESTIMABLE_ROW}]
    rows = []
    for key, printed in (stored or {}).items():
        if key not in ours or key == "tau2" and not ratio_random:
            continue
        value = ours[key]
        try:
            theirs = float(printed)
        except (TypeError, ValueError):
            continue
        ok_value = value is not None and np.isfinite(value)
        diff = abs(value - theirs) if ok_value else float("inf")
        tol = 0.0 if key == "df" else tolerance(key, printed, decimals)
        rows.append({"part": label, "statistic": STAT_LABELS.get(key, key), "key": key,
                     "ours": float(value) if ok_value else None, "revman": printed,
                     "difference": diff if np.isfinite(diff) else None, "tolerance": tol, "agree": bool(diff <= tol)})
    return rows


def _status(rows: list[dict], study_rows: list[dict]) -> str:
    """One word per analysis for the summary table."""
    compared = rows + study_rows
    if not rows:
        return "not stored"
    if not all(r["agree"] for r in compared):
        return "differs"
    if all(r.get("not_estimable") for r in rows):
        return "not estimable in both"
    return "reproduced"


def reproduce(definition: dict, trials: list[dict]) -> list[dict]:
    """One entry per imported RevMan analysis: settings, our totals, and the comparison rows."""
    out = []
    for spec in definition.get("outcomes", []):
        rv = spec.get("revman")
        if not rv:
            continue
        entries = [(t, b) for t in sorted(trials, key=lambda t: t["id"]) for b in t["outcomes"].get(spec["id"], [])]
        ratio = rv["effect_measure"] in revman.RATIO
        decimals = rv.get("printed_decimals")
        random = rv["model"] == "random"
        res = _analyse(spec, [b for _, b in entries])
        rows = _compare("overall", _ours(res, ratio), rv.get("published"), decimals, random, res.k > 0)
        sub_results = []
        for sg in rv.get("subgroups") or []:
            members = [b for _, b in entries if b.get("subgroup") == sg["name"]]
            if not members:
                continue
            sres = _analyse(spec, members)
            sub_results.append(sres)
            rows += _compare(f"subgroup {sg['name']}", _ours(sres, ratio), sg.get("published"), decimals, random,
                             sres.k > 0)
        if rv.get("subgroup_test") and sub_results:
            test = revman.subgroup_differences(sub_results)
            rows += _compare("subgroup differences", {"chi2": test["chi2"], "p": test["p"], "i2": test["i2"]},
                             {k: v for k, v in rv["subgroup_test"].items() if k != "df"}, decimals, True,
                             has_estimate=False)
        study_rows = []
        back = math.exp if ratio else (lambda x: x)
        crit = revman.dist.norm_isf((1 - float(rv.get("ci_study") or 95) / 100) / 2)
        for i, (t, b) in enumerate(entries):
            pub = (b.get("published") or {}).get("revman")
            if not pub:
                continue
            if not res.estimable[i]:
                study_rows += _compare(t["label"], {}, pub, decimals, False, estimable=False)
                continue
            if rv["data_type"] == "generic":
                # IV_DATA's EFFECT_SIZE is the entered estimate (its scale depends on LOG_DATA), not
                # a computed result: only the weight is RevMan's own study result here.
                pub = {k: v for k, v in pub.items() if k == "weight"}
            y, s = res.yi[i], math.sqrt(res.vi[i])
            mine = {"effect": back(y), "ci_lower": back(y - crit * s), "ci_upper": back(y + crit * s),
                    "weight": res.weights[i]}
            study_rows += _compare(t["label"], mine, pub, decimals, False, has_estimate=rv["data_type"] != "generic")
        out.append({
            "analysis": rv["analysis"], "outcome_id": spec["id"], "name": spec["label"],
            "settings": f"{rv['effect_measure']}, {_method_name(rv)}, {'random effects' if random else 'fixed effect'}",
            "k": res.k, "not_estimable": [entries[i][0]["label"] for i in np.flatnonzero(~res.estimable)],
            "stored": bool(rows), "rows": rows, "status": _status(rows, study_rows),
            "studies_checked": len({r["part"] for r in study_rows}),
            "studies_not_estimable_in_both": len({r["part"] for r in study_rows if r.get("not_estimable")}),
            "study_rows": study_rows,
            "study_disagreements": [r for r in study_rows if not r["agree"]],
            "agree": all(r["agree"] for r in rows + study_rows),
            "ours": {k: v for k, v in _ours(res, ratio).items()},
        })
    return out


def summary(table: list[dict]) -> dict:
    """The appendix's one table: analyses, totals compared, reproduced, not estimable in both,
    differing, and RevMan totals absent; statistics and study results checked."""
    count = lambda status: sum(a["status"] == status for a in table)  # noqa: E731
    return {"analyses": len(table), "compared": sum(a["status"] != "not stored" for a in table),
            "reproduced": count("reproduced"), "not_estimable_in_both": count("not estimable in both"),
            "differing": count("differs"), "not_stored": count("not stored"),
            "statistics": sum(len(a["rows"]) for a in table),
            "studies_checked": sum(a["studies_checked"] for a in table),
            "differing_analyses": [f"{a['analysis']} {a['name']}" for a in table if a["status"] == "differs"]}


CSV_NAME = "revman_reproduction.csv"
CSV_COLUMNS = ["analysis", "name", "settings", "part", "statistic", "livingmeta", "revman", "difference", "tolerance",
               "agreement"]


def comparison_rows(table: list[dict]) -> list[dict]:
    """Every comparison, totals then study results, one row each: the attached CSV (full precision,
    ratio measures on the ratio scale as RevMan prints them)."""
    out = []
    for a in table:
        for r in a["rows"] + a["study_rows"]:
            out.append({"analysis": a["analysis"], "name": a["name"], "settings": a["settings"], "part": r["part"],
                        "statistic": r["statistic"], "livingmeta": "" if r["ours"] is None else repr(r["ours"]),
                        "revman": r["revman"], "difference": "" if r["difference"] is None else repr(r["difference"]),
                        "tolerance": repr(r["tolerance"]),
                        "agreement": "not estimable in both" if r.get("not_estimable") else
                        ("agrees" if r["agree"] else "DIFFERS")})
    return out


def _method_name(rv) -> str:
    return {"MH": "Mantel-Haenszel", "IV": "inverse variance", "PETO": "Peto"}.get(rv["method"], rv["method"])


def disagreements(table: list[dict]) -> list[str]:
    """Plain lines for a loud console warning, one per statistic that does not reproduce."""
    lines = []
    for a in table:
        for r in a["rows"] + a["study_disagreements"]:
            if not r["agree"]:
                lines.append(f"analysis {a['analysis']} ({a['name']}), {r['part']}, {r['statistic']}: ours "
                             f"{r['ours']!r}, RevMan {r['revman']} (tolerance {r['tolerance']:.1g})")
    return lines


def console_table(table: list[dict]) -> list[str]:
    lines = []
    for a in table:
        head = f"analysis {a['analysis']} {a['name']} [{a['settings']}; {a['k']} studies"
        head += f"; not estimable: {', '.join(a['not_estimable'])}]" if a["not_estimable"] else "]"
        lines.append(head + f": {a['status']}")
        if a["status"] == "not stored":
            lines.append("  RevMan stored no totals for this analysis; nothing to compare")
        for r in a["rows"]:
            if r.get("not_estimable"):
                lines.append(f"  {r['part']:<22s} not estimable in livingmeta and in RevMan (stored as 0): agree")
                continue
            ours = "n/a" if r["ours"] is None else f"{r['ours']:.10g}"
            lines.append(f"  {r['part']:<22s} {r['statistic']:<22s} ours {ours:<18s} RevMan {r['revman']:<22s} "
                         f"{'ok' if r['agree'] else 'DIFFERS'}")
        if a["studies_checked"]:
            lines.append(f"  study results: {a['studies_checked']} studies checked (estimate, CI, weight), "
                         f"{len(a['study_disagreements'])} differ")
    s = summary(table)
    lines.append(f"{s['analyses']} analyses: {s['reproduced']} reproduced, {s['not_estimable_in_both']} not estimable "
                 f"in both, {s['differing']} differing, {s['not_stored']} without stored totals")
    return lines


def has_published_totals(review_def: dict) -> bool:
    """Whether any outcome keeps RevMan's stored totals (an imported RevMan review)."""
    return any((o.get("revman") or {}).get("published") for o in review_def.get("outcomes", []))


def section_from_table(review_def: dict, table: list[dict]) -> dict:
    """The appendix's context from :func:`reproduce`'s table: the summary, the analyses that
    differ with their rows, and the name of the attached CSV with every comparison."""
    return {"summary": summary(table), "all_agree": all(a["agree"] for a in table), "csv": CSV_NAME,
            "differing": [{k: a[k] for k in ("analysis", "name", "settings")}
                          | {"rows": [r for r in a["rows"] + a["study_rows"] if not r["agree"]]}
                          for a in table if not a["agree"]],
            "source": (review_def.get("revman") or {}).get("format") or "RevMan file"}


def section_context(review_def: dict, trials: list[dict]) -> dict | None:
    """Context of the report's appendix; None when the review has no stored RevMan totals."""
    if not has_published_totals(review_def):
        return None
    return section_from_table(review_def, reproduce(review_def, trials))


def table_for_review_dir(review_dir, review_def: dict) -> list[dict] | None:
    """:func:`reproduce` for a review folder (the rule's one call); None for a review without stored
    totals, whose records are then not read (reading 480 took half a second)."""
    if not has_published_totals(review_def):
        return None
    from livingmeta.pipeline.records import load_review
    review = load_review(review_dir)
    return reproduce(review.definition, review.trials)


def section_for_review_dir(review_dir, review_def: dict) -> dict | None:
    """:func:`section_context` for a review folder."""
    table = table_for_review_dir(review_dir, review_def)
    return None if table is None else section_from_table(review_def, table)
