"""The stateful consent model of test_stateful_model.py, extended with guardians, break-glass,
emergency preferences and the access log.

Random sequences of grant / revoke (directly or by a guardian) / suspend / reinstate / addRecord /
erase / appointGuardian / removeGuardian / breakGlass / closeEmergencyAccess /
setEmergencyPreferences / logAccess / time-warp are checked step by step against a plain-Python
reference model of the rules in ConsentRegistry, Guardians, EmergencyAccess and RecordRegistry:
every revert's custom error name, every hasAccess answer, and (after every step) the stored
consentOf / guardianOf / emergencyWindowOf / emergencyPreferencesOf.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import pytest
from eth_abi import decode
from eth_utils.abi import get_abi_output_types
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from medledger.chain.errors import ContractRevertError

# Categories: 1 labs (not an emergency category by default), 3 medications and 4 allergies (both in
# the deployment's default emergency categories, bits 3, 4 and 12).
CATEGORIES = [1, 3, 4]
DEFAULT_EMERGENCY_CATEGORIES = (1 << 3) | (1 << 4) | (1 << 12)
EMERGENCY_WINDOW = 24 * 3600
EMERGENCY_COOLDOWN = 3600  # the deployment default (chain/deploy.py EmergencyPolicy)
EMERGENCY_KINDS = (1 << 1) | (1 << 2)  # clinicians and organisations
MAX_REASON = 4
TREAT, ETREAT, HRESCH = 0, 1, 4
PURPOSE_COUNT = 7
READ, WRITE = 1, 2
BOUNDARY_SLACK = 3  # seconds: a call this close to an expiry / until / window end may see either side

# Who calls a patient-side function: the patient, the function's subject ("target"), a guardian on
# record, or any account. Weighted towards callers that can succeed, so that runs reach deep states.
CALLER = st.sampled_from(["patient"] * 3 + ["guardian"] * 2 + ["anyone"])
REMOVER = st.sampled_from(["patient", "target", "guardian", "guardian", "anyone"])
CLOSER = st.sampled_from(["target", "patient", "guardian", "anyone"])
ACCESSOR = st.sampled_from(["patient", "target", "target", "guardian", "anyone"])
REASONS = st.sampled_from([0, 1, 2, 3, 4, 5])
TERM_HOURS = st.sampled_from([None, 0, 1, 2, 6, 12, 24, 24, 30, 48])  # None: until 0 (refused); 0: now (in the past)
LOG_PURPOSES = st.sampled_from([0, 1, 1, 2, 3, 4, 5, 6, 7])  # 7: not a purpose; ETREAT weighted


def category_mask(bits: int) -> int:
    """Bits 0..2 of `bits` pick a subset of CATEGORIES; returns the category bitmask."""
    return sum(1 << category for i, category in enumerate(CATEGORIES) if bits >> i & 1)


@dataclass
class ModelConsent:
    categories: int
    purposes: int
    permissions: int
    expiry: int


@dataclass
class ModelGuardian:
    active: bool = False
    can_appoint: bool = False
    until: int = 0
    nonce: int = 0
    removed_by_patient: bool = False
    term: int = 0  # fresh appointments
    appointer: str | None = None  # the appointing guardian (None: the patient)
    appointer_term: int = 0


@dataclass
class ModelWindow:
    opened_at: int = 0
    until: int = 0
    cooldown_until: int = 0
    provider_epoch: int = 0


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
    kinds: dict[str, int]  # provider address -> ProviderKind
    consents: dict[tuple[str, str], ModelConsent] = field(default_factory=dict)
    consent_nonces: dict[tuple[str, str], int] = field(default_factory=dict)
    records: dict[tuple[str, bytes], ModelRecord] = field(default_factory=dict)
    guardians: dict[tuple[str, str], ModelGuardian] = field(default_factory=dict)
    windows: dict[tuple[str, str], ModelWindow] = field(default_factory=dict)
    preferences: dict[str, tuple[bool, int]] = field(default_factory=dict)  # raw (optedOut, categories)
    opted_out_at: dict[str, int] = field(default_factory=dict)  # patient -> block time of its last opt-out
    epoch: dict[str, int] = field(default_factory=dict)  # provider -> credential changes seen by the model

    # -- reads ---------------------------------------------------------------------------------
    def guardian(self, patient: str, account: str) -> ModelGuardian:
        return self.guardians.get((patient, account), ModelGuardian())

    def current(self, now: int, patient: str, account: str) -> bool:
        entry = self.guardian(patient, account)
        return entry.active and entry.until > now

    def is_guardian(self, now: int, patient: str, account: str) -> bool:
        """In force, not a suspended provider, and (if a guardian appointed it) its appointer too."""
        entry = self.guardian(patient, account)
        if not self.current(now, patient, account) or self.is_inactive_provider(account):
            return False
        if entry.appointer_term == 0:
            return True
        appointer = self.guardian(patient, entry.appointer)
        return (
            appointer.term == entry.appointer_term
            and self.current(now, patient, entry.appointer)
            and not self.is_inactive_provider(entry.appointer)
        )

    def is_active_provider(self, account: str) -> bool:
        return self.status.get(account) == "active"

    def is_inactive_provider(self, account: str) -> bool:
        return self.status.get(account) not in (None, "active")

    def window(self, patient: str, provider: str) -> ModelWindow:
        return self.windows.get((patient, provider), ModelWindow())

    def window_counts(self, now: int, patient: str, provider: str) -> bool:
        w = self.window(patient, provider)
        return (
            w.until > now
            and w.provider_epoch == self.epoch.get(provider, 0)
            and w.opened_at > self.opted_out_at.get(patient, 0)
        )

    def opted_out(self, patient: str) -> bool:
        return self.preferences.get(patient, (False, 0))[0]

    def emergency_categories(self, patient: str) -> int:
        categories = self.preferences.get(patient, (False, 0))[1]
        return categories or DEFAULT_EMERGENCY_CATEGORIES

    def emergency_open(self, now: int, patient: str, provider: str) -> bool:
        return (
            not self.opted_out(patient)
            and self.is_active_provider(provider)
            and self.window_counts(now, patient, provider)
        )

    def has_access(
        self, now: int, patient: str, grantee: str, category: int, purpose_mask: int, permission: int
    ) -> bool:
        return self.access_by(now, patient, grantee, category, purpose_mask, permission) is not None

    def access_by(
        self, now: int, patient: str, grantee: str, category: int, purpose_mask: int, permission: int
    ) -> str | None:
        """Which rule gives access (None: no access)."""
        if patient == grantee:
            return "patient"
        consent = self.consents.get((patient, grantee))
        if (
            consent is not None
            and consent.expiry > now
            and consent.categories >> category & 1
            and consent.purposes & purpose_mask
            and consent.permissions & permission == permission
            and self.is_active_provider(grantee)
        ):
            return "consent"
        if permission != READ:
            return None
        if self.is_guardian(now, patient, grantee):
            return "guardian"
        if (
            purpose_mask & (1 << ETREAT)
            and self.emergency_open(now, patient, grantee)
            and self.emergency_categories(patient) >> category & 1
        ):
            return "break-glass"
        return None

    def boundaries(self, patient: str, account: str) -> list[int]:
        """Every instant at which an answer about (patient, account) may flip by itself."""
        times = []
        consent = self.consents.get((patient, account))
        if consent is not None:
            times.append(consent.expiry)
        entry = self.guardian(patient, account)
        if entry.active and entry.until:
            times.append(entry.until)
        if entry.active and entry.appointer:
            times.append(self.guardian(patient, entry.appointer).until)
        w = self.window(patient, account)
        times += [t for t in (w.until, w.cooldown_until) if t]
        return times

    def near(self, now: int, *pairs: tuple[str, str]) -> bool:
        return any(abs(t - now) <= BOUNDARY_SLACK for pair in pairs for t in self.boundaries(*pair))


def make_machine(world, anvil, extra_accounts):
    a = world.actors
    patients = [a.patient, a.other_patient]
    grantees = [a.provider, a.researcher, a.suspended, a.stranger]
    extras = list(extra_accounts)  # accounts with no role: guardians-to-be
    everyone = patients + grantees + extras
    reader = world.ledger()
    contract = reader.contract

    pairs = [(p.address, x.address) for p in patients for x in everyone]
    state_calls = (
        [("consentOf", pair) for pair in pairs]
        + [("guardianOf", pair) for pair in pairs]
        + [("emergencyWindowOf", pair) for pair in pairs]
        + [("emergencyPreferencesOf", (p.address,)) for p in patients]
    )
    access_queries = [
        (patient, grantee, category, purpose, permission)
        for patient, grantee in pairs
        for category in CATEGORIES
        for purpose in (TREAT, ETREAT, HRESCH)
        for permission in (READ, WRITE)
    ]

    def encoded(calls):
        """One multicall of view calls and their output types, encoded once (the arguments never change)."""
        data = [contract.encode_abi(name, args=list(args)) for name, args in calls]
        return (
            contract.encode_abi("multicall", args=[data]),
            [get_abi_output_types(getattr(contract.functions, name)(*args).abi) for name, args in calls],
        )

    def batch_read(prepared):
        """Many view calls in one eth_call through the contract's own multicall."""
        calldata, types = prepared
        (results,) = decode(["bytes[]"], world.chain.w3.eth.call({"to": contract.address, "data": calldata}))
        return [decode(t, raw) for t, raw in zip(types, results, strict=True)]

    state_reads = encoded(state_calls)
    access_reads = encoded([("hasAccess", query) for query in access_queries])

    class ExtendedConsentMachine(RuleBasedStateMachine):
        @initialize(data=st.data())
        def start(self, data):
            self.snapshot = anvil.snapshot()
            self.model = Model(
                status={a.provider.address: "active", a.researcher.address: "active", a.suspended.address: "suspended"},
                kinds={a.provider.address: 1, a.researcher.address: 3, a.suspended.address: 1},
            )
            self.registrar = world.ledger(a.registrar)
            # Rules are chosen at random (and Hypothesis disables some per run), so few short runs
            # would ever reach a guardian, a consent and an open break-glass together. Seed some,
            # through the same checked rules, so that the random steps start from a deep state.
            for patient in patients:
                if data.draw(st.booleans(), label="seed guardian"):
                    self.appoint_guardian(
                        patient,
                        data.draw(st.sampled_from([*extras, a.provider])),
                        "patient",
                        data.draw(st.integers(1, 48)),
                        data.draw(st.booleans()),
                        data,
                    )
                if data.draw(st.booleans(), label="seed consent"):
                    self.grant(
                        patient,
                        a.provider,
                        data.draw(st.integers(1, 7)),
                        data.draw(st.integers(1, 0b10011)),
                        data.draw(st.sampled_from([1, 2, 3])),
                        data.draw(st.integers(1, 48)),
                        "patient",
                        data,
                    )
                if data.draw(st.booleans(), label="seed break-glass"):
                    self.break_glass(patient, a.provider, data.draw(st.integers(1, MAX_REASON)))
                for category in data.draw(st.lists(st.sampled_from(CATEGORIES), max_size=2), label="seed records"):
                    self.add_record(patient, patient, category, False, data)

        def teardown(self):
            anvil.revert(self.snapshot)

        def now(self) -> int:
            return world.chain.now()

        def block_time(self, receipt) -> int:
            return int(world.chain.w3.eth.get_block(receipt.block_number)["timestamp"])

        def expect(self, call, error: str | None):
            # `pytest --hypothesis-show-statistics` lists how often each rule met each outcome.
            event(f"{sys._getframe(1).f_code.co_name}: {error or 'ok'}")
            if error is None:
                return call()
            with pytest.raises(ContractRevertError) as caught:
                call()
            assert caught.value.error == error
            return None

        def send(self, signer, function):
            ledger = world.ledger(signer)
            return lambda: ledger.sender.send(signer, function(ledger.contract.functions))

        def pick_actor(self, data, patient, how: str, target=None):
            """The caller of a patient-side action: the patient, a guardian on record, or anyone."""
            if how == "patient":
                return patient
            if how == "target" and target is not None:
                return target
            if how == "guardian":
                on_record = [acct for acct in everyone if self.model.guardian(patient.address, acct.address).active]
                if on_record:
                    return data.draw(st.sampled_from(on_record), label="guardian caller")
            return data.draw(st.sampled_from(everyone), label="caller")

        # -- consent (as in test_stateful_model, plus grantFor / revokeFor by guardians) --------
        @rule(
            patient=st.sampled_from(patients),
            grantee=st.sampled_from(grantees + extras[:1]),
            categories=st.sampled_from(range(8)),
            purposes=st.integers(0, 0b10011),
            permissions=st.sampled_from([0, 1, 2, 3, 3]),
            hours=st.integers(0, 48),
            how=CALLER,
            data=st.data(),
        )
        def grant(self, patient, grantee, categories, purposes, permissions, hours, how, data):
            sender = self.pick_actor(data, patient, how)
            now = self.now() + 1
            if sender != patient and self.model.near(now, (patient.address, sender.address)):
                return
            categories = category_mask(categories)
            expiry = self.now() + hours * 3600
            terms = (grantee.address, categories, purposes, permissions, expiry)
            if sender == patient:
                call = self.send(sender, lambda f: f.grant(*terms))
            else:
                call = self.send(sender, lambda f: f.grantFor(patient.address, *terms))
            status = self.model.status.get(grantee.address)
            by_guardian = sender != patient
            error = (
                "NotGuardian"
                if by_guardian and not self.model.is_guardian(now, patient.address, sender.address)
                else "GuardianSelfGrant"
                if by_guardian and grantee == sender
                else "ConsentOutlastsGuardian"
                if by_guardian and expiry > self.model.guardian(patient.address, sender.address).until
                else "EmptyCategories"
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
                key = (patient.address, grantee.address)
                self.model.consents[key] = ModelConsent(categories, purposes, permissions, expiry)
                self.model.consent_nonces[key] = self.model.consent_nonces.get(key, 0) + 1

        @rule(patient=st.sampled_from(patients), grantee=st.sampled_from(grantees), how=CALLER, data=st.data())
        def revoke(self, patient, grantee, how, data):
            sender = self.pick_actor(data, patient, how)
            now = self.now() + 1
            if sender != patient and self.model.near(now, (patient.address, sender.address)):
                return
            key = (patient.address, grantee.address)
            if sender == patient:
                call = self.send(sender, lambda f: f.revoke(grantee.address))
            else:
                call = self.send(sender, lambda f: f.revokeFor(patient.address, grantee.address))
            error = (
                "NotGuardian"
                if sender != patient and not self.model.is_guardian(now, patient.address, sender.address)
                else "NoConsent"
                if key not in self.model.consents
                else None
            )
            self.expect(call, error)
            if error is None:
                self.model.consents.pop(key)
                self.model.consent_nonces[key] = self.model.consent_nonces.get(key, 0) + 1

        @rule(provider=st.sampled_from(grantees))
        def suspend(self, provider):
            status = self.model.status.get(provider.address)
            error = "UnknownProvider" if status is None else "ProviderNotActive" if status != "active" else None
            self.expect(lambda: self.registrar.providers.suspend(provider.address), error)
            if error is None:
                self.model.status[provider.address] = "suspended"
                self.model.epoch[provider.address] = self.model.epoch.get(provider.address, 0) + 1

        @rule(provider=st.sampled_from(grantees))
        def reinstate(self, provider):
            status = self.model.status.get(provider.address)
            error = "UnknownProvider" if status is None else "ProviderNotSuspended" if status != "suspended" else None
            self.expect(lambda: self.registrar.providers.reinstate(provider.address), error)
            if error is None:
                self.model.status[provider.address] = "active"
                self.model.epoch[provider.address] = self.model.epoch.get(provider.address, 0) + 1

        @rule(
            author=st.sampled_from(patients + [a.provider] * 2 + everyone),
            patient=st.sampled_from(patients),
            category=st.sampled_from(CATEGORIES),
            amend=st.booleans(),
            data=st.data(),
        )
        def add_record(self, author, patient, category, amend, data):
            now = self.now() + 1
            if self.model.near(now, (patient.address, author.address)):
                return  # the transaction's block could fall either side of a boundary
            own = [d for (p, d) in self.model.records if p == patient.address]
            previous = data.draw(st.sampled_from(own)) if amend and own else None
            digest = os.urandom(32)
            allowed = self.model.has_access(now, patient.address, author.address, category, 0x7F, WRITE)
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

        @rule(patient=st.sampled_from(patients), known=st.sampled_from([True, True, False]), data=st.data())
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

        # -- guardians -----------------------------------------------------------------------
        @rule(
            patient=st.sampled_from(patients),
            guardian=st.sampled_from(everyone),
            how=CALLER,
            hours=TERM_HOURS,
            can_appoint=st.booleans(),
            data=st.data(),
        )
        def appoint_guardian(self, patient, guardian, how, hours, can_appoint, data):
            sender = self.pick_actor(data, patient, how)
            now = self.now() + 1
            if self.model.near(
                now,
                (patient.address, sender.address),
                (patient.address, guardian.address),
                (guardian.address, patient.address),
            ):
                return
            until = 0 if hours is None else self.now() + hours * 3600
            m, p, g, s = self.model, patient.address, guardian.address, sender.address
            error = None
            if s != p:
                appointer = m.guardian(p, s)
                if not m.is_guardian(now, p, s) or not appointer.can_appoint or can_appoint:
                    error = "MayNotAppoint"
                elif until > appointer.until:
                    error = "GuardianTermTooLong"
                elif m.is_guardian(now, p, g):
                    error = "MayNotAppoint"
                elif m.guardian(p, g).removed_by_patient:
                    error = "RemovedByPatient"
            if error is None:
                if g == p or m.is_guardian(now, g, p):
                    error = "GuardianLoop"
                elif until <= now:
                    error = "GuardianTermInPast"
            self.expect(self.send(sender, lambda f: f.appointGuardian(p, g, until, can_appoint)), error)
            if error is None:
                fresh = not m.current(now, p, g)
                entry = m.guardians.setdefault((p, g), ModelGuardian())
                if fresh:
                    entry.term += 1
                entry.active, entry.can_appoint, entry.until = True, can_appoint, until
                entry.nonce += 1
                if s == p:
                    entry.removed_by_patient = False
                    entry.appointer, entry.appointer_term = None, 0
                else:
                    entry.appointer, entry.appointer_term = s, m.guardian(p, s).term

        @rule(
            patient=st.sampled_from(patients),
            on_record=st.sampled_from([True, True, False]),
            how=REMOVER,
            data=st.data(),
        )
        def remove_guardian(self, patient, on_record, how, data):
            guardian = self.pick_actor(data, patient, "guardian" if on_record else "anyone")
            sender = self.pick_actor(data, patient, how, target=guardian)
            now = self.now() + 1
            if self.model.near(now, (patient.address, sender.address)):
                return
            m, p, g, s = self.model, patient.address, guardian.address, sender.address
            error = None
            if s not in (p, g) and (
                not m.is_guardian(now, p, s) or not m.guardian(p, s).can_appoint or m.guardian(p, g).can_appoint
            ):
                error = "MayNotAppoint"
            if error is None and not m.guardian(p, g).active:
                error = "NotGuardian"
            self.expect(self.send(sender, lambda f: f.removeGuardian(p, g)), error)
            if error is None:
                entry = m.guardians[(p, g)]
                entry.active, entry.can_appoint, entry.until = False, False, 0
                entry.nonce += 1
                if s == p:
                    entry.removed_by_patient = True

        # -- break-glass ---------------------------------------------------------------------
        @rule(
            patient=st.sampled_from(patients),
            provider=st.sampled_from([a.provider] * 3 + grantees[1:] + extras[:1]),
            reason=REASONS,
        )
        def break_glass(self, patient, provider, reason):
            m, p, v = self.model, patient.address, provider.address
            status = m.status.get(v)
            error = (
                "InvalidReason"
                if reason == 0 or reason > MAX_REASON
                else "UnknownProvider"
                if status is None
                else "ProviderNotActive"
                if status != "active"
                else "ProviderKindNotAllowed"
                if not EMERGENCY_KINDS >> m.kinds[v] & 1
                else "EmergencyOptOut"
                if m.opted_out(p)
                else None
            )
            now = self.now() + 1
            if error is None and m.near(now, (p, v)):
                return
            if error is None and m.window_counts(now, p, v):
                error = "EmergencyAccessAlreadyOpen"
            elif error is None and m.window(p, v).cooldown_until > now:
                error = "EmergencyCooldown"
            receipt = self.expect(self.send(provider, lambda f: f.breakGlass(p, reason)), error)
            if error is None:
                at = self.block_time(receipt)
                m.windows[(p, v)] = ModelWindow(
                    at, at + EMERGENCY_WINDOW, m.window(p, v).cooldown_until, m.epoch.get(v, 0)
                )

        @rule(
            patient=st.sampled_from(patients),
            provider=st.sampled_from([a.provider] * 3 + grantees[1:]),
            how=CLOSER,
            data=st.data(),
        )
        def close_emergency(self, patient, provider, how, data):
            closer = self.pick_actor(data, patient, how, target=provider)
            now = self.now() + 1
            if self.model.near(now, (patient.address, closer.address), (patient.address, provider.address)):
                return
            m, p, v, c = self.model, patient.address, provider.address, closer.address
            error = None
            if c != v and c != p and not m.is_guardian(now, p, c):
                error = "NotGuardian"
            elif m.window(p, v).until <= now:
                error = "NoEmergencyAccess"
            receipt = self.expect(self.send(closer, lambda f: f.closeEmergencyAccess(p, v)), error)
            if error is None:
                at = self.block_time(receipt)
                w = m.windows[(p, v)]
                w.until = at
                if c != v:  # a close by the patient or a guardian starts the provider's cool-down
                    w.cooldown_until = at + EMERGENCY_COOLDOWN

        @rule(patient=st.sampled_from(patients), opt_out=st.booleans(), bits=st.integers(0, 7))
        def set_emergency_preferences(self, patient, opt_out, bits):
            categories = category_mask(bits)  # 0: the deployment's default categories
            receipt = self.expect(self.send(patient, lambda f: f.setEmergencyPreferences(opt_out, categories)), None)
            self.model.preferences[patient.address] = (opt_out, categories)
            if opt_out:
                self.model.opted_out_at[patient.address] = self.block_time(receipt)

        # -- access log ----------------------------------------------------------------------
        @rule(
            patient=st.sampled_from(patients),
            reader_=st.sampled_from(grantees),
            how=ACCESSOR,
            known=st.sampled_from([True, True, False]),
            purpose=LOG_PURPOSES,
            data=st.data(),
        )
        def log_access(self, patient, reader_, how, known, purpose, data):
            accessor = self.pick_actor(data, patient, how, target=reader_)
            now = self.now() + 1
            if self.model.near(now, (patient.address, accessor.address)):
                return
            # Mostly the patient's own records; sometimes the other patient's (unknown for this
            # patient) or a fresh digest.
            own = [d for (p, d) in self.model.records if p == patient.address]
            digests = (
                own
                if own and data.draw(st.sampled_from([True, True, True, False]))
                else [d for (_, d) in self.model.records]
            )
            digest = data.draw(st.sampled_from(digests)) if known and digests else os.urandom(32)
            record = self.model.records.get((patient.address, digest))
            error = (
                "InvalidPurpose"
                if purpose >= PURPOSE_COUNT
                else "UnknownRecord"
                if record is None
                else "RecordIsErased"
                if record.erased
                else None
                if self.model.has_access(now, patient.address, accessor.address, record.category, 1 << purpose, READ)
                else "NotAuthorized"
            )
            self.expect(self.send(accessor, lambda f: f.logAccess(patient.address, digest, purpose)), error)

        @rule(hours=st.integers(1, 30))
        def warp(self, hours):
            world.chain.increase_time(hours * 3600 + 1)

        @rule(
            patient=st.sampled_from(patients),
            grantee=st.sampled_from(everyone),
            category=st.sampled_from(CATEGORIES),
            purpose=st.sampled_from([TREAT, ETREAT, HRESCH]),
            permission=st.sampled_from([READ, WRITE]),
        )
        def check_access(self, patient, grantee, category, purpose, permission):
            now = self.now()
            if self.model.near(now, (patient.address, grantee.address)):
                return
            expected = self.model.has_access(now, patient.address, grantee.address, category, 1 << purpose, permission)
            actual = reader.consent.has_access(patient.address, grantee.address, category, purpose, permission)
            event(f"check_access: {'granted' if expected else 'denied'} {'RW'[permission - 1]} purpose {purpose}")
            assert actual == expected, (category, purpose, permission)

        # -- stored state --------------------------------------------------------------------
        @invariant()
        def stored_state_matches_the_model(self):
            if not hasattr(self, "model"):
                return
            m = self.model
            results = iter(batch_read(state_reads))
            for pair in pairs:
                ((categories, purposes, permissions, expiry, nonce),) = next(results)
                consent = m.consents.get(pair)
                assert (categories, purposes, permissions, expiry) == (
                    (consent.categories, consent.purposes, consent.permissions, consent.expiry)
                    if consent
                    else (0, 0, 0, 0)
                ), ("consentOf", pair)
                assert nonce == m.consent_nonces.get(pair, 0), ("consent nonce", pair)
            for pair in pairs:
                ((active, can_appoint, removed, until, nonce, term, appointer_term, appointer),) = next(results)
                entry = m.guardian(*pair)
                assert (active, can_appoint, removed, until, nonce, term, appointer_term) == (
                    entry.active,
                    entry.can_appoint,
                    entry.removed_by_patient,
                    entry.until,
                    entry.nonce,
                    entry.term,
                    entry.appointer_term,
                ), ("guardianOf", pair)
                if entry.appointer_term:
                    assert appointer.lower() == entry.appointer.lower(), ("guardianOf appointer", pair)
            for pair in pairs:
                ((opened_at, until, cooldown_until, _provider_epoch),) = next(results)
                w = m.window(*pair)
                if w.until:  # the epoch is the registry's count, which the model knows only relative to its start
                    assert (opened_at, until, cooldown_until) == (w.opened_at, w.until, w.cooldown_until), (
                        "emergencyWindowOf",
                        pair,
                    )
                else:
                    assert (opened_at, until, cooldown_until) == (0, 0, 0), ("emergencyWindowOf", pair)
            for p in patients:
                opted_out, categories = next(results)
                assert (opted_out, categories) == (m.opted_out(p.address), m.emergency_categories(p.address)), (
                    "emergencyPreferencesOf",
                    p.address,
                )

        @invariant()
        def every_access_answer_matches_the_model(self):
            """All of check_access's space at once: every patient x account x category x purpose x permission."""
            if not hasattr(self, "model"):
                return
            now = self.now()
            seen = set()
            for query, (actual,) in zip(access_queries, batch_read(access_reads), strict=True):
                patient, grantee = query[:2]
                if self.model.near(now, (patient, grantee)):
                    continue
                category, purpose, permission = query[2:]
                why = self.model.access_by(now, patient, grantee, category, 1 << purpose, permission)
                seen.add(why)
                assert actual == (why is not None), (query, why)
            for why in seen:
                event(f"invariant: access by {why or 'nobody'}")

    return ExtendedConsentMachine


def test_ledger_matches_extended_reference_model(deployed_world, anvil, guardian, second_guardian):
    machine = make_machine(deployed_world, anvil, [guardian, second_guardian])
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=int(os.environ.get("MEDLEDGER_STATEFUL_EXAMPLES", "15")),
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
