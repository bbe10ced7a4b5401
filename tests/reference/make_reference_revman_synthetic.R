# A SYNTHETIC RevMan review (invented numbers, no real trials) with what the Fleiss (1993) file lacks:
# two comparisons, subgroups (one study in two subgroups of an analysis), zero-event and double-zero
# trials, continuous MD and SMD, generic inverse variance, random effects (Mantel-Haenszel with
# DerSimonian-Laird, inverse-variance DerSimonian-Laird), swapped events, Peto, an analysis whose
# total is not estimable, a one-study subgroup and a one-study analysis. Its results are computed here by R's metafor with
# RevMan 5's conventions applied explicitly (Deeks & Higgins, "Statistical algorithms in Review
# Manager 5", 2010), as tests/reference/make_reference_revman.R does.
#
# Run from the repository root:  Rscript tests/reference/make_reference_revman_synthetic.R
# Writes tests/reference/revman_synthetic_reference.json: the data, and per analysis (and subgroup)
# the totals as RevMan stores them. tests/fixtures/revman/make_synthetic_fixtures.py writes these
# into a RevMan 5 file and a RevMan Web data package (the stored totals are metafor's numbers), so
# importing either and recomputing checks livingmeta against metafor.
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
num <- function(x) unname(as.numeric(x))
z975 <- qnorm(0.975)

studies <- data.frame(id = c("STD-Alpha", "STD-Bravo", "STD-Charlie", "STD-Delta", "STD-Echo", "STD-Foxtrot",
                             "STD-Golf", "STD-Hotel"),
                      name = c("Alpha 2001", "Bravo 2003", "Charlie 2005", "Delta 2008", "Echo 2010", "Foxtrot 2012",
                               "Golf 2015", "Hotel 2018"),
                      year = c(2001, 2003, 2005, 2008, 2010, 2012, 2015, 2018),
                      # risk of bias (RevMan 5 QUALITY_ITEMS: YES = low, NO = high, UNKNOWN = unclear)
                      rob_sequence = c("YES", "UNKNOWN", "YES", "YES", "NO", "YES", "UNKNOWN", "YES"),
                      rob_concealment = c("YES", "UNKNOWN", "NO", "YES", "UNKNOWN", "YES", "YES", "UNKNOWN"),
                      rob_outcome = c("YES", "NO", "YES", "UNKNOWN", "YES", "YES", "NO", "YES"),
                      stringsAsFactors = FALSE)

dich <- function(rows) data.frame(study = sapply(rows, `[[`, 1), subgroup = sapply(rows, `[[`, 2),
                                  e1 = sapply(rows, `[[`, 3), n1 = sapply(rows, `[[`, 4),
                                  e2 = sapply(rows, `[[`, 5), n2 = sapply(rows, `[[`, 6), stringsAsFactors = FALSE)
cont <- function(rows) data.frame(study = sapply(rows, `[[`, 1), subgroup = "", m1 = sapply(rows, `[[`, 2),
                                  sd1 = sapply(rows, `[[`, 3), n1 = sapply(rows, `[[`, 4), m2 = sapply(rows, `[[`, 5),
                                  sd2 = sapply(rows, `[[`, 6), n2 = sapply(rows, `[[`, 7), stringsAsFactors = FALSE)

