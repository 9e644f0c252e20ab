"""Every publish journal state has a defined `resume` and `resume --rollback`, including "sent, not
mined" (SENT), tested on a chain that mines only when told to.

The rules: a registration transaction once sent is waited for, never sent a second time; a
rollback never unpins a blob whose registration may still be mined; a registered record is never
rolled back (only erasure removes it); the journal names its source by absolute path; a publish
stopped by the store says what it left and how to finish or discard it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from medledger.chain.transactions import TxPolicy
from medledger.devnet.anvil import AnvilNode
from medledger.devnet.ports import free_loopback_port
from medledger.flows import AlreadyRegisteredError, RegistrationPendingError, Session
from medledger.flows.journal import DONE, ENCRYPTED, REGISTERED, ROLLED_BACK, SENT, STARTED, STORED, Journal
from medledger.flows.records import fetch, publish, resume
from medledger.ledger import MedLedger
from medledger.storage import Cid, KuboStore, StorageUnavailableError

from .conftest import (
    LABS,
    Crash,
    People,
    crash_after,
    kubo_store,
    pointers_added,
    sha256_of,
    staging_files,
    write_source,
)

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]

IMPATIENT = TxPolicy(receipt_timeout=0.3, poll_interval=0.05)


@dataclass
class Mining:
    """The session anvil with automine switched off: blocks are mined only by `mine()`."""

    node: AnvilNode

    def pause(self) -> None:
        self.node.set_automine(False)

    def mine(self) -> None:
        self.node.rpc("evm_mine")

    def automine(self) -> None:
        self.node.set_automine(True)

    def drop(self, tx_hash: str) -> None:
        """The node forgets a pending transaction (evicted from its pool)."""
        self.node.rpc("anvil_dropTransaction", [tx_hash])

    def pool_size(self) -> int:
        return int(str(self.node.rpc("txpool_status")["pending"]), 16)  # type: ignore[index]


@pytest.fixture
def mining(people: People, anvil: AnvilNode) -> Iterator[Mining]:
    """Automine off from here on (the people are enrolled first); restored, pool emptied, after."""
    control = Mining(anvil)
    control.pause()
    try:
        yield control
    finally:
        anvil.rpc("anvil_dropAllTransactions")
        control.automine()


def impatient(session: Session) -> Session:
    """The same account, giving up on a receipt after 0.3 s (the interruption of a real wait)."""
    ledger = MedLedger(session.ledger.chain, session.ledger.address, signer=session.signer, policy=IMPATIENT)
    return Session(ledger=ledger, store=session.store, home=session.home, from_block=session.from_block)


def _source(tmp_path: Path, seed: int = 1) -> tuple[Path, str]:
    source = tmp_path / f"record-{seed}.json"
    return source, write_source(source, 3000 + seed, seed=seed)


def _sent_not_mined(people: People, tmp_path: Path) -> tuple[str, str]:
    """Publish as the lab while nothing is mined; return the SENT entry's id and the source sha256."""
    source, expected = _source(tmp_path)
    with pytest.raises(RegistrationPendingError):
        publish(impatient(people.lab), people.patient.address, LABS, source)
    [entry] = Journal(people.lab.home).pending()
    assert entry.state == SENT
    return entry.id, expected


def _entry(people: People, journal_id: str):  # type: ignore[no-untyped-def]
    return Journal(people.lab.home).load(journal_id)


def _pinned(people: People, cid: Cid) -> bool:
    store = people.store
    return store.is_pinned(cid) if isinstance(store, KuboStore) else store.has(cid)


def _mined_nonce(people: People) -> int:
    return people.lab.ledger.chain.w3.eth.get_transaction_count(people.lab.address, "latest")


def _readable(people: People, journal_id: str, expected: str, tmp_path: Path) -> bool:
    cid = Cid.parse(_entry(people, journal_id).cid)
    out = fetch(people.patient, people.patient.address, cid.digest, tmp_path / "out.json", log_access=False)
    return sha256_of(out.path) == expected


