"""Revoke a grantee's consent (as the patient), in one transaction.

    brownie run scripts/revoke.py main GRANTEE          # or MEDLEDGER_GRANTEE=0x...

From the next block no key-release service releases the grantee a key, for any record; what it
already decrypted it keeps. The patient is BROWNIE_ACCOUNT (or MEDLEDGER_PRIVATE_KEY); see
scripts/_medledger.py.
"""

from medledger.flows.consent import revoke
from scripts._medledger import argument, one_line_errors, session


@one_line_errors
def main(grantee: str = ""):
    grantee = argument(grantee, "MEDLEDGER_GRANTEE", "the grantee")
    receipt = revoke(session(), grantee)
    print(f"revoked {grantee} (tx {receipt.tx_hash}, gas {receipt.gas_used})")
    return receipt
