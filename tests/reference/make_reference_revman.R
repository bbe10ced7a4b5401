# Reference values for livingmeta.stats.revman (RevMan 5's conventions) computed by R's metafor.
# Run from the repository root:  Rscript tests/reference/make_reference_revman.R
# Writes tests/reference/revman_reference.json and the synthetic input tests/reference/data/revman_zero_cells.csv;
# the Fleiss (1993) aspirin counts are read in place from ../shared/data/revman/Fleiss1993.rm5 (fleiss1993.R).
#
# What metafor checks here: Mantel-Haenszel (rma.mh), Peto (rma.peto) and inverse-variance
# DerSimonian-Laird (rma) arithmetic on the same tables. RevMan's own conventions (0.5 added to
# every cell of a zero-cell study, also for the MH pooled estimate; double-zero studies not
# estimable; tau^2 of "MH+DL" from the Mantel-Haenszel Q) are applied here explicitly, as the
# Deeks & Higgins document describes them, before metafor pools; the totals stored in RevMan
# files (R meta's Fleiss1993.rm5 in ../shared/data/revman) check the conventions themselves.
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
num <- function(x) unname(as.numeric(x))
save_csv <- function(d, name) write.csv(d, file.path("tests/reference/data", paste0(name, ".csv")), row.names = FALSE)
out <- list(versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                            date = as.character(Sys.Date())))

# Fleiss (1993) aspirin trials, as stored in R meta's Fleiss1993.rm5 (analysis 1.1).
source("tests/reference/fleiss1993.R")
# Synthetic (labelled): zero cells in one arm, a double-zero study, and one where everyone had the event.
zero <- data.frame(study = paste("synthetic", 1:6), ai = c(0, 3, 5, 0, 12, 7), n1i = c(10, 12, 20, 15, 12, 30),
                   ci = c(2, 0, 4, 0, 12, 11), n2i = c(11, 12, 18, 15, 12, 29))
save_csv(zero, "revman_zero_cells")

revman_case <- function(d, measure) {
  a <- d$ai; b <- d$n1i - d$ai; c <- d$ci; dd <- d$n2i - d$ci
  est <- if (measure == "RD") rep(TRUE, nrow(d)) else (a + c) > 0
  if (measure == "OR") est <- est & (b + dd) > 0
  z <- (a == 0 | b == 0 | c == 0 | dd == 0) & est
  inc <- ifelse(z, 0.5, 0)
  A <- (a + inc)[est]; B <- (b + inc)[est]; C <- (c + inc)[est]; D <- (dd + inc)[est]
  es <- escalc(measure = measure, ai = A, bi = B, ci = C, di = D, add = 0, to = "none")
  mh <- suppressWarnings(rma.mh(ai = A, bi = B, ci = C, di = D, measure = measure, add = 0, to = "none", drop00 = FALSE))
  if (measure == "RD") {
    # RevMan (and meta's metabin, "RevMan 3.1" branch): the study RD and the MH estimate and weights
    # from the uncorrected table; only the variances use the corrected cells.
    raw <- escalc(measure = "RD", ai = a[est], bi = b[est], ci = c[est], di = dd[est], add = 0, to = "none")
    es$yi <- raw$yi
    mh <- rma.mh(ai = a[est], bi = b[est], ci = c[est], di = dd[est], measure = "RD", add = 0, to = "none", drop00 = FALSE)
  }
  fe <- rma(es$yi, es$vi, method = "FE")
  dl <- rma(es$yi, es$vi, method = "DL")
  w <- 1 / es$vi
  Qmh <- sum((es$yi - as.numeric(mh$beta))^2 / es$vi)
  k <- sum(est)
  tau2 <- max(0, (Qmh - (k - 1)) / (sum(w) - sum(w^2) / sum(w)))
  mhdl <- rma(es$yi, es$vi, tau2 = tau2)
  res <- list(estimable = est, yi = num(es$yi), vi = num(es$vi),
              MH = list(estimate = num(mh$beta), se = num(mh$se), Q = Qmh),
              FE = list(estimate = num(fe$beta), se = num(fe$se), Q = num(fe$QE), I2 = num(fe$I2)),
              DL = list(estimate = num(dl$beta), se = num(dl$se), tau2 = num(dl$tau2), Q = num(dl$QE), I2 = num(dl$I2)),
              MH_DL = list(estimate = num(mhdl$beta), se = num(mhdl$se), tau2 = tau2, Q = Qmh))
  if (measure == "RD") {
    # Greenland & Robins (1985) variance, as RevMan 5 (Deeks & Higgins 2010); metafor's rma.mh uses Sato et al. (1989).
    n1 <- A + B; n2 <- C + D; N <- n1 + n2
    r1 <- d$n1i[est]; r2 <- d$n2i[est]
    res$MH$se_greenland_robins <- sqrt(sum((A * B * n2^3 + C * D * n1^3) / (n1 * n2 * N^2))) / sum(r1 * r2 / (r1 + r2))
  }
  res
}
for (nm in c("aspirin", "zero")) {
  d <- get(nm)
  out[[nm]] <- list()
  for (m in c("OR", "RR", "RD")) out[[nm]][[m]] <- revman_case(d, m)
  pk <- d$ai + d$ci > 0 & d$ai + d$ci < d$n1i + d$n2i
  p <- rma.peto(ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = d[pk, ])
  out[[nm]]$Peto <- list(estimable = pk, estimate = num(p$beta), se = num(p$se), Q = num(p$QE), I2 = num(p$I2),
                         pval = num(p$pval), Q_p = num(p$QEp))
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/revman_reference.json")
