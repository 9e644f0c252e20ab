"""Client for the consent module. Arguments are checked before sending, so a user's mistake
never costs gas; the contract checks them again, since a client cannot be trusted."""

from __future__ import annotations

from datetime import datetime, timedelta

from web3.contract.contract import ContractFunction

from medledger.chain.transactions import Receipt
from medledger.ledger.base import InvalidArgumentError, ModuleClient, checked_address, utc_text
from medledger.ledger.values import ConsentTerms
from medledger.scopes import ALL_PURPOSES, CATEGORY_COUNT, Permission, Purpose

MAX_EXPIRY = 2**40 - 1


class ConsentClient(ModuleClient):
    def grant(
        self,
        grantee: str,
        *,
        categories: int,
        purposes: int,
        permissions: int | Permission,
        expiry: int | datetime | timedelta,
    ) -> Receipt:
        """Grant `grantee` (an active provider) access to the signer's records, or replace a grant.
        The grant carries no key material: the key-release services check it at every read."""
        return self._send(
            self.grant_call(
                grantee,
                categories=categories,
                purposes=purposes,
                permissions=permissions,
                expiry=expiry,
            )
        )

    def grant_call(
        self,
        grantee: str,
        *,
        categories: int,
        purposes: int,
        permissions: int | Permission,
        expiry: int | datetime | timedelta,
        patient: str | None = None,
    ) -> ContractFunction:
        """The unsent grant; with `patient`, a guardian's grant on that patient's behalf."""
        grantee = checked_address(grantee, "grantee")
        granter = checked_address(patient, "patient") if patient else (self.signer.address if self.signer else None)
        if grantee == granter:
            raise InvalidArgumentError("a patient cannot grant consent to themselves")
        terms = self.checked_terms(categories, purposes, permissions, expiry)
        if patient:
            return self.functions.grantFor(granter, grantee, *terms)
        return self.functions.grant(grantee, *terms)

    def checked_terms(
        self,
        categories: int,
        purposes: int,
        permissions: int | Permission,
        expiry: int | datetime | timedelta,
    ) -> tuple[int, int, int, int]:
        """(categories, purposes, permissions, expiry) checked as the contract will check them."""
        if not 0 < categories < 2**CATEGORY_COUNT:
            raise InvalidArgumentError("the category mask is empty or wider than 64 bits")
        if purposes == 0 or purposes & ~ALL_PURPOSES:
            raise InvalidArgumentError(f"purpose mask {purposes:#x} is empty or names an unknown purpose")
        if int(permissions) not in (1, 2, 3):
            raise InvalidArgumentError(f"permissions {int(permissions)} must be read (1), write (2) or both (3)")
        return categories, purposes, int(permissions), self.resolve_expiry(expiry)

    def revoke(self, grantee: str) -> Receipt:
        return self._send(self.revoke_call(grantee))

    def revoke_call(self, grantee: str, *, patient: str | None = None) -> ContractFunction:
        """The unsent revocation; with `patient`, a guardian's revocation on that patient's behalf."""
        if patient:
            return self.functions.revokeFor(checked_address(patient, "patient"), checked_address(grantee, "grantee"))
        return self.functions.revoke(checked_address(grantee, "grantee"))

    def get(self, patient: str, grantee: str) -> ConsentTerms:
        patient = checked_address(patient, "patient")
        grantee = checked_address(grantee, "grantee")
        categories, purposes, permissions, expiry, nonce = self._call(self.functions.consentOf(patient, grantee))
        return ConsentTerms(patient, grantee, categories, purposes, permissions, expiry, nonce)

    def has_access(
        self, patient: str, grantee: str, category: int, purpose: Purpose | int, permission: Permission | int
    ) -> bool:
        return bool(
            self._call(
                self.functions.hasAccess(
                    checked_address(patient, "patient"),
                    checked_address(grantee, "grantee"),
                    int(category),
                    int(purpose),
                    int(permission),
                )
            )
        )

    def resolve_expiry(self, expiry: int | datetime | timedelta) -> int:
        """A unix time from a timestamp, a datetime, or a duration from the chain's current time."""
        now = self.sender.chain.now()
        if isinstance(expiry, timedelta):
            value = now + int(expiry.total_seconds())
        elif isinstance(expiry, datetime):
            value = int(expiry.timestamp())
        else:
            value = int(expiry)
        if value <= now:
            raise InvalidArgumentError(f"expiry {utc_text(value)} is not in the future (chain time is {utc_text(now)})")
        if value > MAX_EXPIRY:
            raise InvalidArgumentError("expiry is beyond the year 36812")
        return value
