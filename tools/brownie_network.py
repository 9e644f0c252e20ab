"""Register medledger's networks with eth-brownie (`make brownie-network|brownie-test|brownie-deploy`).

eth-brownie keeps its networks in ~/.brownie/network-config.yaml, and a project's
brownie-config.yaml can change a development network's `cmd_settings` but not its `cmd` (the
program brownie launches). So a network is added, or modified when its settings changed, with
`brownie networks add|modify`; when it is already as wanted nothing runs (brownie's CLI takes
seconds to start).

Development networks (brownie launches anvil when nothing listens on the port, and attaches to
whatever does): the `cmd` is the bare word `anvil`: brownie picks its launcher by the command's
first word (an absolute path would get the ganache launcher, which fails on anvil's --version),
so the anvil binary is found on PATH; make puts build/bin, where it links node_modules' anvil,
first on PATH. --require-free refuses (one line, exit 2) when something already listens on the
port, so a test network never attaches to someone's devnet.

The devnet (`--devnet`): the anvil `medledger devnet up` runs for MEDLEDGER_HOME is a chain that
persists, so it is registered as a live network (brownie attaches, never launches, snapshots or
resets it, and does not warn about its block height); exit 1 when no devnet runs.

Run with the brownie venv's Python:
    .venv-brownie/bin/python tools/brownie_network.py --id medledger-anvil --port 8545
    .venv-brownie/bin/python tools/brownie_network.py --id medledger-anvil-test --port 18545 --require-free
    .venv-brownie/bin/python tools/brownie_network.py --id medledger-devnet --devnet
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import yaml

HOST = "http://127.0.0.1"
CMD = "anvil"
LIVE_ENVIRONMENT = "medledger"


def wanted_settings(port: int) -> dict[str, object]:
    """anvil flags via brownie's names: base fee 0 because brownie's development gas_price is 0."""
    return {"port": port, "accounts": 10, "evm_version": "cancun", "base_fee": 0}


def load_config(config: Path) -> dict:
    return (yaml.safe_load(config.read_text()) or {}) if config.exists() else {}


def development_entry(data: dict, network_id: str) -> dict | None:
    return next((entry for entry in data.get("development") or [] if entry.get("id") == network_id), None)


def live_entry(data: dict, network_id: str) -> dict | None:
    for environment in data.get("live") or []:
        for entry in environment.get("networks") or []:
            if entry.get("id") == network_id:
                return entry
    return None


def running_devnet() -> tuple[str, int] | None:
    """The RPC URL and chain id of the anvil `medledger devnet up` runs for MEDLEDGER_HOME."""
    from medledger.cli.devnet_state import load_live_devnet

    home = Path(os.environ.get("MEDLEDGER_HOME") or Path.home() / ".medledger").expanduser()
    state = load_live_devnet(home)
    if state is None:
        return None
    return str(state["anvil"]["rpc_url"]), int(state["anvil"]["chain_id"])


def register_devnet(brownie: str, config: Path, network_id: str) -> int:
    devnet = running_devnet()
    if devnet is None:
        return 1
    url, chain_id = devnet
    entry = live_entry(load_config(config), network_id)
    if entry is not None and entry.get("host") == url and int(entry.get("chainid", 0)) == chain_id:
        return 0
    fields = [f"host={url}", f"chainid={chain_id}"]
    if entry is None:
        command = [brownie, "networks", "add", LIVE_ENVIRONMENT, network_id, *fields, "name=medledger devnet"]
    else:
        command = [brownie, "networks", "modify", network_id, *fields]
    return subprocess.run(command, check=False, stdout=subprocess.DEVNULL).returncode


def register_development(brownie: str, config: Path, network_id: str, port: int) -> int:
    settings = wanted_settings(port)
    entry = development_entry(load_config(config), network_id)
    if (
        entry is not None
        and entry.get("cmd") == CMD
        and entry.get("host") == HOST
        and entry.get("cmd_settings") == settings
    ):
        return 0
    fields = [f"cmd={CMD}", f"host={HOST}", *(f"{key}={value}" for key, value in settings.items())]
    if entry is None:
        command = [
            brownie,
            "networks",
            "add",
            "development",
            network_id,
            "name=medledger anvil (node_modules)",
            *fields,
        ]
    else:
        command = [brownie, "networks", "modify", network_id, *fields]
    return subprocess.run(command, check=False, stdout=subprocess.DEVNULL).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--id", default="medledger-anvil", help="brownie network id")
    parser.add_argument("--port", type=int, default=8545)
    parser.add_argument("--brownie", default=str(Path(sys.executable).with_name("brownie")))
    parser.add_argument("--require-free", action="store_true", help="fail if something listens on --port")
    parser.add_argument("--devnet", action="store_true", help="register the running devnet as a live network")
    args = parser.parse_args()
    config = Path.home() / ".brownie" / "network-config.yaml"
    if args.devnet:
        return register_devnet(args.brownie, config, args.id)
    if args.require_free:
        from medledger.devnet.ports import loopback_port_free

        if not loopback_port_free(args.port):
            print(
                f"error: port {args.port} is in use: brownie would attach to that node instead of launching "
                f"its own anvil for {args.id}; set BROWNIE_TEST_PORT to a free port",
                file=sys.stderr,
            )
            return 2
    return register_development(args.brownie, config, args.id, args.port)


if __name__ == "__main__":
    sys.exit(main())
