"""Revoke a grantee's consent (as the patient), in one transaction.

    brownie run scripts/revoke.py main GRANTEE          # or MEDLEDGER_GRANTEE=0x...

From the next block no key-release service releases the grantee a key, for any record; what it
already decrypted it keeps. The patient is BROWNIE_ACCOUNT (or MEDLEDGER_PRIVATE_KEY); see
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
