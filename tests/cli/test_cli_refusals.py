"""A contract's refusal reaches the user as one plain sentence (exit 3); with `--json`, as one line
of JSON on stderr that keeps the custom error's name and arguments. `--json` works before or after
the subcommand. Every custom error in the shipped ABIs has a sentence."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources

import pytest

from medledger.cli.messages import has_sentence, refusal_sentence

from .conftest import ADMIN, CLINIC, LAB, PATIENT, REGISTRAR, STRANGER, Cli, address, assert_clear_failure

REFUSED = 3
PAUSER = 6


def _abi_errors() -> list[dict]:
    errors: dict[str, dict] = {}
    for artifact in resources.files("medledger.artifacts").iterdir():
        if artifact.name.endswith(".json"):
            for item in json.loads(artifact.read_text())["abi"]:
                if item.get("type") == "error":
                    errors[item["name"]] = item
    return sorted(errors.values(), key=lambda item: item["name"])


def _sample(abi_type: str) -> object:
    if abi_type == "address":
        return address(STRANGER)
    if abi_type.startswith("bytes"):
        return b"\x01" * 32
    return 1


@pytest.mark.parametrize("error", _abi_errors(), ids=lambda item: item["name"])
def test_every_custom_error_in_the_abi_has_a_sentence(error: dict) -> None:
    assert has_sentence(error["name"]), f"no sentence for {error['name']} in medledger/cli/messages.py"
    arguments = {param["name"]: _sample(param["type"]) for param in error["inputs"]}
    sentence = refusal_sentence(error["name"], arguments)
    assert sentence and error["name"] not in sentence


def test_an_error_without_a_sentence_falls_back_to_its_decoded_form() -> None:
    assert refusal_sentence("SomeFutureError", {"x": 1}) is None


@pytest.mark.anvil
@pytest.mark.ipfs
def test_a_registration_on_a_paused_ledger_says_the_ledger_is_paused(cli: Cli) -> None:
    cli.ok("deploy", "--registrar", address(REGISTRAR), account=ADMIN)
    cli.ok("admin", "add-pauser", address(PAUSER), account=ADMIN)
    cli.ok("admin", "pause", account=PAUSER)

    refused = cli.invoke("provider", "register", address(CLINIC), "--kind", "clinician", account=REGISTRAR)

    assert assert_clear_failure(refused, REFUSED) == "error: the ledger is paused"


@pytest.mark.anvil
@pytest.mark.ipfs
def test_a_registration_by_a_non_registrar_names_the_missing_role(cli: Cli) -> None:
    cli.ok("deploy", "--registrar", address(REGISTRAR), account=ADMIN)

    refused = cli.invoke("provider", "register", address(CLINIC), "--kind", "clinician", account=STRANGER)

    assert assert_clear_failure(refused, REFUSED) == f"error: {address(STRANGER)} lacks the registrar role"


@pytest.mark.anvil
@pytest.mark.ipfs
def test_a_refusal_in_json_keeps_the_error_name_and_arguments_on_one_stderr_line(cli: Cli) -> None:
    cli.ok("deploy", "--registrar", address(REGISTRAR), account=ADMIN)

    refused = cli.invoke("provider", "register", address(CLINIC), "--kind", "clinician", account=STRANGER, as_json=True)

    error = json.loads(assert_clear_failure(refused, REFUSED))["error"]
    assert error["name"] == "AccessControlUnauthorizedAccount"
    assert error["arguments"]["account"] == address(STRANGER)
    assert error["arguments"]["neededRole"].startswith("0x")
    assert error["message"] == f"{address(STRANGER)} lacks the registrar role"


@pytest.mark.anvil
@pytest.mark.ipfs
def test_json_after_the_subcommand_gives_the_same_refusal_line(cli: Cli) -> None:
    cli.ok("deploy", "--registrar", address(REGISTRAR), account=ADMIN)

    refused = cli.invoke("provider", "register", address(CLINIC), "--kind", "clinician", "--json", account=STRANGER)

    assert json.loads(assert_clear_failure(refused, REFUSED))["error"]["name"] == "AccessControlUnauthorizedAccount"


@pytest.mark.anvil
@pytest.mark.ipfs
def test_a_guardian_term_beyond_the_appointing_guardians_is_refused_with_utc_dates(world: Cli) -> None:
    world.ok("guardian", "appoint", address(LAB), "--until", "1y", "--can-appoint", account=PATIENT)

    refused = world.invoke(
        "guardian",
        "appoint",
        address(STRANGER),
        "--until",
        "2y",
        "--patient",
        address(PATIENT),
        account=LAB,
        as_json=True,
    )

    error = json.loads(assert_clear_failure(refused, REFUSED))["error"]
    assert error["name"] == "GuardianTermTooLong"
    until = datetime.fromtimestamp(error["arguments"]["until"], UTC).strftime("%Y-%m-%d")
    limit = datetime.fromtimestamp(error["arguments"]["limit"], UTC).strftime("%Y-%m-%d")
    assert until in error["message"] and limit in error["message"] and "UTC" in error["message"]
    assert str(error["arguments"]["until"]) not in error["message"]


@pytest.mark.anvil
@pytest.mark.ipfs
@pytest.mark.parametrize("position", ["before", "after"])
def test_json_is_accepted_before_or_after_the_subcommand(world: Cli, position: str) -> None:
    if position == "before":
        result = world.ok("consent", "list", account=PATIENT, as_json=True)
    else:
        result = world.ok("consent", "list", "--json", account=PATIENT)

    json.loads(result.stdout)


@pytest.mark.anvil
@pytest.mark.ipfs
def test_json_after_a_nested_subcommand_without_connection_options(cli: Cli) -> None:
    result = cli.ok("devnet", "status", "--json", connect=False)

    assert json.loads(result.stdout)["running"] is False
