"""Every bad input ends in ONE clear line on stderr, no traceback, a non-zero exit code, and
nothing sent to the chain (every dev account's nonce unchanged)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medledger.devnet.ports import free_loopback_port

from .conftest import ADMIN, CLINIC, PATIENT, STRANGER, Cli, address, assert_clear_failure

BAD_INPUT, REFUSED, UNREACHABLE = 2, 3, 4


def _grant(
    world: Cli,
    *extra: str,
    grantee: str | None = None,
    categories: str = "labs",
    purpose: str = "treatment",
    expires: str = "30d",
    yes: bool = True,
):
    args = [
        "consent",
        "grant",
        grantee or address(CLINIC),
        "--categories",
        categories,
        "--purpose",
        purpose,
        "--expires",
        expires,
        *(["--yes"] if yes else []),
        *extra,
    ]
    return world.invoke(*args, account=PATIENT)


@pytest.fixture
def unchanged(world: Cli):
    """Asserts after the test that no dev account sent a transaction during it."""
    before = world.nonces()
    yield world
    assert world.nonces() == before, "a transaction was sent"


def dead_url() -> str:
    return f"http://127.0.0.1:{free_loopback_port()}"


def test_an_unknown_category_exits_2_naming_it(unchanged: Cli) -> None:
    line = assert_clear_failure(_grant(unchanged, categories="labz"), BAD_INPUT)
    assert "labz" in line and "--categories" in line


def test_an_unknown_purpose_exits_2_naming_it(unchanged: Cli) -> None:
    line = assert_clear_failure(_grant(unchanged, purpose="curiosity"), BAD_INPUT)
    assert "curiosity" in line and "--purpose" in line


def test_an_unparseable_expiry_exits_2(unchanged: Cli) -> None:
    line = assert_clear_failure(_grant(unchanged, expires="next tuesday"), BAD_INPUT)
    assert "next tuesday" in line and "--expires" in line


def test_an_address_with_a_bad_checksum_exits_2(unchanged: Cli) -> None:
    good = address(CLINIC)
    at = next(i for i, char in enumerate(good) if i > 1 and char.isalpha())
    flipped = good[:at] + good[at].swapcase() + good[at + 1 :]
    assert flipped != good and flipped.lower() == good.lower()
    line = assert_clear_failure(_grant(unchanged, grantee=flipped), BAD_INPUT)
    assert "checksum" in line


def test_a_keystore_without_a_password_in_non_interactive_mode_exits_2(unchanged: Cli) -> None:
    created = json.loads(
        unchanged.ok(
            "account", "new", "--kdf", "pbkdf2", connect=False, as_json=True, env={"MEDLEDGER_PASSWORD": "secret"}
        ).stdout
    )
    result = unchanged.invoke("keys", "publish", "--keystore", created["keystore"])
    assert "MEDLEDGER_PASSWORD" in assert_clear_failure(result, BAD_INPUT)


def test_a_deployments_file_for_another_chain_exits_2(unchanged: Cli) -> None:
    path = unchanged.deployments / "31337.json"
    record = json.loads(path.read_text())
    record["chainId"] = 1
    path.write_text(json.dumps(record))
    for args, account in ((("deploy",), ADMIN), (("keys", "publish"), PATIENT)):
        line = assert_clear_failure(unchanged.invoke(*args, account=account), BAD_INPUT)
        assert "chain 1" in line


def test_an_rpc_url_that_does_not_answer_exits_4(unchanged: Cli) -> None:
    url = dead_url()
    result = unchanged.invoke(
        "consent",
        "grant",
        address(CLINIC),
        "--categories",
        "labs",
        "--purpose",
        "treatment",
        "--expires",
        "30d",
        "--yes",
        "--rpc-url",
        url,
        account=PATIENT,
        connect=False,
    )
    assert url in assert_clear_failure(result, UNREACHABLE)


def test_an_ipfs_api_that_does_not_answer_on_publish_exits_4(unchanged: Cli, lab_result: Path) -> None:
    url = dead_url()
    result = unchanged.invoke(
        "record",
        "publish",
        lab_result,
        "--patient",
        address(PATIENT),
        "--category",
        "labs",
        "--rpc-url",
        unchanged.anvil.rpc_url,
        "--deployments",
        unchanged.deployments,
        "--ipfs-api",
        url,
        "--dev-account",
        PATIENT,
        connect=False,
    )
    assert url in assert_clear_failure(result, UNREACHABLE)


def test_consent_grant_without_yes_and_without_a_terminal_exits_2(unchanged: Cli) -> None:
    line = assert_clear_failure(_grant(unchanged, yes=False), BAD_INPUT)
    assert line == "error: not confirmed: pass --yes to confirm without a prompt"


def test_consent_revoke_without_yes_and_without_a_terminal_exits_2(world: Cli) -> None:
    world.grant(address(CLINIC))
    before = world.nonces()
    result = world.invoke("consent", "revoke", address(CLINIC), account=PATIENT)
    assert "--yes" in assert_clear_failure(result, BAD_INPUT)
    assert world.nonces() == before


def test_fetching_an_unknown_record_exits_3(unchanged: Cli, tmp_path: Path) -> None:
    digest = "0x" + "ab" * 32
    result = unchanged.invoke(
        "record", "fetch", digest, "--patient", address(PATIENT), "--out", tmp_path / "x", account=CLINIC
    )
    assert "ab" * 32 in assert_clear_failure(result, REFUSED)
    assert not (tmp_path / "x").exists()


def test_granting_to_an_unregistered_account_exits_3_saying_it_is_not_a_provider(unchanged: Cli) -> None:
    line = assert_clear_failure(_grant(unchanged, grantee=address(STRANGER)), REFUSED)
    assert line == f"error: {address(STRANGER)} is not a registered provider"


def test_granting_to_an_unregistered_account_with_a_published_key_exits_3_saying_so(world: Cli) -> None:
    world.ok("keys", "publish", account=STRANGER)
    before = world.nonces()
    line = assert_clear_failure(_grant(world, grantee=address(STRANGER)), REFUSED)
    assert line == f"error: {address(STRANGER)} is not a registered provider"
    assert world.nonces() == before


def test_a_non_registrar_registering_a_provider_exits_3_and_sends_nothing(unchanged: Cli) -> None:
    result = unchanged.invoke("provider", "register", address(STRANGER), "--kind", "clinician", account=CLINIC)
    assert_clear_failure(result, REFUSED)
