"""The indexer's schema: one set of portable SQL statements for SQLite and PostgreSQL.

Portable means: only TEXT, INTEGER and BIGINT columns, `?` placeholders (rewritten to `%s` for
psycopg), no AUTOINCREMENT/SERIAL, no upserts beyond what both engines share. uint64 bit masks
do not fit a signed 64-bit integer, so they are stored as decimal TEXT; addresses are EIP-55
checksummed TEXT, byte strings are 0x-prefixed lowercase hex.

Every event table is keyed by (block_number, log_index), so that rolling back a reorg is one
`DELETE ... WHERE block_number >= ?` per table.
"""

from __future__ import annotations

# 2: no envelopes, keyrings or emergency key releases (issue 9); key-release service-set events.
# A database of version 1 is refused on open ("rebuild the index in a new database"): nothing is
# migrated in place, the chain is the source and a new index is one `medledger index sync` away.
# 3: `storage_audits`, the last storage audit of each record (issue 14). A version 2 database is
# migrated in place on open: the new table is created and the version moved to 3 (MIGRATIONS).
SCHEMA_VERSION = "3"
# From-version -> statements that bring a database to the next version (run in one transaction
# with the version update; every statement is idempotent).
MIGRATIONS: dict[str, tuple[str, ...]] = {}

META = """CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
)"""

# Recent synced blocks (the last `max_reorg_depth + 1`), for reorg detection.
BLOCKS = """CREATE TABLE IF NOT EXISTS blocks (
    number BIGINT PRIMARY KEY,
    hash TEXT NOT NULL,
    timestamp BIGINT NOT NULL
)"""

# Every event of the contract, decoded; args holds every argument as JSON.
EVENTS = """CREATE TABLE IF NOT EXISTS events (
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL,
    block_hash TEXT NOT NULL,
    block_timestamp BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    tx_sender TEXT,
    event TEXT NOT NULL,
    patient TEXT,
    actor TEXT,
    args TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
)"""

CONSENT_CHANGES = """CREATE TABLE IF NOT EXISTS consent_changes (
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL,
    action TEXT NOT NULL,
    patient TEXT NOT NULL,
    grantee TEXT NOT NULL,
    categories TEXT,
    purposes INTEGER,
    permissions INTEGER,
    expiry BIGINT,
    PRIMARY KEY (block_number, log_index)
)"""

RECORD_CHANGES = """CREATE TABLE IF NOT EXISTS record_changes (
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL,
    action TEXT NOT NULL,
    patient TEXT NOT NULL,
    digest TEXT NOT NULL,
    author TEXT,
    codec INTEGER,
    category INTEGER,
    supersedes TEXT,
    PRIMARY KEY (block_number, log_index)
)"""

ACCESS_LOGS = """CREATE TABLE IF NOT EXISTS access_logs (
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL,
    patient TEXT NOT NULL,
    digest TEXT NOT NULL,
    accessor TEXT NOT NULL,
    purpose INTEGER NOT NULL,
    PRIMARY KEY (block_number, log_index)
)"""

GUARDIAN_CHANGES = """CREATE TABLE IF NOT EXISTS guardian_changes (
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL,
    action TEXT NOT NULL,
    patient TEXT NOT NULL,
    guardian TEXT NOT NULL,
    until_time BIGINT,
    can_appoint INTEGER,
    changed_by TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
)"""

EMERGENCY_EVENTS = """CREATE TABLE IF NOT EXISTS emergency_events (
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL,
    action TEXT NOT NULL,
    patient TEXT NOT NULL,
    provider TEXT,
    reason INTEGER,
    until_time BIGINT,
    closed_by TEXT,
    opted_out INTEGER,
    categories TEXT,
    PRIMARY KEY (block_number, log_index)
)"""

PROVIDER_CHANGES = """CREATE TABLE IF NOT EXISTS provider_changes (
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL,
    action TEXT NOT NULL,
    account TEXT NOT NULL,
    kind INTEGER,
    role TEXT,
    changed_by TEXT,
    PRIMARY KEY (block_number, log_index)
)"""

KEY_CHANGES = """CREATE TABLE IF NOT EXISTS key_changes (
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL,
    action TEXT NOT NULL,
    account TEXT NOT NULL,
    public_key TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
)"""

# The key-release service sets (the ledger's KeyReleaseServices module, its own contract):
# proposals (members as a JSON list), cancellations and the endpoints services publish.
SERVICE_CHANGES = """CREATE TABLE IF NOT EXISTS service_changes (
    block_number BIGINT NOT NULL,
    log_index INTEGER NOT NULL,
    action TEXT NOT NULL,
    version BIGINT,
    service TEXT,
    members TEXT,
    threshold INTEGER,
    activates_at BIGINT,
    url TEXT,
    PRIMARY KEY (block_number, log_index)
)"""

# The last storage audit of each registered record (not an event table: a reorg does not touch
# it). `stores` is JSON: [{"store", "state", "detail"}] per configured store at the time.
STORAGE_AUDITS = """CREATE TABLE IF NOT EXISTS storage_audits (
    patient TEXT NOT NULL,
    digest TEXT NOT NULL,
    cid TEXT NOT NULL,
    audited_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    copies INTEGER NOT NULL,
    required INTEGER NOT NULL,
    stores TEXT NOT NULL,
    PRIMARY KEY (patient, digest)
)"""

MIGRATIONS["2"] = (STORAGE_AUDITS,)

INDEXES = (
    "CREATE INDEX IF NOT EXISTS events_patient ON events (patient, block_number, log_index)",
    "CREATE INDEX IF NOT EXISTS consent_patient ON consent_changes (patient, grantee)",
    "CREATE INDEX IF NOT EXISTS record_patient ON record_changes (patient, digest)",
    "CREATE INDEX IF NOT EXISTS access_patient ON access_logs (patient, block_number)",
    "CREATE INDEX IF NOT EXISTS emergency_patient ON emergency_events (patient, block_number)",
)

EVENT_TABLES = (
    "events",
    "consent_changes",
    "record_changes",
    "access_logs",
    "guardian_changes",
    "emergency_events",
    "provider_changes",
    "key_changes",
    "service_changes",
)

STATEMENTS = (
    META,
    BLOCKS,
    EVENTS,
    CONSENT_CHANGES,
    RECORD_CHANGES,
    ACCESS_LOGS,
    GUARDIAN_CHANGES,
    EMERGENCY_EVENTS,
    PROVIDER_CHANGES,
    KEY_CHANGES,
    SERVICE_CHANGES,
    STORAGE_AUDITS,
    *INDEXES,
)