# -- SENT: the registration transaction is signed and broadcast, not mined -----------------------


def test_a_registration_not_yet_mined_is_journaled_as_sent_with_its_hash_and_nonce(
    people: People, mining: Mining, tmp_path: Path
) -> None:
    source, _ = _source(tmp_path)
    with pytest.raises(RegistrationPendingError, match="is sent but not yet mined; run `medledger record resume"):
        publish(impatient(people.lab), people.patient.address, LABS, source)

    [entry] = Journal(people.lab.home).pending()
    tx = people.lab.ledger.chain.w3.eth.get_transaction(entry.tx_hash)
    assert entry.state == SENT
    assert (tx["from"], tx["nonce"]) == (people.lab.address, entry.nonce)


def test_resume_while_the_registration_is_pending_waits_for_it_and_sends_no_second_transaction(
    people: People, mining: Mining, tmp_path: Path
) -> None:
    journal_id, _ = _sent_not_mined(people, tmp_path)
    sent = _entry(people, journal_id)

    with pytest.raises(RegistrationPendingError, match=f"transaction {sent.tx_hash} is sent but not yet mined"):
        resume(impatient(people.lab), journal_id)

    assert mining.pool_size() == 1
    assert _entry(people, journal_id) == sent


def test_resume_once_the_pending_registration_is_mined_finishes_with_that_transaction(
    people: People, mining: Mining, tmp_path: Path
) -> None:
    journal_id, expected = _sent_not_mined(people, tmp_path)
    sent = _entry(people, journal_id)
    mining.mine()

    entry = resume(impatient(people.lab), journal_id)

    assert entry.state == DONE and entry.tx_hash == sent.tx_hash
    assert _mined_nonce(people) == sent.nonce + 1  # one registration transaction in all
    assert len(pointers_added(people.patient, people.patient.address)) == 1
    assert staging_files(people.lab.home) == []
    assert _readable(people, journal_id, expected, tmp_path)


def test_rollback_while_the_registration_is_pending_is_refused_and_keeps_the_blob(
    people: People, mining: Mining, tmp_path: Path
) -> None:
    journal_id, expected = _sent_not_mined(people, tmp_path)
    sent = _entry(people, journal_id)

    with pytest.raises(RegistrationPendingError, match="may still register the record, so nothing was rolled back"):
        resume(impatient(people.lab), journal_id, rollback=True)

    assert _entry(people, journal_id) == sent
    assert _pinned(people, Cid.parse(sent.cid))
    assert staging_files(people.lab.home) != []
    mining.mine()  # the transaction lands: the record it registers still has its blob
    assert _readable(people, journal_id, expected, tmp_path)


def test_rollback_once_the_pending_registration_is_mined_is_refused_as_already_registered(
    people: People, mining: Mining, tmp_path: Path
) -> None:
    journal_id, _ = _sent_not_mined(people, tmp_path)
    mining.mine()

    with pytest.raises(AlreadyRegisteredError, match=r"already registered on chain .* use erase"):
        resume(impatient(people.lab), journal_id, rollback=True)

    entry = _entry(people, journal_id)
    assert entry.state == REGISTERED
    assert _pinned(people, Cid.parse(entry.cid))


def test_rollback_after_the_node_dropped_the_registration_uses_up_its_nonce_then_rolls_back(
    people: People, mining: Mining, tmp_path: Path
) -> None:
    journal_id, _ = _sent_not_mined(people, tmp_path)
    sent = _entry(people, journal_id)
    mining.drop(sent.tx_hash)
    mining.automine()

    entry = resume(impatient(people.lab), journal_id, rollback=True)

    assert entry.state == ROLLED_BACK
    assert _mined_nonce(people) == sent.nonce + 1  # the nonce is spent: the dropped transaction can never land
    assert pointers_added(people.patient, people.patient.address) == []
    assert not _pinned(people, Cid.parse(sent.cid))
    assert staging_files(people.lab.home) == []


