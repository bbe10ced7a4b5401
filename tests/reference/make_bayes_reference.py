"""Writes tests/reference/bayes_bruteforce_reference.json: posterior summaries of the Bayesian
random-effects model computed by brute-force nested adaptive quadrature over (mu, tau)
(bayes_bruteforce.py), independent of livingmeta/stats/bayes.py. Run: python tests/reference/make_bayes_reference.py
(about five minutes). The data are the two worked examples of R's bayesmeta (see bayesmeta_published.json).

`python tests/reference/make_bayes_reference.py --prior-scales` writes bayes_prior_scale_reference.json
instead (about half an hour): the 2.5%, 50% and 97.5% quantiles of tau on a SYNTHETIC 10-trial
example (drawn below) under tau priors from very narrow to very diffuse, where a quadrature grid
placed by the prior's scale instead of the posterior's mass fails (issue 23, F15)."""

import json
import sys
from pathlib import Path

from bayes_bruteforce import posterior_summaries, tau_quantiles

HERE = Path(__file__).resolve().parent
PUBLISHED = json.loads((HERE / "bayesmeta_published.json").read_text())


def prior_scale_cases():
    import numpy as np
    rng = np.random.default_rng(10)  # SYNTHETIC: 10 trials, log odds ratio scale, true tau 0.3
    vi = rng.uniform(0.02, 0.2, 10)
    yi = rng.normal(-0.3, np.sqrt(vi + 0.09))
    yi, vi = [round(float(x), 4) for x in yi], [round(float(x), 4) for x in vi]
    out = {"yi": yi, "vi": vi, "probabilities": [0.025, 0.5, 0.975], "cases": {}}
    for fam, scale in (("half-normal", 1e-3), ("half-normal", 0.5), ("half-normal", 100.0), ("half-normal", 1e4),
                       ("half-normal", 1e12), ("half-cauchy", 1e6)):
        q = tau_quantiles(yi, vi, (fam, scale), out["probabilities"])
        out["cases"][f"{fam}:{scale:g}"] = q
        print(fam, scale, q, flush=True)
    (HERE / "bayes_prior_scale_reference.json").write_text(json.dumps(
        {"method": "tau quantiles by brentq on P(tau < t), each P by scipy.integrate.quad nested over mu (inner) "
                   "and tau (outer); tests/reference/bayes_bruteforce.py", **out}, indent=2) + "\n")


if "--prior-scales" in sys.argv:
    prior_scale_cases()
    sys.exit()

cases = {}
for name, case in PUBLISHED["cases"].items():
    if case.get("tau_prior", "").startswith("uniform"):
        continue
    fam, scale = case["tau_prior"].split(":")
    mu_prior = None if case["mu_prior"] == "uniform" else tuple(float(x) for x in case["mu_prior"].split(":")[1].split(","))
    res = posterior_summaries(case["yi"], case["vi"], (fam, float(scale)), mu_prior,
                              mu_points=case["bruteforce_mu_points"], tau_points=case["bruteforce_tau_points"])
    cases[name] = {"mu_mean": res["mu_mean"], "mu_sd": res["mu_sd"], "tau_mean": res["tau_mean"],
                   "prob_mu_below": [[x, p] for x, p in res["prob_mu_below"].items()],
                   "prob_tau_below": [[t, p] for t, p in res["prob_tau_below"].items()]}
    print(name, cases[name], flush=True)
(HERE / "bayes_bruteforce_reference.json").write_text(json.dumps(
    {"method": "scipy.integrate.quad nested over mu (inner) and tau (outer), epsrel 1e-10 / 1e-9; "
               "tests/reference/bayes_bruteforce.py", "cases": cases}, indent=2) + "\n")
