"""Sync every MedLedger event into a database, in block ranges, resumable and reorg tolerant.

Algorithm (see the package docstring for the schema):

* The database's `meta` table binds it to one (chain id, contract address, deployment block,
  deployment block hash). Opening it for anything else raises `IndexerChainMismatchError`
  before any write.
* `sync()` first compares the newest stored block hash with the chain's. If they differ it
  walks the stored hashes (the last `max_reorg_depth + 1` synced blocks) downwards to the
  newest block both agree on, deletes every row of the orphaned blocks and moves the cursor
  back, in one transaction; if none agrees the reorg is deeper than configured:
  `ReorgTooDeepError`, nothing changed.
* It then syncs ranges of `batch_size` blocks from cursor + 1 to `head - confirmations`. Each
  range is one transaction holding its events, its block hashes and the new cursor: a crash
  mid-range leaves the database exactly as after the previous range.
* Logs whose block hash disagrees with the header fetched for that block (the chain moved while
  we read) abort the range; the loop re-checks for a reorg and tries again.
* Module contracts deployed beside the ledger (claims, studies: `deploy_module`) are indexed with
  it, keyed by emitting address. A module first seen after the cursor passed its deployment block
  is backfilled from that block to the cursor, in one transaction, before the next range; the
  `meta` row `module:<name>` records that it is indexed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from eth_typing import ABIEvent
from eth_utils import event_abi_to_log_topic, to_checksum_address
from web3.exceptions import BadFunctionCallOutput, BlockNotFound, ContractLogicError
from web3.types import RPCEndpoint

from medledger.chain.artifacts import load_artifact
from medledger.chain.connection import Chain
from medledger.chain.deploy import LEDGER_CONTRACT, Deployment
from medledger.errors import MedLedgerError
from medledger.indexer import schema
from medledger.indexer.decode import LogDecoder, actor_of, args_json, checksum, hexstr, typed_row
from medledger.indexer.errors import IndexerChainMismatchError, IndexerError, ReorgTooDeepError
from medledger.indexer.store import Store, open_store
from medledger.ledger.services import SERVICES_CONTRACT

if TYPE_CHECKING:
    from medledger.indexer.queries import Disclosure, HistoryEntry, RecordEntry
    from medledger.indexer.storage_audits import RegisteredRecord, StorageAuditRow

DEFAULT_BATCH_SIZE = 2_000
DEFAULT_MAX_REORG_DEPTH = 64
_BLOCK_BATCH = 200
_MAX_RETRIES = 5


def _ships(name: str) -> bool:
    """Whether a contract of that name ships with this package (and so has an ABI to decode with)."""
    try:
        load_artifact(name)
    except FileNotFoundError:
        return False
    return True


class _ChainMoved(MedLedgerError):
    """The chain changed while a range was being read; retry after a reorg check."""


@dataclass(frozen=True)
class SyncReport:
    """What one `sync()` did."""

    from_block: int  # first block synced (cursor + 1 at the start, after any rollback)
    to_block: int  # the cursor afterwards: last synced block
    ranges: int  # committed ranges (transactions)
    events: int  # events written
    rolled_back_from: int | None = None  # fork point of a reorg that was undone, if any
    orphaned_events: int = 0  # events deleted by that rollback


class Indexer:
    """One database bound to one deployed MedLedger contract.

    >>> indexer = Indexer.from_deployment(chain, deployment, "medledger-index.sqlite")
    >>> indexer.sync()
    >>> indexer.history(patient)
    """

    def __init__(
        self,
        chain: Chain,
        address: str,
        store: Store,
        *,
        deployment_block: int,
        batch_size: int = DEFAULT_BATCH_SIZE,
        confirmations: int = 0,
        max_reorg_depth: int = DEFAULT_MAX_REORG_DEPTH,
        modules: Mapping[str, tuple[str, int]] | None = None,
    ):
        """`modules`: name -> (address, deployment block) of module contracts to index beside the ledger."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if confirmations < 0 or max_reorg_depth < 0:
            raise ValueError("confirmations and max_reorg_depth cannot be negative")
        self.chain = chain
        self.address = to_checksum_address(address)
        self.store = store
        self.deployment_block = int(deployment_block)
        self.batch_size = batch_size
        self.confirmations = confirmations
        self.max_reorg_depth = max_reorg_depth
        abi = load_artifact(LEDGER_CONTRACT).abi
        contract = chain.w3.eth.contract(address=self.address, abi=abi)
        # The key-release service sets live in a module contract the ledger deployed (an immutable
        # of the ledger): its events are indexed beside the ledger's, keyed by emitting address.
        try:
            self.services_address = to_checksum_address(contract.functions.keyReleaseServices().call())
        except (BadFunctionCallOutput, ContractLogicError):
            raise IndexerChainMismatchError(
                f"{self.address} on chain {chain.chain_id} is not a MedLedger contract (no keyReleaseServices())"
            ) from None
        services_abi = load_artifact(SERVICES_CONTRACT).abi
        self.modules = {
            name: (to_checksum_address(address), int(block)) for name, (address, block) in (modules or {}).items()
        }
        emitters = [(self.address, abi), (self.services_address, services_abi)]
        emitters += [(address, load_artifact(name).abi) for name, (address, _) in self.modules.items()]
        self._addresses = [emitter for emitter, _ in emitters]
        self._decoder = LogDecoder(
            {
                (emitter.lower(), hexstr(event_abi_to_log_topic(cast(ABIEvent, item)))): item
                for emitter, emitter_abi in emitters
                for item in emitter_abi
                if item["type"] == "event" and not item.get("anonymous")
            }
        )
        self._bind()

    @classmethod
    def from_deployment(
        cls, chain: Chain, deployment: Deployment, database: str | Path | Store, **options: Any
    ) -> Indexer:
        """An indexer for `deployment`'s MedLedger contract, on a database path/URL or an open store."""
        chain.require_chain_id(deployment.chain_id)
        store = open_store(database) if isinstance(database, (str, Path)) else database
        entry = deployment.contracts[LEDGER_CONTRACT]
        modules = {
            name: (module.address, module.block)
            for name, module in deployment.contracts.items()
            if name != LEDGER_CONTRACT and _ships(name)
        }
        options.setdefault("modules", modules)
        try:
            return cls(chain, entry.address, store, deployment_block=entry.block, **options)
        except BaseException:
            if isinstance(database, (str, Path)):
                store.close()
            raise

    # -- binding --------------------------------------------------------------------------
    def _meta(self) -> dict[str, str]:
        return dict(self.store.query("SELECT key, value FROM meta"))

    def _bind(self) -> None:
        deployment_hash = self._block_hash(self.deployment_block)
        if deployment_hash is None:
            raise IndexerChainMismatchError(
                f"{self.chain.endpoint} (chain {self.chain.chain_id}) has no block {self.deployment_block}: "
                "this is not the chain the contract was deployed on"
            )
        expected = {
            "chain_id": str(self.chain.chain_id),
            "contract": self.address,
            "deployment_block": str(self.deployment_block),
            "deployment_block_hash": deployment_hash,
        }
        with self.store.transaction():
            meta = self._meta()
            if "chain_id" not in meta:
                rows = {
                    **expected,
                    "schema_version": schema.SCHEMA_VERSION,
                    "last_block": str(self.deployment_block - 1),
                    **{f"module:{name}": address for name, (address, _) in self.modules.items()},
                }
                self.store.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", rows.items())
                return
        for key, value in expected.items():
            if meta.get(key, "").lower() != value.lower():
                raise IndexerChainMismatchError(
                    f"this database indexes chain {meta.get('chain_id')} contract {meta.get('contract')} "
                    f"deployed at block {meta.get('deployment_block')}; it cannot index chain {expected['chain_id']} "
                    f"contract {self.address} deployed at block {self.deployment_block} ({key} differs). "
                    "Use another database."
                )
        version = meta.get("schema_version")
        while version in schema.MIGRATIONS and version != schema.SCHEMA_VERSION:
            version = self._migrate(version)
        if version != schema.SCHEMA_VERSION:
            raise IndexerError(
                f"database schema version {meta.get('schema_version')} is not "
                f"{schema.SCHEMA_VERSION}; rebuild the index in a new database"
            )

    def _migrate(self, version: str) -> str:
        """Bring the database from `version` to the next, in one transaction; the new version."""
        target = str(int(version) + 1)
        with self.store.transaction():
            for statement in schema.MIGRATIONS[version]:
                self.store.execute(statement)
            self.store.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (target,))
        return target

    # -- state ----------------------------------------------------------------------------
    @property
    def cursor(self) -> int:
        """The last synced block (deployment block - 1 before the first sync)."""
        return int(self._meta()["last_block"])

    def event_count(self) -> int:
        return int(self.store.query("SELECT COUNT(*) FROM events")[0][0])

    def stored_blocks(self) -> list[tuple[int, str]]:
        """(number, hash) of the blocks kept for reorg detection, newest first."""
        return [(int(n), h) for n, h in self.store.query("SELECT number, hash FROM blocks ORDER BY number DESC")]

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Indexer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- chain access ---------------------------------------------------------------------
    def _block(self, number: int, *, full: bool = False) -> Any | None:
        try:
            return self.chain.w3.eth.get_block(number, full_transactions=full)
        except BlockNotFound:
            return None

    def _logs(self, start: int, end: int, addresses: list[str] | None = None) -> list[dict[str, Any]]:
        """The range's logs of the indexed contracts (or of `addresses`). Over RPC they are read raw
        (hex fields), skipping web3's per-field result formatters, which cost more than everything
        else per event."""
        query = {"address": addresses or self._addresses, "fromBlock": start, "toBlock": end}
        if self.chain.is_embedded:
            return [dict(log) for log in self.chain.w3.eth.get_logs(cast(Any, query))]
        response = self.chain.w3.provider.make_request(
            RPCEndpoint("eth_getLogs"), [{**query, "fromBlock": hex(start), "toBlock": hex(end)}]
        )
        if "error" in response:
            raise IndexerError(f"the node refused eth_getLogs for blocks {start}..{end}: {response['error']}")
        return [
            {
                **log,
                "blockNumber": int(log["blockNumber"], 16),
                "logIndex": int(log["logIndex"], 16),
                "address": checksum(log["address"]),
            }
            for log in response["result"]
            if not log.get("removed")
        ]

    def _blocks(self, numbers: list[int], *, full: set[int]) -> dict[int, Any]:
        """Blocks by number ({hash, timestamp, transactions}), read raw in JSON-RPC batches of 200
        (one round trip each instead of one per block, and none of web3's per-field formatting);
        transactions in full only for `full` (their senders are the events' actors)."""
        if self.chain.is_embedded:
            found = {number: self._block(number, full=number in full) for number in numbers}
            if any(block is None for block in found.values()):
                raise _ChainMoved()
            return found
        found = {}
        provider = cast(Any, self.chain.w3.provider)
        for start in range(0, len(numbers), _BLOCK_BATCH):
            chunk = numbers[start : start + _BLOCK_BATCH]
            answers = provider.make_batch_request(
                [(RPCEndpoint("eth_getBlockByNumber"), [hex(number), number in full]) for number in chunk]
            )
            if not isinstance(answers, list):
                raise IndexerError(f"the node refused a batch of block reads: {str(answers)[:200]}")
            for answer in answers:
                block = answer.get("result")
                if block is None:  # not there (any more): the chain moved under us
                    raise _ChainMoved()
                number = int(block["number"], 16)
                found[number] = {
                    "hash": block["hash"],
                    "timestamp": int(block["timestamp"], 16),
                    "transactions": block["transactions"] if number in full else [],
                }
        if set(found) != set(numbers):
            raise _ChainMoved()
        return found

    def _block_hash(self, number: int) -> str | None:
        block = self._block(number)
        return hexstr(block["hash"]) if block is not None else None

    # -- reorgs ---------------------------------------------------------------------------
    def find_fork(self) -> int | None:
        """The first block whose stored hash is no longer on the chain, None if all agree."""
        stored = self.stored_blocks()
        if not stored:
            return None
        newest, newest_hash = stored[0]
        if self._block_hash(newest) == newest_hash:
            return None
        for number, stored_hash in stored[1:]:
            if self._block_hash(number) == stored_hash:
                return number + 1
        oldest = stored[-1][0]
        raise ReorgTooDeepError(
            f"the chain no longer contains any of the last {len(stored)} indexed blocks "
            f"({oldest}..{newest}): the reorg is deeper than max_reorg_depth={self.max_reorg_depth}. "
            "Rebuild the index in a new database, or raise max_reorg_depth."
        )

    def rollback(self, fork: int) -> int:
        """Delete every row of blocks >= `fork` and move the cursor to fork - 1; events deleted."""
        with self.store.transaction():
            orphaned = int(self.store.query("SELECT COUNT(*) FROM events WHERE block_number >= ?", (fork,))[0][0])
            for table in schema.EVENT_TABLES:
                self.store.execute(f"DELETE FROM {table} WHERE block_number >= ?", (fork,))
            self.store.execute("DELETE FROM blocks WHERE number >= ?", (fork,))
            self.store.execute("UPDATE meta SET value = ? WHERE key = 'last_block'", (str(min(self.cursor, fork - 1)),))
        return orphaned

    # -- sync -----------------------------------------------------------------------------
    def sync(self, *, to_block: int | None = None) -> SyncReport:
        """Bring the database up to `head - confirmations` (or `to_block`, if lower)."""
        fork = self.find_fork()
        orphaned = self.rollback(fork) if fork is not None else 0
        backfilled = self._backfill_new_modules()
        start = self.cursor + 1
        ranges = events = 0
        retries = 0
        while True:
            target = self.chain.w3.eth.block_number - self.confirmations
            if to_block is not None:
                target = min(target, to_block)
            cursor = self.cursor
            if cursor >= target:
                break
            end = min(cursor + self.batch_size, target)
            try:
                events += self._sync_range(cursor + 1, end)
                ranges += 1
            except _ChainMoved:
                retries += 1
                if retries > _MAX_RETRIES:
                    raise IndexerError("the chain kept reorganising while syncing; try again later") from None
                new_fork = self.find_fork()
                if new_fork is not None:
                    orphaned += self.rollback(new_fork)
                    fork = new_fork if fork is None else min(fork, new_fork)
        return SyncReport(start, self.cursor, ranges, events + backfilled, fork, orphaned)

    def _backfill_new_modules(self) -> int:
        """Index the past events of modules this database has not indexed yet (deployed beside the
        ledger after it was created): from each one's deployment block to the cursor, then mark it."""
        meta = self._meta()
        events = 0
        for name, (address, block) in self.modules.items():
            if meta.get(f"module:{name}", "").lower() == address.lower():
                continue
            cursor = self.cursor
            for _ in range(_MAX_RETRIES):
                try:
                    events += self._sync_range(max(block, self.deployment_block), cursor, only=address, mark=name)
                    break
                except _ChainMoved:
                    fork = self.find_fork()
                    if fork is not None:
                        self.rollback(fork)
                    cursor = self.cursor
            else:
                raise IndexerError("the chain kept reorganising while indexing a new module; try again later")
        return events

    def _sync_range(self, start: int, end: int, *, only: str | None = None, mark: str | None = None) -> int:
        """Index blocks start..end and move the cursor to `end`; with `only`, index that one
        contract's events in those (already synced) blocks and record module `mark` instead."""
        logs = self._logs(start, end, [only] if only else None) if start <= end else []
        log_blocks = {int(log["blockNumber"]) for log in logs}
        keep_from = max(start, end - self.max_reorg_depth) if only is None else end + 1
        headers = self._blocks(sorted(log_blocks | set(range(keep_from, end + 1))), full=log_blocks)
        senders = {hexstr(tx["hash"]): tx["from"] for number in log_blocks for tx in headers[number]["transactions"]}
        rows = []
        for log in sorted(logs, key=lambda item: (int(item["blockNumber"]), int(item["logIndex"]))):
            number = int(log["blockNumber"])
            if hexstr(log["blockHash"]) != hexstr(headers[number]["hash"]):
                raise _ChainMoved()
            rows.append(self._rows(log, headers[number], senders))
        typed_rows: dict[str, list[tuple[Any, ...]]] = {}  # INSERT statement -> its rows
        for event_row, typed in rows:
            if typed is not None:
                columns = ["block_number", "log_index", *typed.columns]
                statement = f"INSERT INTO {typed.table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                typed_rows.setdefault(statement, []).append((event_row[0], event_row[1], *typed.columns.values()))
        with self.store.transaction():
            self.store.executemany(
                "INSERT INTO events (block_number, log_index, block_hash, block_timestamp, tx_hash, tx_sender, "
                "event, patient, actor, args) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [event_row for event_row, _ in rows],
            )
            for statement, values in typed_rows.items():
                self.store.executemany(statement, values)
            if only is not None:
                self.store.execute("DELETE FROM meta WHERE key = ?", (f"module:{mark}",))
                self.store.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"module:{mark}", only))
                return len(rows)
            self.store.executemany(
                "INSERT INTO blocks (number, hash, timestamp) VALUES (?, ?, ?)",
                [
                    (number, hexstr(headers[number]["hash"]), int(headers[number]["timestamp"]))
                    for number in range(keep_from, end + 1)
                ],
            )
            self.store.execute("DELETE FROM blocks WHERE number < ?", (end - self.max_reorg_depth,))
            self.store.execute("UPDATE meta SET value = ? WHERE key = 'last_block'", (str(end),))
        return len(rows)

    def _rows(self, log: Any, header: Any, senders: dict[str, str]) -> tuple[tuple[Any, ...], Any]:
        topic = hexstr(log["topics"][0]) if log["topics"] else ""
        tx_hash = hexstr(log["transactionHash"])
        sender = senders.get(tx_hash)
        sender = checksum(sender) if sender else None
        known = bool(topic) and self._decoder.known(str(log["address"]), topic)
        if not known:  # not in the ABI: keep it raw rather than lose it
            name, args = "UnknownEvent", {"topics": [hexstr(t) for t in log["topics"]], "data": hexstr(log["data"])}
        else:
            name, args = self._decoder.decode(str(log["address"]), log["topics"], log["data"])
        row = (
            int(log["blockNumber"]),
            int(log["logIndex"]),
            hexstr(log["blockHash"]),
            int(header["timestamp"]),
            tx_hash,
            sender,
            name,
            args.get("patient"),
            actor_of(name, args, sender),
            args_json(args),
        )
        return row, (typed_row(name, args) if known else None)

    # -- queries --------------------------------------------------------------------------
    def history(self, patient: str, **options: Any) -> list[HistoryEntry]:
        from medledger.indexer.queries import history

        return history(self.store, patient, **options)

    def service_history(self, **options: Any) -> list[HistoryEntry]:
        """The key-release service sets' events (proposed, cancelled, endpoints), in chain order."""
        from medledger.indexer.queries import service_history

        return service_history(self.store, **options)

    def disclosures(self, patient: str, since: Any = None, until: Any = None) -> list[Disclosure]:
        from medledger.indexer.queries import disclosures

        return disclosures(self.store, patient, since, until)

    def records_added(self, patient: str) -> list[RecordEntry]:
        """The patient's record pointers in the order they were added (state from the contract)."""
        from medledger.indexer.queries import records_added

        return records_added(self.store, patient)

    def grantees(self, patient: str) -> list[str]:
        """Everyone the patient (or a guardian) ever granted consent to, first grant first."""
        from medledger.indexer.queries import counterparties

        return counterparties(self.store, patient, of="grantees")

    def guardians(self, patient: str) -> list[str]:
        """Everyone ever appointed guardian of the patient, first appointment first."""
        from medledger.indexer.queries import counterparties

        return counterparties(self.store, patient, of="guardians")

    # -- storage audits ---------------------------------------------------------------------
    def registered_records(self, *, after: tuple[int, int] | None = None, limit: int = 1000) -> list[RegisteredRecord]:
        """Registered records in chain order, from just after (block, log index) `after`."""
        from medledger.indexer.storage_audits import registered_records

        return registered_records(self.store, after=after, limit=limit)

    def record_count(self) -> int:
        from medledger.indexer.storage_audits import record_count

        return record_count(self.store)

    def save_storage_audit(
        self, row: StorageAuditRow, *, checkpoint: tuple[str, tuple[int, int]] | None = None
    ) -> None:
        """Keep `row` as its record's last audit and, in the same transaction, the run checkpoint."""
        from medledger.indexer.storage_audits import save_audit

        save_audit(self.store, row, checkpoint=checkpoint)

    def storage_audits(self, *, since: int = 0) -> list[StorageAuditRow]:
        from medledger.indexer.storage_audits import audits

        return audits(self.store, since=since)

    def storage_checkpoint(self, run: str) -> tuple[int, int] | None:
        from medledger.indexer.storage_audits import checkpoint

        return checkpoint(self.store, run)

    def set_storage_checkpoint(self, run: str, position: tuple[int, int] | None, started: int | None = None) -> None:
        from medledger.indexer.storage_audits import set_checkpoint

        set_checkpoint(self.store, run, position, started)

    def storage_run_started(self, run: str) -> int | None:
        from medledger.indexer.storage_audits import run_started

        return run_started(self.store, run)

    def iter_events(self) -> Iterator[tuple[int, int, str, dict[str, Any]]]:
        """(block, log index, event, args) of every indexed event, in chain order."""
        for block, index, name, args in self.store.query(
            "SELECT block_number, log_index, event, args FROM events ORDER BY block_number, log_index"
        ):
            yield int(block), int(index), name, json.loads(args)
