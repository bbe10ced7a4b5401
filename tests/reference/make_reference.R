# Reference values for livingmeta's engine, computed by R's metafor and clubSandwich on
# datasets from the metadat package. Run from the repository root:
#   Rscript tests/reference/make_reference.R
# Needs Debian packages r-base-core r-cran-metafor r-cran-clubsandwich r-cran-jsonlite.
# Writes tests/reference/metafor_reference.json (values) and tests/reference/data/*.csv (inputs),
# so that `make test` needs no R. Tight convergence controls make iterative results precise
# to ~1e-10, so agreement tests can use 1e-5 relative tolerances.
suppressPackageStartupMessages({library(metafor); library(clubSandwich); library(jsonlite)})
out <- list()
dir.create("tests/reference/data", showWarnings = FALSE)
ctrl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
num <- function(x) unname(as.numeric(x))
save_csv <- function(d, name) write.csv(d, file.path("tests/reference/data", paste0(name, ".csv")), row.names = FALSE)

out$versions <- list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                     metadat = as.character(packageVersion("metadat")),
                     clubSandwich = as.character(packageVersion("clubSandwich")), date = as.character(Sys.Date()))

# ---- effect sizes ------------------------------------------------------------------------
norm <- dat.normand1999[, c("study", "source", "n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")]
save_csv(norm, "normand1999")
out$escalc_smd <- list()
for (vt in c("LS", "UB", "LS2")) {
  e <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = norm, vtype = vt)
  out$escalc_smd[[vt]] <- list(yi = num(e$yi), vi = num(e$vi))
}
bcg <- dat.bcg[, c("trial", "author", "year", "tpos", "tneg", "cpos", "cneg", "ablat", "alloc")]
save_csv(bcg, "bcg")
out$escalc_binary <- list()
for (m in c("RR", "OR", "RD")) {
  e <- escalc(measure = m, ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
  out$escalc_binary[[m]] <- list(yi = num(e$yi), vi = num(e$vi))
}
# Zero cells: a SYNTHETIC 2x2 set (not from any study) to check the 1/2 correction.
zero <- data.frame(ai = c(0, 3, 5, 0), n1i = c(10, 12, 20, 15), ci = c(2, 0, 4, 0), n2i = c(11, 12, 18, 15))
save_csv(zero, "synthetic_zero_cells")
out$escalc_zero <- list()
for (m in c("RR", "OR", "RD")) {
  e <- escalc(measure = m, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = zero)
  out$escalc_zero[[m]] <- list(yi = num(e$yi), vi = num(e$vi))
}
# Pre-post arms: a SYNTHETIC set (metadat has no per-arm pre/post table) for the change-score formulas.
mor <- data.frame(m_pre = c(30.6, 23.5, 0.5, 53.4, 35.6), m_post = c(38.5, 26.8, 0.7, 75.9, 36.0),
                  sd_pre = c(15.0, 3.1, 0.1, 14.5, 4.7), sd_post = c(11.6, 4.1, 0.1, 4.4, 4.6),
                  ni = c(20, 50, 9, 10, 14), ri = c(0.47, 0.64, 0.77, 0.89, 0.44))
save_csv(mor, "synthetic_pre_post")
out$escalc_change <- list()
for (m in c("SMCR", "SMCC")) {
  e <- escalc(measure = m, m1i = m_post, m2i = m_pre, sd1i = sd_pre, sd2i = sd_post, ni = ni, ri = ri, data = mor)
  if (m == "SMCC") e <- escalc(measure = m, m1i = m_post, m2i = m_pre, sd1i = sd_post, sd2i = sd_pre, ni = ni, ri = ri, data = mor)
  out$escalc_change[[m]] <- list(yi = num(e$yi), vi = num(e$vi))
}

# ---- pooling ------------------------------------------------------------------------------
datasets <- list(
  bcg = escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg),
  normand = escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = norm),
  molloy = escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014))
save_csv(data.frame(yi = num(datasets$molloy$yi), vi = num(datasets$molloy$vi), meanage = dat.molloy2014$meanage,
                    quality = dat.molloy2014$quality), "molloy2014_zcor")
