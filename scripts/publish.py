"""Encrypt a file for a patient, store and pin it, and register its pointer on chain.

    brownie run scripts/publish.py main PATIENT CATEGORY FILE

Or MEDLEDGER_PATIENT, MEDLEDGER_CATEGORY (a name such as labs) and MEDLEDGER_FILE. The author
(BROWNIE_ACCOUNT or MEDLEDGER_PRIVATE_KEY) needs write consent from the patient, or is the
patient. The blob goes where `medledger record publish` would put it (MEDLEDGER_IPFS_API, the
config file's stores, the running devnet's IPFS daemon, else <home>/blocks); see
scripts/_medledger.py. Prints the CID and the digest that `fetch.py` takes.
"""

from medledger.flows.records import publish
from medledger.scopes import category
from scripts._medledger import argument, one_line_errors, session


@one_line_errors
def main(patient: str = "", record_category: str = "", path: str = ""):
    patient = argument(patient, "MEDLEDGER_PATIENT", "the patient")
    chosen = category(argument(record_category, "MEDLEDGER_CATEGORY", "the category"))
    path = argument(path, "MEDLEDGER_FILE", "the file")
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
