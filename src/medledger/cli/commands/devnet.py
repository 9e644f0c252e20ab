"""`medledger devnet up|down|status`: anvil (state kept in a file) and an IPFS daemon on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import click

from medledger.cli.context import AppContext, guarded, pass_app
from medledger.cli.devnet_state import devnet_dir, load_devnet, load_live_devnet, pid_alive, save_devnet, state_file


@click.group("devnet")
def command() -> None:
    """A local chain and IPFS daemon for development, kept across restarts."""


ANVIL_USUAL_PORT = 8545  # anvil's (and hardhat's, ganache's) default
IPFS_USUAL_PORT = 5001  # Kubo's and js-ipfs's RPC API default


@command.command("up")
@click.option(
    "--anvil-port",
    type=click.IntRange(0, 65535),
    envvar="MEDLEDGER_DEVNET_ANVIL_PORT",
    default=ANVIL_USUAL_PORT,
    show_default=True,
    help="TCP port for anvil's JSON-RPC on 127.0.0.1, taken when free, else any free port "
    "(0: any free port) [env MEDLEDGER_DEVNET_ANVIL_PORT].",
)
@click.option(
    "--ipfs-port",
    type=click.IntRange(0, 65535),
    envvar="MEDLEDGER_DEVNET_IPFS_PORT",
    default=IPFS_USUAL_PORT,
    show_default=True,
    help="TCP port for the IPFS RPC API on 127.0.0.1, taken when free, else any free port "
    "(0: any free port) [env MEDLEDGER_DEVNET_IPFS_PORT].",
)
@pass_app
@guarded
def up(app: AppContext, anvil_port: int, ipfs_port: int) -> None:
    """Start anvil and the IPFS daemon in the background on their usual ports (8545, 5001) when
    those are free, else on free ports; print the endpoints and why a usual port was not taken."""
    from medledger.devnet.anvil import AnvilError, AnvilNode
    from medledger.devnet.ipfs import IpfsDaemon, IpfsDaemonError
    from medledger.devnet.ports import free_loopback_port, preferred_loopback_port

    home = app.settings.home
    live = load_live_devnet(home)
    if live:
        _print(app, live, "already running")
        return
    _stop_recorded(home)  # a half-dead previous devnet
    directory = devnet_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    anvil_at, anvil_taken = preferred_loopback_port(anvil_port)
    ipfs_at, ipfs_taken = preferred_loopback_port(ipfs_port)

    def start_anvil(port: int) -> AnvilNode:
        node = AnvilNode(port=port, state_file=directory / "anvil-state.json", log_file=directory / "anvil.log")
        node.start()
        time.sleep(0.2)  # a port taken since the check: anvil exits at once (and another node may have answered)
        if node.process is not None and node.process.poll() is not None:
            raise AnvilError(f"anvil exited on port {port}")
        return node

    try:
        try:
            anvil = start_anvil(anvil_at)
        except AnvilError:
            if anvil_taken or anvil_port == 0:
                raise
            anvil_at, anvil_taken = free_loopback_port(), True  # someone took the preferred port meanwhile
            anvil = start_anvil(anvil_at)
        try:
            try:
                ipfs = IpfsDaemon(directory / "ipfs", api_port=ipfs_at)
                ipfs.start()
            except IpfsDaemonError:
                if ipfs_taken or ipfs_port == 0:
                    raise
                ipfs_at, ipfs_taken = free_loopback_port(), True
                ipfs = IpfsDaemon(directory / "ipfs", api_port=ipfs_at)
                ipfs.start()
        except BaseException:
            anvil.stop()
            raise
    except (AnvilError, IpfsDaemonError) as exc:  # missing binaries, a daemon that would not start
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise click.ClickException(f"the devnet did not start: {first_line}") from None
    state = {
        "anvil": {
            "pid": anvil.pid,
            "rpc_url": anvil.rpc_url,
            "port": anvil.port,
            "port_note": _port_note(anvil_at, anvil_port, anvil_taken),
            "chain_id": anvil.chain_id,
            "state_file": str(directory / "anvil-state.json"),
        },
        "ipfs": {
            "pid": ipfs.pid,
            "api_url": ipfs.api_url,
            "port": ipfs.api_port,
            "port_note": _port_note(ipfs_at, ipfs_port, ipfs_taken),
            "repo": str(directory / "ipfs"),
        },
        "started": int(time.time()),
    }
    save_devnet(home, state)
    _print(app, state, "started")


def _port_note(port: int, preferred: int, taken: bool) -> str:
    if taken:
        return f"port {preferred} was in use, took free port {port}"
    if preferred == 0:
        return "any free port, as asked"
    return "the usual port" if preferred in (ANVIL_USUAL_PORT, IPFS_USUAL_PORT) else "the port asked for"


@command.command("down")
@pass_app
@guarded
def down(app: AppContext) -> None:
    """Stop the devnet's processes by pid (anvil saves its state first)."""
    stopped = _stop_recorded(app.settings.home)
    app.output({"stopped": stopped}, "stopped " + (", ".join(stopped) if stopped else "nothing (no devnet running)"))


@command.command("status")
@pass_app
@guarded
def status(app: AppContext) -> None:
    """Show whether the devnet runs: each process's pid, whether it is alive, and its endpoint."""
    state = load_devnet(app.settings.home)
    if not state:
        app.output({"running": False}, "no devnet (start one with `medledger devnet up`)")
        return
    rows = {name: {**state[name], "running": pid_alive(state[name].get("pid"))} for name in ("anvil", "ipfs")}
    running = all(r["running"] for r in rows.values())
    lines = [f"devnet {'running' if running else 'not running (restart it with `medledger devnet up`)'}"]
    for name, label, key in (("anvil", "chain (anvil) RPC", "rpc_url"), ("ipfs", "IPFS API", "api_url")):
        row = rows[name]
        note = f" ({row['port_note']})" if row.get("port_note") else ""
        alive = "alive" if row["running"] else "not running"
        lines.append(f"  {label + ':':19}{row.get(key)}  pid {row.get('pid')} {alive}{note}")
    app.output({"running": running, **rows}, "\n".join(lines))


def _print(app: AppContext, state: dict[str, Any], verb: str) -> None:
    anvil, ipfs = state["anvil"], state["ipfs"]

    def note(row: dict[str, Any]) -> str:
        return f"  ({row['port_note']})" if row.get("port_note") else ""

    app.output(
        {"running": True, **state},
        f"devnet {verb}\n"
        f"  chain (anvil) RPC: {anvil['rpc_url']}  chain id {anvil['chain_id']}  pid {anvil['pid']}{note(anvil)}\n"
        f"  IPFS API:          {ipfs['api_url']}  pid {ipfs['pid']}{note(ipfs)}\n"
        f"  state:             {state_file(app.settings.home)}\n"
        "commands pick these endpoints up automatically; use --dev-account N for funded accounts",
    )


def _stop_recorded(home: Path) -> list[str]:
    state = load_devnet(home)
    stopped: list[str] = []
    if not state:
        return stopped
    for name in ("anvil", "ipfs"):
        pid = state.get(name, {}).get("pid")
        if pid_alive(pid):
            _terminate(pid)
            stopped.append(f"{name} (pid {pid})")
    path = state_file(home)
    path.unlink(missing_ok=True)
    return stopped


def _terminate(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group (anvil writes --state on SIGTERM), then SIGKILL if it lingers."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):  # gone, or a zombie awaiting init
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
