"""Grant a provider consent (as the patient): one transaction, no key material.

    brownie run scripts/grant.py main GRANTEE [CATEGORIES] [PURPOSES] [PERMISSIONS] [DAYS]

Defaults: CATEGORIES labs, PURPOSES treatment, PERMISSIONS read, DAYS 30. Lists are
comma-separated names (categories: labs, imaging, medications, ...; purposes: HL7
PurposeOfUse codes or aliases such as treatment; permissions: read, write, read,write).
The same values may come from MEDLEDGER_GRANTEE, MEDLEDGER_CATEGORIES, MEDLEDGER_PURPOSES,
MEDLEDGER_PERMISSIONS and MEDLEDGER_DAYS. The grantee must be an active provider. A reader gets
no key: it reads through the key-release services, which check this consent at every read (so
a narrower grant later, or a revocation, holds for every record). The patient is BROWNIE_ACCOUNT
(or MEDLEDGER_PRIVATE_KEY); see scripts/_medledger.py.
"""

import os
from datetime import timedelta

from medledger.flows.consent import grant
from medledger.scopes import category_mask, permission, purpose_mask
from scripts._medledger import ScriptError, argument, one_line_errors, session


@one_line_errors
def main(grantee: str = "", categories: str = "", purposes: str = "", permissions: str = "", days: str = ""):
    grantee = argument(grantee, "MEDLEDGER_GRANTEE", "the grantee")
    categories = categories or os.environ.get("MEDLEDGER_CATEGORIES", "labs")
    purposes = purposes or os.environ.get("MEDLEDGER_PURPOSES", "treatment")
    permissions = permissions or os.environ.get("MEDLEDGER_PERMISSIONS", "read")
    days_text = days or os.environ.get("MEDLEDGER_DAYS", "30")
    try:
        days = float(days_text)
    except ValueError:
        raise ScriptError(f"DAYS {days_text!r} is not a number of days") from None
    receipt = grant(
        session(),
        grantee,
        categories=category_mask(categories),
        purposes=purpose_mask(purposes),
        permissions=int(permission(permissions)),
        expiry=timedelta(days=days),
    )
    print(
        f"granted {grantee}: {permissions} {categories} for {purposes}, {days:g} days "
        f"(tx {receipt.tx_hash}, gas {receipt.gas_used})"
    )
    return receipt
