"""Trial sequential analysis across a living review's looks: the required information size, Lan-DeMets
alpha-spending boundaries of O'Brien-Fleming type for benefit and harm, and the cumulative z-curve.

Formulas: Wetterslev, Thorlund, Brok & Gluud 2008 (J Clin Epidemiol 61:763) and 2009 (BMC Med Res
Methodol 9:86, diversity D^2); the Copenhagen Trial Unit's TSA manual (2011); Lan & DeMets 1983
(Biometrika 70:659) for alpha spending; boundaries by the recursive numerical integration of
Armitage, McPherson & Rowe 1969 (J R Stat Soc A 132:235), as in Jennison & Turnbull 2000, ch. 19.

Conventions (those of the TSA program and R's RTSA): information is counted in participants;
the two-sided alpha is split equally between benefit and harm, each side spending
alpha_side(t) = 2 - 2 Phi(z_{1 - alpha_side/2} / sqrt(t)) by information fraction t; the
heterogeneity-adjusted size is the whole-participant fixed-effect size divided by 1 - D^2.
Once the required information is reached, the boundary stays at its value there.
"""

from __future__ import annotations

import math

import numpy as np

from livingmeta.stats.dist import norm_cdf, norm_isf, norm_ppf, norm_sf
from livingmeta.errors import ModelError
from livingmeta.stats.effects import RATIO_MEASURES

Z_GRID_MAX = 12.0  # paths beyond 12 standard deviations carry no probability worth tracking


def obrien_fleming_spending(t, alpha_side: float):
    """Lan-DeMets O'Brien-Fleming-type alpha spent by information fraction t (one side)."""
    t = np.clip(np.asarray(t, dtype=float), 1e-12, 1.0)
    return 2.0 * norm_sf(norm_isf(alpha_side / 2) / np.sqrt(t))


def _simpson_weights(n: int, h: float) -> np.ndarray:
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w * h / 3.0


def _next_time(t, j) -> float:
    later = t[j + 1:][t[j + 1:] > t[j]]
    return float(later[0]) if len(later) else float(t[j]) + 1.0


def _advance(grid, dens, t_prev: float, tj: float, half_width: float, t_next: float, drift: float = 0.0):
    """Sub-density of S(tj) = Z sqrt(tj) on a Simpson grid over (-half_width, half_width), from the
    weighted sub-density at the previous look (None: the first look). S has drift ``drift`` per
    unit information. The grid is fine enough for the next look's kernel (step <= sd/8)."""
    step = min(0.05, math.sqrt(t_next - tj) / 8)
    n = min(max(int(math.ceil(2 * half_width / step)) | 1, 201), 6001) | 1
    new_grid = np.linspace(-half_width, half_width, n)
    sd = math.sqrt(tj - t_prev)
    if grid is None:
        new_dens = np.exp(-0.5 * (new_grid - drift * tj) ** 2 / tj) / math.sqrt(2 * math.pi * tj)
    else:
        z = (new_grid[:, None] - grid[None, :] - drift * (tj - t_prev)) / sd
        new_dens = (np.exp(-0.5 * z * z) / (sd * math.sqrt(2 * math.pi))) @ dens
    return new_grid, new_dens * _simpson_weights(n, new_grid[1] - new_grid[0])


def futility_boundaries(times, efficacy, *, alpha: float = 0.05, power: float = 0.80) -> np.ndarray:
    """Non-binding futility boundaries (the 'inner wedge' of the TSA program) for a two-sided
    design: |Z| below the boundary at a look means an effect as large as the anticipated one has
    become unlikely. beta = 1 - power is spent with the O'Brien-Fleming-type function: under the
    anticipated effect (drift z_{1-alpha/2} + z_{power} at the required information), the
    probability of first entering the wedge by each look equals the beta spent by then, paths
    that crossed the efficacy boundary ``efficacy`` having stopped. Capped at the efficacy boundary."""
    from scipy.optimize import brentq
    t = np.minimum(np.asarray(times, dtype=float), 1.0)
    b = np.asarray(efficacy, dtype=float)
    theta = float(norm_isf(alpha / 2) + norm_ppf(power))
    spent = obrien_fleming_spending(t, 1 - power)
    out = np.zeros(len(t))
    grid = dens = None
    t_prev, spent_prev, last = 0.0, 0.0, None
    for j, tj in enumerate(t):
        if last is not None and tj <= t_prev:
            out[j] = out[last]
            continue
        rt, sd, target = math.sqrt(tj), math.sqrt(tj - t_prev), spent[j] - spent_prev
        shift = (grid if grid is not None else np.zeros(1)) + theta * (tj - t_prev)
        weight = dens if dens is not None else np.ones(1)

        def inner(f):
            return (weight * (norm_cdf((f * rt - shift) / sd) - norm_cdf((-f * rt - shift) / sd))).sum()

        cap = min(b[j], Z_GRID_MAX)
        if target < 1e-14:
            f = 0.0
        elif inner(cap) <= target:
            f = cap
        else:
            f = brentq(lambda x: inner(x) - target, 0.0, cap, xtol=1e-12)
        out[j], last = f, j
        grid, dens = _advance(grid, dens, t_prev, tj, cap * rt, _next_time(t, j), drift=theta)
        dens = np.where(np.abs(grid) < f * rt, 0.0, dens)
        t_prev, spent_prev = tj, spent[j]
    return out