analyses <- list(
  list(comparison = 1, no = 1, name = "Mortality", type = "dichotomous", method = "MH", measure = "OR", random = FALSE,
       swap = FALSE, graph = c("Favours drug A", "Favours placebo"),
       data = dich(list(list("STD-Alpha", "Low dose", 12, 100, 18, 98), list("STD-Bravo", "Low dose", 0, 40, 0, 42),
                        list("STD-Charlie", "Low dose", 5, 60, 9, 30), list("STD-Charlie", "High dose", 4, 60, 8, 30),
                        list("STD-Delta", "High dose", 20, 150, 31, 152), list("STD-Echo", "High dose", 0, 35, 3, 36),
                        list("STD-Foxtrot", "Very high dose", 2, 80, 6, 79)))),
  list(comparison = 1, no = 2, name = "Adverse events", type = "dichotomous", method = "MH", measure = "RR",
       random = TRUE, swap = FALSE, graph = c("Favours drug A", "Favours placebo"),
       data = dich(list(list("STD-Alpha", "", 30, 100, 22, 98), list("STD-Delta", "", 45, 150, 30, 152),
                        list("STD-Foxtrot", "", 10, 80, 12, 79), list("STD-Golf", "", 25, 60, 10, 61)))),
  list(comparison = 1, no = 3, name = "Pain score", type = "continuous", method = "IV", measure = "MD", random = TRUE,
       swap = FALSE, graph = c("Favours drug A", "Favours placebo"),
       data = cont(list(list("STD-Alpha", 3.1, 1.2, 98, 3.9, 1.4, 95), list("STD-Charlie", 2.8, 1.5, 58, 3.0, 1.3, 57),
                        list("STD-Delta", 3.5, 1.1, 145, 4.4, 1.2, 147), list("STD-Hotel", 2.2, 0.9, 40, 2.4, 1.0, 41)))),
  list(comparison = 1, no = 4, name = "Quality of life", type = "continuous", method = "IV", measure = "SMD",
       random = FALSE, swap = FALSE, graph = c("Favours placebo", "Favours drug A"),
       data = cont(list(list("STD-Bravo", 60, 12, 38, 55, 13, 40), list("STD-Echo", 58, 10, 33, 57, 11, 34),
                        list("STD-Foxtrot", 62, 15, 78, 54, 14, 77)))),
  list(comparison = 1, no = 5, name = "Recovery", type = "dichotomous", method = "MH", measure = "RR", random = FALSE,
       swap = TRUE, graph = c("Favours placebo", "Favours drug A"),
       data = dich(list(list("STD-Alpha", "", 70, 100, 60, 98), list("STD-Golf", "", 40, 60, 35, 61),
                        list("STD-Hotel", "", 38, 40, 30, 41)))),
  list(comparison = 1, no = 6, name = "Serious harm", type = "dichotomous", method = "MH", measure = "OR", random = FALSE,
       swap = FALSE, graph = c("Favours drug A", "Favours placebo"),
       data = dich(list(list("STD-Bravo", "", 0, 40, 0, 42), list("STD-Echo", "", 0, 35, 0, 36)))),
  list(comparison = 2, no = 1, name = "Relapse (adjusted odds ratio)", type = "generic", method = "IV", measure = "OR",
       random = TRUE, swap = FALSE, graph = c("Favours drug A", "Favours drug B"),
       data = data.frame(study = c("STD-Foxtrot", "STD-Golf", "STD-Hotel"), subgroup = "",
                         yi = c(-0.22, -0.35, 0.05), se = c(0.15, 0.21, 0.30), stringsAsFactors = FALSE)),
  list(comparison = 2, no = 2, name = "Mortality", type = "dichotomous", method = "PETO", measure = "PETO_OR",
       random = FALSE, swap = FALSE, graph = c("Favours drug A", "Favours drug B"),
       data = dich(list(list("STD-Foxtrot", "", 3, 80, 7, 79), list("STD-Golf", "", 1, 60, 4, 61),
                        list("STD-Hotel", "", 0, 40, 2, 41)))),
  list(comparison = 2, no = 3, name = "Pain at 12 months", type = "continuous", method = "IV", measure = "MD",
       random = FALSE, swap = FALSE, graph = c("Favours drug A", "Favours drug B"),
       data = cont(list(list("STD-Hotel", 2.0, 1.0, 38, 2.5, 1.1, 39))))
)