fit_summary <- function(r) {
  p <- predict(r)
  s <- list(tau2 = r$tau2, se_tau2 = r$se.tau2, beta = num(r$beta), se = num(r$se), zval = num(r$zval),
            pval = num(r$pval), ci_lb = num(r$ci.lb), ci_ub = num(r$ci.ub), QE = r$QE, QEp = r$QEp,
            I2 = r$I2, H2 = r$H2, QM = r$QM, QMp = r$QMp)
  if (r$int.only) { s$pi_lb <- num(p$pi.lb); s$pi_ub <- num(p$pi.ub) }
  if (!is.null(r$R2)) s$R2 <- r$R2
  s
}
out$rma <- list()
for (d in names(datasets)) for (m in c("FE", "DL", "REML", "ML", "PM", "HE", "HS", "SJ", "EB")) for (t in c("z", "knha")) {
  r <- rma(yi, vi, data = datasets[[d]], method = m, test = t, control = ctrl)
  s <- fit_summary(r)
  if (m == "REML") {
    ci <- confint(r, control = ctrl)$random
    s$confint <- list(tau2 = num(ci["tau^2", 2:3]), I2 = num(ci["I^2(%)", 2:3]), H2 = num(ci["H^2", 2:3]))
  }
  out$rma[[paste(d, m, t, sep = "_")]] <- s
}
out$metareg <- list()
# Every tau^2 estimator with a numeric (ablat + year) and a categorical (alloc) moderator, so
# the general (moderator) path of each estimator is checked, not only the intercept-only one.
for (t in c("z", "knha")) for (m in c("REML", "DL", "ML", "SJ", "PM", "EB", "HE", "HS", "FE")) {
  out$metareg[[paste("bcg_ablat_year", m, t, sep = "_")]] <- fit_summary(rma(yi, vi, mods = ~ ablat + year, data = datasets$bcg, method = m, test = t, control = ctrl))
  out$metareg[[paste("bcg_alloc", m, t, sep = "_")]] <- fit_summary(rma(yi, vi, mods = ~ alloc, data = datasets$bcg, method = m, test = t, control = ctrl))
}
out$metareg$molloy_meanage_quality_REML_z <- fit_summary(rma(yi, vi, mods = ~ meanage + quality, data = datasets$molloy, control = ctrl))

# ---- small-study effects --------------------------------------------------------------------
eg <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.egger2001)
save_csv(data.frame(study = dat.egger2001$study, yi = num(eg$yi), vi = num(eg$vi)), "egger2001_or")
out$bias <- list()
for (d in c("egger2001", "bcg")) {
  dd <- if (d == "bcg") datasets$bcg else eg
  r <- rma(yi, vi, data = dd, control = ctrl)
  rl <- regtest(r, model = "lm"); rr <- regtest(r)
  rk <- ranktest(r)
  tf <- trimfill(r); tf0 <- trimfill(r, estimator = "R0")
  out$bias[[d]] <- list(
    egger_lm = list(stat = num(rl$zval), pval = num(rl$pval), df = num(rl$dfs), est = num(rl$est)),
    egger_rma = list(stat = num(rr$zval), pval = num(rr$pval), est = num(rr$est)),
    rank = list(tau = num(rk$tau), pval = num(rk$pval)),
    trimfill_L0 = list(k0 = tf$k0, side = tf$side, beta = num(tf$beta), se = num(tf$se), tau2 = tf$tau2),
    trimfill_R0 = list(k0 = tf0$k0, side = tf0$side, beta = num(tf0$beta), se = num(tf0$se), tau2 = tf0$tau2),
    fsn_rosenthal = num(fsn(yi, vi, data = dd)$fsnum),
    fsn_orwin = num(fsn(yi, vi, data = dd, type = "Orwin")$fsnum))
}

# ---- diagnostics ---------------------------------------------------------------------------
r <- rma(yi, vi, data = datasets$bcg, control = ctrl)
l1 <- leave1out(r)
inf <- influence(r)
bj <- suppressWarnings({pdf(NULL); b <- baujat(r); dev.off(); b})
cu <- cumul(r, order = datasets$bcg$year)
out$diagnostics <- list(
  leave1out = list(estimate = num(l1$estimate), se = num(l1$se), tau2 = num(l1$tau2), I2 = num(l1$I2), Q = num(l1$Q)),
  influence = list(rstudent = num(inf$inf$rstudent), dffits = num(inf$inf$dffits), cook_d = num(inf$inf$cook.d),
                   cov_r = num(inf$inf$cov.r), tau2_del = num(inf$inf$tau2.del), QE_del = num(inf$inf$QE.del),
                   hat = num(inf$inf$hat), weight = num(inf$inf$weight), dfbs = num(inf$dfbs$intrcpt)),
  baujat = list(x = num(b$x), y = num(b$y)),
  cumul = list(order = order(datasets$bcg$year), estimate = num(cu$estimate), ci_lb = num(cu$ci.lb), tau2 = num(cu$tau2)))
rm <- rma(yi, vi, mods = ~ ablat, data = datasets$bcg, control = ctrl)
infm <- influence(rm)
out$diagnostics$influence_ablat <- list(rstudent = num(infm$inf$rstudent), cook_d = num(infm$inf$cook.d),
  cov_r = num(infm$inf$cov.r), dffits = num(infm$inf$dffits), hat = num(infm$inf$hat),
  dfbs_ablat = num(infm$dfbs$ablat))