def spending_boundaries(times, alpha: float = 0.05, sides: int = 2) -> np.ndarray:
    """z-boundaries at information fractions ``times`` (increasing; values above 1 are treated as
    1) such that the probability, under no effect, of first crossing the benefit boundary by each
    look equals the alpha spent by then. With sides = 2 the harm boundary is the mirror image and
    alpha is split equally. The sub-density of the Brownian motion S(t) = Z sqrt(t) among paths
    still inside the boundaries is carried from look to look on a Simpson grid."""
    t = np.minimum(np.asarray(times, dtype=float), 1.0)
    if t.ndim != 1 or len(t) == 0 or np.any(t <= 0) or np.any(np.diff(t) < 0):
        raise ModelError("information fractions must be positive and non-decreasing")
    from scipy.optimize import brentq
    alpha_side = alpha / sides
    spent = obrien_fleming_spending(t, alpha_side)
    out = np.full(len(t), np.inf)
    grid = dens = None
    t_prev, spent_prev, last = 0.0, 0.0, None
    for j, tj in enumerate(t):
        if last is not None and tj <= t_prev:  # no new information, or past the required size
            out[j] = out[last]
            continue
        target = spent[j] - spent_prev
        sd = math.sqrt(tj - t_prev)
        if target < 1e-14:  # so little alpha to spend that no result could cross
            c = math.inf
        elif grid is None:
            c = float(norm_isf(target))
        else:
            def excess(cz):
                up = (dens * norm_sf((cz * math.sqrt(tj) - grid) / sd)).sum()
                return up - target
            c = brentq(excess, 0.0, 40.0, xtol=1e-12)
        out[j], last = c, j
        # carry the density of paths that stayed inside (-c, c) to this look
        grid, dens = _advance(grid, dens, t_prev, tj, min(c, Z_GRID_MAX) * math.sqrt(tj), _next_time(t, j))
        t_prev, spent_prev = tj, spent[j]
    return out


def required_information_size(effect: float, *, measure: str, alpha: float = 0.05, power: float = 0.80,
                              control_risk: float | None = None, diversity: float = 0.0, sides: int = 2,
                              sd: float | None = None) -> dict:
    """Participants (both arms, equal allocation) needed to detect ``effect`` (Wetterslev 2008, eq. 1):
    RIS = 4 (z_{1-alpha/sides} + z_{power})^2 nu / theta^2, divided by 1 - D^2 for heterogeneity.

    SMD: theta = effect, nu = 1 (the effect is in standard deviations). MD: theta = effect in the
    outcome's units, nu = ``sd``^2, the outcome's variance. Binary: ``effect`` is the anticipated
    RR / OR (or the RD) and ``control_risk`` the control-group event proportion p_C;
    theta = p_C - p_I, nu = p(1 - p) at the mean proportion p = (p_C + p_I) / 2."""
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ModelError(f"alpha ({alpha}) and power ({power}) must lie between 0 and 1")
    if not 0 <= diversity < 1:
        raise ModelError(f"diversity D\u00b2 must lie in [0, 1), not {diversity}")
    z2 = (norm_isf(alpha / sides) + norm_ppf(power)) ** 2
    if measure == "SMD":
        theta, nu = abs(effect), 1.0
    elif measure == "MD":
        if sd is None or not sd > 0:
            raise ModelError(f"a mean difference's information size needs the outcome's standard deviation, got {sd}")
        theta, nu = abs(effect), float(sd) ** 2
    else:
        if control_risk is None or not 0 < control_risk < 1:
            raise ModelError(f"a {measure} information size needs the control-group event proportion, got {control_risk}")
        pc = control_risk
        if measure == "RR":
            pi = pc * effect
        elif measure == "OR":
            pi = effect * pc / (1 - pc + effect * pc)
        elif measure == "RD":
            pi = pc + effect
        else:
            raise ModelError(f"no information-size formula for measure {measure!r}")
        if not 0 < pi < 1:
            raise ModelError(f"anticipated {measure} {effect} with control risk {pc} gives an intervention risk of {pi}")
        theta, pbar = abs(pc - pi), (pc + pi) / 2
        nu = pbar * (1 - pbar)
    if theta == 0:
        raise ModelError("the anticipated effect must differ from no effect")
    fixed = math.ceil(4 * z2 * nu / theta ** 2 - 1e-9)
    adjusted = math.ceil(fixed / (1 - diversity) - 1e-9)
    return {"fixed": fixed, "adjusted": adjusted, "diversity": diversity, "effect": effect, "measure": measure,
            "alpha": alpha, "power": power, "sides": sides, "control_risk": control_risk,
            **({"sd": float(sd)} if measure == "MD" else {})}