# Per-study estimates on the analysis scale (log for ratios) with RevMan's conventions.
study_effects <- function(a, d) {
  if (a$type == "generic") return(list(ok = rep(TRUE, nrow(d)), yi = d$yi, vi = d$se^2))
  if (a$type == "continuous") {
    if (a$measure == "MD") {
      es <- escalc(measure = "MD", m1i = d$m1, sd1i = d$sd1, n1i = d$n1, m2i = d$m2, sd2i = d$sd2, n2i = d$n2)
      return(list(ok = rep(TRUE, nrow(d)), yi = num(es$yi), vi = num(es$vi)))
    }
    # RevMan's "Hedges' adjusted g": J = 1 - 3/(4N - 9), var = N/(n1 n2) + g^2/(2(N - 3.94))
    N <- d$n1 + d$n2
    s <- sqrt(((d$n1 - 1) * d$sd1^2 + (d$n2 - 1) * d$sd2^2) / (N - 2))
    g <- (d$m1 - d$m2) / s * (1 - 3 / (4 * N - 9))
    return(list(ok = rep(TRUE, nrow(d)), yi = g, vi = N / (d$n1 * d$n2) + g^2 / (2 * (N - 3.94))))
  }
  a1 <- if (a$swap) d$n1 - d$e1 else d$e1
  c1 <- if (a$swap) d$n2 - d$e2 else d$e2
  b1 <- d$n1 - a1; d1 <- d$n2 - c1
  ok <- if (a$measure == "RD") rep(TRUE, nrow(d)) else (a1 + c1) > 0
  if (a$measure %in% c("OR", "PETO_OR")) ok <- ok & (b1 + d1) > 0
  if (!any(ok)) return(list(ok = ok, yi = numeric(0), vi = numeric(0), a = a1, b = b1, c = c1, d = d1))
  if (a$method == "PETO") {
    es <- escalc(measure = "PETO", ai = a1[ok], bi = b1[ok], ci = c1[ok], di = d1[ok], add = 0)  # Peto needs no correction
  } else {
    inc <- ifelse(a1 == 0 | b1 == 0 | c1 == 0 | d1 == 0, 0.5, 0)
    es <- escalc(measure = a$measure, ai = (a1 + inc)[ok], bi = (b1 + inc)[ok], ci = (c1 + inc)[ok],
                 di = (d1 + inc)[ok], add = 0, to = "none")
  }
  list(ok = ok, yi = num(es$yi), vi = num(es$vi), a = a1, b = b1, c = c1, d = d1)
}

# RevMan's pooled result of rows d: estimate, SE, heterogeneity, weights (percent of this pool).
pool <- function(a, d) {
  eff <- study_effects(a, d)
  k <- sum(eff$ok)
  if (k == 0) return(list(k = 0, ok = eff$ok))
  if (a$type == "dichotomous" && a$method == "MH") {
    inc <- ifelse(eff$a == 0 | eff$b == 0 | eff$c == 0 | eff$d == 0, 0.5, 0)[eff$ok]
    mh <- rma.mh(ai = eff$a[eff$ok] + inc, bi = eff$b[eff$ok] + inc, ci = eff$c[eff$ok] + inc, di = eff$d[eff$ok] + inc,
                 measure = a$measure, add = 0, to = "none", drop00 = FALSE)
    est <- num(mh$beta); sev <- num(mh$se); w <- num(weights(mh))
    Q <- sum((eff$yi - est)^2 / eff$vi)
    tau2 <- 0
    if (a$random) {
      wi <- 1 / eff$vi
      tau2 <- max(0, (Q - (k - 1)) / (sum(wi) - sum(wi^2) / sum(wi)))
      re <- rma(eff$yi, eff$vi, tau2 = tau2)
      est <- num(re$beta); sev <- num(re$se); w <- num(weights(re))
    }
  } else if (a$type == "dichotomous" && a$method == "PETO") {
    fit <- rma.peto(ai = eff$a[eff$ok], bi = eff$b[eff$ok], ci = eff$c[eff$ok], di = eff$d[eff$ok])
    est <- num(fit$beta); sev <- num(fit$se); Q <- num(fit$QE); tau2 <- 0; w <- num(weights(fit))
  } else if (k == 1) {
    est <- eff$yi; sev <- sqrt(eff$vi); Q <- 0; tau2 <- 0; w <- 100
  } else {
    fit <- rma(eff$yi, eff$vi, method = if (a$random) "DL" else "FE")
    est <- num(fit$beta); sev <- num(fit$se); Q <- num(fit$QE); tau2 <- num(fit$tau2); w <- num(weights(fit))
  }
  df <- k - 1
  list(k = k, estimate = est, se = sev, Q = Q, df = df, p_Q = if (df > 0) pchisq(Q, df, lower.tail = FALSE) else NA,
       I2 = if (df > 0 && Q > 0) max(0, 100 * (Q - df) / Q) else 0, tau2 = tau2, z = abs(est / sev),
       p_z = 2 * pnorm(-abs(est / sev)), ok = eff$ok, yi = eff$yi, vi = eff$vi, weights = w)
}

