"""Every external state-changing function x every actor: allowed, or refused with the named error.

Setup for each cell: the patient has granted `grantee` read+write on labs, had granted the
suspended provider the same before its suspension, has one labs record and a guardian (not one
of the actors), the grantee has broken glass, and the registrar holds the emergency key service
role. Signed (relayed) functions carry a fresh valid patient signature: anyone may relay one.
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
            "admin": a.admin, "registrar": a.registrar, "active_provider": a.researcher,
            "suspended_provider": a.suspended, "patient": a.patient, "grantee": a.provider, "stranger": a.stranger,
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
        patient.guardians.appoint(a.patient.address, self.guardian)
        world.ledger(a.provider).emergency.break_glass(a.patient.address, EmergencyReason.UNCONSCIOUS)
        world.ledger(a.admin).emergency.add_key_service(a.registrar.address)

    def signed(self, kind: str) -> SignedMessage:
        a = self.world.actors
        reader = self.world.ledger().signed
        if kind == "Grant":
            data = reader.grant_data(a.patient.address, a.researcher.address, categories=LABS_MASK,
                                     purposes=TREAT_MASK, permissions=1, expiry=_later(self.world))
        elif kind == "Revoke":
            data = reader.revoke_data(a.patient.address, a.provider.address)
        elif kind == "AppointGuardian":
            data = reader.appoint_guardian_data(a.patient.address, a.stranger.address)
        else:
            data = reader.remove_guardian_data(a.patient.address, self.guardian)
        return sign(a.patient, data)


def _later(world) -> int:
    return int(world.chain.w3.eth.get_block("latest")["timestamp"]) + 86400


def _only(*allowed: str, refusal: str) -> dict[str, str | None]:
    return {actor: (None if actor in allowed else refusal) for actor in ACTORS}


EVERYONE: dict[str, str | None] = {actor: None for actor in ACTORS}

# name -> (call builder, expected outcome per actor: None = allowed, else the custom error)
MATRIX: dict[str, tuple[Callable[[MedLedger, Cell], Any], dict[str, str | None]]] = {
    "grantRole": (lambda l, c: l.providers.add_registrar(c.world.actors.other_patient.address),
                  _only("admin", refusal=UNAUTHORIZED)),
    "revokeRole": (lambda l, c: l.providers.remove_registrar(c.world.actors.registrar.address),
                   _only("admin", refusal=UNAUTHORIZED)),
    "renounceRole": (lambda l, c: l.sender.send(l.signer, l.contract.functions.renounceRole(REGISTRAR_ROLE, l.signer.address)),
                     EVERYONE),
    "registerProvider": (lambda l, c: l.providers.register(c.world.actors.other_patient.address, ProviderKind.INSURER),
                         _only("registrar", refusal=UNAUTHORIZED)),
    "suspendProvider": (lambda l, c: l.providers.suspend(c.world.actors.researcher.address),
                        _only("registrar", refusal=UNAUTHORIZED)),
    "reinstateProvider": (lambda l, c: l.providers.reinstate(c.world.actors.suspended.address),
                          _only("registrar", refusal=UNAUTHORIZED)),
    "setEncryptionKey": (lambda l, c: l.keys.publish(b"\x07" * 32), EVERYONE),
    "rotateKeyring": (lambda l, c: l.keys.rotate_keyring(Category.LABS, b"\x08" * 32, b"sealed"), EVERYONE),
    "grant": (lambda l, c: grant_labs(l, _grant_target(l, c)), EVERYONE),
    "revoke": (lambda l, c: l.consent.revoke(c.world.actors.provider.address),
               _only("patient", refusal="NoConsent")),
    "addRecord": (lambda l, c: l.records.add(c.world.actors.patient.address, random_digest(), CODEC_RAW, Category.LABS),
                  _only("patient", "grantee", refusal="NotAuthorized")),
    "eraseRecord": (lambda l, c: l.records.erase(c.record), _only("patient", refusal="UnknownRecord")),
    "multicall": (lambda l, c: l.multicall([l.consent.revoke_call(c.world.actors.provider.address)]),
                  _only("patient", refusal="NoConsent")),
    "grantFor": (lambda l, c: l.sender.send(l.signer, l.consent.grant_call(
                     c.world.actors.researcher.address, categories=LABS_MASK, purposes=TREAT_MASK, permissions=1,
                     expiry=_later(c.world), patient=c.world.actors.patient.address)),
                 _only("patient", refusal="NotGuardian")),
    "revokeFor": (lambda l, c: l.sender.send(l.signer, l.consent.revoke_call(
                      c.world.actors.provider.address, patient=c.world.actors.patient.address)),
                  _only("patient", refusal="NotGuardian")),
    "rotateKeyringFor": (lambda l, c: l.sender.send(l.signer, l.keys.rotate_keyring_call(
                             Category.LABS, b"\x09" * 32, b"", patient=c.world.actors.patient.address)),
                         _only("patient", refusal="NotGuardian")),
    "appointGuardian": (lambda l, c: l.guardians.appoint(c.world.actors.patient.address, c.world.actors.stranger.address
                                                         if l.signer.address != c.world.actors.stranger.address
                                                         else c.world.actors.admin.address),
                        _only("patient", refusal="MayNotAppoint")),
    "removeGuardian": (lambda l, c: l.guardians.remove(c.world.actors.patient.address, c.guardian),
                       _only("patient", refusal="MayNotAppoint")),
    "breakGlass": (lambda l, c: l.emergency.break_glass(c.world.actors.patient.address, EmergencyReason.OTHER),
                   {"admin": "UnknownProvider", "registrar": "UnknownProvider",
                    "active_provider": "ProviderKindNotAllowed", "suspended_provider": "ProviderNotActive",
                    "patient": "UnknownProvider", "grantee": None, "stranger": "UnknownProvider"}),
    "closeEmergencyAccess": (lambda l, c: l.emergency.close(c.world.actors.patient.address,
                                                            c.world.actors.provider.address),
                             _only("patient", "grantee", refusal="NotGuardian")),
    "setEmergencyPreferences": (lambda l, c: l.emergency.set_preferences(opt_out=True), EVERYONE),
    "releaseEmergencyKeys": (lambda l, c: l.emergency.release_keys(c.world.actors.patient.address,
                                                                   c.world.actors.provider.address, b"sealed"),
                             _only("registrar", refusal=UNAUTHORIZED)),
    "logAccess": (lambda l, c: l.records.log_access(c.world.actors.patient.address, c.record, Purpose.TREAT),
                  _only("patient", "grantee", refusal="NotAuthorized")),
    "grantBySig": (lambda l, c: l.signed.relay(c.signed("Grant")), EVERYONE),
    "revokeBySig": (lambda l, c: l.signed.relay(c.signed("Revoke")), EVERYONE),
    "appointGuardianBySig": (lambda l, c: l.signed.relay(c.signed("AppointGuardian")), EVERYONE),
    "removeGuardianBySig": (lambda l, c: l.signed.relay(c.signed("RemoveGuardian")), EVERYONE),
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

    mutating = {item["name"] for item in load_artifact("MedLedger").abi
                if item["type"] == "function" and item["stateMutability"] not in ("view", "pure")}
    assert mutating == set(MATRIX)
