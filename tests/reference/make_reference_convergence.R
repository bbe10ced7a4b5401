# Reference values for the iterative tau^2 estimators on data where metafor's default Fisher
# scoring does not converge, and on data with tiny sampling variances. Run from the repository root:
#   Rscript tests/reference/make_reference_convergence.R
# Writes tests/reference/convergence_reference.json and the inputs
# tests/reference/data/synthetic_convergence.csv, tests/reference/data/planck_constant.csv.
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
out <- list()
num <- function(x) unname(as.numeric(x))
save_csv <- function(d, name) write.csv(d, file.path("tests/reference/data", paste0(name, ".csv")), row.names = FALSE)
tight <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
out$versions <- list(R = R.version.string, metafor = as.character(packageVersion("metafor")), date = as.character(Sys.Date()))

# ---- 1. Fisher scoring that fails --------------------------------------------------------------
# SYNTHETIC 16-trial binary outcomes (not from any study), drawn as below and kept because
# metafor's default REML (Fisher scoring, stepadj = 1) stops with "Fisher scoring algorithm did not
# converge" on them, as it did on a real Cochrane review's 16-trial zero-cell outcome; with the
# step length halved (control = list(stepadj = 0.5)) it converges. Zero cells get 1/2 (escalc's default).
draw <- function(seed, k = 16) {
  set.seed(seed)
  n1 <- sample(10:120, k, replace = TRUE); n2 <- sample(10:120, k, replace = TRUE)
  p2 <- runif(k, 0.01, 0.25); lor <- rnorm(k, -0.3, runif(1, 0.2, 1.5))
  p1 <- plogis(qlogis(p2) + lor)
  data.frame(case = paste0("seed", seed), ai = rbinom(k, n1, p1), n1i = n1, ci = rbinom(k, n2, p2), n2i = n2)
}
cases <- list(c(2938, "RR"), c(3638, "RR"), c(3638, "OR"))
sets <- unique(lapply(cases, function(x) as.integer(x[1])))
save_csv(do.call(rbind, lapply(sets, draw)), "synthetic_convergence")
out$convergence <- list()
for (cs in cases) {
  d <- draw(as.integer(cs[1])); m <- cs[2]
  e <- escalc(measure = m, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = d)
  res <- list(case = paste0("seed", cs[1]), measure = m, yi = num(e$yi), vi = num(e$vi), fits = list())
  for (meth in c("REML", "ML", "PM", "EB")) {
    default <- try(suppressWarnings(rma(yi, vi, data = e, method = meth)), silent = TRUE)
    fit <- NULL
    steps <- if (inherits(default, "try-error")) c(0.5, 0.25) else 1
    for (step in steps) {
      fit <- try(suppressWarnings(rma(yi, vi, data = e, method = meth, control = c(tight, list(stepadj = step)))), silent = TRUE)
      if (!inherits(fit, "try-error")) break
    }
    res$fits[[meth]] <- list(default_converges = !inherits(default, "try-error"), stepadj = step,
                             tau2 = fit$tau2, se_tau2 = fit$se.tau2, estimate = num(fit$beta), se = num(fit$se))
  }
  out$convergence[[paste0("seed", cs[1], "_", m)]] <- res
}

# ---- 2. Tiny sampling variances ----------------------------------------------------------------
# Measurements of the Planck constant (h in 1e-34 J s, standard uncertainty uh), the published table
# that metafor's own tests use (tests/testthat/test_misc_calc_q.r, "measurements Planck constant",
# and the three 2017 measurements of its "Planck constant" test): variances down to 3.6e-15.
planck <- read.table(header = TRUE, text = "
   label           h       uh
   NPL-79 6.626073000 6.70e-06
  NIST-80 6.626065800 8.80e-06
   NMI-89 6.626068400 3.60e-06
   NPL-90 6.626068200 1.30e-06
   PTB-91 6.626067000 4.20e-06
   NIM-95 6.626071000 1.10e-05
  NIST-98 6.626068910 5.80e-07
   IAC-11 6.626069890 2.00e-07
 METAS-11 6.626069100 2.00e-06
   NPL-12 6.626071200 1.30e-06
   IAC-15 6.626070150 1.30e-07
   LNE-15 6.626068800 1.70e-06
  NIST-15 6.626069360 3.80e-07
   NRC-17 6.626070133 6.00e-08
   LNE-17 6.626070410 3.80e-07
  NMIJ-17 6.626070059 1.65e-07
   NIM-17 6.626069200 1.60e-06
   IAC-17 6.626070404 7.92e-08")
planck3 <- data.frame(label = c("NRC-17", "NMIJ-17", "NIST-17"), h = c(6.62607013300, 6.62607005883, 6.62606993400),
                      uh = c(6.00e-08, 1.65e-07, 8.90e-08))
save_csv(rbind(cbind(table = "planck18", planck), cbind(table = "planck3", planck3)), "planck_constant")
# metafor's convergence thresholds are absolute (1e-12 here), above these tau^2 values (~1e-14), so
# the iterative estimators are also fitted to the data in units of 1e-7 (h * 1e7, uh * 1e7), where
# the thresholds are meaningful; every estimator is equivariant (tau^2 scales by 1e-14 back).
out$tiny_variances <- list()
for (tab in list(list("planck18", planck), list("planck3", planck3))) {
  d <- tab[[2]]
  for (meth in c("FE", "DL", "REML", "ML", "PM", "EB", "HE", "HS", "SJ")) {
    r <- rma(yi = h, sei = uh, data = d, method = meth, control = tight)
    rs <- rma(yi = (h - 6.62607) * 1e7, sei = uh * 1e7, data = d, method = meth, control = tight)
    out$tiny_variances[[paste(tab[[1]], meth, sep = "_")]] <- list(
      table = tab[[1]], method = meth, tau2 = r$tau2, estimate = num(r$beta), se = num(r$se),
      QE = r$QE, QEp = r$QEp, I2 = r$I2,
      rescaled = list(tau2 = rs$tau2 * 1e-14, estimate = num(rs$beta) * 1e-7 + 6.62607, se = num(rs$se) * 1e-7,
                      QE = rs$QE, I2 = rs$I2))
  }
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/convergence_reference.json")
