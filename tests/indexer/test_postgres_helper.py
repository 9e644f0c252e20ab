"""The PostgreSQL launcher explains what is missing."""

from __future__ import annotations

import pytest

from medledger.devnet import postgres
from medledger.devnet.postgres import PostgresError, find_postgres_bin


def test_missing_binaries_name_the_package_to_install(monkeypatch, tmp_path):
    monkeypatch.delenv("PG_BIN", raising=False)
    monkeypatch.setattr(postgres.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    with pytest.raises(PostgresError, match="apt-get install -y postgresql"):
        find_postgres_bin(tmp_path)


def test_the_server_runs_postgres_as_its_own_process_on_loopback(postgres_server):
    assert postgres_server.pid is not None and postgres_server.process.poll() is None
    assert postgres_server.url.startswith("postgresql://postgres@127.0.0.1:")
