"""Every external state-changing function x every actor: allowed, or refused with the named error.

Setup for each cell: the patient has granted `grantee` read+write on labs, had granted the
suspended provider the same before its suspension, has one labs record and a guardian (not one
of the actors) and the grantee has broken glass. No actor is a pauser. Signed (relayed) functions
carry a fresh valid patient signature: anyone may relay one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from medledger.chain.errors import ContractRevertError
from medledger.ledger import MedLedger, ProviderKind
from medledger.ledger.emergency import EmergencyReason
from medledger.ledger.providers import REGISTRAR_ROLE
from medledger.ledger.signatures import SignedMessage, sign
from medledger.scopes import Category, Purpose

from .helpers import CODEC_RAW, LABS_MASK, TREAT_MASK, grant_labs, random_digest

ACTORS = ["admin", "registrar", "active_provider", "suspended_provider", "patient", "grantee", "stranger"]
UNAUTHORIZED = "AccessControlUnauthorizedAccount"


class Cell:
    """The state a matrix cell runs in."""

    def __init__(self, world):
        a = world.actors
        self.world = world
        self.signers = {
            "admin": a.admin,
            "registrar": a.registrar,
            "active_provider": a.researcher,
            "suspended_provider": a.suspended,
            "patient": a.patient,
            "grantee": a.provider,
            "stranger": a.stranger,
        }
        registrar = world.ledger(a.registrar).providers
        patient = world.ledger(a.patient)
        registrar.reinstate(a.suspended.address)
        grant_labs(patient, a.suspended.address)
        registrar.suspend(a.suspended.address)
        grant_labs(patient, a.provider.address)
        self.record = random_digest()
        patient.records.add(a.patient.address, self.record, CODEC_RAW, Category.LABS)
        self.guardian = a.other_patient.address
        patient.guardians.appoint(a.patient.address, self.guardian, until=_later(world))
        world.ledger(a.provider).emergency.break_glass(a.patient.address, EmergencyReason.UNCONSCIOUS)

    def signed(self, kind: str) -> SignedMessage:
        a = self.world.actors
        reader = self.world.ledger().signed
        if kind == "Grant":
            data = reader.grant_data(
                a.patient.address,
                a.researcher.address,
                categories=LABS_MASK,
                purposes=TREAT_MASK,
                permissions=1,
                expiry=_later(self.world),
            )
        elif kind == "Revoke":
            data = reader.revoke_data(a.patient.address, a.provider.address)
        elif kind == "AppointGuardian":
            data = reader.appoint_guardian_data(a.patient.address, a.stranger.address, until=_later(self.world))
        elif kind == "CancelNonces":
            data = reader.cancel_nonces_data(a.patient.address, a.provider.address)
        else:
            data = reader.remove_guardian_data(a.patient.address, self.guardian)
        return sign(a.patient, data)


def _later(world) -> int:
    return world.chain.now() + 86400


def _only(*allowed: str, refusal: str) -> dict[str, str | None]:
    return {actor: (None if actor in allowed else refusal) for actor in ACTORS}


EVERYONE: dict[str, str | None] = dict.fromkeys(ACTORS)

# name -> (call builder, expected outcome per actor: None = allowed, else the custom error)
MATRIX: dict[str, tuple[Callable[[MedLedger, Cell], Any], dict[str, str | None]]] = {
    "grantRole": (
        lambda ledger, c: ledger.providers.add_registrar(c.world.actors.other_patient.address),
        _only("admin", refusal=UNAUTHORIZED),
    ),
    "revokeRole": (
        lambda ledger, c: ledger.providers.remove_registrar(c.world.actors.registrar.address),
        _only("admin", refusal=UNAUTHORIZED),
    ),
    "renounceRole": (
        lambda ledger, c: ledger.sender.send(
            ledger.signer, ledger.contract.functions.renounceRole(REGISTRAR_ROLE, ledger.signer.address)
        ),
        EVERYONE,
    ),
    "registerProvider": (
        lambda ledger, c: ledger.providers.register(c.world.actors.other_patient.address, ProviderKind.INSURER),
        _only("registrar", refusal=UNAUTHORIZED),
    ),
    "suspendProvider": (
        lambda ledger, c: ledger.providers.suspend(c.world.actors.researcher.address),
        _only("registrar", refusal=UNAUTHORIZED),
    ),
    "reinstateProvider": (
        lambda ledger, c: ledger.providers.reinstate(c.world.actors.suspended.address),
        _only("registrar", refusal=UNAUTHORIZED),
    ),
    "setEncryptionKey": (lambda ledger, c: ledger.keys.publish(b"\x07" * 32), EVERYONE),
    "grant": (lambda ledger, c: grant_labs(ledger, _grant_target(ledger, c)), EVERYONE),
    "revoke": (
        lambda ledger, c: ledger.consent.revoke(c.world.actors.provider.address),
        _only("patient", refusal="NoConsent"),
    ),
    "addRecord": (
        lambda ledger, c: ledger.records.add(c.world.actors.patient.address, random_digest(), CODEC_RAW, Category.LABS),
        _only("patient", "grantee", refusal="NotAuthorized"),
    ),
    "eraseRecord": (lambda ledger, c: ledger.records.erase(c.record), _only("patient", refusal="UnknownRecord")),
    # Only the ledger's StreamAnchors module may register a record on an author's behalf (no actor is it).
    "addStreamRecord": (
        lambda ledger, c: ledger.sender.send(
            ledger.signer,
            ledger.contract.functions.addStreamRecord(
                c.world.actors.provider.address, c.world.actors.patient.address, random_digest(), CODEC_RAW, 1
            ),
        ),
        _only(refusal="NotAuthorized"),
    ),
    "multicall": (
        lambda ledger, c: ledger.multicall([ledger.consent.revoke_call(c.world.actors.provider.address)]),
        _only("patient", refusal="NoConsent"),
    ),
    "grantFor": (
        lambda ledger, c: ledger.sender.send(
            ledger.signer,
            ledger.consent.grant_call(
                c.world.actors.researcher.address,
                categories=LABS_MASK,
                purposes=TREAT_MASK,
                permissions=1,
                expiry=_later(c.world),
                patient=c.world.actors.patient.address,
            ),
        ),
        _only("patient", refusal="NotGuardian"),
    ),
    "revokeFor": (
        lambda ledger, c: ledger.sender.send(
            ledger.signer,
            ledger.consent.revoke_call(c.world.actors.provider.address, patient=c.world.actors.patient.address),
        ),
        _only("patient", refusal="NotGuardian"),
    ),
    "appointGuardian": (
        lambda ledger, c: ledger.guardians.appoint(
            c.world.actors.patient.address,
            c.world.actors.stranger.address
            if ledger.signer.address != c.world.actors.stranger.address
            else c.world.actors.admin.address,
            until=_later(c.world),
        ),
        _only("patient", refusal="MayNotAppoint"),
    ),
    "removeGuardian": (
        lambda ledger, c: ledger.guardians.remove(c.world.actors.patient.address, c.guardian),
        _only("patient", refusal="MayNotAppoint"),
    ),
    "breakGlass": (
        lambda ledger, c: ledger.emergency.break_glass(c.world.actors.patient.address, EmergencyReason.OTHER),
        {
            "admin": "UnknownProvider",
            "registrar": "UnknownProvider",
            "active_provider": "ProviderKindNotAllowed",
            "suspended_provider": "ProviderNotActive",
            "patient": "UnknownProvider",
            "grantee": "EmergencyAccessAlreadyOpen",
            "stranger": "UnknownProvider",
        },
    ),
    "closeEmergencyAccess": (
        lambda ledger, c: ledger.emergency.close(c.world.actors.patient.address, c.world.actors.provider.address),
        _only("patient", "grantee", refusal="NotGuardian"),
    ),
    "setEmergencyPreferences": (lambda ledger, c: ledger.emergency.set_preferences(opt_out=True), EVERYONE),
    "logAccess": (
        lambda ledger, c: ledger.records.log_access(c.world.actors.patient.address, c.record, Purpose.TREAT),
        _only("patient", "grantee", refusal="NotAuthorized"),
    ),
    "grantBySig": (lambda ledger, c: ledger.signed.relay(c.signed("Grant")), EVERYONE),
    "revokeBySig": (lambda ledger, c: ledger.signed.relay(c.signed("Revoke")), EVERYONE),
    "appointGuardianBySig": (lambda ledger, c: ledger.signed.relay(c.signed("AppointGuardian")), EVERYONE),
    "removeGuardianBySig": (lambda ledger, c: ledger.signed.relay(c.signed("RemoveGuardian")), EVERYONE),
    "cancelNonces": (lambda ledger, c: ledger.signed.cancel_nonces(c.world.actors.provider.address), EVERYONE),
    "cancelNoncesBySig": (lambda ledger, c: ledger.signed.relay(c.signed("CancelNonces")), EVERYONE),
    "withdrawProvider": (
        lambda ledger, c: ledger.providers.withdraw(c.world.actors.researcher.address),
        _only("registrar", refusal=UNAUTHORIZED),
    ),
    "setProviderKind": (
        lambda ledger, c: ledger.providers.set_kind(c.world.actors.researcher.address, ProviderKind.INSURER),
        _only("registrar", refusal=UNAUTHORIZED),
    ),
    "pause": (lambda ledger, c: ledger.providers.pause(), _only(refusal=UNAUTHORIZED)),
    "unpause": (lambda ledger, c: ledger.providers.unpause(), _only(refusal=UNAUTHORIZED)),
    "beginDefaultAdminTransfer": (
        lambda ledger, c: ledger.providers.begin_admin_transfer(c.world.actors.other_patient.address),
        _only("admin", refusal=UNAUTHORIZED),
    ),
    "cancelDefaultAdminTransfer": (
        lambda ledger, c: ledger.providers.cancel_admin_transfer(),
        _only("admin", refusal=UNAUTHORIZED),
    ),
    "acceptDefaultAdminTransfer": (
        lambda ledger, c: ledger.providers.accept_admin_transfer(),
        _only(refusal="AccessControlInvalidDefaultAdmin"),
    ),
    "changeDefaultAdminDelay": (
        lambda ledger, c: ledger.sender.send(
            ledger.signer, ledger.contract.functions.changeDefaultAdminDelay(3 * 86400)
        ),
        _only("admin", refusal=UNAUTHORIZED),
    ),
    "rollbackDefaultAdminDelay": (
        lambda ledger, c: ledger.sender.send(ledger.signer, ledger.contract.functions.rollbackDefaultAdminDelay()),
        _only("admin", refusal=UNAUTHORIZED),
    ),
}


def _grant_target(ledger: MedLedger, cell: Cell) -> str:
    """An active provider other than the granter (researcher, or the grantee when the researcher grants)."""
    researcher = cell.world.actors.researcher.address
    return cell.world.actors.provider.address if ledger.signer.address == researcher else researcher


CASES = [(function, actor) for function in MATRIX for actor in ACTORS]


@pytest.fixture(scope="module")
def cell(deployed_world, anvil):
    """The cell state, built once for the module; each test's `world` snapshot undoes its call."""
    before = anvil.snapshot()
    try:
        yield Cell(deployed_world)
    finally:
        anvil.revert(before)


@pytest.mark.parametrize(("function", "actor"), CASES, ids=[f"{f}-{a}" for f, a in CASES])
def test_access_matrix(cell, world, function: str, actor: str) -> None:
    call, expected = MATRIX[function]
    ledger = world.ledger(cell.signers[actor])
    refusal = expected[actor]
    if refusal is None:
        receipt = call(ledger, cell)
        assert receipt.gas_used > 0
    else:
        with pytest.raises(ContractRevertError) as caught:
            call(ledger, cell)
        assert caught.value.error == refusal


def test_matrix_covers_every_state_changing_function() -> None:
    from medledger.chain.artifacts import load_artifact

    mutating = {
        item["name"]
        for item in load_artifact("MedLedger").abi
        if item["type"] == "function" and item["stateMutability"] not in ("view", "pure")
    }
    assert mutating == set(MATRIX)