ratio <- function(a) a$measure %in% c("OR", "RR", "PETO_OR")
totals <- function(a, d, p) {
  tr <- if (ratio(a)) exp else identity
  out <- list(k = p$k)
  if (p$k > 0) {
    out <- c(out, list(effect = tr(p$estimate), ci_lower = tr(p$estimate - z975 * p$se),
                       ci_upper = tr(p$estimate + z975 * p$se), chi2 = p$Q, df = p$df, p_chi2 = p$p_Q, i2 = p$I2,
                       tau2 = p$tau2, z = p$z, p_z = p$p_z, log_estimate = p$estimate, se = p$se))
  }
  if (a$type == "dichotomous") out <- c(out, list(events_1 = sum(d$e1), events_2 = sum(d$e2)))
  if (a$type != "generic") out <- c(out, list(total_1 = sum(d$n1), total_2 = sum(d$n2)))
  out
}

out <- list(versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                            date = as.character(Sys.Date())),
            title = "Drug A for a synthetic condition (SYNTHETIC test review; invented numbers)",
            studies = studies, analyses = list())
for (a in analyses) {
  d <- a$data
  p <- pool(a, d)
  tr <- if (ratio(a)) exp else identity
  st <- data.frame(study = d$study, subgroup = d$subgroup, estimable = p$ok, effect = NA, ci_lower = NA,
                   ci_upper = NA, weight = 0)
  if (p$k > 0) {
    st$effect[p$ok] <- tr(p$yi); st$ci_lower[p$ok] <- tr(p$yi - z975 * sqrt(p$vi))
    st$ci_upper[p$ok] <- tr(p$yi + z975 * sqrt(p$vi)); st$weight[p$ok] <- p$weights
  }
  entry <- list(comparison = a$comparison, no = a$no, name = a$name, type = a$type, method = a$method,
                measure = a$measure, random = a$random, swap = a$swap, graph = a$graph, data = d,
                overall = totals(a, d, p), studies = st, subgroups = list())
  subs <- unique(d$subgroup[d$subgroup != ""])
  if (length(subs)) {
    est <- c(); v_sub <- c()
    for (s in subs) {
      ps <- pool(a, d[d$subgroup == s, ])
      sg <- totals(a, d[d$subgroup == s, ], ps)
      sg$name <- s
      sg$weight <- sum(st$weight[st$subgroup == s])
      entry$subgroups[[length(entry$subgroups) + 1]] <- sg
      if (ps$k > 0) { est <- c(est, ps$estimate); v_sub <- c(v_sub, ps$se^2) }
    }
    test <- rma(yi = est, vi = v_sub, method = "FE")   # the test for subgroup differences: Q over the subgroup estimates
    entry$subgroup_test <- list(chi2 = num(test$QE), df = length(est) - 1, p = num(test$QEp),
                                i2 = max(0, 100 * (num(test$QE) - (length(est) - 1)) / num(test$QE)))
  }
  out$analyses[[length(out$analyses) + 1]] <- entry
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null", dataframe = "rows"),
           "tests/reference/revman_synthetic_reference.json")
