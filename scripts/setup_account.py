"""Publish the account's X25519 encryption key and create keyrings for a patient's categories.

    brownie run scripts/setup_account.py [main CATEGORIES]

CATEGORIES: comma-separated names (labs,imaging,...) for a patient's keyrings; empty for a
provider, which only publishes its key. Everyone who reads or writes records runs this once.
Acts as BROWNIE_ACCOUNT (or MEDLEDGER_PRIVATE_KEY); see scripts/_medledger.py.
"""

from medledger.flows.consent import setup_account
from medledger.scopes import category
from scripts._medledger import session


def main(categories: str = ""):
    chosen = [category(name) for name in categories.split(",") if name.strip()]
    result = setup_account(session(), chosen)
    print(
        f"encryption key {'published' if result.published_key else 'already published'}; "
        f"keyrings created: {[c.name.lower() for c in chosen if c in result.created_keyrings] or 'none'}"
    )
    return result
