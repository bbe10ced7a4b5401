# Reference values for the appraisal layer (livingmeta/pipeline/appraisal.py, grade.py), computed by R's
# metafor on the exercise review's post-treatment data with its RoB 1 judgements
# (tests/reference/data/exercise_rob.csv, exported from the trial records). Run from the
# repository root:  Rscript tests/reference/make_reference_appraisal.R
# Writes tests/reference/appraisal_reference.json.
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
ctrl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
d <- read.csv("tests/reference/data/exercise_rob.csv", stringsAsFactors = FALSE)
d <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = d, vtype = "LS")
key <- d[, c("allocation_concealment", "blinding_outcome_assessment", "incomplete_outcome_data")]
# Class on the criterion domains, written here independently of livingmeta:
# high if any high; else not assessed if any not assessed; else low if all low; else unclear.
d$class <- apply(key, 1, function(j) if (any(j == "high")) "high" else if (any(j == "not_assessed")) "not_assessed"
                 else if (all(j == "low")) "low" else "unclear")
main <- rma(yi, vi, data = d, method = "REML", test = "knha", control = ctrl)
low <- rma(yi, vi, data = d, subset = class == "low", method = "REML", test = "knha", control = ctrl)
groups <- c("high", "low", "unclear")
fits <- lapply(groups, function(g) rma(yi, vi, data = d, subset = class == g, method = "REML", test = "knha", control = ctrl))
between <- rma(sapply(fits, function(f) f$beta[1]), sei = sapply(fits, function(f) f$se), method = "FE")
eg <- regtest(main, model = "lm")
tf <- trimfill(rma(yi, vi, data = d, method = "REML", control = ctrl))
w <- weights(main) / 100
out <- list(
  versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor"))),
  counts = as.list(table(d$class)),
  participants_low = sum(d$n1i[d$class == "low"] + d$n2i[d$class == "low"]),
  weight_share = list(low = sum(w[d$class == "low"]), high = sum(w[d$class == "high"]),
                      unclear = sum(w[d$class == "unclear"]), not_assessed = sum(w[d$class == "not_assessed"])),
  low = list(k = low$k, estimate = as.numeric(low$beta), ci_lower = low$ci.lb, ci_upper = low$ci.ub, tau2 = low$tau2, I2 = low$I2),
  subgroups = list(levels = groups, estimate = sapply(fits, function(f) as.numeric(f$beta)),
                   k = sapply(fits, function(f) f$k), Q_between = between$QE, p_between = between$QEp),
  egger_p = eg$pval, trimfill_ci = c(tf$ci.lb, tf$ci.ub))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/appraisal_reference.json")
