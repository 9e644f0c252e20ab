"""Client for the record pointer module."""

from __future__ import annotations

from collections.abc import Sequence

from medledger.chain.transactions import OnSigned, Receipt
from medledger.ledger.base import InvalidArgumentError, ModuleClient, checked_address
from medledger.ledger.values import RecordPointer
from medledger.scopes import CATEGORY_COUNT

CODEC_RAW = 0x55
CODEC_DAG_PB = 0x70
SUPPORTED_CODECS = (CODEC_RAW, CODEC_DAG_PB)
NO_RECORD = b"\x00" * 32


def _digest(value: bytes, what: str = "digest") -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
        raise InvalidArgumentError(f"a record {what} is a 32-byte sha2-256 digest")
    return bytes(value)


class RecordsClient(ModuleClient):
    def add(
        self,
        patient: str,
        digest: bytes,
        codec: int,
        category: int,
        supersedes: bytes | None = None,
        on_signed: OnSigned | None = None,
    ) -> Receipt:
        """Add a pointer to an encrypted blob (the patient, or a provider with WRITE consent);
        `on_signed` learns the transaction's hash and nonce before it is broadcast (to journal them)."""
        digest = _digest(digest)
        if not any(digest):
            raise InvalidArgumentError("the all-zero digest is not a record")
        if codec not in SUPPORTED_CODECS:
            raise InvalidArgumentError(f"codec {codec:#x} is not raw (0x55) or dag-pb (0x70)")
        if not 0 <= int(category) < CATEGORY_COUNT:
            raise InvalidArgumentError(f"category {category} is out of range 0..{CATEGORY_COUNT - 1}")
        previous = _digest(supersedes, "supersedes digest") if supersedes else NO_RECORD
        return self._send(
            self.functions.addRecord(checked_address(patient, "patient"), digest, codec, int(category), previous),
            on_signed=on_signed,
        )

    def erase(self, digest: bytes) -> Receipt:
        """Mark one of the signer's own records erased."""
        return self._send(self.functions.eraseRecord(_digest(digest)))

    def log_access(self, patient: str, digest: bytes, purpose: int) -> Receipt:
        """Record on chain that the signer read this record, and why (reverts without access)."""
        if not 0 <= int(purpose) < 7:
            raise InvalidArgumentError(f"purpose {purpose} is not an HL7 PurposeOfUse bit 0..6")
        return self._send(self.functions.logAccess(checked_address(patient, "patient"), _digest(digest), int(purpose)))

    def get_many(self, patient: str, digests: Sequence[bytes]) -> list[RecordPointer]:
        """The pointers of `digests`, read in JSON-RPC batches (one round trip per 500 records)."""
        patient = checked_address(patient, "patient")
        checked = [_digest(digest) for digest in digests]
        answers = self.sender.call_batch(self.address, self.codec("recordOf"), [(patient, d) for d in checked])
        return [RecordPointer(patient, digest, *answer) for digest, answer in zip(checked, answers, strict=True)]

    def get(self, patient: str, digest: bytes) -> RecordPointer:
        patient = checked_address(patient, "patient")
        author, codec, category, created_at, superseded, erased = self._call(
            self.functions.recordOf(patient, _digest(digest))
        )
        return RecordPointer(patient, _digest(digest), author, codec, category, created_at, superseded, erased)
