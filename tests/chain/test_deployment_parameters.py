"""Every deployment parameter is checked by the contract's constructor (and first by the Python
settings), and the deployed code stays under EIP-170's size limit."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from medledger.chain.artifacts import load_artifact
from medledger.chain.deploy import EmergencyPolicy, LedgerSettings
from medledger.chain.errors import ContractRevertError, DeploymentError
from medledger.chain.reverts import RevertDecoder
from medledger.chain.transactions import TransactionSender

EIP170_LIMIT = 24_576
DAY = 86400
VALID = LedgerSettings().constructor_settings()
# (field index in the contract's Settings tuple, bad value, custom error)
BAD = [
    (0, 0, "InvalidAdminDelay"),
    (0, 31 * DAY, "InvalidAdminDelay"),
    (1, 0, "InvalidEmergencyWindow"),
    (1, 8 * DAY, "InvalidEmergencyWindow"),
    (2, 0, "InvalidEmergencyCooldown"),
    (2, 31 * DAY, "InvalidEmergencyCooldown"),
    (3, 0b1, "InvalidEmergencyKinds"),  # kind 0 is None
    (3, 0b1000000, "InvalidEmergencyKinds"),  # kind 6 does not exist
    (4, 0, "EmptyEmergencyCategories"),
    (5, 0, "InvalidMaxConsentDuration"),
    (6, 0, "InvalidMaxGuardianTerm"),
]


def _deploy_raw(world, settings: tuple, admin: str | None = None):
    artifact = load_artifact("MedLedger")
    factory = world.chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    sender = TransactionSender(world.chain, RevertDecoder(artifact.abi))
    return sender.deploy(world.actors.admin, factory.constructor(admin or world.actors.admin.address, settings))


@pytest.mark.parametrize(("index", "value", "error"), BAD)
def test_the_constructor_refuses_a_bad_parameter(world, index, value, error):
    settings = list(VALID)
    settings[index] = value
    with pytest.raises(ContractRevertError) as caught:
        _deploy_raw(world, tuple(settings))
    assert caught.value.error == error


def test_the_constructor_refuses_a_zero_admin(world):
    with pytest.raises(ContractRevertError) as caught:
        _deploy_raw(world, VALID, admin="0x" + "00" * 20)
    assert caught.value.error == "AccessControlInvalidDefaultAdmin"


def test_valid_parameters_deploy(world):
    receipt = _deploy_raw(world, VALID)
    assert receipt.raw["contractAddress"]


@pytest.mark.parametrize(
    "changes",
    [
        {"admin_delay_seconds": 0},
        {"max_consent_seconds": 0},
        {"max_guardian_term_seconds": 0},
    ],
)
def test_python_settings_refuse_a_bad_parameter_before_sending(changes):
    with pytest.raises(DeploymentError):
        LedgerSettings(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"window_seconds": 8 * DAY},
        {"cooldown_seconds": 0},
        {"provider_kinds": 1 << 6},
        {"default_categories": 0},
    ],
)
def test_python_emergency_policy_refuses_a_bad_parameter_before_sending(changes):
    with pytest.raises(DeploymentError):
        EmergencyPolicy(**changes)


def test_the_deployed_settings_are_the_python_defaults(world):
    ledger = world.ledger()
    f = ledger.contract.functions
    defaults = LedgerSettings()
    assert (
        int(f.defaultAdminDelay().call()),
        int(f.emergencyWindow().call()),
        int(f.emergencyCooldown().call()),
        int(f.maxConsentDuration().call()),
        int(f.maxGuardianTerm().call()),
    ) == (
        defaults.admin_delay_seconds,
        defaults.emergency.window_seconds,
        defaults.emergency.cooldown_seconds,
        defaults.max_consent_seconds,
        defaults.max_guardian_term_seconds,
    )


@pytest.mark.parametrize("name", ["MedLedger", "KeyReleaseServices"])
def test_deployed_code_is_under_the_eip170_limit(name):
    artifact = json.loads(resources.files("medledger.artifacts").joinpath(f"{name}.json").read_text())
    assert (len(artifact["deployedBytecode"]) - 2) // 2 <= EIP170_LIMIT
