# Two commands do everything on a fresh Debian/Ubuntu machine:
#   make run   set up, then serve on the embedded defaults (SQLite, in-process queue,
#              offline voice, local outbox), printing the URL and a fresh admin key
#   make test  set up, then run the whole test suite against real PostgreSQL and Redis

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PACKAGES := espeak-ng libespeak-ng1 ffmpeg python3-venv chromium nodejs npm
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup system-packages lint bench clean

run: setup
	@$(BIN)/tellwell migrate
	@key=$$($(BIN)/tellwell keys create --role admin --name "make run"); \
	  echo; echo "Tellwell is starting at http://$(HOST):$(PORT)  (API docs: /docs)"; \
	  echo "Admin API key (shown once): $$key"; echo
	@TELLWELL_PUBLIC_BASE_URL=$${TELLWELL_PUBLIC_BASE_URL:-http://$(HOST):$(PORT)} \
	  $(BIN)/tellwell serve --host $(HOST) --port $(PORT)

PYTEST_ARGS ?= -n 2

test: setup lint
	@.ci/services
	$(BIN)/pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	@.ci/services
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/voices.py
	$(BIN)/python bench/console.py

setup: system-packages $(VENV)/.installed node_modules/.installed

# A package counts as present when dpkg has it or its command is on PATH: NodeSource's
# nodejs bundles npm and conflicts with Debian's npm package.
system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || command -v $$p >/dev/null || echo $$p; done); \
	[ -z "$$missing" ] || { \
	  echo "installing $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; }

$(VENV)/.installed: pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

# axe-core for the page tests, pinned by package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
