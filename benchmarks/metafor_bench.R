# Times metafor inside R (interpreter start-up excluded) on the synthetic data the Python side
# writes to the CSV files named on the command line. Prints one JSON object.
# Usage: Rscript metafor_bench.R REPEAT case=file.csv ...
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
repeat_n <- as.integer(args[1])
timeit <- function(f, n) {
  f()  # warm-up
  t <- sapply(seq_len(n), function(i) system.time(f())[["elapsed"]])
  list(median_s = median(t), min_s = min(t), max_s = max(t), runs = n)
}
out <- list(versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor"))))
for (a in args[-1]) {
  kv <- strsplit(a, "=", fixed = TRUE)[[1]]
  case <- kv[1]; d <- read.csv(kv[2])
  n <- if (nrow(d) > 500) max(1, repeat_n %/% 2) else repeat_n
  f <- switch(case,
    reml = function() rma(yi, vi, data = d, method = "REML"),
    dl = function() rma(yi, vi, data = d, method = "DL"),
    pm = function() rma(yi, vi, data = d, method = "PM"),
    perm = function() permutest(rma(yi, vi, mods = ~ a + b, data = d), iter = 1000, progbar = FALSE),
    loo = function() leave1out(rma(yi, vi, data = d)))
  if (case == "perm") n <- 1
  out[[case]] <- c(timeit(f, n), k = nrow(d))
}
cat(toJSON(out, auto_unbox = TRUE, digits = NA))
