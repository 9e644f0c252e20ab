"""Publish the account's X25519 encryption key (derived from its Ethereum key).

    brownie run scripts/setup_account.py

Patients and record authors run this once: every record's key is sealed to its patient and its
author (and split over the key-release services for everyone else). Acts as BROWNIE_ACCOUNT (or
MEDLEDGER_PRIVATE_KEY); see scripts/_medledger.py.
"""

from medledger.flows.consent import setup_account
from scripts._medledger import one_line_errors, session


@one_line_errors
def main():
    result = setup_account(session())
    print(f"encryption key {'published' if result.published_key else 'already published'}")
    return result
