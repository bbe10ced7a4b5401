# Reference values for dependent effects (livingmeta/stats/dependent.py), computed by R's metafor and
# clubSandwich on the Metapsy depression-psyctr database, release 24.0.2 (ODC-By; read in place from
# ../shared/data/metapsy-depression-psyctr, attribution in its README; never copied here). The effects
# are the database's own Hedges' g (.g, .g_se), so the inputs do not come from livingmeta. The
# aggregated per-study effects are summarised by their moments (no per-study values derived from
# the database are stored in this repository). Run from the repository root:
#   Rscript tests/reference/make_reference_dependent.R
# Needs r-base-core r-cran-metafor r-cran-clubsandwich r-cran-jsonlite. Writes
# tests/reference/dependent_reference.json.
suppressPackageStartupMessages({library(metafor); library(clubSandwich); library(jsonlite)})
ctrl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
num <- function(x) unname(as.numeric(x))
moments <- function(yi, vi) list(yi = sum(yi), yi2 = sum(yi^2), vi = sum(vi), vi2 = sum(vi^2), yivi = sum(yi * vi),
                                 yi_over_vi = sum(yi / vi))
d <- read.csv2("../shared/data/metapsy-depression-psyctr/24.0.2/data.csv", na.strings = "NA", encoding = "UTF-8",
               stringsAsFactors = FALSE, check.names = FALSE)
d <- escalc(measure = "GEN", yi = d$.g, vi = d$.g_se^2, data = data.frame(study = d$study, row = seq_len(nrow(d))))
out <- list(versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                            clubSandwich = as.character(packageVersion("clubSandwich")), date = as.character(Sys.Date())),
            input = "../shared/data/metapsy-depression-psyctr/24.0.2/data.csv columns study, .g, .g_se (all 900 rows)")
for (rho in c(0.5, 0.6)) {
  a <- aggregate(d, cluster = study, rho = rho)          # struct = "CS", weighted = TRUE
  fit <- rma(yi, vi, data = a, method = "REML", test = "knha", control = ctrl)
  # moments of the aggregated effects (sum(yi * vi) ties each effect to its own variance)
  out[[paste0("rho_", rho)]] <- list(k = nrow(a), moments = moments(num(a$yi), num(a$vi)),
    pooled = list(estimate = num(fit$b), ci_lower = fit$ci.lb, ci_upper = fit$ci.ub, tau2 = fit$tau2, I2 = fit$I2))
}
d$es_id <- seq_len(nrow(d))
ml <- rma.mv(yi, vi, random = ~ 1 | study / es_id, data = d, method = "REML",
             control = list(rel.tol = 1e-12, iter.max = 10000))
ct <- coef_test(ml, vcov = "CR2", cluster = d$study)
out$three_level <- list(estimate = num(ml$b), se = ml$se, sigma2 = num(ml$sigma2),
                        cr2_se = num(ct$SE), cr2_df = num(ct$df_Satt), cr2_p = num(ct$p_Satt), k = ml$k)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/dependent_reference.json")
