# medledger: every install step lives here, so a fresh machine needs only `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed

.PHONY: install build check-artifacts demo test bench bench-gas bench-crypto bench-records postgres clean

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

test: install postgres
	$(PY) -m pytest

# The indexer's tests run against a real PostgreSQL server they start themselves. As root (CI),
# install Debian's package when it is missing; elsewhere those tests skip and say why.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	else echo "PostgreSQL not installed and not root: the PostgreSQL indexer tests will skip"; fi

bench: bench-gas bench-crypto bench-records

bench-gas: install
	$(PY) benchmarks/gas.py

bench-crypto: install
	$(PY) benchmarks/crypto.py

bench-records: install
	$(PY) benchmarks/records.py

clean:
	rm -rf $(VENV) node_modules build .pytest_cache .hypothesis
include mk/brownie.mk
