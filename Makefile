# mmrec: two commands on a fresh machine, `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mmrec-installed
# Which data the book runs on: synthetic (embedded, default), ml-100k (real), paper (GPU scale).
DATA ?= synthetic
PROFILE ?= $(DATA)
PYTEST_ARGS ?=
# What `make lint` (and so `make test`) checks with ruff; ruff reads notebooks' code cells.
LINT_PATHS := mmrec_lib tests benchmarks notebooks

.PHONY: all install test book results verify clean-book lint references

all: test

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch and torchvision first, with pip: their wheels come from local disk.
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q uv
	# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (containers, CI), every
	# process (each notebook's kernel, each book build) would compile its imports again.
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.txt -e .
	touch $@

install: $(STAMP)

# Lint first (fails fast), then the tests.
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

book: $(STAMP)
	$(BIN)/python -m mmrec_lib.report.runbook --profile $(PROFILE)
	$(BIN)/jupyter-book build . --toc book/_toc.yml -W -n --keep-going

# Compute every run of the profile again and replace its recorded results (hours on CPU).
results: $(STAMP)
	$(BIN)/python -m mmrec_lib.report.runbook --profile $(PROFILE) --refresh-results

# Recompute 3 recorded runs at random and check they match.
verify: $(STAMP)
	$(BIN)/python -m mmrec_lib.experiments.verify results/$(PROFILE) --n 3

# Ours beside RecBole, Surprise and Cornac in one table, recorded in benchmarks/README.md
# (about 1 h on 2 idle CPU cores, several while other jobs share them). Needs .venv-reference
# and .venv-reference-rating; the script names the commands that create a missing one. A quick
# look, recording nothing (about 20 min): make references REFERENCES_ARGS="--epochs 1
# --long-epochs 0 --rating-epochs 1 --rating-settings defaults".
REFERENCES_ARGS ?= --write-readme
references: $(STAMP)
	$(BIN)/python benchmarks/references.py $(REFERENCES_ARGS)

clean-book:
	rm -rf _build book/executed book/generated

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
