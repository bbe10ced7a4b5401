"""'How settled is the evidence?': the pipeline stages that fit the Bayesian random-effects model
and the trial sequential analysis to the primary outcome (pure functions; the rule scripts do I/O).

Both are aids to interpretation beside the main frequentist analysis (Cochrane Handbook, ch. 22),
not replacements for it.
"""

from __future__ import annotations

import math

import pandas as pd

from livingmeta.stats import pooling, sequential
from livingmeta.pipeline.analysis import RATIO_MEASURES, _participants, outcome_sd, primary_analysis_rows, trials_report
from livingmeta.pipeline.config_check import section
from livingmeta.stats.bayes import bayes_rma, in_outcome_units, parse_tau_prior

CID_FIELD = "clinically_important_difference"
# The priors and settings come from config bayes: (defaults in config.schema.yaml): the prior
# sensitivity refits under a wider half-normal and the heavier-tailed half-Cauchy (Röver et al.
# 2021 discuss both).


def important_difference(outcome: dict) -> dict | None:
    """The outcome's clinically important difference from review.yaml ({value, source}), if any."""
    cid = outcome.get(CID_FIELD)
    if cid is None:
        return None
    return cid if isinstance(cid, dict) else {"value": float(cid), "source": ""}  # no source given: none printed


def _mean_difference_sd(sub: pd.DataFrame, measure: str, needed_for: str) -> tuple[float | None, str | None]:
    """A mean difference's outcome SD (pooled over the trials' groups) and, when no group reports
    one, the reason the analysis cannot run; (None, None) for any other measure."""
    if measure != "MD":
        return None, None
    sd = outcome_sd(sub)
    return sd, None if sd is not None else f"no trial reports the standard deviations of its groups, {needed_for}"


def bayes_analysis(effect_table: pd.DataFrame, review_def: dict, cfg: dict) -> dict:
    """Bayesian random-effects fit of the primary outcome, with the posterior probabilities of any
    benefit, of a benefit at least as large as the clinically important difference, and of harm."""
    outcome, tp, sub = primary_analysis_rows(effect_table, review_def)
    cfg = section("bayes", cfg)
    tau_spec = cfg["tau_prior"]
    out = {"outcome": outcome["id"], "outcome_label": outcome["label"], "timepoint": tp["id"],
           "direction": outcome["direction"], "k": int(len(sub)), "tau_prior_spec": tau_spec}
    if len(sub) < 2:
        out["not_analysed_reason"] = f"{trials_report(len(sub))} the primary outcome; the model needs 2 or more"
        return out
    measure = str(sub["measure"].iloc[0])
    # The tau priors are set in standard deviations (SMD; log odds ratios live on a similar scale);
    # a mean difference's tau is in the outcome's units, so its priors are rescaled by the outcome's SD.
    sd, reason = _mean_difference_sd(sub, measure, "which a mean difference needs to put the heterogeneity prior "
                                                   "in the outcome's units")
    if reason:
        out["not_analysed_reason"] = reason
        return out

    def tau_prior(spec):
        return in_outcome_units(parse_tau_prior(spec), sd) if sd is not None else spec

    fit = bayes_rma(sub.yi.to_numpy(), sub.vi.to_numpy(), tau_prior=tau_prior(tau_spec), mu_prior=cfg["mu_prior"],
                    level=cfg["level"])
    cid = important_difference(outcome)
    lower_better = outcome["direction"] == "lower_is_better"
    threshold = sequential.threshold_on_analysis_scale(cid["value"], measure, outcome["direction"]) if cid else 0.0
    fitted = fit.to_dict(threshold=threshold, labels=sub.label.astype(str).tolist())
    below_zero = fitted["prob_below_zero"]
    probs = {"benefit": below_zero if lower_better else 1 - below_zero,
             "harm": 1 - below_zero if lower_better else below_zero}
    if cid:
        probs["important_benefit"] = fitted["prob_below_threshold"] if lower_better else fitted["prob_above_threshold"]
    n_int, n_ctl = _participants(sub)
    out.update(measure=measure, ratio=measure in RATIO_MEASURES, participants=n_int + n_ctl,
               important_difference=cid, threshold_analysis_scale=threshold if cid else None,
               probabilities=probs, model=fitted, prior_sensitivity=[], **({"outcome_sd": sd} if sd is not None else {}))
    for spec in cfg["sensitivity_tau_priors"]:
        alt = bayes_rma(sub.yi.to_numpy(), sub.vi.to_numpy(), tau_prior=tau_prior(spec), mu_prior=cfg["mu_prior"],
                        level=cfg["level"])
        p0 = alt.prob_mu_below(0.0)
        row = {"tau_prior": alt.tau_prior.description, "benefit": p0 if lower_better else 1 - p0,
               "mu_median": float(alt.mu_quantile(0.5)[0])}
        if cid:
            pt = alt.prob_mu_below(threshold)
            row["important_benefit"] = pt if lower_better else 1 - pt
        out["prior_sensitivity"].append(row)
    return out


