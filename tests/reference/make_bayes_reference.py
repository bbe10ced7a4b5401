"""Writes tests/reference/bayes_bruteforce_reference.json: posterior summaries of the Bayesian
random-effects model computed by brute-force nested adaptive quadrature over (mu, tau)
(bayes_bruteforce.py), independent of livingmeta/stats/bayes.py. Run: python tests/reference/make_bayes_reference.py
(about five minutes). The data are the two worked examples of R's bayesmeta (see bayesmeta_published.json)."""

import json
from pathlib import Path

from bayes_bruteforce import posterior_summaries

HERE = Path(__file__).resolve().parent
PUBLISHED = json.loads((HERE / "bayesmeta_published.json").read_text())

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
