"""The [storage] configuration: stores, the default replication factor, gateways, and
credentials that never show in a repr, a description or an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from medledger.devnet.ports import free_loopback_port
from medledger.storage import (
    KuboStore,
    LocalBlockStore,
    StorageConfigError,
    StorageUnavailableError,
    open_replicated,
    parse_storage_config,
)

TOKEN, PASSWORD = "tok-3f9a-secret", "pw-77c1-secret"


def parse(data: dict, **env: str):  # type: ignore[no-untyped-def]
    return parse_storage_config(data, home=Path("/home/m"), environ=env)


def kubo(name: str, **extra: object) -> dict:
    return {"name": name, "url": "http://127.0.0.1:5001", **extra}


def test_the_default_replication_is_1_with_one_store_and_2_with_more() -> None:
    assert parse({"stores": [kubo("a")]}).replication == 1
    assert parse({"stores": [kubo("a"), kubo("b")]}).replication == 2
    assert parse({"stores": [kubo("a"), kubo("b"), kubo("c")]}).replication == 2


def test_replication_above_the_number_of_stores_is_refused() -> None:
    with pytest.raises(StorageConfigError, match="replication is 3 but 2 store"):
        parse({"replication": 3, "stores": [kubo("a"), kubo("b")]})


def test_store_names_must_differ() -> None:
    with pytest.raises(StorageConfigError, match=r"repeated: \['a'\]"):
        parse({"stores": [kubo("a"), kubo("a")]})


def test_an_embedded_store_defaults_to_the_home_block_store() -> None:
    [spec] = parse({"stores": [{"name": "local", "kind": "embedded"}]}).stores
    assert spec.kind == "embedded" and spec.path == Path("/home/m/blocks")


def test_gateways_are_urls_or_tables() -> None:
    config = parse({"stores": [kubo("a")], "gateways": ["https://gw.example/", {"url": "https://other.example"}]})
    assert [g.url for g in config.gateways] == ["https://gw.example", "https://other.example"]


def test_a_bearer_token_from_the_environment_becomes_a_header_never_shown() -> None:
    config = parse({"stores": [kubo("a", bearer_token_env="TOKEN_VAR")]}, TOKEN_VAR=TOKEN)

    [spec] = config.stores
    assert spec.credentials.headers == {"Authorization": f"Bearer {TOKEN}"}
    assert TOKEN not in repr(config) and TOKEN not in str(config.describe())
    assert config.describe()["stores"][0]["credentials"] == ["bearer token"]


def test_basic_auth_in_the_url_is_taken_out_of_it() -> None:
    config = parse({"stores": [kubo("a", url=f"https://medledger:{PASSWORD}@ipfs.example:5001")]})

    [spec] = config.stores
    assert spec.url == "https://ipfs.example:5001"
    assert spec.credentials.basic == ("medledger", PASSWORD)
    assert PASSWORD not in repr(config) and PASSWORD not in str(config.describe())


def test_a_missing_credential_variable_is_named_without_a_value() -> None:
    with pytest.raises(StorageConfigError, match="environment variable PW_VAR \\(password\\) is not set"):
        parse({"stores": [kubo("a", username="u", password_env="PW_VAR")]})


def test_a_token_and_basic_auth_together_are_refused() -> None:
    with pytest.raises(StorageConfigError, match="not both"):
        parse({"stores": [kubo("a", bearer_token="t", username="u", password="p")]})


def test_an_unreachable_store_with_credentials_is_reported_without_them() -> None:
    url = f"http://medledger:{PASSWORD}@127.0.0.1:{free_loopback_port()}"
    store = KuboStore(url, retries=0, headers={"Authorization": f"Bearer {TOKEN}"})

    with pytest.raises(StorageUnavailableError) as failed:
        store.id()

    assert PASSWORD not in str(failed.value) and TOKEN not in str(failed.value)
    assert PASSWORD not in repr(store) and "medledger@" not in store.api_url


def test_open_replicated_builds_each_kind_of_store(tmp_path: Path) -> None:
    config = parse_storage_config(
        {"stores": [kubo("node"), {"name": "local", "kind": "embedded", "path": str(tmp_path / "b")}]}, home=tmp_path
    )

    with open_replicated(config) as store:
        assert store.names == ("node", "local") and store.replication == 2
        assert isinstance(store.members[0].store, KuboStore)
        assert isinstance(store.members[1].store, LocalBlockStore)
