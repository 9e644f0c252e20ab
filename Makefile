# medledger: every install step lives here, so a fresh machine needs only `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed

.PHONY: install build check-artifacts demo test bench bench-gas clean

install: $(STAMP_PY) $(STAMP_NODE)

$(STAMP_PY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(STAMP_NODE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

build: install
	$(PY) tools/build_artifacts.py

check-artifacts: install
	$(PY) tools/build_artifacts.py --check

demo: install
	$(VENV)/bin/medledger demo

test: install
	$(PY) -m pytest

bench: bench-gas

bench-gas: install
	$(PY) benchmarks/gas.py

clean:
	rm -rf $(VENV) node_modules build .pytest_cache .hypothesis
include mk/brownie.mk
