"""An event indexer for MedLedger: every contract event in SQLite (a file) or PostgreSQL (a URL).

    indexer = Indexer.from_deployment(chain, deployment, "index.sqlite")   # or "postgresql://..."
    indexer.sync()                      # resumable, one transaction per block range, reorg tolerant
    indexer.history(patient)            # chronological entries, like flows.audit.patient_history
    indexer.disclosures(patient, since, until)   # HIPAA-style accounting of disclosures
    indexer.service_history()           # key-release service sets proposed, cancelled; endpoints

Schema: `meta` (binding to chain id, contract, deployment block and its hash; the cursor),
`blocks` (hashes of the last max_reorg_depth + 1 synced blocks), `events` (every event, args as
JSON) and typed tables `consent_changes`, `record_changes`, `access_logs`, `guardian_changes`,
`emergency_events`, `provider_changes`, `key_changes`, `service_changes` (the key-release service
sets, from the ledger's KeyReleaseServices module), all keyed by (block_number, log_index).
"""

from medledger.indexer.errors import (
    IndexerChainMismatchError,
    IndexerError,
    ReorgTooDeepError,
    StoreError,
)
from medledger.indexer.indexer import DEFAULT_BATCH_SIZE, DEFAULT_MAX_REORG_DEPTH, Indexer, SyncReport
from medledger.indexer.queries import Disclosure, HistoryEntry, disclosures, history, service_history
from medledger.indexer.store import PostgresStore, SQLiteStore, Store, open_store

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_REORG_DEPTH",
    "Disclosure",
    "HistoryEntry",
    "Indexer",
    "IndexerChainMismatchError",
    "IndexerError",
    "PostgresStore",
    "ReorgTooDeepError",
    "SQLiteStore",
    "Store",
    "StoreError",
    "SyncReport",
    "disclosures",
    "history",
    "open_store",
    "service_history",
]
