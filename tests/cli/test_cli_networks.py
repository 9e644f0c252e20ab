"""Named networks: `networks add|list|remove`, `--network NAME` on every command that connects,
and deployments recorded per network under the home, found from any working directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import ADMIN, PATIENT, REGISTRAR, Cli, address, assert_clear_failure

BAD_INPUT = 2
ANVIL_CHAIN_ID = 31337


@pytest.fixture(autouse=True)
def _away_from_any_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process commands run in an empty directory: no ./deployments of a project is found."""
    monkeypatch.chdir(tmp_path)


def _add_local(cli: Cli, name: str = "local", chain_id: int = ANVIL_CHAIN_ID) -> None:
    cli.ok("networks", "add", name, "--rpc-url", cli.anvil.rpc_url, "--chain-id", chain_id, connect=False)


def test_networks_add_keeps_the_network_in_the_home_and_list_shows_it_after_the_built_ins(cli: Cli) -> None:
    _add_local(cli)
    assert "[networks." in (cli.home / "networks.toml").read_text()
    listed = cli.json("networks", "list", connect=False)
    assert [(row["name"], row["builtIn"]) for row in listed] == [("devnet", True), ("embedded", True), ("local", False)]
    assert listed[2]["rpcUrl"] == cli.anvil.rpc_url and listed[2]["chainId"] == ANVIL_CHAIN_ID
    assert listed[2]["deployments"] == str(cli.home / "deployments" / "local")


def test_networks_remove_forgets_an_added_network(cli: Cli) -> None:
    _add_local(cli)
    cli.ok("networks", "remove", "local", connect=False)
    assert [row["name"] for row in cli.json("networks", "list", connect=False)] == ["devnet", "embedded"]


def test_the_built_in_networks_cannot_be_removed_or_redefined(cli: Cli) -> None:
    for name in ("devnet", "embedded"):
        assert "built-in" in assert_clear_failure(cli.invoke("networks", "remove", name, connect=False), BAD_INPUT)
        added = cli.invoke("networks", "add", name, "--rpc-url", cli.anvil.rpc_url, "--chain-id", 1, connect=False)
        assert "built-in" in assert_clear_failure(added, BAD_INPUT)


def test_adding_a_network_twice_needs_replace(cli: Cli) -> None:
    _add_local(cli)
    again = cli.invoke("networks", "add", "local", "--rpc-url", cli.anvil.rpc_url, "--chain-id", 5, connect=False)
    assert "--replace" in assert_clear_failure(again, BAD_INPUT)
    cli.ok("networks", "add", "local", "--rpc-url", cli.anvil.rpc_url, "--chain-id", 5, "--replace", connect=False)
    assert cli.json("networks", "list", connect=False)[2]["chainId"] == 5


def test_a_deployment_on_a_named_network_is_recorded_under_the_home_and_found_from_another_directory(
    cli: Cli, tmp_path: Path
) -> None:
    _add_local(cli)
    deployed = json.loads(
        cli.run_ok(
            "deploy", "--registrar", address(REGISTRAR), "--network", "local", "--dev-account", ADMIN,
            connect=False, as_json=True,
        ).stdout
    )  # fmt: skip
    record = cli.home / "deployments" / "local" / f"{ANVIL_CHAIN_ID}.json"
    assert deployed["file"] == str(record) and record.exists()
    assert not (cli.workdir / "deployments").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli.workdir = elsewhere
    result = cli.run_ok("keys", "publish", "--network", "local", "--dev-account", PATIENT, connect=False)
    assert "deploy" not in result.stderr
    again = json.loads(
        cli.run_ok("deploy", "--network", "local", "--dev-account", ADMIN, connect=False, as_json=True).stdout
    )
    assert again["reused"] is True and again["address"] == deployed["address"]


def test_MEDLEDGER_NETWORK_selects_the_network(cli: Cli) -> None:
    _add_local(cli)
    deployed = cli.json("deploy", "--dev-account", ADMIN, connect=False, env={"MEDLEDGER_NETWORK": "local"})
    assert deployed["file"] == str(cli.home / "deployments" / "local" / f"{ANVIL_CHAIN_ID}.json")


