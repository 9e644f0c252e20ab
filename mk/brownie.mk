# eth-brownie, for users of brownie (included from the Makefile; uses PYTHON, STAMP_NODE from there).
#
# eth-brownie pins ~80 dependencies exactly, so it lives in its own venv, .venv-brownie, with
# medledger installed beside it, constrained to brownie's pins. Its compiler is tools/solc.cjs
# (solc-js acting as a native solc), found by py-solc-x through SOLCX_BINARY_PATH; its anvil is
# the binary from node_modules, registered as the brownie network $(BROWNIE_NETWORK).
#
#   make brownie-venv      .venv-brownie: eth-brownie $(BROWNIE_VERSION) + medledger (editable)
#   make brownie-compile   brownie compile (same runtime bytecode as `make build`, byte for byte)
#   make brownie-test      brownie test tests/brownie, on a throwaway anvil on its own port
#                          ($(BROWNIE_TEST_PORT); refused if something listens there)
#   make brownie-deploy    brownie run scripts/deploy.py: on `medledger devnet up`'s anvil when it
#                          runs (recorded where the CLI looks), else a rehearsal on a throwaway
#                          anvil (recorded in build/brownie/rehearsal/ only)
#   make brownie-network   (re)register the node_modules anvil in ~/.brownie/network-config.yaml
#   make brownie-env       print the exports that let you run `brownie ...` yourself

BROWNIE_VERSION := 1.22.2
BROWNIE_VENV := .venv-brownie
BROWNIE := $(BROWNIE_VENV)/bin/brownie
BROWNIE_PY := $(BROWNIE_VENV)/bin/python
STAMP_BROWNIE := $(BROWNIE_VENV)/.installed-$(BROWNIE_VERSION)
# medledger in that venv: reinstalled (not the whole venv) when pyproject.toml changes.
STAMP_BROWNIE_MEDLEDGER := $(BROWNIE_VENV)/.installed-medledger
# brownie's exact pins, frozen right after installing it: medledger must not move any of them.
BROWNIE_PINS := $(BROWNIE_VENV)/brownie-pins.txt

# py-solc-x looks in SOLCX_BINARY_PATH for an executable named solc-v<version>.
BROWNIE_SOLC_DIR := build/solcx
BROWNIE_SOLC := $(BROWNIE_SOLC_DIR)/solc-v0.8.28
# Source unit names must be "@openzeppelin/contracts/...", as in `make build`, for identical
# metadata; brownie reads every source at the path of its unit name, hence this link.
OZ_LINK := @openzeppelin

# brownie launches its development chain as `anvil` from PATH; build/bin/anvil links the
# binary from node_modules (run directly: its Node wrapper adds nothing).
BROWNIE_ARCH := $(subst x86_64,amd64,$(subst aarch64,arm64,$(shell uname -m)))
BROWNIE_BIN := build/bin
BROWNIE_ANVIL := $(BROWNIE_BIN)/anvil
BROWNIE_NETWORK ?= medledger-anvil
# brownie attaches to whatever listens on a development network's port. The test network has a
# port of its own, so `make brownie-test` never attaches to a devnet (whose base fee brownie's
# gas_price 0 cannot pay) and refuses to start when something else listens there. The running
# `medledger devnet` (of MEDLEDGER_HOME) is registered as the live network $(BROWNIE_DEVNET_NETWORK).
BROWNIE_ANVIL_PORT ?= 8545
BROWNIE_DEVNET_NETWORK ?= medledger-devnet
BROWNIE_TEST_NETWORK ?= medledger-anvil-test
BROWNIE_TEST_PORT ?= 18545

# eth-brownie 1.22 is compiled with mypyc, so the frame check behind its "rpc.snapshot should not
# be called directly, use chain.snapshot instead" FutureWarning misfires on brownie's own call
# when it launches a chain (no `self` in a compiled frame): every `brownie run` printed it. Only
# that warning, from that module, is ignored.
BROWNIE_WARNINGS := ignore:rpc.:FutureWarning:brownie.network.rpc
BROWNIE_ENV := SOLCX_BINARY_PATH=$(CURDIR)/$(BROWNIE_SOLC_DIR) PATH="$(CURDIR)/$(BROWNIE_BIN):$$PATH" \
	PYTHONWARNINGS=$(BROWNIE_WARNINGS)