def _z_fit(yi, vi, method: str):
    fit = pooling.rma(yi, vi, method=method, test="z")
    return fit.estimate, float(fit.se[0])


def _control_risk(sub: pd.DataFrame) -> float | None:
    if "events_ctl" not in sub or sub["events_ctl"].isna().all():
        return None
    return float(sub["events_ctl"].sum() / sub["total_ctl"].sum())


def sequential_analysis(effect_table: pd.DataFrame, review_def: dict, cfg: dict, pooling_cfg: dict,
                        edition_looks=()) -> dict:
    """Trial sequential analysis of the primary outcome: required information size from the
    clinically important difference (corrected for diversity D^2), O'Brien-Fleming boundaries, the
    cumulative z-curve by publication year, and one point per earlier edition (``edition_looks``:
    {label, edition, participants, z, z_source} in publication order, from history.json)."""
    outcome, tp, sub = primary_analysis_rows(effect_table, review_def)
    direction = outcome["direction"]
    cfg = section("sequential", cfg)
    alpha, power, method = cfg["alpha"], cfg["power"], section("pooling", pooling_cfg)["method"]
    out = {"outcome": outcome["id"], "timepoint": tp["id"], "direction": direction, "alpha": alpha, "power": power,
           "method": method, "k": int(len(sub))}
    cid = important_difference(outcome)
    if len(sub) < 2:
        out["not_analysed_reason"] = f"{trials_report(len(sub))} the primary outcome; the analysis needs 2 or more"
        return out
    if cid is None:
        out["not_analysed_reason"] = ("the review sets no smallest difference that matters for this outcome, so there "
                                      "is no anticipated effect to size the required information on")
        return out
    measure = str(sub["measure"].iloc[0])
    sd, reason = _mean_difference_sd(sub, measure, "and the required information size of a mean difference "
                                                   "needs the outcome's variance")
    if reason:
        out["not_analysed_reason"] = reason
        return out
    est_re, se_re = _z_fit(sub.yi, sub.vi, method)
    d2 = (sequential.diversity(_z_fit(sub.yi, sub.vi, "FE")[1], se_re)
          if cfg["heterogeneity_correction"] == "diversity" and method != "FE" else 0.0)
    effect = sequential.anticipated_effect(cid["value"], measure, direction)
    ris = sequential.required_information_size(effect, measure=measure, alpha=alpha, power=power,
                                               control_risk=_control_risk(sub), diversity=d2, sd=sd)
    sub = sub.sort_values(["year", "label"], kind="stable").reset_index(drop=True)
    looks = []
    for year in sorted(sub.year.unique()):
        upto = sub[sub.year <= year]
        n = sum(_participants(upto))
        z = (sequential.controlled_z(*_z_fit(upto.yi, upto.vi, method), direction) if len(upto) >= 2
             else sequential.controlled_z(float(upto.yi.iloc[0]), math.sqrt(float(upto.vi.iloc[0])), direction))
        looks.append({"label": str(int(year)), "participants": int(n), "z": z, "k": int(len(upto))})
    editions = list(edition_looks)
    n_now = sum(_participants(sub))
    z_now = sequential.controlled_z(est_re, se_re, direction)
    power_for_futility = power if cfg["futility"] else None
    mon = sequential.monitor(looks + [dict(e, kind="edition") for e in editions], ris["adjusted"], alpha=alpha,
                             power=power_for_futility)
    year_looks, edition_looks = mon["looks"][:len(looks)], mon["looks"][len(looks):]
    first = lambda rows, what: next((r["label"] for r in rows if r["crossed"] == what), None)  # noqa: E731
    out.update(measure=measure, important_difference=cid, anticipated_effect=effect, ris=ris,
               participants=int(n_now), percent_of_ris=100.0 * n_now / ris["adjusted"],
               current={"participants": int(n_now), "z": z_now, "boundary": year_looks[-1]["boundary"]},
               looks=year_looks, editions=edition_looks,
               first_benefit_year=first(year_looks, "benefit"), first_harm_year=first(year_looks, "harm"),
               first_benefit_edition=first(edition_looks, "benefit"), first_harm_edition=first(edition_looks, "harm"),
               conventional_z=mon["conventional_z"],
               futility=power_for_futility is not None,
               boundary_curve=sequential.boundary_curve(ris["adjusted"], n_now, alpha=alpha, power=power_for_futility))
    last = year_looks[-1]["crossed"]
    out["status"] = (last if last in ("benefit", "harm", "futility")
                     else "information_reached" if n_now >= ris["adjusted"] else "not_yet")
    return out
