# Two commands do everything on a fresh Debian/Ubuntu machine:
#   make run   set up, then serve on the embedded defaults (SQLite, in-process queue,
#              offline voice, local outbox), printing the URL and a fresh admin key
#   make test  set up, then run the whole test suite against real PostgreSQL and Redis

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PACKAGES := espeak-ng ffmpeg python3-venv chromium nodejs npm
# NodeSource's nodejs ships npm itself and conflicts with Debian's npm package: ask apt
# for npm only where no npm command exists.
APT_PACKAGES := $(filter-out $(if $(shell command -v npm 2>/dev/null),npm),$(SYSTEM_PACKAGES))
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
	$(BIN)/python bench/console.py

setup: system-packages $(VENV)/.installed node_modules/.installed

system-packages:
	@dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || { \
	  echo "installing $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); }

$(VENV)/.installed: pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

# axe-core for the browser tests' accessibility checks (pinned by package-lock.json).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	@touch $@

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache node_modules
