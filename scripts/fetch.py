"""Fetch one of a patient's records, verify every block's CID, and decrypt it to a file.

    brownie run scripts/fetch.py main PATIENT RECORD DESTINATION [PURPOSE]

RECORD is the record's CID or its 0x-prefixed sha2-256 digest (both printed by publish.py).
PURPOSE defaults to treatment. Or MEDLEDGER_PATIENT, MEDLEDGER_RECORD, MEDLEDGER_DESTINATION,
MEDLEDGER_PURPOSE. The patient and the record's author decrypt with their own key; any other
reader (BROWNIE_ACCOUNT or MEDLEDGER_PRIVATE_KEY) needs read consent for that purpose, logs the
read on chain and gets the key from the deployment's key-release services (which must be
running); see scripts/_medledger.py.
"""

import os

from medledger.flows.records import fetch
from medledger.scopes import purpose
from medledger.storage import Cid
from scripts._medledger import argument, one_line_errors, session


def record_digest(record: str) -> bytes:
    if record.startswith("0x"):
        return bytes.fromhex(record[2:])
    return Cid.parse(record).digest


@one_line_errors
def main(patient: str = "", record: str = "", destination: str = "", for_purpose: str = ""):
    patient = argument(patient, "MEDLEDGER_PATIENT", "the patient")
    digest = record_digest(argument(record, "MEDLEDGER_RECORD", "the record"))
    destination = argument(destination, "MEDLEDGER_DESTINATION", "the destination file")
    chosen = purpose(for_purpose or os.environ.get("MEDLEDGER_PURPOSE", "treatment"))
    result = fetch(session(), patient, digest, destination, purpose=chosen, step=print)
    print(f"fetched {result.cid} ({result.size} bytes) to {result.path}")
    return result
