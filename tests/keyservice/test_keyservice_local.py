"""The service's local parts: its configuration file, its append-only release log, its rate limiter."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from medledger.keyservice.config import load_config
from medledger.keyservice.errors import ConfigError
from medledger.keyservice.ratelimit import RateLimiter
from medledger.keyservice.releaselog import ReleaseLog

LEDGER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TX = bytes(range(32))
DIGEST = bytes(range(32, 64))
READER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
COMMITMENT = bytes(range(64, 96))


def write_config(path: Path, extra: str = "", account: str = 'private_key_env = "SERVICE_KEY"') -> Path:
    path.write_text(f"""
[chain]
rpc_url = "http://127.0.0.1:8545"
ledger = "{LEDGER}"
chain_id = 31337
confirmations = 2
[account]
{account}
[server]
port = 8801
[log]
database = "log/releases.sqlite"
{extra}
""")
    return path


# -- configuration ------------------------------------------------------------------------------


def test_a_config_file_is_read_with_paths_relative_to_it(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "service.toml"))
    assert config.ledger == LEDGER and config.chain_id == 31337 and config.confirmations == 2
    assert config.database == tmp_path / "log" / "releases.sqlite"
    assert config.url == "http://127.0.0.1:8801"
    assert config.max_request_lifetime == 120  # a default


def test_a_config_missing_a_required_key_names_it(tmp_path: Path) -> None:
    path = tmp_path / "service.toml"
    path.write_text('[chain]\nrpc_url = "http://127.0.0.1:8545"\n[account]\nprivate_key_env = "K"\n')
    with pytest.raises(ConfigError, match="missing ledger, chain_id, database"):
        load_config(path)


def test_an_unknown_key_is_refused_rather_than_ignored(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key max_age in \\[policy\\]"):
        load_config(write_config(tmp_path / "service.toml", "[policy]\nmax_age = 5\n"))


def test_a_config_needs_exactly_one_source_for_the_service_key(tmp_path: Path) -> None:
    both = 'private_key_env = "K"\nkeystore = "k.json"'
    with pytest.raises(ConfigError, match="exactly one of keystore or private_key_env"):
        load_config(write_config(tmp_path / "service.toml", account=both))


def test_a_missing_key_variable_is_named_without_a_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVICE_KEY", raising=False)
    config = load_config(write_config(tmp_path / "service.toml"))
    with pytest.raises(ConfigError, match="SERVICE_KEY is not set"):
        config.signer()


def test_a_missing_config_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml")


# -- release log ---------------------------------------------------------------------------------


def test_a_triple_is_claimed_once_and_the_claim_survives_a_restart(tmp_path: Path) -> None:
    log = ReleaseLog(tmp_path / "releases.sqlite")
    assert log.claim(TX, DIGEST, READER)
    assert not log.claim(TX, DIGEST, READER)
    log.close()
    reopened = ReleaseLog(tmp_path / "releases.sqlite")
    assert reopened.was_claimed(TX, DIGEST, READER)
    assert not reopened.claim(TX, DIGEST, READER)
    assert reopened.claim(TX, DIGEST, "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")  # another reader


def test_entries_keep_what_was_decided_and_survive_a_restart(tmp_path: Path) -> None:
    log = ReleaseLog(tmp_path / "releases.sqlite")
    log.append(reader=READER, patient=LEDGER, digest=DIGEST, purpose=0, access_tx=TX, set_version=1, outcome="released")
    log.append(
        reader=READER, patient=LEDGER, digest=DIGEST, purpose=4, access_tx=TX, set_version=None, outcome="no-access"
    )
    log.close()
    entries = ReleaseLog(tmp_path / "releases.sqlite").entries()
    assert [(e.outcome, e.purpose, e.set_version) for e in entries] == [("released", 0, 1), ("no-access", 4, None)]
    assert entries[0].digest == DIGEST and entries[0].access_tx == TX


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE releases SET outcome = 'released'",
        "DELETE FROM releases",
        "DELETE FROM claims",
        "UPDATE claims SET reader = 'x'",
        "DELETE FROM headers",
        "UPDATE headers SET created_at = 0",
    ],
)
def test_the_log_refuses_updates_and_deletes(tmp_path: Path, statement: str) -> None:
    log = ReleaseLog(tmp_path / "releases.sqlite")
    log.append(
        reader=READER, patient=LEDGER, digest=DIGEST, purpose=0, access_tx=TX, set_version=1, outcome="no-access"
    )
    log.claim(TX, DIGEST, READER)
    log.bind_header(COMMITMENT, LEDGER, DIGEST, 100)
    log.close()
    db = sqlite3.connect(tmp_path / "releases.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute(statement)


def test_the_log_has_no_column_for_a_share_or_a_key(tmp_path: Path) -> None:
    ReleaseLog(tmp_path / "releases.sqlite").close()
    db = sqlite3.connect(tmp_path / "releases.sqlite")
    columns = {
        row[1] for table in ("releases", "claims", "headers") for row in db.execute(f"PRAGMA table_info({table})")
    }
    assert columns == {
        *("id", "time", "reader", "patient", "digest", "purpose", "access_tx", "set_version", "outcome"),
        *("key_commitment", "created_at"),
    }


DECOY = bytes(32 * [0xDE])


def test_the_first_record_seen_with_a_key_commitment_owns_it(tmp_path: Path) -> None:
    log = ReleaseLog(tmp_path / "releases.sqlite")
    assert log.bind_header(COMMITMENT, LEDGER, DIGEST, 100) is None
    assert log.bind_header(COMMITMENT, LEDGER, DIGEST, 100) is None  # the same record again
    assert log.bind_header(COMMITMENT, LEDGER, DECOY, 160) == DIGEST


def test_an_older_record_takes_a_commitment_from_a_decoy_seen_first_for_good(tmp_path: Path) -> None:
    log = ReleaseLog(tmp_path / "releases.sqlite")
    assert log.bind_header(COMMITMENT, LEDGER, DECOY, 160) is None
    assert log.bind_header(COMMITMENT, LEDGER, DIGEST, 100) is None
    log.close()
    reopened = ReleaseLog(tmp_path / "releases.sqlite")
    assert reopened.bind_header(COMMITMENT, LEDGER, DECOY, 160) == DIGEST
    assert reopened.bind_header(COMMITMENT, LEDGER, DIGEST, 100) is None


def test_two_records_registered_in_the_same_second_with_one_commitment_are_both_refused(tmp_path: Path) -> None:
    log = ReleaseLog(tmp_path / "releases.sqlite")
    assert log.bind_header(COMMITMENT, LEDGER, DIGEST, 100) is None
    assert log.bind_header(COMMITMENT, LEDGER, DECOY, 100) == DIGEST
    assert log.bind_header(COMMITMENT, LEDGER, DIGEST, 100) == DECOY


def test_a_fresh_log_is_writable(tmp_path: Path) -> None:
    assert ReleaseLog(tmp_path / "releases.sqlite").writable()


# -- rate limiter --------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_reader_gets_a_burst_then_is_limited() -> None:
    limiter = RateLimiter(rate=2.0, burst=3, clock=FakeClock())
    assert [limiter.allow("reader") for _ in range(4)] == [True, True, True, False]


def test_tokens_come_back_at_the_configured_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.allow("reader")
    clock.now += 0.5  # one token at 2 per second
    assert limiter.allow("reader")
    assert not limiter.allow("reader")


def test_one_readers_limit_does_not_touch_another_reader() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=FakeClock())
    assert limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b")


# -- a chain that does not answer ----------------------------------------------------------------


def unreachable_service(tmp_path: Path):  # type: ignore[no-untyped-def]
    from medledger.chain.accounts import anvil_account
    from medledger.devnet.ports import free_loopback_port
    from medledger.keyservice.config import ServiceConfig
    from medledger.keyservice.service import ReleaseService

    config = ServiceConfig(
        rpc_url=f"http://127.0.0.1:{free_loopback_port()}",
        ledger=LEDGER,
        chain_id=31337,
        database=tmp_path / "releases.sqlite",
        private_key_env="UNUSED",
        chain_timeout=2.0,
    )
    return ReleaseService(config, signer=anvil_account(9))


def test_a_chain_that_does_not_answer_is_a_503_refusal_not_a_release(tmp_path: Path) -> None:
    import os

    from medledger.chain.accounts import anvil_account
    from medledger.keyservice.errors import ReleaseRefusedError
    from medledger.keyservice.requests import ReleaseDomain, ReleaseRequest, SignedRelease

    service = unreachable_service(tmp_path)
    reader = anvil_account(2)
    request = ReleaseRequest(service.address, anvil_account(3).address, DIGEST, 0, TX, os.urandom(32), 2**40)
    body = SignedRelease(request, request.sign(reader, ReleaseDomain(31337, LEDGER)), (b"x",)).to_json()
    with pytest.raises(ReleaseRefusedError) as refused:
        service.release(body)
    assert (refused.value.code, refused.value.status) == ("chain-unavailable", 503)
    assert [entry.outcome for entry in service.log.entries()] == ["chain-unavailable"]


def test_health_says_the_chain_is_unreachable(tmp_path: Path) -> None:
    health = unreachable_service(tmp_path).health()
    assert not health.ok and not health.chain and "unreachable" in health.detail
