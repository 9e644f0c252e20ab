"""Encrypt a file for a patient, store and pin it, and register its pointer on chain.

    brownie run scripts/publish.py main PATIENT CATEGORY FILE

Or MEDLEDGER_PATIENT, MEDLEDGER_CATEGORY (a name such as labs) and MEDLEDGER_FILE. The author
(BROWNIE_ACCOUNT or MEDLEDGER_PRIVATE_KEY) needs write consent from the patient, or is the
patient. The blob goes to MEDLEDGER_IPFS_API, else the embedded block store in MEDLEDGER_HOME;
see scripts/_medledger.py. Prints the CID and the digest that `fetch.py` takes.
"""

import os

from medledger.flows.records import publish
from medledger.scopes import category
from scripts._medledger import session


def main(patient: str = "", record_category: str = "", path: str = ""):
    patient = patient or os.environ["MEDLEDGER_PATIENT"]
    chosen = category(record_category or os.environ["MEDLEDGER_CATEGORY"])
    path = path or os.environ["MEDLEDGER_FILE"]
    result = publish(session(), patient, chosen, path)
    print(
        f"published {path} for {patient} as {chosen.name.lower()}: cid {result.cid} "
        f"digest 0x{result.digest.hex()} (tx {result.tx_hash})"
    )
    if result.service_set is None:
        print(
            "note: no key-release service set is current, so nobody but the patient and the author can read "
            "this record until the patient re-encrypts it under a service set"
        )
    return result
