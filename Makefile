# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The package turns Prefect's telemetry off itself (flows/orchestration/prefect_local.py);
# these also cover what make starts outside it (pytest before its conftest, the prefect CLI).
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
# Python keeps its compiled modules: with PYTHONDONTWRITEBYTECODE set (some shells and images
# set it), every pytest process compiled flows/ and tests/ again and rewrote every test's
# asserts (seconds per xdist worker), and every `bulletins` a test starts compiled flows/ again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install browser run lint test test-fast docs bench reliability clean

install: $(STAMP)

# Reinstall when the declared or pinned dependencies change.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Test-only system packages: headless Chromium (and CJK fonts, so screenshots show the
# Chinese text) for the tests that open pages in a real browser. Debian's packages, as root.
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q . || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk; \
		else echo "error: the browser tests need Debian's chromium and fonts-noto-cjk: sudo apt-get install chromium fonts-noto-cjk" >&2; exit 1; fi; }

run: install
	$(BIN)/bulletins run
	$(BIN)/bulletins query "select city, week_start, unit_group, rank_in_group, unit_name, on_list, dispatched, unresolved, unresolved_change, list_change, weeks_on_list_streak from marts.unit_week_performance where (city, week_start) in (select (city, max(week_start)) from marts.unit_week_performance group by city) order by city, unit_group, on_list desc, rank_in_group, unit_name"

# sqlfluff keeps no cache (mypy and lint-imports do): a stamp of its last clean pass, so it
# runs again only when a file under sql/ or its configuration changed since (or on a fresh
# clone, as in CI). It was most of lint's time (4.6 CPU-s).
SQL_LINTED := $(VENV)/.sql-linted
$(SQL_LINTED): $(STAMP) .sqlfluff $(wildcard sql/*/*.sql)
	$(BIN)/sqlfluff lint --processes 2 sql
	touch $@

# Lint, format and types: the same checks in `make test` and `make test-fast`. The import
# rules are contracts in .importlinter; the SQL linter's rules are in .sqlfluff (on both cores:
# it is most of lint's time).
lint: install $(SQL_LINTED)
	$(BIN)/ruff check flows tests
	$(BIN)/ruff format --check flows tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

# A module's tests stay in one process, so its module-scoped fixtures are built once (the
# Prefect harness: once per process that needs it). Two processes for everything, the
# machine's two cores; three for the fast tier, whose tests spend part of their time waiting
# (on the Prefect server, a subprocess, a timeout they check): a third process runs meanwhile
# (measured then: 105 s -> 93 s on two cores, for a few seconds more CPU). Modules are handed out in
# the order tests/conftest.py sorts them (those waiting on a server of their own first).
PYTEST := $(BIN)/pytest -q --dist loadscope --no-loadscope-reorder
PROCESSES := 2
FAST_PROCESSES := 3

# Everything: lint, types, doctests and the whole suite, slow end-to-end tests included.
test: lint browser
	$(PYTEST) -n $(PROCESSES)

# The fast tier for development: no real Prefect servers, no scenario that chains several
# runs on one warehouse (each of its steps is tested alone in the tier), and not the
# reliability suite (tests/reliability: `make test` runs it at fast scale, `make reliability`
# in full). `make test` runs every one of them.
test-fast: lint browser
	$(PYTEST) -n $(FAST_PROCESSES) -m "not slow and not scenario and not reliability"

# Rewrite the generated docs: the table docs (docs/tables.md) from the SQL headers and the lake
# schema, the settings and CLI references (docs/reference.md) from flows/settings/variables.py and
# flows/cli.py (tests/test_docs.py fails when they drift).
docs: install
	$(BIN)/python -m flows.devtools.docs_blocks

# The reliability suite at full scale (at most 15 min); writes RELIABILITY.md.
reliability: install
	rm -f .reliability/figures.jsonl
	BULLETINS_RELIABILITY=full BULLETINS_RELIABILITY_OUT=.reliability/figures.jsonl $(BIN)/pytest -q tests/reliability
	$(BIN)/python -m flows.devtools.reliability_report .reliability/figures.jsonl RELIABILITY.md

bench: install
	$(BIN)/python -m flows.devtools.bench

clean:
	rm -rf warehouse/lake warehouse/bulletins.duckdb warehouse/bulletins.duckdb.wal warehouse/.prefect
