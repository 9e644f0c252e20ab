"""`medledger devnet up` takes anvil's and IPFS's usual ports when they are free, otherwise free
ports, and says which it took and why. The preference is injected through the environment
(MEDLEDGER_DEVNET_ANVIL_PORT / MEDLEDGER_DEVNET_IPFS_PORT, what --anvil-port/--ipfs-port read),
so these tests never depend on 8545 and 5001 being free on the machine running them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from medledger.cli.devnet_state import load_devnet, pid_alive
from medledger.devnet.ports import free_loopback_port, loopback_port_free, preferred_loopback_port

from .conftest import Cli

pytestmark = [pytest.mark.anvil, pytest.mark.ipfs]


@pytest.fixture
def occupied_port() -> Iterator[int]:
    """A loopback port some other program listens on for the whole test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _devnet_cli(tmp_path: Path, anvil_port: int, ipfs_port: int) -> Cli:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    return Cli(
        home=tmp_path / "home",
        deployments=tmp_path / "deployments",
        anvil=None,  # type: ignore[arg-type]
        ipfs_api=None,
        workdir=workdir,
        env={"MEDLEDGER_DEVNET_ANVIL_PORT": str(anvil_port), "MEDLEDGER_DEVNET_IPFS_PORT": str(ipfs_port)},
    )


@contextlib.contextmanager
def _running(cli: Cli) -> Iterator[tuple[dict, str]]:
    """`devnet up --json` and its human status; always `devnet down` (and kill by pid) afterwards."""
    result = cli.run("devnet", "up", connect=False, as_json=True)
    try:
        assert result.returncode == 0, result.stderr
        yield json.loads(result.stdout), cli.run_ok("devnet", "status", connect=False).stdout
    finally:
        state = load_devnet(cli.home) or {}
        pids = [state[name]["pid"] for name in ("anvil", "ipfs") if state.get(name, {}).get("pid")]
        cli.run("devnet", "down", connect=False)
        for pid in pids:
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)


def test_a_free_preferred_port_is_taken_as_is() -> None:
    port = free_loopback_port()
    assert preferred_loopback_port(port) == (port, False)


def test_a_port_someone_listens_on_is_busy_and_another_is_taken(occupied_port: int) -> None:
    assert not loopback_port_free(occupied_port)
    port, taken = preferred_loopback_port(occupied_port)
    assert taken and port != occupied_port and loopback_port_free(port)


def test_no_preference_means_any_free_port_and_never_taken() -> None:
    port, taken = preferred_loopback_port(0)
    assert port > 0 and not taken


def test_devnet_takes_the_preferred_ports_when_free_and_status_prints_them(tmp_path: Path) -> None:
    anvil_port, ipfs_port = free_loopback_port(), free_loopback_port()
    with _running(_devnet_cli(tmp_path, anvil_port, ipfs_port)) as (state, status):
        assert state["anvil"]["rpc_url"] == f"http://127.0.0.1:{anvil_port}"
        assert state["ipfs"]["api_url"] == f"http://127.0.0.1:{ipfs_port}"
        assert state["anvil"]["port_note"] == state["ipfs"]["port_note"] == "the port asked for"
        assert f"http://127.0.0.1:{anvil_port}" in status and f"http://127.0.0.1:{ipfs_port}" in status
        assert f"pid {state['anvil']['pid']} alive" in status and f"pid {state['ipfs']['pid']} alive" in status


def test_devnet_falls_back_to_free_ports_and_says_which_port_was_in_use(tmp_path: Path, occupied_port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        ipfs_busy = int(other.getsockname()[1])
        cli = _devnet_cli(tmp_path, occupied_port, ipfs_busy)
        with _running(cli) as (state, status):
            anvil, ipfs = state["anvil"], state["ipfs"]
            assert anvil["port"] != occupied_port and ipfs["port"] != ipfs_busy
            assert anvil["port_note"] == f"port {occupied_port} was in use, took free port {anvil['port']}"
            assert ipfs["port_note"] == f"port {ipfs_busy} was in use, took free port {ipfs['port']}"
            assert f"port {occupied_port} was in use" in status and f"port {ipfs_busy} was in use" in status
            # the devnet answers on the port it took, and commands find it there
            chain = json.loads(cli.run_ok("devnet", "status", connect=False, as_json=True).stdout)
            assert chain["anvil"]["running"] and chain["ipfs"]["running"]


def test_devnet_status_json_lists_endpoints_pids_and_liveness(tmp_path: Path) -> None:
    cli = _devnet_cli(tmp_path, 0, 0)
    with _running(cli) as (state, _status):
        status = json.loads(cli.run_ok("devnet", "status", connect=False, as_json=True).stdout)
        for name, key in (("anvil", "rpc_url"), ("ipfs", "api_url")):
            assert status[name][key] == state[name][key]
            assert status[name]["pid"] == state[name]["pid"]
            assert status[name]["running"] is True
            assert status[name]["port_note"] == "any free port, as asked"


def test_devnet_status_says_a_process_is_not_running_once_it_is_gone(tmp_path: Path) -> None:
    cli = _devnet_cli(tmp_path, 0, 0)
    with _running(cli) as (state, _status):
        os.killpg(state["anvil"]["pid"], signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(state["anvil"]["pid"], os.WNOHANG)
        status = cli.run_ok("devnet", "status", connect=False).stdout
        assert status.splitlines()[0].startswith("devnet not running")
        assert f"pid {state['anvil']['pid']} not running" in status
        assert f"pid {state['ipfs']['pid']} alive" in status