def test_resume_after_the_node_dropped_the_registration_registers_once(
    people: People, mining: Mining, tmp_path: Path
) -> None:
    journal_id, expected = _sent_not_mined(people, tmp_path)
    sent = _entry(people, journal_id)
    mining.drop(sent.tx_hash)
    mining.automine()

    entry = resume(impatient(people.lab), journal_id)

    assert entry.state == DONE
    assert _mined_nonce(people) == sent.nonce + 1
    assert len(pointers_added(people.patient, people.patient.address)) == 1
    assert _readable(people, journal_id, expected, tmp_path)


def test_resume_after_the_registrations_nonce_went_to_another_transaction_registers_anew(
    people: People, mining: Mining, tmp_path: Path
) -> None:
    journal_id, expected = _sent_not_mined(people, tmp_path)
    sent = _entry(people, journal_id)
    mining.drop(sent.tx_hash)
    mining.automine()
    people.lab.ledger.sender.cancel(people.lab.signer, sent.nonce)  # another transaction takes the nonce

    entry = resume(impatient(people.lab), journal_id)

    assert entry.state == DONE and entry.tx_hash != sent.tx_hash
    assert len(pointers_added(people.patient, people.patient.address)) == 1
    assert _readable(people, journal_id, expected, tmp_path)


# -- SENT, journaled but never broadcast (a crash between the two) ---------------------------------


def test_resume_after_a_crash_between_journaling_and_broadcasting_registers_once(
    people: People, tmp_path: Path
) -> None:
    source, expected = _source(tmp_path)
    with pytest.raises(Crash):
        publish(people.lab, people.patient.address, LABS, source, fault=crash_after(SENT))
    [entry] = Journal(people.lab.home).pending()
    assert entry.state == SENT

    assert resume(people.lab, entry.id).state == DONE
    assert len(pointers_added(people.patient, people.patient.address)) == 1
    assert _readable(people, entry.id, expected, tmp_path)


def test_rollback_after_a_crash_between_journaling_and_broadcasting_spends_the_nonce_and_rolls_back(
    people: People, tmp_path: Path
) -> None:
    source, _ = _source(tmp_path)
    with pytest.raises(Crash):
        publish(people.lab, people.patient.address, LABS, source, fault=crash_after(SENT))
    [entry] = Journal(people.lab.home).pending()

    assert resume(people.lab, entry.id, rollback=True).state == ROLLED_BACK
    assert _mined_nonce(people) == entry.nonce + 1
    assert pointers_added(people.patient, people.patient.address) == []
    assert not _pinned(people, Cid.parse(entry.cid))


# -- the states before SENT and after it, on a chain that does not mine by itself --------------------


def _crashed(people: People, tmp_path: Path, step: str) -> str:
    source, _ = _source(tmp_path)
    if step == STARTED:
        return _crash_while_encrypting(people, source)
    with pytest.raises(Crash):
        publish(people.lab, people.patient.address, LABS, source, fault=crash_after(step))
    [entry] = Journal(people.lab.home).pending()
    assert entry.state == step
    return entry.id


@pytest.mark.parametrize("step", [STARTED, ENCRYPTED, STORED])
def test_resume_before_registration_stops_at_sent_until_mined_then_finishes(
    people: People, mining: Mining, tmp_path: Path, step: str
) -> None:
    mining.automine()
    journal_id = _crashed(people, tmp_path, step)
    mining.pause()

    with pytest.raises(RegistrationPendingError):
        resume(impatient(people.lab), journal_id)
    assert _entry(people, journal_id).state == SENT
    mining.mine()

    assert resume(impatient(people.lab), journal_id).state == DONE
    assert len(pointers_added(people.patient, people.patient.address)) == 1


