# Reference values for dependent effects (livingmeta/stats/dependent.py), computed by R's metafor and
# clubSandwich on the Metapsy depression-psyctr database, release 24.0.2 (tests/fixtures/metapsy;
# ODC-By, attribution in tests/fixtures/metapsy/README.md). The effects are the database's own
# Hedges' g (.g, .g_se), so the inputs do not come from livingmeta. Run from the repository root:
#   Rscript tests/reference/make_reference_dependent.R
# Needs r-base-core r-cran-metafor r-cran-clubsandwich r-cran-jsonlite. Writes
# tests/reference/dependent_reference.json.
suppressPackageStartupMessages({library(metafor); library(clubSandwich); library(jsonlite)})
ctrl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
num <- function(x) unname(as.numeric(x))
d <- read.csv2("tests/fixtures/metapsy/24.0.2/data.csv", na.strings = "NA", encoding = "UTF-8",
               stringsAsFactors = FALSE, check.names = FALSE)
d <- escalc(measure = "GEN", yi = d$.g, vi = d$.g_se^2, data = data.frame(study = d$study, row = seq_len(nrow(d))))
out <- list(versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                            clubSandwich = as.character(packageVersion("clubSandwich")), date = as.character(Sys.Date())),
            input = "tests/fixtures/metapsy/24.0.2/data.csv columns study, .g, .g_se (all 900 rows)")
for (rho in c(0.5, 0.6)) {
  a <- aggregate(d, cluster = study, rho = rho)          # struct = "CS", weighted = TRUE
  fit <- rma(yi, vi, data = a, method = "REML", test = "knha", control = ctrl)
  out[[paste0("rho_", rho)]] <- list(study = as.character(a$study), yi = num(a$yi), vi = num(a$vi),
    pooled = list(estimate = num(fit$b), ci_lower = fit$ci.lb, ci_upper = fit$ci.ub, tau2 = fit$tau2, I2 = fit$I2))
}
d$es_id <- seq_len(nrow(d))
ml <- rma.mv(yi, vi, random = ~ 1 | study / es_id, data = d, method = "REML",
             control = list(rel.tol = 1e-12, iter.max = 10000))
ct <- coef_test(ml, vcov = "CR2", cluster = d$study)
out$three_level <- list(estimate = num(ml$b), se = ml$se, sigma2 = num(ml$sigma2),
                        cr2_se = num(ct$SE), cr2_df = num(ct$df_Satt), cr2_p = num(ct$p_Satt), k = ml$k)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "tests/reference/dependent_reference.json")
