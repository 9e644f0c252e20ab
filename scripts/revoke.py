"""Revoke a grantee's consent (as the patient) and rotate the keyrings it could read, in one transaction.

    brownie run scripts/revoke.py main GRANTEE          # or MEDLEDGER_GRANTEE=0x...

Records written afterwards are sealed to keyring epochs the grantee never received; what it
already downloaded it keeps. The patient is BROWNIE_ACCOUNT (or MEDLEDGER_PRIVATE_KEY); see
scripts/_medledger.py.
"""

import os

from medledger.flows.consent import revoke
from scripts._medledger import session


def main(grantee: str = ""):
    grantee = grantee or os.environ["MEDLEDGER_GRANTEE"]
    receipt = revoke(session(), grantee)
    print(f"revoked {grantee} (tx {receipt.tx_hash}, gas {receipt.gas_used})")
    return receipt