def test_a_network_flag_beats_an_rpc_url_from_the_environment(cli: Cli) -> None:
    _add_local(cli)
    result = cli.invoke(
        "deploy", "--network", "local", "--dev-account", ADMIN, connect=False,
        env={"MEDLEDGER_RPC_URL": "http://127.0.0.1:9"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_rpc_url_and_network_given_as_flags_together_are_refused(cli: Cli) -> None:
    _add_local(cli)
    result = cli.invoke(
        "deploy", "--network", "local", "--rpc-url", cli.anvil.rpc_url, "--dev-account", ADMIN, connect=False
    )
    assert "--rpc-url and --network" in assert_clear_failure(result, BAD_INPUT)


def test_a_network_whose_chain_id_differs_from_the_endpoints_is_refused_before_sending(cli: Cli) -> None:
    _add_local(cli, "wrong", chain_id=11155111)
    nonces = cli.nonces()
    result = cli.invoke("deploy", "--network", "wrong", "--dev-account", ADMIN, connect=False)
    line = assert_clear_failure(result, BAD_INPUT)
    assert "31337" in line and "11155111" in line
    assert cli.nonces() == nonces


def test_an_unknown_network_is_one_line_naming_the_known_ones(cli: Cli) -> None:
    result = cli.invoke("deploy", "--network", "nowhere", "--dev-account", ADMIN, connect=False)
    line = assert_clear_failure(result, BAD_INPUT)
    assert "nowhere" in line and "devnet" in line and "embedded" in line


def test_a_project_local_deployments_file_is_used_when_the_home_has_none_and_said_once(cli: Cli) -> None:
    _add_local(cli)
    cli.ok("deploy", "--network", "local", "--dev-account", ADMIN, connect=False)
    home_record = cli.home / "deployments" / "local" / f"{ANVIL_CHAIN_ID}.json"
    (cli.workdir / "deployments").mkdir()
    shutil.move(home_record, cli.workdir / "deployments" / f"{ANVIL_CHAIN_ID}.json")
    result = cli.run_ok("keys", "publish", "--network", "local", "--dev-account", PATIENT, connect=False)
    notes = [line for line in result.stderr.splitlines() if "project-local" in line]
    assert len(notes) == 1 and "deployments/31337.json" in notes[0]
    assert not home_record.exists()


def test_the_embedded_network_deploys_in_process_and_records_nothing(cli: Cli) -> None:
    result = cli.run_ok("deploy", "--network", "embedded", "--dev-account", ADMIN, connect=False, as_json=True)
    deployed = json.loads(result.stdout)
    assert deployed["file"] is None and deployed["chainId"] != ANVIL_CHAIN_ID
    assert not (cli.home / "deployments").exists()


def test_nothing_deployed_on_a_network_names_it_and_the_deploy_command_to_run(cli: Cli) -> None:
    _add_local(cli)
    result = cli.invoke("keys", "publish", "--network", "local", "--dev-account", PATIENT, connect=False)
    line = assert_clear_failure(result, BAD_INPUT)
    assert "nothing is deployed on network local" in line and "medledger deploy --network local" in line


def test_demo_takes_a_named_network(cli: Cli) -> None:
    result = cli.invoke("demo", "--network", "nowhere", connect=False)
    assert "unknown network 'nowhere'" in assert_clear_failure(result, BAD_INPUT)


def test_account_address_prints_a_named_accounts_address_for_scripts(cli: Cli) -> None:
    cli.ok("account", "import", "admin", "--dev-account", ADMIN, "--kdf", "pbkdf2", connect=False,
           env={"MEDLEDGER_PASSWORD": "pw"})  # fmt: skip
    assert cli.ok("account", "address", "admin", connect=False).stdout.strip() == address(ADMIN)


def test_the_config_files_network_and_account_keys_are_used(cli: Cli) -> None:
    _add_local(cli)
    cli.ok("account", "import", "admin", "--dev-account", ADMIN, "--kdf", "pbkdf2", connect=False,
           env={"MEDLEDGER_PASSWORD": "pw"})  # fmt: skip
    (cli.home / "config.toml").write_text('network = "local"\naccount = "admin"\n')
    deployed = cli.json("deploy", connect=False, env={"MEDLEDGER_PASSWORD": "pw"})
    assert deployed["file"] == str(cli.home / "deployments" / "local" / f"{ANVIL_CHAIN_ID}.json")
    record = json.loads(Path(deployed["file"]).read_text())
    assert record["deployer"] == address(ADMIN)
