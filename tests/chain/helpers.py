"""Small builders shared by the chain tests."""

from __future__ import annotations

import os
from datetime import timedelta

from medledger.ledger import MedLedger
from medledger.scopes import Category, Permission, Purpose, mask

LABS_MASK = mask([Category.LABS])
TREAT_MASK = mask([Purpose.TREAT])
DAY = timedelta(days=1)
CODEC_RAW = 0x55


def random_digest() -> bytes:
    return os.urandom(32)


def grant_labs(
    patient_ledger: MedLedger,
    grantee: str,
    *,
    permissions: int = Permission.READ | Permission.WRITE,
    expiry: timedelta = 30 * DAY,
    purposes: int = TREAT_MASK,
    categories: int = LABS_MASK,
):
    return patient_ledger.consent.grant(
        grantee, categories=categories, purposes=purposes, permissions=permissions, expiry=expiry
    )
