# medledger: every install step lives here, so a fresh machine needs only `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed

.PHONY: install build check-artifacts demo test screenshots bench bench-gas bench-crypto bench-records bench-keyservice bench-indexer bench-ingest bench-growth bench-startup bench-storage bench-gateway postgres chromium clean

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

# The quality gates run first: a tree that fails lint is not tested.
test: install postgres chromium lint
	$(PY) -m pytest -n 2 --dist loadfile

# The README's portal screenshots (docs/portal.png, docs/portal-phone.png), taken by the browser test.
screenshots: install chromium
	MEDLEDGER_SCREENSHOT_DIR=docs $(PY) -m pytest tests/portal/test_portal_browser.py -q

# The indexer's tests run against a real PostgreSQL server they start themselves. As root (CI),
# install Debian's package when it is missing; elsewhere those tests skip and say why.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	else echo "PostgreSQL not installed and not root: the PostgreSQL indexer tests will skip"; fi

# The portal's browser test drives Debian's chromium through chromedriver (headless). As root (CI),
# install both packages when missing; elsewhere that test skips and says why.
chromium:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; \
	else echo "chromium/chromedriver not installed and not root: the portal's browser test will skip"; fi

# Quality gates (also run by pre-commit, see .pre-commit-config.yaml). Configuration lives in
# pyproject.toml ([tool.ruff], [tool.mypy]), .solhint.json and slither.config.json; forge fmt uses
# its defaults (120 columns, 4 spaces), which are the contracts' style.
#   solhint: solhint:recommended, with the pragma pinned to the build's compiler (0.8.28) and
#     these rules off: use-natspec (the interfaces carry OpenZeppelin-style prose NatSpec and the
#     modules @inheritdoc; the rule wants a @param tag per argument), immutable-vars-naming
#     (public immutables are ABI getters: renaming them changes the ABI), gas-indexed-events
#     (indexed fields are the ones clients filter on; each extra topic costs gas on every event),
#     gas-small-strings (EIP-712 type strings must be the exact type; they are hashed at compile
#     time), gas-strict-inequalities and gas-increment-by-one (the rules' comparisons follow the
#     spec's wording; the optimizer emits the same code). Line width is forge fmt's to enforce (EIP-712
#     type strings must stay whole). contracts/test (mocks) is not linted.
#   slither: every detector; a finding is triaged where it is, with a reason, as
#     `// slither-disable-next-line <detector>` (or -start/-end around a block).
# The three groups share two jobs (2 cores), the longest first; each stops at its first failing tool.
FOUNDRY_OS := $(shell uname -s | tr A-Z a-z)
FOUNDRY_ARCH := $(subst x86_64,amd64,$(subst aarch64,arm64,$(shell uname -m)))
# The native forge: node_modules/.bin/forge is a Node wrapper that exits 0 whatever forge returns.
FORGE := node_modules/@foundry-rs/forge-$(FOUNDRY_OS)-$(FOUNDRY_ARCH)/bin/forge
SOLIDITY_DIRS := contracts interfaces

.PHONY: lint lint-python lint-solidity slither hooks

lint: install
	@$(MAKE) --no-print-directory -j2 --output-sync=target slither lint-python lint-solidity

lint-python: install
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check
	$(VENV)/bin/mypy

lint-solidity: install
	node_modules/.bin/solhint --disc --noPoster --max-warnings 0 'contracts/**/*.sol' 'interfaces/**/*.sol'
	$(FORGE) fmt --check $(SOLIDITY_DIRS)

slither: install
	$(VENV)/bin/slither contracts

# The same gates before each commit (see .pre-commit-config.yaml).
hooks: install
	$(PY) -m pip install --quiet -e '.[dev]'
	$(VENV)/bin/pre-commit install

bench: bench-gas bench-crypto bench-records

bench-gas: install
	$(PY) benchmarks/gas.py

bench-crypto: install
	$(PY) benchmarks/crypto.py

bench-records: install
	$(PY) benchmarks/records.py

bench-keyservice: install
	$(PY) benchmarks/keyservice.py

bench-indexer: install
	$(PY) benchmarks/indexer.py

bench-ingest: install
	$(PY) benchmarks/ingest.py

# Requests and time per operation at 0, 5,000 and 20,000 records of history and with 1,000 of the
# patient's own (real transactions; several minutes). Quicker: `make bench-growth ARGS="--levels 0,2000 --same 200"`.
bench-growth: install
	$(PY) benchmarks/growth.py $(ARGS)

# Wall time of `medledger --help` and of bad-input errors (no chain, no IPFS needed).
bench-startup: install
	$(PY) benchmarks/startup.py $(ARGS)

# Publish time with r = 1, 2, 3 copies and the storage audit's rate over 10,000 records, on three
# js-ipfs daemons (MEDLEDGER_BENCH_PUBLISH, MEDLEDGER_BENCH_AUDIT change the counts).
bench-storage: install
	$(PY) benchmarks/storage.py

# 100 simulated devices (10 readings/s each) on 10 patients through a real gateway, 60 s by default;
# `make bench-gateway ARGS="--minutes 10"` for the issue's figure.
bench-gateway: install
	$(PY) benchmarks/gateway.py $(ARGS)

clean:
	rm -rf $(VENV) node_modules build .pytest_cache .hypothesis .mypy_cache .ruff_cache crytic-export
include mk/brownie.mk
