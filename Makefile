# The two commands of the README: `make run` and `make test`. Both install what is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-slow system-deps bench clean

run: $(STAMP)
	$(PY) run.py

test: $(STAMP) system-deps
	$(PY) -m pytest

# the slow tests only (CI runs them after `make test`)
test-slow: $(STAMP) system-deps
	$(PY) -m pytest -m slow

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian data packages the tests read (installed only when missing; needs root)
system-deps:
	@scripts/install_system_deps.sh

bench: $(STAMP)
	$(PY) scripts/bench_warmstart.py

clean:
	rm -rf outputs/runs outputs/multirun
