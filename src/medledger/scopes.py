"""The consent vocabulary: record categories, purposes of use (HL7 PurposeOfUse), permissions.

Numbers here are the bit positions and values the contracts use; names are what people type.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum, IntFlag

from medledger.errors import MedLedgerError


class ScopeError(MedLedgerError, ValueError):
    """A category, purpose or permission name or number that medledger does not know."""


class Category(IntEnum):
    """Record categories: bit i of a consent's category mask. At most 64 (a uint64 mask)."""

    SUMMARY = 0  # patient summary / problem list
    LABS = 1
    IMAGING = 2
    MEDICATIONS = 3
    ALLERGIES = 4
    IMMUNIZATIONS = 5
    PROCEDURES = 6
    NOTES = 7  # clinical notes and encounters
    MENTAL_HEALTH = 8
    GENOMICS = 9
    SUBSTANCE_USE = 10  # 42 CFR Part 2 records
    SEXUAL_HEALTH = 11
    EMERGENCY = 12  # emergency summary: blood group, allergies, implants
    BILLING = 13


class Purpose(IntEnum):
    """HL7 v3 PurposeOfUse codes: bit p of a consent's purpose mask."""

    TREAT = 0  # treatment
    ETREAT = 1  # emergency treatment
    HPAYMT = 2  # healthcare payment
    HOPERAT = 3  # healthcare operations
    HRESCH = 4  # healthcare research
    PUBHLTH = 5  # public health
    PATRQT = 6  # patient requested


PURPOSE_ALIASES = {
    "treatment": Purpose.TREAT,
    "emergency": Purpose.ETREAT,
    "payment": Purpose.HPAYMT,
    "operations": Purpose.HOPERAT,
    "research": Purpose.HRESCH,
    "public-health": Purpose.PUBHLTH,
    "patient-request": Purpose.PATRQT,
}


class Permission(IntFlag):
    READ = 1
    WRITE = 2


CATEGORY_COUNT = 64
ALL_PURPOSES = (1 << len(Purpose)) - 1


def category(value: str | int) -> Category:
    """A category from its name (`labs`, `mental-health`) or bit number."""
    if isinstance(value, int):
        try:
            return Category(value)
        except ValueError:
            raise ScopeError(f"unknown category number {value}") from None
    key = value.strip().upper().replace("-", "_")
    if key in Category.__members__:
        return Category[key]
    known = ", ".join(name.lower().replace("_", "-") for name in Category.__members__)
    raise ScopeError(f"unknown category {value!r}; known categories: {known}")


def purpose(value: str | int) -> Purpose:
    """A purpose from its HL7 code (`TREAT`), a plain alias (`treatment`) or its number."""
    if isinstance(value, int):
        try:
            return Purpose(value)
        except ValueError:
            raise ScopeError(f"unknown purpose number {value}") from None
    key = value.strip()
    if key.upper() in Purpose.__members__:
        return Purpose[key.upper()]
    if key.lower() in PURPOSE_ALIASES:
        return PURPOSE_ALIASES[key.lower()]
    known = ", ".join(list(Purpose.__members__) + list(PURPOSE_ALIASES))
    raise ScopeError(f"unknown purpose {value!r}; known purposes: {known}")


def permission(value: str | int) -> Permission:
    if isinstance(value, int):
        if value not in (1, 2, 3):
            raise ScopeError(f"unknown permission value {value}; use 1 (read), 2 (write) or 3 (both)")
        return Permission(value)
    flags = Permission(0)
    for part in value.replace("+", ",").split(","):
        name = part.strip().upper()
        if name not in Permission.__members__:
            raise ScopeError(f"unknown permission {part!r}; use read, write or read,write")
        flags |= Permission[name]
    return flags


def mask(bits: Iterable[int]) -> int:
    """The bitmask with each of `bits` set."""
    result = 0
    for bit in bits:
        result |= 1 << int(bit)
    return result


def category_mask(values: str | Iterable[str | int | Category]) -> int:
    """`"labs,imaging"` or `[Category.LABS, 2]` as a category mask; empty is an error."""
    items = values.split(",") if isinstance(values, str) else list(values)
    if not items or (isinstance(values, str) and not values.strip()):
        raise ScopeError("no categories given")
    return mask(category(item) if not isinstance(item, str) or item.strip() else _empty() for item in items)


def purpose_mask(values: str | Iterable[str | int | Purpose]) -> int:
    items = values.split(",") if isinstance(values, str) else list(values)
    if not items or (isinstance(values, str) and not values.strip()):
        raise ScopeError("no purposes given")
    return mask(purpose(item) if not isinstance(item, str) or item.strip() else _empty() for item in items)


def categories_in(category_bits: int) -> list[str]:
    """Names of the categories in a mask (unnamed bits as numbers)."""
    return [_name(Category, bit) for bit in range(CATEGORY_COUNT) if category_bits >> bit & 1]


def category_name(bit: int) -> str:
    """`labs` for 1; the bare number for a category without a name."""
    return _name(Category, int(bit))


def purposes_in(purpose_bits: int) -> list[str]:
    return [Purpose(bit).name for bit in range(len(Purpose)) if purpose_bits >> bit & 1]


def _name(enum: type[IntEnum], bit: int) -> str:
    try:
        return enum(bit).name.lower().replace("_", "-")
    except ValueError:
        return str(bit)


def _empty() -> int:
    raise ScopeError("empty name in a comma-separated list")
