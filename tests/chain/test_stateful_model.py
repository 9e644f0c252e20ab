"""Random sequences of grant / revoke / suspend / reinstate / addRecord / erase / time-warp,
checked step by step against a plain-Python reference model of the consent rules."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from medledger.chain.errors import ContractRevertError

CATEGORIES = [0, 1, 2]
PURPOSES = [0, 1, 4]
BOUNDARY_SLACK = 3  # seconds: a call this close to an expiry may see either side of it


@dataclass
class ModelConsent:
    categories: int
    purposes: int
    permissions: int
    expiry: int


@dataclass
class ModelRecord:
    category: int
    author: str = ""
    erased: bool = False
    superseded: bool = False
    amends: bytes | None = None  # the digest this amendment superseded


@dataclass
class Model:
    status: dict[str, str]  # provider address -> "active" | "suspended"
    consents: dict[tuple[str, str], ModelConsent] = field(default_factory=dict)
    records: dict[tuple[str, bytes], ModelRecord] = field(default_factory=dict)

    def has_access(
        self, now: int, patient: str, grantee: str, category: int, purpose_mask: int, permission: int
    ) -> bool:
        if patient == grantee:
            return True
        consent = self.consents.get((patient, grantee))
        return (
            consent is not None
            and consent.expiry > now
            and bool(consent.categories >> category & 1)
            and bool(consent.purposes & purpose_mask)
            and consent.permissions & permission == permission
            and self.status.get(grantee) == "active"
        )

    def near_expiry(self, now: int, patient: str, grantee: str) -> bool:
        consent = self.consents.get((patient, grantee))
        return consent is not None and abs(consent.expiry - now) <= BOUNDARY_SLACK


def make_machine(world, anvil):
    a = world.actors
    patients = [a.patient, a.other_patient]
    grantees = [a.provider, a.researcher, a.suspended, a.stranger]
    everyone = patients + grantees

    class ConsentMachine(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.snapshot = anvil.snapshot()
            self.model = Model(
                status={a.provider.address: "active", a.researcher.address: "active", a.suspended.address: "suspended"}
            )
            self.registrar = world.ledger(a.registrar)

        def teardown(self):
            anvil.revert(self.snapshot)

        def now(self) -> int:
            return world.chain.now()

        def expect(self, call, error: str | None):
            if error is None:
                call()
                return
            with pytest.raises(ContractRevertError) as caught:
                call()
            assert caught.value.error == error

        @rule(
            patient=st.sampled_from(patients),
            grantee=st.sampled_from(grantees),
            categories=st.integers(0, 7),
            purposes=st.integers(0, 0b10011),
            permissions=st.integers(0, 3),
            hours=st.integers(0, 48),
        )
        def grant(self, patient, grantee, categories, purposes, permissions, hours):
            expiry = self.now() + hours * 3600
            ledger = world.ledger(patient)

            def call():
                return ledger.sender.send(
                    patient,
                    ledger.contract.functions.grant(grantee.address, categories, purposes, permissions, expiry),
                )

            status = self.model.status.get(grantee.address)
            error = (
                "EmptyCategories"
                if categories == 0
                else "InvalidPurposes"
                if purposes == 0
                else "InvalidPermissions"
                if permissions == 0
                else "ExpiryNotInFuture"
                if hours == 0
                else "UnknownProvider"
                if status is None
                else "ProviderNotActive"
                if status != "active"
                else None
            )
            self.expect(call, error)
            if error is None:
                self.model.consents[(patient.address, grantee.address)] = ModelConsent(
                    categories, purposes, permissions, expiry
                )

        @rule(patient=st.sampled_from(patients), grantee=st.sampled_from(grantees))
        def revoke(self, patient, grantee):
            key = (patient.address, grantee.address)
            exists = key in self.model.consents
            self.expect(lambda: world.ledger(patient).consent.revoke(grantee.address), None if exists else "NoConsent")
            self.model.consents.pop(key, None)

        @rule(provider=st.sampled_from(grantees))
        def suspend(self, provider):
            status = self.model.status.get(provider.address)
            error = "UnknownProvider" if status is None else "ProviderNotActive" if status != "active" else None
            self.expect(lambda: self.registrar.providers.suspend(provider.address), error)
            if error is None:
                self.model.status[provider.address] = "suspended"

        @rule(provider=st.sampled_from(grantees))
        def reinstate(self, provider):
            status = self.model.status.get(provider.address)
            error = "UnknownProvider" if status is None else "ProviderNotSuspended" if status != "suspended" else None
            self.expect(lambda: self.registrar.providers.reinstate(provider.address), error)
            if error is None:
                self.model.status[provider.address] = "active"

        @rule(
            author=st.sampled_from(everyone),
            patient=st.sampled_from(patients),
            category=st.sampled_from(CATEGORIES),
            amend=st.booleans(),
            data=st.data(),
        )
        def add_record(self, author, patient, category, amend, data):
            if any(self.model.near_expiry(self.now() + 1, patient.address, author.address) for _ in [0]):
                return  # the transaction's block could fall either side of the expiry
            own = [d for (p, d) in self.model.records if p == patient.address]
            previous = data.draw(st.sampled_from(own)) if amend and own else None
            digest = os.urandom(32)
            allowed = self.model.has_access(self.now() + 1, patient.address, author.address, category, 0x7F, 2)
            error = None
            if not allowed:
                error = "NotAuthorized"
            elif previous is not None:
                old = self.model.records[(patient.address, previous)]
                error = (
                    "MayNotAmend"
                    if author.address not in (patient.address, old.author)
                    else "RecordIsErased"
                    if old.erased
                    else "RecordAlreadySuperseded"
                    if old.superseded
                    else "CategoryMismatch"
                    if old.category != category
                    else None
                )
            self.expect(
                lambda: world.ledger(author).records.add(patient.address, digest, 0x55, category, supersedes=previous),
                error,
            )
            if error is None:
                self.model.records[(patient.address, digest)] = ModelRecord(category, author.address, amends=previous)
                if previous is not None:
                    self.model.records[(patient.address, previous)].superseded = True

        @rule(patient=st.sampled_from(patients), known=st.booleans(), data=st.data())
        def erase(self, patient, known, data):
            own = [d for (p, d) in self.model.records if p == patient.address]
            digest = data.draw(st.sampled_from(own)) if known and own else os.urandom(32)
            record = self.model.records.get((patient.address, digest))
            error = "UnknownRecord" if record is None else "RecordIsErased" if record.erased else None
            self.expect(lambda: world.ledger(patient).records.erase(digest), error)
            if error is None:
                record.erased = True
                if record.amends is not None:  # erasing an amendment makes the original amendable again
                    self.model.records[(patient.address, record.amends)].superseded = False

        @rule(hours=st.integers(1, 30))
        def warp(self, hours):
            world.chain.increase_time(hours * 3600 + 1)

        @rule(
            patient=st.sampled_from(patients),
            grantee=st.sampled_from(everyone),
            category=st.sampled_from(CATEGORIES),
            purpose=st.sampled_from(PURPOSES),
            permission=st.sampled_from([1, 2]),
        )
        def check_access(self, patient, grantee, category, purpose, permission):
            now = self.now()
            if self.model.near_expiry(now, patient.address, grantee.address):
                return
            expected = self.model.has_access(now, patient.address, grantee.address, category, 1 << purpose, permission)
            actual = world.ledger().consent.has_access(patient.address, grantee.address, category, purpose, permission)
            assert actual == expected

        @invariant()
        def stored_consents_match_the_model(self):
            if not hasattr(self, "model"):
                return
            reader = world.ledger().consent
            for patient in patients:
                for grantee in grantees:
                    terms = reader.get(patient.address, grantee.address)
                    model = self.model.consents.get((patient.address, grantee.address))
                    stored = (terms.categories, terms.purposes, terms.permissions, terms.expiry)
                    assert stored == (
                        (model.categories, model.purposes, model.permissions, model.expiry) if model else (0, 0, 0, 0)
                    )

    return ConsentMachine


def test_ledger_matches_reference_model(deployed_world, anvil):
    machine = make_machine(deployed_world, anvil)
    run_state_machine_as_test(
        machine,
        settings=settings(
            # 10 runs of 30 steps in `make test` (the extended model covers the same rules again);
            # MEDLEDGER_STATEFUL_EXAMPLES=200 for a deeper search.
            max_examples=int(os.environ.get("MEDLEDGER_STATEFUL_EXAMPLES", "10")),
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
