"""Indexer fixtures: every test runs against SQLite and against a real PostgreSQL server."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator

import pytest

from medledger.devnet.postgres import PostgresError, PostgresServer
from medledger.indexer import Indexer, open_store

_names = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (Debian's `postgresql` binaries), stopped by pid."""
    try:
        server = PostgresServer().start()
    except PostgresError as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh, empty database: a SQLite file path or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "index.sqlite")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"index_{next(_names)}")


@pytest.fixture
def make_indexer(world, database) -> Iterator[Callable[..., Indexer]]:
    """Indexer factory on the test's database (each call opens a new connection, as a restart would)."""
    opened: list[Indexer] = []

    def make(**options) -> Indexer:
        options.setdefault("confirmations", 0)
        indexer = Indexer.from_deployment(world.chain, world.deployment, open_store(database), **options)
        opened.append(indexer)
        return indexer

    yield make
    for indexer in opened:
        with contextlib.suppress(Exception):  # teardown: a close failure must not hide the test's result
            indexer.close()