# ---- Mantel-Haenszel -----------------------------------------------------------------------
out$mh <- list()
for (m in c("RR", "OR", "RD")) {
  r <- rma.mh(ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg, measure = m)
  out$mh[[m]] <- list(beta = num(r$beta), se = num(r$se), QE = r$QE, I2 = r$I2)
}

out$metareg$bcg_ablat_alloc_REML_knha <- fit_summary(rma(yi, vi, mods = ~ ablat + alloc, data = datasets$bcg, method = "REML", test = "knha", control = ctrl))
# Subgroups with separate tau^2: pool each level, then the test for subgroup differences is the
# fixed-effect Q across the subgroup estimates (Borenstein et al. 2009, ch. 19).
sg <- lapply(split(datasets$bcg, datasets$bcg$alloc), function(d) rma(yi, vi, data = d, control = ctrl))
sgfe <- rma(sapply(sg, function(r) c(r$beta)), sei = sapply(sg, function(r) r$se), method = "FE")
out$subgroups_alloc <- list(levels = names(sg), estimate = num(sapply(sg, function(r) c(r$beta))),
                            se = num(sapply(sg, function(r) r$se)), tau2 = num(sapply(sg, function(r) r$tau2)),
                            Q_between = sgfe$QE, p_between = sgfe$QEp)

# ---- permutation test (exact: all 6! orders of a six-trial subset) ---------------------------
sub6 <- datasets$bcg[1:6, ]
pt <- permutest(rma(yi, vi, mods = ~ ablat, data = sub6, control = ctrl), exact = TRUE, progbar = FALSE, control = ctrl)
out$permutation <- list(QM = pt$QM, QMp = pt$QMp, k = 6)

# ---- SMD from a t statistic (metafor's ti argument; t values are SYNTHETIC inputs) -------------
ti <- c(-2.5, 0.8, 1.9, -0.4, 3.1, -1.2, 0.0, 2.2, -3.0)
e <- escalc(measure = "SMD", ti = ti, n1i = norm$n1i, n2i = norm$n2i)
out$escalc_t <- list(ti = ti, yi = num(e$yi), vi = num(e$vi))

# ---- dependent effects -----------------------------------------------------------------------
ko <- dat.konstantopoulos2011
save_csv(ko[, c("district", "school", "study", "year", "yi", "vi")], "konstantopoulos2011")
r3 <- rma.mv(yi, vi, random = ~ 1 | district/school, data = ko, control = list(rel.tol = 1e-12, iter.max = 10000, eval.max = 10000))
r3m <- rma.mv(yi, vi, mods = ~ I(year - mean(year)), random = ~ 1 | district/school, data = ko, control = list(rel.tol = 1e-12, iter.max = 10000, eval.max = 10000))
cr <- coef_test(r3, vcov = "CR2", test = "Satterthwaite")
crm <- coef_test(r3m, vcov = "CR2", test = "Satterthwaite")
out$threelevel <- list(
  intercept = list(beta = num(r3$beta), se = num(r3$se), sigma2 = num(r3$sigma2), QE = r3$QE, pval = num(r3$pval),
                   ci_lb = num(r3$ci.lb), ci_ub = num(r3$ci.ub)),
  year = list(beta = num(r3m$beta), se = num(r3m$se), sigma2 = num(r3m$sigma2), QM = r3m$QM),
  cr2_intercept = list(beta = num(cr$beta), se = num(cr$SE), df = num(cr$df_Satt), pval = num(cr$p_Satt)),
  cr2_year = list(beta = num(crm$beta), se = num(crm$SE), df = num(crm$df_Satt), pval = num(crm$p_Satt)))
# CR2 on a univariate random-effects model, clustered by district
ru <- rma(yi, vi, data = ko, control = ctrl)
cu2 <- coef_test(ru, vcov = "CR2", cluster = ko$district, test = "Satterthwaite")
out$threelevel$cr2_univariate <- list(beta = num(cu2$beta), se = num(cu2$SE), df = num(cu2$df_Satt), pval = num(cu2$p_Satt), tau2 = ru$tau2)

# ---- cluster-robust prediction (metafor's predict on robust(..., clubSandwich = TRUE)) ---------
# CR2 variance, Satterthwaite df; the prediction interval is pred +/- qt(.975, df) sqrt(se^2 + tau^2).
rb <- rma(yi, vi, data = datasets$bcg, control = ctrl)
rob <- robust(rb, cluster = datasets$bcg$trial, clubSandwich = TRUE)
prb <- predict(rob)
out$robust_predict <- list(bcg_trial = list(
  pred = num(prb$pred), se = num(prb$se), ci_lb = num(prb$ci.lb), ci_ub = num(prb$ci.ub),
  pi_lb = num(prb$pi.lb), pi_ub = num(prb$pi.ub), df = num(rob$ddf), tau2 = rb$tau2))

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/metafor_reference.json")
cat("wrote tests/reference/metafor_reference.json\n")
