"""`medledger devnet up|status|down` in a temporary home, through the installed script: it starts
its own anvil (state kept in a file) and js-ipfs daemon, and commands find them by themselves."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from medledger.cli.devnet_state import load_devnet, pid_alive

from .conftest import ADMIN, Cli

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


def _devnet_cli(home: Path) -> Cli:
    workdir = home.parent / "cwd"
    workdir.mkdir(exist_ok=True)
    return Cli(
        home=home,
        deployments=home.parent / "deployments",
        anvil=None,
        ipfs_api=None,  # type: ignore[arg-type]
        workdir=workdir,
        # any free ports: tests never depend on 8545/5001 (test_cli_devnet_ports.py covers the preference)
        env={"MEDLEDGER_DEVNET_ANVIL_PORT": "0", "MEDLEDGER_DEVNET_IPFS_PORT": "0"},
    )


def _pids(home: Path) -> list[int]:
    state = load_devnet(home) or {}
    return [state[name]["pid"] for name in ("anvil", "ipfs") if state.get(name, {}).get("pid")]


def _kill_leftovers(pids: list[int]) -> None:
    """Only the process groups this module's devnet started, by id."""
    for pid in pids:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """One devnet for the module, brought up once; always brought down at the end."""
    cli = _devnet_cli(tmp_path_factory.mktemp("devnet") / "home")
    started: list[int] = []
    try:
        up = cli.run("devnet", "up", connect=False, as_json=True)
        started += _pids(cli.home)
        assert up.returncode == 0, up.stderr
        yield cli
    finally:
        started += _pids(cli.home)
        cli.run("devnet", "down", connect=False)
        _kill_leftovers(started)


def _up(cli: Cli) -> dict:
    return json.loads(cli.run_ok("devnet", "up", connect=False, as_json=True).stdout)


def _deploy(cli: Cli) -> dict:
    """Deploy without --rpc-url: the running devnet's chain is found by itself."""
    result = cli.run_ok("deploy", "--deployments", cli.deployments, "--dev-account", ADMIN, connect=False, as_json=True)
    return json.loads(result.stdout)


def test_devnet_status_reports_both_processes_running_after_up(devnet: Cli) -> None:
    status = json.loads(devnet.run_ok("devnet", "status", connect=False, as_json=True).stdout)
    assert status["running"] is True
    assert status["anvil"]["running"] and status["ipfs"]["running"]
    assert status["anvil"]["chain_id"] == 31337
    assert status["anvil"]["rpc_url"].startswith("http://127.0.0.1:")
    assert status["ipfs"]["api_url"].startswith("http://127.0.0.1:")


def test_devnet_up_twice_says_already_running_and_keeps_the_same_processes(devnet: Cli) -> None:
    pids = _pids(devnet.home)
    again = devnet.run_ok("devnet", "up", connect=False)
    assert "already running" in again.stdout
    assert _pids(devnet.home) == pids


def test_devnet_keeps_the_chain_across_down_and_up(devnet: Cli) -> None:
    first = _deploy(devnet)
    assert first["reused"] is False
    devnet.run_ok("devnet", "down", connect=False)
    _up(devnet)
    second = _deploy(devnet)
    assert second["reused"] is True
    assert (second["address"], second["txHash"]) == (first["address"], first["txHash"])


def test_devnet_down_stops_both_processes(devnet: Cli) -> None:
    _up(devnet)  # already running, or started
    pids = _pids(devnet.home)
    assert len(pids) == 2 and all(pid_alive(pid) for pid in pids)
    down = devnet.run_ok("devnet", "down", connect=False, as_json=True)
    assert len(json.loads(down.stdout)["stopped"]) == 2
    assert not any(pid_alive(pid) for pid in pids)
    status = json.loads(devnet.run_ok("devnet", "status", connect=False, as_json=True).stdout)
    assert status == {"running": False}
