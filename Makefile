# The two commands a newcomer needs: `make serve` and `make test`. Each sets up
# everything it needs on a fresh machine (virtual environment, packages, system
# tools, database migration).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUN_STAMP := $(VENV)/.stamp-run
DEV_STAMP := $(VENV)/.stamp-dev

.PHONY: serve test lint typecheck bench system-deps clean

serve: $(RUN_STAMP)
	$(BIN)/chronodelta serve --demo

test: $(DEV_STAMP) system-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -n auto

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

bench: $(DEV_STAMP) system-deps
	$(BIN)/python -m bench.list_throughput
	$(BIN)/python -m bench.list_throughput --records 20000 --page-size 100 --repeat 6 --sandbox compare
	$(BIN)/python -m bench.page_ceiling
	$(BIN)/python -m bench.delta_read
	$(BIN)/python -m bench.write_throughput
	$(BIN)/python -m bench.write_statements
	$(BIN)/python -m bench.reference_signature
	$(BIN)/python -m bench.request_path
	$(BIN)/python -m bench.sync_throughput
	$(BIN)/python -m bench.delta_parse
	$(BIN)/python -m bench.load_mix
	$(BIN)/python -m bench.token_flood
	$(BIN)/python -m bench.webhook_latency
	$(BIN)/python -m bench.reset_time

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(RUN_STAMP)

# PostgreSQL (tests start throwaway clusters with its initdb/pg_ctl), Chromium (the
# test that renders the Swagger page offline) and its driver (the console's browser
# test, through Selenium) and curl (the test that runs the walk-through `make serve`
# prints), from Debian's packages.
system-deps:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		$(SUDO) apt-get update -q && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; fi
	@if ! command -v chromium >/dev/null; then \
		$(SUDO) apt-get update -q && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; fi
	@if ! command -v chromedriver >/dev/null; then \
		$(SUDO) apt-get update -q && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium-driver; fi
	@if ! command -v curl >/dev/null; then \
		$(SUDO) apt-get update -q && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl; fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
