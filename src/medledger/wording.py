"""Consent terms in plain words, for people: the sentence the CLI's confirmation and the patient's
web page both show.

    consent_sentence("Lakeside Clinic", categories=0b10, purposes=0b1, permissions=1, expiry=...)
    -> "Lakeside Clinic may read your lab results for your treatment until 1 March 2027"

Category and purpose names (scopes.py) are what people type; the phrases here are what they read.
A ward's records are "Sam's lab results" (or "the lab results of 0xAb…") when a guardian acts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from medledger.scopes import Category, Purpose, categories_in, purposes_in

CATEGORY_PHRASES: dict[str, str] = {
    Category.SUMMARY.name: "summary and problem list",
    Category.LABS.name: "lab results",
    Category.IMAGING.name: "imaging",
    Category.MEDICATIONS.name: "medications",
    Category.ALLERGIES.name: "allergies",
    Category.IMMUNIZATIONS.name: "immunizations",
    Category.PROCEDURES.name: "procedures",
    Category.NOTES.name: "clinical notes",
    Category.MENTAL_HEALTH.name: "mental health records",
    Category.GENOMICS.name: "genetic data",
    Category.SUBSTANCE_USE.name: "substance use records",
    Category.SEXUAL_HEALTH.name: "sexual health records",
    Category.EMERGENCY.name: "emergency summary",
    Category.BILLING.name: "billing records",
}

# "for <phrase>": {whose} is "your" for the patient, "Sam's" for a ward.
PURPOSE_PHRASES: dict[Purpose, str] = {
    Purpose.TREAT: "{whose} treatment",
    Purpose.ETREAT: "emergency treatment",
    Purpose.HPAYMT: "payment for {whose} care",
    Purpose.HOPERAT: "running their practice (healthcare operations)",
    Purpose.HRESCH: "research",
    Purpose.PUBHLTH: "public health",
    Purpose.PATRQT: "{whose} own requests",
}


def join(items: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def category_phrase(name: str) -> str:
    """`lab results` for `labs`; an unnamed category bit as `category 40`."""
    key = name.upper().replace("-", "_")
    return CATEGORY_PHRASES.get(key, name if not name.isdigit() else f"category {name}")


def categories_phrase(category_bits: int) -> str:
    return join([category_phrase(name) for name in categories_in(category_bits)])


def purposes_phrase(purpose_bits: int, whose: str = "your") -> str:
    return join([PURPOSE_PHRASES[Purpose[code]].format(whose=whose) for code in purposes_in(purpose_bits)])


def verbs(permissions: int) -> str:
    """`read`, `add to` or `read and add to`."""
    return join([verb for verb, bit in (("read", 1), ("add to", 2)) if permissions & bit])


def date_words(timestamp: int) -> str:
    """`1 March 2027` (UTC), with the time when it is not midnight: `1 March 2027, 14:30 UTC`."""
    moment = datetime.fromtimestamp(int(timestamp), UTC)
    day = f"{moment.day} {moment.strftime('%B %Y')}"
    if moment.hour or moment.minute:
        return f"{day}, {moment.strftime('%H:%M')} UTC"
    return day


def consent_sentence(
    grantee: str, *, categories: int, purposes: int, permissions: int, expiry: int, whose: str = "your"
) -> str:
    """`Lakeside Clinic may read your lab results for your treatment until 1 March 2027`."""
    return (
        f"{grantee} may {verbs(permissions)} {whose} {categories_phrase(categories)} "
        f"for {purposes_phrase(purposes, whose)} until {date_words(expiry)}"
    )


def grant_confirmation(
    actor: str,
    grantee: str,
    provider: str,
    *,
    categories: int,
    purposes: int,
    permissions: int,
    expiry: int,
    sentence: str,
) -> list[str]:
    """What `medledger consent grant` asks to confirm, line by line; the portal shows the same.

    `actor` is `You (0x..)` or `As guardian of 0x.., you`; `provider` is its kind and status
    (`clinician, active`); `sentence` is the consent_sentence with the name the user knows."""
    verbs_ = " and ".join(v for v, bit in (("read", 1), ("write", 2)) if permissions & bit)
    return [
        sentence + ".",
        f"{actor} are about to let {grantee} ({provider})",
        f"  {verbs_} your records in: {', '.join(categories_in(categories))}",
        f"  for: {', '.join(purposes_in(purposes))}",
        f"  until: {datetime.fromtimestamp(expiry, tz=UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        "Every read is logged on chain and released by the key-release services only while this consent",
        "holds. You can narrow or revoke at any time; what they read before that they keep.",
    ]


def revocation_confirmation(grantee: str, *, categories: int, sentence: str) -> list[str]:
    """What `medledger consent revoke` asks to confirm; the portal shows the same."""
    return [sentence + ".", f"Revoke {grantee}'s access to: {', '.join(categories_in(categories))}"]


def revocation_sentence(grantee: str, *, categories: int, whose: str = "your") -> str:
    """`Lakeside Clinic may no longer read your lab results; what it has read, it keeps`."""
    return (
        f"{grantee} may no longer read or add to {whose} {categories_phrase(categories)}; "
        "what it has already read, it keeps"
    )


__all__ = [
    "categories_phrase",
    "category_phrase",
    "consent_sentence",
    "date_words",
    "grant_confirmation",
    "join",
    "purposes_phrase",
    "revocation_confirmation",
    "revocation_sentence",
    "verbs",
]
