# Reference values for the report of a review whose outcomes are not SMDs (issue 13: "a report
# written for any review"), computed by R's metafor on the data of the Fleiss (1993) examples in
# R meta's Fleiss1993.rm5, read in place from ../shared/data/revman by fleiss1993.R (analysis 1.1:
# aspirin after myocardial infarction, 2x2 counts; analysis 1.2: mental health treatment, means and SDs).
# Run from the repository root:  Rscript tests/reference/make_reference_measures.R
# Writes tests/reference/measures_reference.json.
#
# Settings are the project's defaults (config/config.yaml): REML, Hartung-Knapp CIs, 95% level;
# the sensitivity rows DL + z, PM + Hartung-Knapp, FE + z; trim-and-fill L0 with REML.
# Ratio results are given back-transformed (exp), as a reader sees them.
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
num <- function(x) unname(as.numeric(x))
out <- list(versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                            date = as.character(Sys.Date())))

source("tests/reference/fleiss1993.R")

ctrl <- list(tol = 1e-12, maxiter = 10000)
main_fit <- function(es) rma(yi, vi, data = es, method = "REML", test = "knha", control = ctrl)

summary_of <- function(es, tr) {
  fit <- main_fit(es)
  pr <- predict(fit)
  loo <- leave1out(fit)
  tf <- trimfill(rma(yi, vi, data = es, method = "REML", control = ctrl))
  sens <- lapply(list(c("DL", "z"), c("PM", "knha"), c("FE", "z")), function(s) {
    f <- rma(yi, vi, data = es, method = s[1], test = s[2], control = ctrl)
    list(method = s[1], test = s[2], estimate = tr(num(f$beta)), ci_lower = tr(f$ci.lb), ci_upper = tr(f$ci.ub))
  })
  list(estimate = tr(num(fit$beta)), ci_lower = tr(fit$ci.lb), ci_upper = tr(fit$ci.ub),
       pi_lower = tr(pr$pi.lb), pi_upper = tr(pr$pi.ub), tau2 = fit$tau2, I2 = fit$I2,
       loo_min = tr(min(loo$estimate)), loo_max = tr(max(loo$estimate)),
       trimfill_k0 = tf$k0, trimfill_estimate = tr(num(tf$beta)), trimfill_ci_lower = tr(tf$ci.lb),
       trimfill_ci_upper = tr(tf$ci.ub), sensitivity = sens,
       studies = list(study = es$study, yi = num(es$yi), sei = num(sqrt(es$vi)), effect = tr(num(es$yi)),
                      ci_lower = tr(num(es$yi) - qnorm(0.975) * sqrt(num(es$vi))),
                      ci_upper = tr(num(es$yi) + qnorm(0.975) * sqrt(num(es$vi)))))
}

or <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = aspirin)
out$aspirin_or <- c(list(measure = "OR"), summary_of(or, exp))
rr <- escalc(measure = "RR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = aspirin)
out$aspirin_rr <- c(list(measure = "RR"), summary_of(rr, exp))
md <- escalc(measure = "MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = mental)
out$mental_md <- c(list(measure = "MD"), summary_of(md, identity))

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/measures_reference.json")
