# mmrec: two commands on a fresh machine, `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mmrec-installed
# Which data the book runs on: synthetic (embedded, default), ml-100k (real), paper (GPU scale).
DATA ?= synthetic
PROFILE ?= $(DATA)
PYTEST_ARGS ?=

.PHONY: all install test book results verify clean-book lint

all: test

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch and torchvision first, with pip: their wheels come from local disk.
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q uv
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements.txt -e .
	touch $@

install: $(STAMP)

test: $(STAMP)
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

clean-book:
	rm -rf _build book/executed book/generated

lint: $(STAMP)
	$(BIN)/uv pip install -q --python $(BIN)/python ruff
	$(BIN)/ruff check mmrec_lib tests benchmarks
