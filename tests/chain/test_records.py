"""Record pointer rules: who may add, append-only, amendments, erasure, bad input."""

from __future__ import annotations

import pytest

from medledger.chain.errors import ContractRevertError
from medledger.ledger.base import InvalidArgumentError
from medledger.scopes import Category, Permission

from .helpers import CODEC_RAW, grant_labs, random_digest

CODEC_DAG_PB = 0x70


def _refusal(call) -> str:
    with pytest.raises(ContractRevertError) as caught:
        call()
    return caught.value.error


def test_patient_adds_a_pointer_that_reads_back(world):
    a = world.actors
    digest = random_digest()
    world.ledger(a.patient).records.add(a.patient.address, digest, CODEC_DAG_PB, Category.IMAGING)
    record = world.ledger().records.get(a.patient.address, digest)
    assert (record.author, record.codec, record.category, record.erased) == (
        a.patient.address,
        CODEC_DAG_PB,
        Category.IMAGING,
        False,
    )


def test_grantee_with_write_permission_adds_in_its_category(world):
    a = world.actors
    grant_labs(world.ledger(a.patient), a.provider.address, permissions=Permission.WRITE)
    digest = random_digest()
    world.ledger(a.provider).records.add(a.patient.address, digest, CODEC_RAW, Category.LABS)
    assert world.ledger().records.get(a.patient.address, digest).author == a.provider.address


def test_grantee_cannot_add_outside_its_category(world):
    a = world.actors
    grant_labs(world.ledger(a.patient), a.provider.address, permissions=Permission.WRITE)
    records = world.ledger(a.provider).records
    assert (
        _refusal(lambda: records.add(a.patient.address, random_digest(), CODEC_RAW, Category.NOTES)) == "NotAuthorized"
    )


def test_read_only_grantee_cannot_add(world):
    a = world.actors
    grant_labs(world.ledger(a.patient), a.provider.address, permissions=Permission.READ)
    records = world.ledger(a.provider).records
    assert (
        _refusal(lambda: records.add(a.patient.address, random_digest(), CODEC_RAW, Category.LABS)) == "NotAuthorized"
    )


def test_same_digest_cannot_be_added_twice(world):
    a = world.actors
    records = world.ledger(a.patient).records
    digest = random_digest()
    records.add(a.patient.address, digest, CODEC_RAW, Category.LABS)
    assert _refusal(lambda: records.add(a.patient.address, digest, CODEC_RAW, Category.LABS)) == "RecordExists"


def test_amendment_marks_the_previous_version_superseded(world):
    a = world.actors
    records = world.ledger(a.patient).records
    first, second = random_digest(), random_digest()
    records.add(a.patient.address, first, CODEC_RAW, Category.LABS)
    receipt = records.add(a.patient.address, second, CODEC_RAW, Category.LABS, supersedes=first)
    assert records.get(a.patient.address, first).superseded
    (event,) = world.ledger().events("RecordAdded", from_block=receipt.block_number, digest=second)
    assert event.args.supersedes == first


def test_a_version_can_be_amended_only_once(world):
    a = world.actors
    records = world.ledger(a.patient).records
    first = random_digest()
    records.add(a.patient.address, first, CODEC_RAW, Category.LABS)
    records.add(a.patient.address, random_digest(), CODEC_RAW, Category.LABS, supersedes=first)
    assert (
        _refusal(lambda: records.add(a.patient.address, random_digest(), CODEC_RAW, Category.LABS, supersedes=first))
        == "RecordAlreadySuperseded"
    )


def test_amendment_must_keep_the_category(world):
    a = world.actors
    records = world.ledger(a.patient).records
    first = random_digest()
    records.add(a.patient.address, first, CODEC_RAW, Category.LABS)
    assert (
        _refusal(lambda: records.add(a.patient.address, random_digest(), CODEC_RAW, Category.IMAGING, supersedes=first))
        == "CategoryMismatch"
    )


def test_amending_an_unknown_record_is_refused(world):
    a = world.actors
    records = world.ledger(a.patient).records
    assert (
        _refusal(
            lambda: records.add(
                a.patient.address, random_digest(), CODEC_RAW, Category.LABS, supersedes=random_digest()
            )
        )
        == "UnknownRecord"
    )


def test_erasure_marks_the_pointer_and_keeps_it(world):
    a = world.actors
    records = world.ledger(a.patient).records
    digest = random_digest()
    records.add(a.patient.address, digest, CODEC_RAW, Category.LABS)
    records.erase(digest)
    record = records.get(a.patient.address, digest)
    assert record.erased and record.exists


def test_erasing_twice_is_refused(world):
    a = world.actors
    records = world.ledger(a.patient).records
    digest = random_digest()
    records.add(a.patient.address, digest, CODEC_RAW, Category.LABS)
    records.erase(digest)
    assert _refusal(lambda: records.erase(digest)) == "RecordIsErased"


def test_erased_record_cannot_be_amended_or_re_added(world):
    a = world.actors
    records = world.ledger(a.patient).records
    digest = random_digest()
    records.add(a.patient.address, digest, CODEC_RAW, Category.LABS)
    records.erase(digest)
    assert (
        _refusal(lambda: records.add(a.patient.address, random_digest(), CODEC_RAW, Category.LABS, supersedes=digest))
        == "RecordIsErased"
    )
    assert _refusal(lambda: records.add(a.patient.address, digest, CODEC_RAW, Category.LABS)) == "RecordExists"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((b"\x00" * 32, CODEC_RAW, 1), "InvalidDigest"),
        ((b"\x01" * 32, 0x71, 1), "UnsupportedCodec"),
        ((b"\x01" * 32, CODEC_RAW, 64), "InvalidCategory"),
    ],
)
def test_malformed_pointer_is_refused_on_chain(world, args, error):
    a = world.actors
    ledger = world.ledger(a.patient)
    fn = ledger.contract.functions.addRecord(a.patient.address, *args, b"\x00" * 32)
    assert _refusal(lambda: ledger.sender.send(ledger.signer, fn)) == error


@pytest.mark.parametrize(
    ("digest", "codec", "fragment"),
    [
        (b"\x01" * 31, CODEC_RAW, "32-byte"),
        (b"\x00" * 32, CODEC_RAW, "all-zero"),
        (b"\x01" * 32, 0x12, "codec"),
    ],
)
def test_malformed_pointer_is_refused_off_chain(world, digest, codec, fragment):
    a = world.actors
    with pytest.raises(InvalidArgumentError, match=fragment):
        world.ledger(a.patient).records.add(a.patient.address, digest, codec, Category.LABS)