.PHONY: brownie-venv brownie-setup brownie-network brownie-compile brownie-test brownie-deploy brownie-env

brownie-venv: $(STAMP_BROWNIE_MEDLEDGER)

$(STAMP_BROWNIE):
	rm -rf $(BROWNIE_VENV)
	$(PYTHON) -m venv $(BROWNIE_VENV)
	$(BROWNIE_PY) -m pip install --quiet --upgrade pip
	$(BROWNIE_PY) -m pip install --quiet eth-brownie==$(BROWNIE_VERSION)
	$(BROWNIE_PY) -m pip freeze --exclude-editable > $(BROWNIE_PINS)
	touch $@

$(STAMP_BROWNIE_MEDLEDGER): pyproject.toml $(STAMP_BROWNIE)
	$(BROWNIE_PY) -m pip install --quiet -e . -c $(BROWNIE_PINS)
	$(BROWNIE_PY) -m pip check
	touch $@

$(BROWNIE_SOLC): | tools/solc.cjs
	mkdir -p $(BROWNIE_SOLC_DIR)
	ln -sfn ../../tools/solc.cjs $@

$(BROWNIE_ANVIL): | $(STAMP_NODE)
	mkdir -p $(BROWNIE_BIN)
	ln -sfn ../../node_modules/@foundry-rs/anvil-linux-$(BROWNIE_ARCH)/bin/anvil $@

$(OZ_LINK): | $(STAMP_NODE)
	ln -sfn node_modules/@openzeppelin $@

brownie-setup: $(STAMP_BROWNIE_MEDLEDGER) $(STAMP_NODE) $(BROWNIE_SOLC) $(BROWNIE_ANVIL) $(OZ_LINK)

brownie-network: brownie-setup
	$(BROWNIE_PY) tools/brownie_network.py --id $(BROWNIE_NETWORK) --port $(BROWNIE_ANVIL_PORT)

brownie-compile: brownie-setup
	$(BROWNIE_ENV) $(BROWNIE) compile

brownie-test: brownie-setup
	$(BROWNIE_PY) tools/brownie_network.py --id $(BROWNIE_TEST_NETWORK) --port $(BROWNIE_TEST_PORT) --require-free
	$(BROWNIE_ENV) $(BROWNIE) test tests/brownie --network $(BROWNIE_TEST_NETWORK)

# With a `medledger devnet` running (MEDLEDGER_HOME), the deployment goes to it, recorded where the
# CLI finds it (<home>/deployments/devnet); else on $(BROWNIE_NETWORK): brownie attaches to an anvil
# already on port $(BROWNIE_ANVIL_PORT), or launches a throwaway one for a rehearsal, recorded only in
# build/brownie/rehearsal/ (scripts/deploy.py).
brownie-deploy: brownie-setup
	@if $(BROWNIE_PY) tools/brownie_network.py --id $(BROWNIE_DEVNET_NETWORK) --devnet; then \
		network=$(BROWNIE_DEVNET_NETWORK); \
	else \
		$(BROWNIE_PY) tools/brownie_network.py --id $(BROWNIE_NETWORK) --port $(BROWNIE_ANVIL_PORT) || exit 1; \
		network=$(BROWNIE_NETWORK); \
	fi; \
	echo "brownie run scripts/deploy.py --network $$network"; \
	$(BROWNIE_ENV) $(BROWNIE) run scripts/deploy.py --network $$network

brownie-env: brownie-setup
	@echo 'export SOLCX_BINARY_PATH=$(CURDIR)/$(BROWNIE_SOLC_DIR)'
	@echo 'export PATH=$(CURDIR)/$(BROWNIE_BIN):$(CURDIR)/$(BROWNIE_VENV)/bin:$$PATH'
	@echo 'export PYTHONWARNINGS=$(BROWNIE_WARNINGS)'