def diversity(se_fixed: float, se_random: float) -> float:
    """D^2 = 1 - V_F / V_R (Wetterslev et al. 2009): the share of the random-effects variance of the
    pooled estimate due to between-trial variation."""
    if not (se_fixed > 0 and se_random > 0):
        return 0.0
    return float(max(0.0, 1.0 - (se_fixed / se_random) ** 2))


def monitor(looks: list[dict], ris: int, *, alpha: float = 0.05, sides: int = 2, power: float | None = None) -> dict:
    """Boundaries at each look and whether the z-curve crossed them.

    ``looks``: dicts with ``label``, ``participants`` and ``z`` (oriented so that positive favours
    the intervention), in the order they happened. Returns the looks with their information
    fraction and boundary, and the first look at which benefit or harm was crossed."""
    if ris <= 0:
        raise ModelError(f"required information size must be positive, not {ris}")
    fractions = np.array([lk["participants"] / ris for lk in looks], dtype=float)
    order = np.argsort(fractions, kind="stable")
    bounds, wedge = np.empty(len(looks)), np.zeros(len(looks))
    if len(looks):
        times = np.maximum.accumulate(fractions[order])
        bounds[order] = spending_boundaries(times, alpha=alpha, sides=sides)
        if power is not None and sides == 2:
            wedge[order] = futility_boundaries(times, bounds[order], alpha=alpha, power=power)
    rows, benefit, harm = [], None, None
    for lk, frac, b, f in zip(looks, fractions, bounds, wedge):
        crossed = ("benefit" if lk["z"] >= b else "harm" if sides == 2 and lk["z"] <= -b
                   else "futility" if abs(lk["z"]) < f else None)
        rows.append({**lk, "information_fraction": float(frac), "boundary": float(b) if np.isfinite(b) else None,
                     "futility": float(f) if power is not None else None, "crossed": crossed})
        if crossed == "benefit" and benefit is None:
            benefit = lk["label"]
        if crossed == "harm" and harm is None:
            harm = lk["label"]
    return {"looks": rows, "first_benefit": benefit, "first_harm": harm,
            "conventional_z": float(norm_isf(alpha / sides))}


def boundary_curve(ris: int, max_participants: float, *, alpha: float = 0.05, sides: int = 2,
                   power: float | None = None, points: int = 60) -> dict:
    """The boundaries drawn as curves (looks on a fine grid of fractions) for the figure."""
    top = max(max_participants, ris) * 1.05
    start = max(ris * 0.02, 1.0)
    x = np.linspace(start, top, points)
    t = np.minimum(x / ris, 1.0)
    b = spending_boundaries(t, alpha=alpha, sides=sides)
    shown = np.isfinite(b)
    out = {"participants": x[shown].tolist(), "boundary": b[shown].tolist()}
    if power is not None and sides == 2:
        out["futility"] = futility_boundaries(t, b, alpha=alpha, power=power)[shown].tolist()
    return out


def controlled_z(estimate: float, se: float, direction: str) -> float:
    """Wald z oriented so that a positive value favours the intervention."""
    z = estimate / se if se > 0 else 0.0
    return float(-z if direction == "lower_is_better" else z)


def anticipated_effect(cid: float, measure: str, direction: str) -> float:
    """The clinically important difference from review.yaml (a positive size of benefit; a ratio
    above 1 for RR/OR) as a signed effect on the measure's own scale."""
    if measure in RATIO_MEASURES:
        return 1 / cid if direction == "lower_is_better" else cid
    return -abs(cid) if direction == "lower_is_better" else abs(cid)


def threshold_on_analysis_scale(cid: float, measure: str, direction: str) -> float:
    """The same threshold on the scale the model is fitted on (log for ratios)."""
    eff = anticipated_effect(cid, measure, direction)
    return math.log(eff) if measure in RATIO_MEASURES else eff
