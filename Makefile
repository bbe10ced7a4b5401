# livingmeta: the two commands a user needs are `make report` and `make test`.
# Both create .venv (Python >= 3.11) with livingmeta installed editable, after checking the one
# system library WeasyPrint needs (Pango).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CORES  ?= 2
# Exact versions and hashes of every dependency (runtime + test); regenerate with `make lock`.
LOCK   := requirements/lock.txt
UV     := .venv-tools/bin/uv

.PHONY: report test test-slow metapsy lint dryrun update bench clean-results reference help lock

help:
	@echo "make report   build the default review's report (results/exercise-depression/report.pdf)"
	@echo "make test     run the test suite"
	@echo "make test-slow  the long end-to-end tests (CI runs them too)"
	@echo "make metapsy SOURCE=PATH  import a Metapsy depression-psyctr release into the psychotherapy review"
	@echo "make update   publish a new edition if any input changed (REVIEW=exercise-depression)"
	@echo "make bench    benchmarks (BENCH_ARGS='--sections engine,peers' for the quick part)"
	@echo "make lint     snakemake --lint"
	@echo "make lock     re-resolve $(LOCK) from pyproject.toml (UPGRADE=1 to move every pin to the newest release)"
	@echo "make reference  regenerate tests/reference/ with R (needs r-cran-metafor, r-cran-clubsandwich)"

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) scripts/check_system.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

report: $(STAMP)
	$(BIN)/livingmeta build --cores $(CORES)
	@echo "Report: results/exercise-depression/report.pdf"

test: $(STAMP)
	$(BIN)/python -m pytest

# The long end-to-end tests (marked slow), kept out of `make test`'s time; CI runs both.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow || [ $$? -eq 5 ]  # 5: no test is marked slow

# The psychotherapy review's data: a Metapsy depression-psyctr release folder (README, "Metapsy
# databases and the psychotherapy review"); --sync, so a later release updates the review.
SOURCE ?=
metapsy: $(STAMP)
	@test -n "$(SOURCE)" || { echo "make metapsy SOURCE=PATH: PATH is a Metapsy depression-psyctr release folder (data.csv and metadata/), e.g. ../shared/data/metapsy-depression-psyctr/24.0.2" >&2; exit 2; }
	$(BIN)/livingmeta import psychotherapy-depression "$(SOURCE)" --sync

REVIEW ?= exercise-depression
update: $(STAMP)
	$(BIN)/livingmeta update $(REVIEW)

BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/snakemake --lint

dryrun: $(STAMP)
	$(BIN)/snakemake --profile workflow/profiles/default --dry-run

# Keeps every pin it can (the lock file is uv's starting point), so it is safe to rerun after
# adding a dependency to pyproject.toml; UPGRADE=1 re-resolves everything to the newest releases.
UPGRADE ?=
lock:
	test -x $(UV) || ($(PYTHON) -m venv .venv-tools && .venv-tools/bin/python -m pip install --quiet 'uv==0.13.9')
	$(UV) pip compile pyproject.toml --extra test --universal --python-version 3.11 --generate-hashes \
		$(if $(UPGRADE),--upgrade) --quiet -o $(LOCK)

reference:
	Rscript tests/reference/make_reference.R
	Rscript tests/reference/make_reference_appraisal.R

clean-results:
	rm -rf results/*/ .snakemake
