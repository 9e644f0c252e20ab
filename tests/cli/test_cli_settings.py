"""Settings precedence: --flag over MEDLEDGER_* environment over <home>/config.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from medledger.devnet.ports import free_loopback_port

from .conftest import PATIENT, Cli, address, assert_clear_failure

BAD_INPUT, UNREACHABLE = 2, 4


@pytest.fixture
def dead_url() -> str:
    return f"http://127.0.0.1:{free_loopback_port()}"


def _write_config(cli: Cli, **values: object) -> Path:
    cli.home.mkdir(parents=True, exist_ok=True)
    path = cli.home / "config.toml"
    path.write_text(
        "".join(
            f'{key} = "{value}"\n' if isinstance(value, str) else f"{key} = {value}\n" for key, value in values.items()
        )
    )
    return path


def _show(cli: Cli, *args: str, env: dict[str, str] | None = None):
    """A read-only command that needs the chain, as the patient, without --rpc-url unless given."""
    return cli.invoke(
        "consent",
        "show",
        address(2),
        "--deployments",
        cli.deployments,
        "--dev-account",
        PATIENT,
        *args,
        connect=False,
        as_json=True,
        env=env,
    )


def test_the_config_file_rpc_url_is_used_when_no_flag_or_environment_gives_one(world: Cli, dead_url: str) -> None:
    _write_config(world, rpc_url=dead_url)
    assert dead_url in assert_clear_failure(_show(world), UNREACHABLE)
    _write_config(world, rpc_url=world.anvil.rpc_url)
    assert _show(world).exit_code == 0


def test_MEDLEDGER_RPC_URL_overrides_the_config_file(world: Cli, dead_url: str) -> None:
    _write_config(world, rpc_url=dead_url)
    result = _show(world, env={"MEDLEDGER_RPC_URL": world.anvil.rpc_url})
    assert result.exit_code == 0, result.output
    _write_config(world, rpc_url=world.anvil.rpc_url)
    assert dead_url in assert_clear_failure(_show(world, env={"MEDLEDGER_RPC_URL": dead_url}), UNREACHABLE)


def test_the_rpc_url_flag_overrides_MEDLEDGER_RPC_URL_and_the_config_file(world: Cli, dead_url: str) -> None:
    _write_config(world, rpc_url=dead_url)
    result = _show(world, "--rpc-url", world.anvil.rpc_url, env={"MEDLEDGER_RPC_URL": dead_url})
    assert result.exit_code == 0, result.output


def test_config_file_settings_apply_to_every_option(world: Cli) -> None:
    _write_config(
        world,
        rpc_url=world.anvil.rpc_url,
        deployments=str(world.deployments),
        dev_account=PATIENT,
        ipfs_api=world.ipfs_api,
    )
    shown = world.json("consent", "show", address(2), connect=False)
    assert shown["grantee"] == address(2) and shown["active"] is False


def test_an_unknown_config_key_exits_2_naming_it(world: Cli) -> None:
    _write_config(world, rpc_url=world.anvil.rpc_url, rpc_ulr="typo")
    line = assert_clear_failure(_show(world), BAD_INPUT)
    assert "rpc_ulr" in line


def test_a_config_file_that_is_not_toml_exits_2(world: Cli) -> None:
    world.home.mkdir(parents=True, exist_ok=True)
    (world.home / "config.toml").write_text("rpc_url = \n")
    assert "TOML" in assert_clear_failure(_show(world), BAD_INPUT)
