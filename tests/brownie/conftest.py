"""Fixtures for the brownie test subset (`make brownie-test`; run by eth-brownie, not the main pytest).

Brownie provides `accounts`, `chain` and the `MedLedger` contract container from the project it
compiled; `fn_isolation` snapshots the chain before each test and reverts it afterwards.

Times come from the latest block, not `chain.time()`: brownie's clock is wall time plus an
offset, but anvil's `evm_revert` also rewinds the chain's clock to the snapshot, so after a
few isolated tests the two disagree by seconds.
"""

import pytest
from brownie import web3

from medledger.chain.deploy import LedgerSettings
from medledger.ledger import ProviderKind

CLINICIAN = int(ProviderKind.CLINICIAN)
ORGANIZATION = int(ProviderKind.ORGANIZATION)
DAY = 24 * 3600


def latest_timestamp():
    return web3.eth.get_block("latest")["timestamp"]


def pytest_configure(config):
    # brownie 1.22's own snapshot/sleep/mine helpers trip its "call chain.x, not rpc.x" warning.
    config.addinivalue_line("filterwarnings", "ignore:rpc\\.\\w+ should not be called directly:FutureWarning")


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass


@pytest.fixture(scope="module")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def registrar(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def patient(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def clinic(accounts):
    """An active clinician."""
    return accounts[3]


@pytest.fixture(scope="module")
def lab(accounts):
    """An active organization that writes lab results."""
    return accounts[4]


@pytest.fixture(scope="module")
def stranger(accounts):
    """No role, not a provider."""
    return accounts[5]


@pytest.fixture(scope="module")
def ledger(MedLedger, admin, registrar, clinic, lab):
    """MedLedger deployed by brownie, with a registrar, an active clinic and an active lab."""
    settings = LedgerSettings()  # medledger's defaults for the constructor's Settings tuple
    ledger = MedLedger.deploy(admin, settings.constructor_settings(), {"from": admin})
    ledger.grantRole(ledger.REGISTRAR_ROLE(), registrar, {"from": admin})
    ledger.registerProvider(clinic, CLINICIAN, {"from": registrar})
    ledger.registerProvider(lab, ORGANIZATION, {"from": registrar})
    return ledger


@pytest.fixture
def expiry():
    """A consent expiry 30 days after the latest block."""
    return latest_timestamp() + 30 * DAY
