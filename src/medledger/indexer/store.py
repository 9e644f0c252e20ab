"""Where indexed events live: one small interface, two engines (SQLite file, PostgreSQL URL).

SQL is written once with `?` placeholders; the PostgreSQL store rewrites them to `%s`. Every
write happens inside `transaction()`: SQLite takes the write lock up front (`BEGIN IMMEDIATE`),
PostgreSQL runs a normal transaction; either way a failure inside rolls everything back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, Self

from medledger.indexer import schema
from medledger.indexer.errors import StoreError

Row = tuple[Any, ...]


class Store(Protocol):
    """What the indexer needs from a database."""

    dialect: str

    def transaction(self) -> Any:
        """A context manager: commit on success, roll back on any exception."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def close(self) -> None: ...


class _SqlStore:
    """What both engines share; each defines the primitives below."""

    dialect = "sql"

    def transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def create_schema(self) -> None:
        with self.transaction():
            for statement in schema.STATEMENTS:
                self.execute(statement)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SQLiteStore(_SqlStore):
    """An embedded database in one file (or ":memory:")."""

    dialect = "sqlite"

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; transaction() opens them explicitly.
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._depth = 0
        self.create_schema()

    @contextmanager
    def transaction(self) -> Iterator[SQLiteStore]:
        if self._depth:  # nested: part of the enclosing transaction
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")
        finally:
            self._depth = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(sql, [tuple(row) for row in rows])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [tuple(row) for row in self._conn.execute(sql, tuple(params)).fetchall()]

    def close(self) -> None:
        self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"


class PostgresStore(_SqlStore):
    """A PostgreSQL database by URL (`postgresql://user@host:port/db`), through psycopg 3."""

    dialect = "postgresql"

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - psycopg is a declared dependency
            raise StoreError("PostgreSQL needs psycopg 3: pip install 'psycopg[binary]'") from exc
        self.url = url
        try:
            self._conn = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {_redact(url)}: {exc}") from exc
        self.create_schema()

    @contextmanager
    def transaction(self) -> Iterator[PostgresStore]:
        with self._conn.transaction():
            yield self

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(row) for row in rows]
        if rows:
            with self._conn.cursor() as cursor:
                cursor.executemany(self._sql(sql), rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._conn.cursor() as cursor:
            cursor.execute(self._sql(sql), tuple(params))
            return [tuple(row) for row in cursor.fetchall()]

    def close(self) -> None:
        self._conn.close()

    def __repr__(self) -> str:
        return f"PostgresStore({_redact(self.url)!r})"


def _redact(url: str) -> str:
    """The URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def open_store(database: str | Path) -> SQLiteStore | PostgresStore:
    """`postgresql://...` (or `postgres://...`) opens PostgreSQL; anything else is a SQLite file path."""
    text = str(database)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresStore(text)
    if "://" in text and not text.startswith("sqlite://"):
        raise StoreError(f"unsupported database URL {text!r}: use a file path or postgresql://...")
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    return SQLiteStore(text)
