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


@command.command("up")
@click.option("--anvil-port", type=int, default=None, help="[default: a free port]")
@click.option("--ipfs-port", type=int, default=None, help="[default: a free port]")
@pass_app
@guarded
def up(app: AppContext, anvil_port: int | None, ipfs_port: int | None) -> None:
    """Start anvil and the IPFS daemon in the background; print their endpoints."""
    from medledger.devnet.anvil import AnvilNode
    from medledger.devnet.ipfs import IpfsDaemon

    home = app.settings.home
    live = load_live_devnet(home)
    if live:
        _print(app, live, "already running")
        return
    _stop_recorded(home)  # a half-dead previous devnet
    directory = devnet_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    anvil = AnvilNode(port=anvil_port, state_file=directory / "anvil-state.json", log_file=directory / "anvil.log")
    anvil.start()
    try:
        ipfs = IpfsDaemon(directory / "ipfs", api_port=ipfs_port)
        ipfs.start()
    except BaseException:
        anvil.stop()
        raise
    state = {
        "anvil": {
            "pid": anvil.pid,
            "rpc_url": anvil.rpc_url,
            "chain_id": anvil.chain_id,
            "state_file": str(directory / "anvil-state.json"),
        },
        "ipfs": {"pid": ipfs.pid, "api_url": ipfs.api_url, "repo": str(directory / "ipfs")},
        "started": int(time.time()),
    }
    save_devnet(home, state)
    _print(app, state, "started")


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
    """Show whether the devnet runs, and its endpoints."""
    state = load_devnet(app.settings.home)
    if not state:
        app.output({"running": False}, "no devnet (start one with `medledger devnet up`)")
        return
    rows = {name: {**state[name], "running": pid_alive(state[name].get("pid"))} for name in ("anvil", "ipfs")}
    app.output(
        {"running": all(r["running"] for r in rows.values()), **rows},
        "\n".join(
            f"{name}: {'running' if r['running'] else 'stopped'} pid {r['pid']} {r.get('rpc_url') or r.get('api_url')}"
            for name, r in rows.items()
        ),
    )


def _print(app: AppContext, state: dict[str, Any], verb: str) -> None:
    app.output(
        {"running": True, **state},
        f"devnet {verb}\n  chain (anvil): {state['anvil']['rpc_url']}  chain id {state['anvil']['chain_id']}\n"
        f"  IPFS API:      {state['ipfs']['api_url']}\n"
        f"  state:         {state_file(app.settings.home)}\n"
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
