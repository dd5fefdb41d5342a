# The two commands: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 7071

.PHONY: run test bench faults deps-check install clean

# uv (from PyPI) installs the same versions pip would, side by side and compiled: 19 s on a fresh clone, not 54.
$(VENV)/.installed: requirements.txt requirements-dev.txt clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(PY) -m uv pip install --quiet --python $(PY) --compile-bytecode -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# The Python packages and the npm ones are installed side by side (about 19 s and 11 s on a fresh clone).
install:
	@$(MAKE) --no-print-directory -j2 $(VENV)/.installed node_modules/.installed

# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

## Serve the app on http://127.0.0.1:$(PORT)/api against Azurite (Ctrl-C stops everything); HTTPS=1 serves
## https:// instead, with a certificate from a local authority (its path is printed: trust it).
run: install
	PORT=$(PORT) HTTPS=$(HTTPS) bash scripts/run.sh

## Lint, type-check, then run every test, in TEST_WORKERS processes, each with its own private Azurite.
## Most tests wait (on a host, a browser, a backoff) rather than compute, so four share two cores well;
## a file's tests stay in one process, to share its module fixtures. TEST_WORKERS=0 runs them in this one.
TEST_WORKERS ?= 4
test: install $(CHROMIUM)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## Print the cost and speed numbers (transactions per operation, latency, throughput).
bench: install
	$(PY) -m bench

## Kill the host, cut storage, race submits and steering; print lost / stuck / duplicated counts (about 4 minutes).
faults: install
	$(PY) -m faults $(FAULTS_ARGS)

## Install the lowest and highest versions requirements.txt allows on Python 3.11 and 3.13; run the unit
## tests and the Python worker's indexing against each (downloads them all: not part of CI).
deps-check: install
	$(PY) scripts/deps_check.py

clean:
	rm -rf $(VENV) node_modules .azurite .deps-check