@pytest.mark.parametrize("step", [STARTED, ENCRYPTED, STORED])
def test_rollback_before_registration_sends_nothing(people: People, mining: Mining, tmp_path: Path, step: str) -> None:
    mining.automine()
    journal_id = _crashed(people, tmp_path, step)
    mining.pause()

    assert resume(impatient(people.lab), journal_id, rollback=True).state == ROLLED_BACK
    assert mining.pool_size() == 0
    assert staging_files(people.lab.home) == []


def test_resume_after_registration_finishes_without_a_transaction(
    people: People, mining: Mining, tmp_path: Path
) -> None:
    mining.automine()
    journal_id = _crashed(people, tmp_path, REGISTERED)
    mining.pause()

    assert resume(impatient(people.lab), journal_id).state == DONE
    assert mining.pool_size() == 0
    assert staging_files(people.lab.home) == []


def test_rollback_after_registration_is_refused_without_a_transaction(
    people: People, mining: Mining, tmp_path: Path
) -> None:
    mining.automine()
    journal_id = _crashed(people, tmp_path, REGISTERED)
    mining.pause()

    with pytest.raises(AlreadyRegisteredError):
        resume(impatient(people.lab), journal_id, rollback=True)
    assert mining.pool_size() == 0


# -- STARTED: the source file, by absolute path ------------------------------------------------------


def _crash_while_encrypting(people: People, source: Path | str) -> str:
    def dies(src, dst, **kwargs):  # type: ignore[no-untyped-def]
        raise Crash("encrypting")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("medledger.flows.records.encrypt_stream", dies)
        with pytest.raises(Crash):
            publish(people.lab, people.patient.address, LABS, source)
    [entry] = Journal(people.lab.home).pending()
    assert entry.state == STARTED
    return entry.id


def test_the_journal_names_the_source_by_its_absolute_path(
    people: People, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "here").mkdir()
    write_source(tmp_path / "here" / "obs.json", 512, seed=3)
    monkeypatch.chdir(tmp_path / "here")

    journal_id = _crash_while_encrypting(people, "obs.json")

    assert _entry(people, journal_id).source == str(tmp_path / "here" / "obs.json")


def test_resume_from_another_directory_finds_a_source_given_by_a_relative_path(
    people: People, mining: Mining, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mining.automine()
    (tmp_path / "here").mkdir()
    (tmp_path / "elsewhere").mkdir()
    expected = write_source(tmp_path / "here" / "obs.json", 512, seed=3)
    monkeypatch.chdir(tmp_path / "here")
    journal_id = _crash_while_encrypting(people, "obs.json")
    monkeypatch.chdir(tmp_path / "elsewhere")

    assert resume(people.lab, journal_id).state == DONE
    assert _readable(people, journal_id, expected, tmp_path)


# -- ENCRYPTED: a publish the store stopped ----------------------------------------------------------


@pytest.fixture
def down_store() -> Iterator[KuboStore]:
    """A KuboStore pointing at a loopback port nothing listens on."""
    store = kubo_store(f"http://127.0.0.1:{free_loopback_port()}")
    store.retries, store.backoff = 1, 0.01
    yield store
    store.close()


def test_a_publish_stopped_by_the_store_says_what_it_left_and_how_to_resume_or_roll_back(
    people: People, down_store: KuboStore, tmp_path: Path
) -> None:
    offline = Session(
        ledger=people.lab.ledger, store=down_store, home=people.lab.home, from_block=people.lab.from_block
    )
    source, _ = _source(tmp_path)

    with pytest.raises(StorageUnavailableError) as caught:
        publish(offline, people.patient.address, LABS, source)

    [entry] = Journal(people.lab.home).pending()
    message = str(caught.value)
    assert "\n" not in message
    assert f"journal entry {entry.id}" in message and str(entry.staging) in message
    assert f"`medledger record resume {entry.id}`" in message
    assert f"`medledger record resume {entry.id} --rollback`" in message
    assert os.path.exists(entry.staging)  # type: ignore[arg-type]
